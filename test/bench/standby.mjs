#!/usr/bin/env node
// How long the Replication lab takes to have a standby streaming, from nothing: its two
// PostgreSQL containers made anew from the snapshot images (`data-labs services reset`), then
// the reference's setUpStandby (a replication role, its pg_hba.conf line and a reload, a slot,
// pg_basebackup in the standby's container, the data directory swapped in and the container
// restarted, the primary's pg_stat_replication streaming). Medians over the runs; target 5 s.
//
//   npm run bench:standby                  5 runs
//   npm run bench:standby -- --runs 9
//
// Docker and the local images are needed (bash test/setup/docker.sh); dist/cli.js must be
// built (node esbuild.js).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const labDir = path.join(root, 'labs', 'replication');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const TARGET_MS = 5_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-standby-'));
const dir = path.join(work, 'lab');
const manifest = JSON.parse(fs.readFileSync(path.join(labDir, 'lab.json'), 'utf8'));
for (const file of manifest.starter.files) {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.copyFileSync(path.join(labDir, manifest.starter.dir, file), path.join(dir, file));
}
fs.cpSync(path.join(labDir, 'solution'), dir, { recursive: true });
fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
// The reference's own set-up, run as the lab's tests run it (test/servers.ts finds the servers through .env).
fs.writeFileSync(
  path.join(dir, 'bench-standby.ts'),
  `import { REPLICATION, openPair } from './test/servers';
import { setUpStandby } from './src/replication';
const started = performance.now();
const pair = await openPair();
await setUpStandby(pair.primary, pair.standby, REPLICATION);
const ms = performance.now() - started;
await pair.close();
console.log(JSON.stringify({ ms }));
`,
);
esbuild.buildSync({ entryPoints: [path.join(dir, 'bench-standby.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: path.join(dir, 'test', 'bench-standby.mjs'), logLevel: 'error' });

const env = {
  ...process.env,
  DATA_LABS_IMAGES: process.env.DATA_LABS_IMAGES ?? JSON.stringify({ postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7', memcached: 'data-labs-local/memcached:1.6' }),
  DATA_LABS_STATE_DIR: path.join(work, 'state'),
};
const cli = (...a) => spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...a], { env, encoding: 'utf8' });
const containers = [];
const standby = [];
const totals = [];
try {
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const reset = cli('services', 'reset', 'replication', dir, '--backend', 'docker');
    const t1 = performance.now();
    if (reset.status !== 0) throw new Error(`services reset failed: ${reset.stderr}${reset.stdout}`);
    const run = spawnSync(process.execPath, [path.join(dir, 'test', 'bench-standby.mjs')], { cwd: dir, env, encoding: 'utf8' });
    const t2 = performance.now();
    if (run.status !== 0) throw new Error(`the set-up failed: ${run.stderr}${run.stdout}`);
    const { ms } = JSON.parse(run.stdout.trim().split('\n').at(-1));
    if (i === 0) {
      console.log(`first run (warms the images and the snapshot): ${fmt(t2 - t0)}`);
      continue;
    }
    containers.push(t1 - t0);
    standby.push(ms);
    totals.push(t2 - t0);
    console.log(`run ${i}: two new containers ${fmt(t1 - t0)}, then the standby streaming ${fmt(ms)} (set-up alone); ${fmt(t2 - t0)} in all`);
  }
} finally {
  cli('services', 'down', 'replication', dir, '--remove');
  fs.rmSync(work, { recursive: true, force: true });
}
const total = median(totals);
console.log(`\nbench:standby: medians over ${runs} runs (load average ${os.loadavg()[0].toFixed(1)})`);
console.log(`  two new PostgreSQL containers, ready     ${fmt(median(containers))}`);
console.log(`  setUpStandby, to streaming              ${fmt(median(standby))}`);
console.log(`  standby ready from nothing              ${fmt(total)}   target ${fmt(TARGET_MS)}: ${total <= TARGET_MS ? 'met' : 'MISSED'}`);
