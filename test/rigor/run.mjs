#!/usr/bin/env node
/**
 * `npm run test:rigor [-- options] [vitest arguments]`: every grader's rigor (test/rigor and
 * each lab's labs/<id>/grader/rigor.test.ts), after bundling what grading runs
 * (`node esbuild.js`: the CLI, the sandbox's child harness and the labs' adapters).
 *
 *   --seeds N             grade each reference and each mutant on seeds 1..N (the full sweep: 20)
 *   --reference-seeds N   only the references' seeds (default 3, as in CI)
 *   --mutant-seeds N      only the mutants' seeds (default 2, as in CI)
 *
 * Anything else goes to Vitest (a file filter, `-t <name>`). Needs Docker and the local
 * images (bash test/setup/docker.sh).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const env = { ...process.env };
const rest = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = args[i + 1];
  const seeds = (name) => {
    if (value === undefined || !/^[1-9]\d*$/.test(value)) {
      console.error(`test:rigor: ${arg} takes a whole number of seeds, at least 1.`);
      process.exit(2);
    }
    env[name] = value;
    i++;
  };
  if (arg === '--seeds') {
    seeds('DATA_LABS_RIGOR_REFERENCE_SEEDS');
    env.DATA_LABS_RIGOR_MUTANT_SEEDS = value;
  } else if (arg === '--reference-seeds') {
    seeds('DATA_LABS_RIGOR_REFERENCE_SEEDS');
  } else if (arg === '--mutant-seeds') {
    seeds('DATA_LABS_RIGOR_MUTANT_SEEDS');
  } else {
    rest.push(arg);
  }
}
const bundled = spawnSync(process.execPath, [path.join(root, 'esbuild.js')], { cwd: root, stdio: 'inherit' });
if (bundled.status !== 0) process.exit(bundled.status ?? 1);
console.log(`test:rigor: references on seeds 1-${env.DATA_LABS_RIGOR_REFERENCE_SEEDS ?? 3}, mutants on seeds 1-${env.DATA_LABS_RIGOR_MUTANT_SEEDS ?? 2}`);
const vitest = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'test/rigor/vitest.config.ts', ...rest], { cwd: root, env, stdio: 'inherit' });
process.exit(vitest.status ?? 1);
