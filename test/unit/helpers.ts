/**
 * Shared by the unit tests: temp folders that clean up after themselves, and small
 * lab fixtures written to disk.
 */
import { type Dirent, constants as fsConstants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { buildScript as buildScriptOf } from '../support/buildScript';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const REAL_LABS_DIR = path.join(REPO_ROOT, 'labs');

/**
 * A fresh temp folder for the current test file, removed after the file's tests.
 * Call `tempDir()` at module level or in a hook; each call makes a new folder.
 */
export function useTempDirs(prefix = 'ddl-unit-'): () => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    for (const dir of made) {
      await makeWritableRecursive(dir);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
  return async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** Undoes any chmod a test made, so the folder can be removed when not running as root. */
async function makeWritableRecursive(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    await fs.chmod(dir, 0o700);
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.isDirectory()) {
      await makeWritableRecursive(path.join(dir, entry.name));
    }
  }
}

/**
 * True when permission bits do not stop this process from writing (root, or a file
 * system that ignores modes): found by trying, not by asking for the user id.
 */
export async function permissionsAreIgnored(scratch: string): Promise<boolean> {
  const dir = path.join(scratch, `probe-${process.pid}-${Date.now()}`);
  await fs.mkdir(dir);
  await fs.chmod(dir, 0o500);
  try {
    await fs.writeFile(path.join(dir, 'x'), 'x');
    return true;
  } catch {
    return false;
  } finally {
    await fs.chmod(dir, 0o700);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [relative, text] of Object.entries(files)) {
    const file = path.join(root, relative);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, text);
  }
}

/** A manifest that passes the schema, for a lab whose folder is `id`. */
export function validManifest(id = 'demo-lab'): Record<string, unknown> {
  return {
    id,
    title: 'Demo lab',
    section: 'database-types',
    summary: 'A small lab used by the unit tests.',
    completes: ['understand-relational-vs-nosql', 'compare-trade-offs'],
    services: [],
    readme: 'README.md',
    starter: {
      dir: 'starter',
      main: 'src/main.ts',
      files: ['package.json', 'src/main.ts', 'test/main.test.ts'],
    },
    tests: ['test/main.test.ts'],
    hints: [{ title: 'Stuck?', text: 'Read the README again.' }],
  };
}

export const STARTER_FILES: Readonly<Record<string, string>> = {
  'package.json': '{ "name": "demo-lab", "version": "1.0.0", "private": true }\n',
  'src/main.ts': 'export function answer(): number {\n  return 0;\n}\n',
  'test/main.test.ts': "import { it } from 'vitest';\nit('answers', () => {});\n",
};

/**
 * Writes `labs/<id>/` with a manifest (the valid one, or `manifest` as given: an
 * object is written as JSON, a string as it is), a README and the starter files.
 */
export async function writeFixtureLab(
  labsDir: string,
  id = 'demo-lab',
  manifest: Record<string, unknown> | string = validManifest(id),
  options: { readonly omit?: readonly string[] } = {},
): Promise<string> {
  const dir = path.join(labsDir, id);
  const files: Record<string, string> = {
    'lab.json': typeof manifest === 'string' ? manifest : `${JSON.stringify(manifest, null, 2)}\n`,
    'README.md': `# ${id}\n\nDo the thing.\n`,
  };
  for (const [relative, text] of Object.entries(STARTER_FILES)) {
    files[path.join('starter', relative)] = text;
  }
  for (const omitted of options.omit ?? []) {
    delete files[omitted];
  }
  await writeFiles(dir, files);
  return dir;
}

export { buildScript } from '../support/buildScript';

/**
 * Builds the sandbox's child harness into `outDir` with the options esbuild.js uses for
 * dist/sandbox (and no lab adapters), and returns its path.
 */
export async function buildSandboxChild(outDir: string): Promise<string> {
  const esbuild = await import('esbuild');
  await esbuild.build(buildScriptOf().sandboxOptions(outDir, { labsDir: path.join(outDir, 'no-labs') }));
  return path.join(outDir, 'child.cjs');
}
