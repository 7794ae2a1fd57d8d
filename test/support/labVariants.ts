/**
 * The learner folders the grader tests grade, assembled from a lab's own files at test time
 * (the repository keeps no copy of them): the starter, the solution laid over it (the
 * reference), and a mutant's changed files laid over that; or the starter with an
 * alternative (a correct solution written another way, `alternatives/<name>/`) laid over it.
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Lab } from '../../src/core/labs/catalog';
import { REPO_ROOT } from './buildScript';

/** Where learner folders are assembled (git ignores it); inside the repository, so that packages resolve from its node_modules. */
export const VARIANTS_DIR = path.join(REPO_ROOT, 'test', '.variants');

/** Every file under `dir`, relative to it, with `/` separators. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(dir, relative), { withFileTypes: true })) {
      const next = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(next);
      else if (entry.isFile()) out.push(next);
    }
  };
  await walk('');
  return out.sort();
}

/** The files a mutant changes, relative to the learner's folder (every file of its folder). */
export function mutantFiles(lab: Lab, mutant: string): Promise<string[]> {
  return filesUnder(path.join(lab.dir, 'mutants', mutant));
}

/**
 * The correct solutions the lab in `labDir` has besides its reference, each written another
 * way (`alternatives/<name>/`); synchronous, so that tests can be declared per alternative.
 */
export function alternativesIn(labDir: string): string[] {
  const dir = path.join(labDir, 'alternatives');
  return existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
}

/**
 * A learner folder as the grader meets it, assembled afresh: the lab's starter files, the
 * solution's files laid over them (the reference), and for a mutant its own files laid over
 * those; for an alternative, its files laid over the starter instead of the solution's.
 * Nothing of it is kept in the repository. It is assembled in test/.variants/<lab>/<variant>,
 * or in `into` (emptied first; keep it inside the repository, so that packages resolve).
 */
export async function assembleVariant(lab: Lab, variant: { readonly mutant?: string; readonly alternative?: string } = {}, into?: string): Promise<string> {
  const name = variant.mutant ?? (variant.alternative !== undefined ? `alternative-${variant.alternative}` : 'reference');
  const dir = into ?? path.join(VARIANTS_DIR, lab.id, name);
  await fs.rm(dir, { recursive: true, force: true });
  const layers: [string, readonly string[]][] = [[path.join(lab.dir, lab.manifest.starter.dir), lab.manifest.starter.files]];
  const over = variant.alternative !== undefined ? path.join(lab.dir, 'alternatives', variant.alternative) : path.join(lab.dir, 'solution');
  layers.push([over, await filesUnder(over)]);
  if (variant.mutant !== undefined) {
    const mutantDir = path.join(lab.dir, 'mutants', variant.mutant);
    layers.push([mutantDir, await filesUnder(mutantDir)]);
  }
  for (const [from, files] of layers) {
    for (const file of files) {
      await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await fs.copyFile(path.join(from, file), path.join(dir, file));
    }
  }
  return dir;
}
