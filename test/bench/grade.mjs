// Grading benchmark: how long `data-labs grade <lab>` takes for the lab's reference
// solution, end to end as a learner runs it (the command line process, starting or reusing
// the lab's databases, compiling, the sandbox, every check), on Docker and without it
// (the embedded PostgreSQL, or the grader's in-process stand-ins). Medians over the runs;
// each run uses its own seed. Any lab with a grader (labs/<id>/grader) can be measured;
// a unique start of its id is enough.
//
//   npm run bench:grade -- idempotency            5 runs per backend
//   npm run bench:grade -- idempotency --runs 9 --backend docker
//   npm run bench:grade -- saga                   also counts the fault schedules explored
//   npm run bench:grade -- quorum                 three Redis replicas in Docker, or in-process
//
// Needs the bundles (`node esbuild.js`) and, for Docker, the lab images present locally
// (`bash test/setup/docker.sh` builds data-labs-local/postgres:15 and redis:7; DATA_LABS_IMAGES points
// the lab at them). The first run of each backend starts the services and is reported apart
// ("first"), the others reuse them, as a learner's second grade does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const labsDir = path.join(root, 'labs');
// The labs with a grader, found as the build finds them.
const gradedLabs = createRequire(import.meta.url)('../../esbuild.js').gradedLabIds(labsDir);
const args = process.argv.slice(2);
const labArg = args.find((a) => !a.startsWith('--')) ?? 'idempotency';
const matching = gradedLabs.filter((id) => id === labArg || id.startsWith(labArg));
const labId = matching.includes(labArg) ? labArg : matching.length === 1 ? matching[0] : undefined;
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const runs = Number(option('--runs', '5'));
const backends = option('--backend', 'docker,embedded').split(',');
if (labId === undefined) {
  console.error(`bench:grade measures one of the labs with a grader: ${gradedLabs.join(', ')}`);
  process.exit(2);
}

/** The lab's reference as a learner's folder: its starter files with its solution laid over them. */
function assembleReference(dir) {
  const lab = path.join(labsDir, labId);
  const manifest = JSON.parse(fs.readFileSync(path.join(lab, 'lab.json'), 'utf8'));
  for (const file of manifest.starter.files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(lab, manifest.starter.dir, file), path.join(dir, file));
  }
  fs.cpSync(path.join(lab, 'solution'), dir, { recursive: true });
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
  DATA_LABS_IMAGES: process.env.DATA_LABS_IMAGES ?? JSON.stringify({ postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7', memcached: 'data-labs-local/memcached:1.6' }),
  DATA_LABS_PROGRESS_DIR: path.join(work, 'progress'),
  DATA_LABS_STATE_DIR: path.join(work, 'state'),
};
const results = [];
try {
  for (const backend of backends) {
    // Its own copy of the reference per backend: the embedded database lives in the lab folder.
    const dir = path.join(work, backend);
    assembleReference(dir);
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

console.log(`\nbench:grade ${labId}: medians over ${runs} runs`);
for (const r of results) {
  console.log(`  ${r.backend.padEnd(9)} ${fmt(r.wall)} end to end (data-labs grade), ${fmt(r.grading)} grading${r.schedules ? `, ${r.schedules} fault schedules explored` : ''}`);
  for (const [id, ms] of r.perCheck) console.log(`      ${id.padEnd(28)} ${Math.round(ms)} ms`);
}
