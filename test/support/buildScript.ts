/**
 * esbuild.js, the product's build script (CommonJS), as the tests and the Vitest
 * configurations use it: the options it builds the sandbox's bundles with, and the
 * registry of lab graders it generates, so that tests load graders as the bundles do.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';

interface BuildScript {
  /** The `data-labs` command line, with the graders of the labs under `labsDir`, written to `outfile`. */
  cliOptions(outfile: string, options?: { labsDir?: string; minify?: boolean; sourcemap?: boolean }): BuildOptions;
  /** The sandbox's child harness and the adapters of the graded labs under `labsDir`, written to `outdir`. */
  sandboxOptions(outdir: string, options?: { labsDir?: string; minify?: boolean; sourcemap?: boolean }): BuildOptions;
  /** The ids of the labs under `labsDir` that have a grader. */
  gradedLabIds(labsDir?: string): string[];
  /** The source of the generated module `data-labs:lab-graders` for `labsDir`. */
  labGraderRegistrySource(labsDir?: string): string;
  /** The esbuild plugin that resolves `data-labs:lab-graders`. */
  labGradersPlugin(labsDir?: string): NonNullable<BuildOptions['plugins']>[number];
  /** The same, for Vite (Vitest). */
  labGradersVitePlugin(labsDir?: string): { name: string; resolveId(id: string): string | undefined; load(id: string): string | undefined };
}

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export function buildScript(): BuildScript {
  return createRequire(path.join(REPO_ROOT, 'package.json'))('./esbuild.js') as BuildScript;
}
