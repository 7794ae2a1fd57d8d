// Compiles the extension-host test suite, test/extension/suite/**/*.ts, into
// out/extension-tests/: one CommonJS file per input (index.ts → index.js,
// smoke.test.ts → smoke.test.js, sub/x.test.ts → sub/x.test.js). Each output bundles
// what it imports from the project, so a test may import from src/; `vscode` (given
// by the extension host) and `mocha` (one shared instance: the runner in index.js
// and the tests' suite/test globals must be the same) stay external and are
// required at run time. Inline source maps let stack traces point at the .ts files.
//
//   node test/extension/build-suite.mjs        (also imported by the runners)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import esbuild from 'esbuild';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SUITE_DIR = path.join(REPO_ROOT, 'test', 'extension', 'suite');
export const OUT_DIR = path.join(REPO_ROOT, 'out', 'extension-tests');

/** Builds the suite; returns the output folder, the entry (index.js) and the compiled test files. */
export async function buildSuite({ outDir = OUT_DIR } = {}) {
  const entryPoints = fs
    .readdirSync(SUITE_DIR, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .sort()
    .map((name) => path.join(SUITE_DIR, name));
  if (!entryPoints.some((file) => path.basename(file) === 'index.ts')) {
    throw new Error(`${path.join(SUITE_DIR, 'index.ts')} is missing`);
  }
  // Built from scratch next to outDir, then swapped in: a test deleted from the sources
  // does not linger, and a run that is loading the previous build meanwhile still finds it.
  const building = `${outDir}.building-${process.pid}`;
  const previous = `${outDir}.previous-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  await esbuild.build({
    entryPoints,
    outdir: building,
    outbase: SUITE_DIR,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'warning',
  }).catch((error) => {
    fs.rmSync(building, { recursive: true, force: true });
    throw error;
  });
  if (fs.existsSync(outDir)) fs.renameSync(outDir, previous);
  fs.renameSync(building, outDir);
  fs.rmSync(previous, { recursive: true, force: true });
  const tests = entryPoints
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join(outDir, path.relative(SUITE_DIR, file)).replace(/\.ts$/, '.js'));
  return { outDir, entry: path.join(outDir, 'index.js'), tests };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildSuite().then(
    ({ entry, tests }) => console.log(`built ${path.relative(REPO_ROOT, entry)} and ${tests.length} test file(s)`),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
