#!/usr/bin/env node
/**
 * `npm run test:mutation -- <lab> [--seeds 1,2] [--fresh]`: mutation testing of a graded
 * lab's reference solution with StrykerJS, its hidden checks as the tests (see main.ts).
 * This file only bundles test/mutation/main.ts (TypeScript, importing the repository's
 * test support and core) with esbuild and runs it; packages stay external and resolve from
 * the repository's node_modules. Not in CI: it takes minutes per lab. Needs Docker and the
 * local images (bash test/setup/docker.sh).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = path.join(root, 'test', '.mutation', '.runner');
const outfile = path.join(outDir, `main-${process.pid}.cjs`);

/** Each bundled module keeps its own __dirname and __filename (test/support finds the repository from them). */
const ownDirname = {
  name: 'own-dirname',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(text)) return undefined;
      const prelude = `const __dirname = ${JSON.stringify(path.dirname(args.path))}; const __filename = ${JSON.stringify(args.path)};\n`;
      return { contents: prelude + text, loader: 'ts' };
    });
  },
};

fs.mkdirSync(outDir, { recursive: true });
try {
  await esbuild.build({
    entryPoints: [path.join(root, 'test', 'mutation', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    plugins: [ownDirname],
  });
  const result = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} finally {
  fs.rmSync(outfile, { force: true });
}
