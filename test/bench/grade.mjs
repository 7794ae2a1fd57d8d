// Grading benchmark: how long `data-labs grade <lab>` takes for the lab's reference
// solution, end to end as a learner runs it (the command line process, starting or reusing
// the lab's databases, compiling, the sandbox, every check), on PostgreSQL in Docker and
// on the embedded PostgreSQL. Medians over the runs; each run uses its own seed.
//
//   npm run bench:grade -- idempotency            5 runs per backend
//   npm run bench:grade -- idempotency --runs 9 --backend docker
//   npm run bench:grade -- saga                   also counts the fault schedules explored
//   npm run bench:grade -- quorum                 three Redis replicas in Docker, or in-process
//
// Needs the bundles (`node esbuild.js`) and, for Docker, the lab image present locally
// (`bash test/setup/docker.sh` builds data-labs-local/postgres:15 and redis:7; DATA_LABS_IMAGES points
// the lab at it). The first run of each backend starts the database and is reported apart
// ("first"), the others reuse it, as a learner's second grade does.
// Targets: idempotency (issue 4), a full grade under 5 s with the image present; saga
// (issue 5), at least 200 fault schedules (sagas run under a planned set of faults or a
// crash) in under 10 s on Docker; quorum (issue 6), a full grade under 10 s on Docker Redis replicas.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ALIASES = { idempotency: 'idempotency-keys' };
const args = process.argv.slice(2);
const labArg = args.find((a) => !a.startsWith('--')) ?? 'idempotency';
const labId = ALIASES[labArg] ?? labArg;
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const runs = Number(option('--runs', '5'));
const backends = option('--backend', 'docker,embedded').split(',');
const graderFolder = { 'idempotency-keys': 'idempotency', saga: 'saga', quorum: 'quorum' }[labId];
const TARGET = { 'idempotency-keys': 'under 5 s with the image present', saga: 'at least 200 schedules in under 10 s on Docker', quorum: 'under 10 s on Docker Redis replicas' }[labId];
if (!graderFolder) {
  console.error(`bench:grade knows these labs: ${[...Object.keys(ALIASES), 'saga', 'quorum'].join(', ')}`);
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-grade-'));
const env = {
  ...process.env,
  DATA_LABS_IMAGES: process.env.DATA_LABS_IMAGES ?? JSON.stringify({ postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7' }),
  DATA_LABS_PROGRESS_DIR: path.join(work, 'progress'),
  DATA_LABS_STATE_DIR: path.join(work, 'state'),
};
const results = [];
try {
  for (const backend of backends) {
    // Its own copy of the reference per backend: the embedded database lives in the lab folder.
    const dir = path.join(work, backend);
    fs.cpSync(path.join(root, 'test', 'graders', graderFolder, 'reference'), dir, { recursive: true, dereference: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    const walls = [];
    const grading = [];
    const perCheck = new Map();
    const schedules = [];
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      const run = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'grade', labId, dir, '--json', '--backend', backend, '--seed', String(1000 + i)], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const wall = performance.now() - t0;
      if (run.status !== 0 && backend === 'docker') {
        throw new Error(`grade exited ${run.status}: ${run.stderr}\n${run.stdout.slice(0, 2000)}`);
      }
      const report = JSON.parse(run.stdout);
      if (i === 0) {
        console.log(`${backend}: first run ${fmt(wall)} (starts the database)`);
        continue;
      }
      walls.push(wall);
      grading.push(report.durationMs);
      // A schedule: one run of the learner's code under its own planned faults (a saga, a request).
      const explored = report.checks.reduce((n, c) => n + c.history.filter((e) => e.type === 'invoke' && /^order:/.test(e.process)).length, 0);
      schedules.push(explored);
      for (const c of report.checks) perCheck.set(c.id, [...(perCheck.get(c.id) ?? []), c.durationMs]);
      const unknown = report.checks.filter((c) => c.status === 'unknown').map((c) => c.id);
      console.log(`${backend} run ${i}: ${fmt(wall)} wall, grading ${fmt(report.durationMs)}, ${report.score.passed}/${report.score.total} passed${unknown.length ? `, unknown: ${unknown.join(', ')}` : ''}${explored ? `, ${explored} schedules` : ''}`);
    }
    results.push({ backend, wall: median(walls), grading: median(grading), schedules: median(schedules), perCheck: [...perCheck].map(([id, xs]) => [id, median(xs)]) });
  }
} finally {
  for (const backend of backends) {
    spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'services', 'down', labId, path.join(work, backend), '--backend', backend], { env, encoding: 'utf8' });
  }
  fs.rmSync(work, { recursive: true, force: true });
}

console.log(`\nbench:grade ${labId}: medians over ${runs} runs (target: ${TARGET})`);
for (const r of results) {
  console.log(`  ${r.backend.padEnd(9)} ${fmt(r.wall)} end to end (data-labs grade), ${fmt(r.grading)} grading${r.schedules ? `, ${r.schedules} fault schedules explored` : ''}`);
  for (const [id, ms] of r.perCheck) console.log(`      ${id.padEnd(28)} ${Math.round(ms)} ms`);
}
