// Linearizability checker benchmark (issue 6): how long the grader's checker
// (src/core/grading/linearizability.ts, bundled on the fly by esbuild as the CLI bundles
// it) takes, and, side by side in the same run, how long porcupine (Anish Athalye's Go
// checker, github.com/anishathalye/porcupine) takes on the same Jepsen logs, and whether
// the two agree.
//
//   npm run bench:checker
//   npm run bench:checker -- --runs 9 --min-ms 40
//   PORCUPINE_SRC=/path/to/porcupine npm run bench:checker      a checkout (or a bare git repository)
//
// a) Generated key-value histories: 10,000 operations over 80 keys (125 per key), 8
//    concurrent clients, reads and writes, some failed (:fail, did not happen) and some
//    unknown (:info, a write that may or may not have happened; the client is then
//    replaced, as in Jepsen). One is linearizable by construction (each operation takes
//    effect at one instant between its invocation and its completion, on one store); the
//    other is the same history with one read made stale (it returns a value that was
//    overwritten by a write that completed before the read began), so it is not. Median,
//    min and max over --runs checks (after one untimed). Target: each within 1 s.
// b) Jepsen register logs (`INFO  jepsen.util - 3	:invoke	:cas	[1 2]`): every
//    test_data/jepsen/*.log of porcupine's repository (etcd, 5 clients, cas-register), when
//    its source is given ($PORCUPINE_SRC), and
//    four logs this script writes (so there is always data). For each log, the median over
//    --runs batches of the time of one check (a batch repeats the check for at least
//    --min-ms, after an untimed batch, so that sub-millisecond checks are measured), for our
//    checker and, when `go` is on PATH and porcupine's source is found, for porcupine
//    through our harness test/bench/porcupine/main.go (built offline against porcupine's
//    source extracted into a temporary folder; porcupine is never copied into this
//    repository). Parsing is not timed on either side. The verdicts must agree: a
//    disagreement is printed loudly and the script exits 1. Target: ours within 3× of
//    porcupine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const KV_TARGET_MS = 1000;
const RATIO_TARGET = 3;

const USAGE = `Usage: node test/bench/checker.mjs [options]

  --runs N        timed runs (part a) and batches (part b) per history (default 5)
  --min-ms MS     part b: each batch repeats the check for at least MS ms (default 20)
  --only PART     a (generated key-value histories) or b (Jepsen logs); default both
  --ours-only     skip porcupine
  -h, --help

Environment: PORCUPINE_SRC=/path/to/porcupine (a checkout or a bare git repository of
github.com/anishathalye/porcupine); without it, porcupine is skipped and only ours is timed.`;

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      'min-ms': { type: 'string', default: '20' },
      only: { type: 'string' },
      'ours-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const RUNS = Number(options.runs);
const MIN_MS = Number(options['min-ms']);
if (!Number.isInteger(RUNS) || RUNS < 1 || !(MIN_MS >= 0) || (options.only !== undefined && !['a', 'b'].includes(options.only))) {
  console.error(USAGE);
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Milliseconds with three significant digits (0.0712, 1.43, 172). */
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ddl-bench-checker-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

/* ------------------------------------------------------------------ the product code */

// The checker and the history reader, bundled as the CLI bundles them (src/cli/checkHistory.ts).
const esbuild = require('esbuild');
const bundle = path.join(work, 'checker.cjs');
await esbuild.build({
  stdin: {
    contents: "export * from './src/core/grading/linearizability';\nexport * from './src/core/grading/historyFormats';\n",
    resolveDir: REPO_ROOT,
    sourcefile: 'bench-checker-entry.ts',
    loader: 'ts',
  },
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
const { checkLinearizable, parseHistory } = require(bundle);

/* ------------------------------------------------------------------ generated histories */

/** A small seeded generator (mulberry32), so that every run checks the same histories. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Simulates `clients` clients on one linearizable store and records the history. A client
 * invokes, its operation takes effect at a later tick (one instant), and it completes at a
 * later tick still; a random client moves at each tick, so operations overlap. Outcomes:
 * fail (did not take effect), info (a write took effect or not, at random; a read's answer
 * is lost; the client is replaced by a new process, as Jepsen does), else ok.
 *
 *   next(rand, index) → { f, key?, value? }   the operation to invoke
 *   apply(store, op)  → { outcome, value }    its effect, at its instant
 */
function simulate({ seed, operations, clients, next, failRate, infoRate }) {
  const rand = random(seed);
  const store = new Map();
  const history = [];
  const ops = [];
  const slots = Array.from({ length: clients }, (_, i) => ({ process: i, phase: 'idle', op: undefined }));
  let started = 0;
  let busy = 0;
  while (started < operations || busy > 0) {
    const slot = slots[Math.floor(rand() * clients)];
    if (slot.phase === 'idle') {
      if (started >= operations) continue;
      const op = { ...next(rand, started++), process: slot.process };
      const r = rand();
      op.outcome = r < failRate ? 'fail' : r < failRate + infoRate ? 'info' : 'ok';
      op.invokedAt = history.length;
      history.push({ process: op.process, type: 'invoke', f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), ...(op.f === 'read' ? {} : { value: op.value }) });
      ops.push(op);
      slot.op = op;
      slot.phase = 'invoked';
      busy++;
    } else if (slot.phase === 'invoked') {
      const { op } = slot;
      const k = op.key ?? '';
      const current = store.has(k) ? store.get(k) : null;
      // The operation's instant: it takes effect here, or not at all.
      const happens = op.outcome === 'ok' || (op.outcome === 'info' && op.f !== 'read' && rand() < 0.5);
      if (op.f === 'read') {
        op.result = current;
      } else if (op.f === 'write') {
        if (happens) store.set(k, op.value);
      } else if (current === op.value[0]) {
        if (happens) store.set(k, op.value[1]);
      } else if (op.outcome === 'ok') {
        op.outcome = 'fail'; // its expected value is not there: the cas fails
      }
      slot.phase = 'applied';
    } else {
      const { op } = slot;
      op.completedAt = history.length;
      const value = op.outcome === 'info' ? 'timed-out' : op.f === 'read' ? (op.outcome === 'ok' ? op.result : null) : op.value;
      history.push({ process: op.process, type: op.outcome, f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value });
      if (op.outcome === 'info') slot.process += clients; // the process is retired, as in Jepsen
      slot.phase = 'idle';
      slot.op = undefined;
      busy--;
    }
  }
  return { history, ops };
}

/**
 * Makes one read stale: the last ok read (of `key`, if given) that began after an ok write
 * completed, which itself began after another ok write had completed, now returns that
 * earlier write's value. Values are unique, so the history is no longer linearizable.
 */
function makeStale(history, ops, { key, before = history.length } = {}) {
  for (let i = ops.length - 1; i >= 0; i--) {
    const r = ops[i];
    if (r.f !== 'read' || r.outcome !== 'ok' || (key !== undefined && r.key !== key) || r.completedAt >= before) continue;
    const writes = ops.filter((w) => w.f === 'write' && w.outcome === 'ok' && w.key === r.key);
    const w = writes.filter((x) => x.completedAt < r.invokedAt).at(-1);
    const w0 = w && writes.filter((x) => x.completedAt < w.invokedAt).at(-1);
    if (!w0) continue;
    const stale = history.map((e) => ({ ...e }));
    stale[r.completedAt].value = w0.value;
    return { history: stale, described: `read of ${r.key ?? 'the register'} by process ${r.process} returns ${w0.value}, overwritten by ${w.value} before it began` };
  }
  throw new Error('The generated history has no read that can be made stale; change the seed.');
}

function generateKv(seed) {
  const operations = 10_000;
  const keys = 80;
  const perKey = operations / keys;
  // Every key gets exactly perKey operations, in a random order.
  const rand = random(seed + 1);
  const plan = Array.from({ length: operations }, (_, i) => `k${i % keys}`);
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  let written = 0;
  const sim = simulate({
    seed,
    operations,
    clients: 8,
    failRate: 0.03,
    infoRate: 0.03,
    next: (r, i) => (r() < 0.5 ? { f: 'read', key: plan[i] } : { f: 'write', key: plan[i], value: ++written }),
  });
  // The key checked last (keys are checked in the order they first appear) gets the stale read.
  const firstSeen = [...new Set(sim.history.map((e) => e.key))];
  const stale = makeStale(sim.history, sim.ops, { key: firstSeen.at(-1) });
  const count = (outcome) => sim.history.filter((e) => e.type === outcome).length;
  return { operations, keys, perKey, clients: 8, fails: count('fail'), infos: count('info'), history: sim.history, stale };
}

/** A Jepsen register log line, as jepsen.util logs an operation. */
function ednOf(value) {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return `[${value.map(ednOf).join(' ')}]`;
  if (typeof value === 'string') return `:${value}`;
  return String(value);
}
function jepsenLog(history, rand) {
  const lines = ['INFO  jepsen.core - Worker 0 starting'];
  for (const e of history) {
    if (rand() < 0.01) lines.push(`INFO  jepsen.util - :nemesis\t:info\t:${rand() < 0.5 ? 'start' : 'stop'}\tnil`);
    lines.push(`INFO  jepsen.util - ${e.process}\t:${e.type}\t:${e.f}\t${e.type === 'invoke' && e.f === 'read' ? 'nil' : ednOf(e.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The logs this script writes: a cas-register like the etcd tests', and a register with more clients. */
function generateLogs(dir) {
  const logs = [];
  // 5 clients, values 0 to 4, reads, writes and cas, as in Jepsen's etcd test.
  const cas = simulate({
    seed: 7,
    operations: 400,
    clients: 5,
    failRate: 0.02,
    infoRate: 0.04,
    next: (r) => {
      const x = r();
      const v = () => Math.floor(r() * 5);
      return x < 0.4 ? { f: 'read' } : x < 0.7 ? { f: 'write', value: v() } : { f: 'cas', value: [v(), v()] };
    },
  });
  logs.push({ name: 'gen-cas-register-5c-400.log', model: 'cas-register', expected: 'linearizable', text: jepsenLog(cas.history, random(70)) });
  // The same with a read, four fifths of the way in, of 9, which nobody wrote.
  const bad = cas.history.map((e) => ({ ...e }));
  const read = cas.ops.filter((o) => o.f === 'read' && o.outcome === 'ok').at(Math.floor(cas.ops.filter((o) => o.f === 'read' && o.outcome === 'ok').length * 0.8));
  bad[read.completedAt].value = 9;
  logs.push({ name: 'gen-cas-register-5c-400-bad.log', model: 'cas-register', expected: 'not-linearizable', text: jepsenLog(bad, random(71)) });
  // 10 clients, reads and writes of unique values: more overlap, a bigger search. Then the
  // same with a read in the first half made stale, which the search can only refute by
  // trying every order of the operations before it.
  let written = 0;
  const reg = simulate({ seed: 11, operations: 600, clients: 10, failRate: 0.02, infoRate: 0.01, next: (r) => (r() < 0.5 ? { f: 'read' } : { f: 'write', value: ++written }) });
  logs.push({ name: 'gen-register-10c-600.log', model: 'register', expected: 'linearizable', text: jepsenLog(reg.history, random(110)) });
  logs.push({ name: 'gen-register-10c-600-stale.log', model: 'register', expected: 'not-linearizable', text: jepsenLog(makeStale(reg.history, reg.ops, { before: reg.history.length / 2 }).history, random(111)) });
  for (const log of logs) {
    log.file = path.join(dir, log.name);
    fs.writeFileSync(log.file, log.text);
  }
  return logs;
}

/* ------------------------------------------------------------------ porcupine */

/** Porcupine's source folder (extracted from a bare repository into `work` when needed), or why not. */
function findPorcupine() {
  const candidate = process.env.PORCUPINE_SRC;
  if (candidate === undefined) {
    return { why: 'PORCUPINE_SRC is not set (a checkout, or a bare git repository, of github.com/anishathalye/porcupine)' };
  }
  if (fs.existsSync(path.join(candidate, 'checker.go'))) {
    return { dir: candidate };
  }
  // A bare repository: its newest commit, extracted.
  const dir = path.join(work, 'porcupine-src');
  fs.mkdirSync(dir);
  const archive = spawnSync('git', ['--git-dir', candidate, 'archive', '--format=tar', 'HEAD'], { maxBuffer: 256 * 1024 * 1024 });
  if (archive.status !== 0) {
    return { why: `${candidate} is neither a porcupine checkout nor a git repository (${String(archive.stderr ?? archive.error).trim()})` };
  }
  const tar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (tar.status !== 0 || !fs.existsSync(path.join(dir, 'checker.go'))) {
    return { why: `extracting ${candidate} gave no checker.go: is it porcupine's repository?` };
  }
  const commit = spawnSync('git', ['--git-dir', candidate, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  return { dir, commit };
}

/** Builds our harness against porcupine's source, offline; the binary's path, or why not. */
function buildHarness(porcupineDir) {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    return { why: '`go` is not on PATH (on Debian: apt-get install golang-go)' };
  }
  const dir = path.join(work, 'harness');
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(REPO_ROOT, 'test', 'bench', 'porcupine', 'main.go'), path.join(dir, 'main.go'));
  fs.writeFileSync(
    path.join(dir, 'go.mod'),
    `module datalabs/bench/porcupine\n\ngo 1.16\n\nrequire github.com/anishathalye/porcupine v0.0.0\n\nreplace github.com/anishathalye/porcupine => ${porcupineDir}\n`,
  );
  const binary = path.join(dir, 'harness');
  const env = { ...process.env, GOPROXY: 'off', GOSUMDB: 'off', GOFLAGS: '-mod=mod', GOWORK: 'off', GOTOOLCHAIN: 'local' };
  const build = spawnSync('go', ['build', '-o', binary, '.'], { cwd: dir, env, encoding: 'utf8' });
  if (build.status !== 0) {
    return { why: `our harness did not build against porcupine's source: ${(build.stderr || String(build.error)).trim()}` };
  }
  return { binary, version: go.stdout.trim() };
}

/** Runs the harness on logs of one model: file name → { verdict, ms, minMs, maxMs, batch, operations }. */
function runHarness(binary, model, files) {
  const run = spawnSync(binary, ['-model', model, '-runs', String(RUNS), '-min-ms', String(MIN_MS), ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const results = new Map();
  for (const line of run.stdout.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    results.set(r.file, r);
  }
  if (run.status !== 0 && results.size === 0) {
    throw new Error(`the porcupine harness failed (exit ${run.status}): ${run.stderr}`);
  }
  return results;
}

/* ------------------------------------------------------------------ measuring ours */

/** Part b's measure, as the harness does it: batches of at least MIN_MS, after an untimed one. */
function measureBatches(check) {
  const t0 = performance.now();
  const first = check();
  const firstMs = performance.now() - t0;
  const batch = firstMs >= MIN_MS ? 1 : Math.floor(MIN_MS / Math.max(firstMs, 0.001)) + 1;
  const times = [];
  for (let run = -1; run < RUNS; run++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) {
      const again = check();
      if (again.verdict !== first.verdict) throw new Error(`our checker answered ${first.verdict} and then ${again.verdict}`);
    }
    if (run >= 0) times.push((performance.now() - start) / batch);
  }
  return { result: first, ms: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), batch };
}

let failed = false;
const shout = (message) => {
  failed = true;
  console.log(`\n!!!!!!!! ${message} !!!!!!!!\n`);
};

/* ------------------------------------------------------------------ part a */

if (options.only !== 'b') {
  console.log(`a) generated key-value histories (model kv): ${RUNS} timed checks each, after an untimed one; target: each within ${KV_TARGET_MS / 1000} s`);
  const kv = generateKv(2024);
  const cases = [
    { name: 'linearizable', history: kv.history, expected: 'linearizable' },
    { name: 'one stale read', history: kv.stale.history, expected: 'not-linearizable' },
  ];
  console.log(`   ${kv.operations} operations, ${kv.keys} keys (${kv.perKey} operations each), ${kv.clients} clients, reads and writes, ${kv.fails} failed and ${kv.infos} unknown (info) outcomes`);
  console.log(`   the stale read: ${kv.stale.described}`);
  for (const c of cases) {
    checkLinearizable(c.history, 'kv');
    const times = [];
    let result;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      result = checkLinearizable(c.history, 'kv');
      times.push(performance.now() - t0);
    }
    const m = median(times);
    console.log(
      `   ${c.name.padEnd(15)} ${String(result.operations).padStart(5)} ops  median ${fmt(m)} ms  (min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))})  ${result.verdict}${result.key !== undefined ? ` (key ${result.key})` : ''}, ${result.steps} steps  ${m <= KV_TARGET_MS ? 'within target' : 'TARGET MISSED'}`,
    );
    if (result.verdict !== c.expected) shout(`our checker says ${result.verdict} for the ${c.name} key-value history, which is ${c.expected} by construction`);
  }
}

/* ------------------------------------------------------------------ part b */

if (options.only !== 'a') {
  console.log(`\nb) Jepsen register logs: median of ${RUNS} batches of at least ${MIN_MS} ms (after an untimed batch), time of one check, parsing excluded`);
  const logs = generateLogs(work);
  const porcupine = findPorcupine();
  if (porcupine.dir) {
    const dir = path.join(porcupine.dir, 'test_data', 'jepsen');
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort() : [];
    console.log(`   porcupine's test data: ${files.length} logs from ${porcupine.dir}${porcupine.commit ? ` (commit ${porcupine.commit})` : ''}`);
    for (const name of files) logs.push({ name, file: path.join(dir, name), model: 'cas-register' });
  } else {
    console.log(`   porcupine's test data skipped: ${porcupine.why}`);
  }
  let harness = { why: '--ours-only' };
  if (!options['ours-only']) harness = porcupine.dir ? buildHarness(porcupine.dir) : { why: porcupine.why };
  if (harness.binary) {
    console.log(`   porcupine measured in this run (${harness.version}, our harness test/bench/porcupine/main.go)`);
  } else {
    console.log(`   porcupine not measured: ${harness.why}`);
  }

  // Ours first, then porcupine's, one process for all logs of a model.
  const rows = [];
  for (const log of logs) {
    const text = fs.readFileSync(log.file, 'utf8');
    if (text.trim() === '') {
      console.log(`   ${log.name}: skipped, the file is empty`);
      continue;
    }
    const history = parseHistory(text, log.name);
    const ours = measureBatches(() => checkLinearizable(history, log.model));
    rows.push({ log, ours });
  }
  if (harness.binary) {
    for (const model of ['register', 'cas-register']) {
      const mine = rows.filter((r) => r.log.model === model);
      if (mine.length === 0) continue;
      const got = runHarness(harness.binary, model, mine.map((r) => r.log.file));
      for (const row of mine) row.porcupine = got.get(path.basename(row.log.file));
    }
  }

  const table = [['log', 'model', 'ops', 'ours ms', 'ours min-max', 'ours verdict', 'porcupine ms', 'porcupine verdict', 'ours/porcupine', `within ${RATIO_TARGET}x`]];
  const mismatches = [];
  for (const { log, ours, porcupine: p } of rows) {
    const ratio = p && !p.error ? ours.ms / p.ms : undefined;
    table.push([
      log.name,
      log.model,
      String(ours.result.operations),
      fmt(ours.ms),
      `${fmt(ours.minMs)}-${fmt(ours.maxMs)}`,
      ours.result.verdict,
      p ? (p.error ? 'error' : fmt(p.ms)) : '-',
      p ? (p.error ? p.error : p.verdict) : '-',
      ratio === undefined ? '-' : ratio.toFixed(2),
      ratio === undefined ? '-' : ratio <= RATIO_TARGET ? 'yes' : 'NO',
    ]);
    if (log.expected && ours.result.verdict !== log.expected) mismatches.push(`${log.name}: our checker says ${ours.result.verdict}, the log is ${log.expected} by construction`);
    if (p && !p.error && p.verdict !== ours.result.verdict) mismatches.push(`${log.name}: our checker says ${ours.result.verdict}, porcupine says ${p.verdict}`);
    if (p?.error) mismatches.push(`${log.name}: porcupine's harness failed: ${p.error}`);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log('');
  for (const [i, row] of table.entries()) {
    console.log(`   ${row.map((cell, j) => (j <= 1 || j === 5 || j === 7 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  ')}`);
    if (i === 0) console.log(`   ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  }

  // The summary, for the README's table.
  const measured = rows.filter((r) => r.porcupine && !r.porcupine.error);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const counts = new Map();
  for (const r of rows) counts.set(r.ours.result.verdict, (counts.get(r.ours.result.verdict) ?? 0) + 1);
  const verdicts = [...counts].map(([v, n]) => `${n} ${v}`).join(', ');
  console.log(`\n   ${rows.length} logs: ours ${verdicts}; ours ${fmt(sum(rows.map((r) => r.ours.ms)))} ms for all of them (sum of medians), slowest ${fmt(Math.max(...rows.map((r) => r.ours.ms)))} ms`);
  if (measured.length > 0) {
    const ratios = measured.map((r) => r.ours.ms / r.porcupine.ms);
    const geomean = Math.exp(sum(ratios.map(Math.log)) / ratios.length);
    const within = ratios.filter((r) => r <= RATIO_TARGET).length;
    const worst = measured.map((r, i) => ({ name: r.log.name, ratio: ratios[i] })).sort((a, b) => b.ratio - a.ratio).slice(0, 3);
    console.log(`   porcupine ${fmt(sum(measured.map((r) => r.porcupine.ms)))} ms for the ${measured.length} it checked; ours/porcupine: geometric mean ${geomean.toFixed(2)}, median ${median(ratios).toFixed(2)}, ${within}/${measured.length} within ${RATIO_TARGET}x; highest: ${worst.map((w) => `${w.name} ${w.ratio.toFixed(2)}`).join(', ')}`);
    console.log(`   verdicts: ${measured.filter((r) => r.porcupine.verdict === r.ours.result.verdict).length}/${measured.length} agree with porcupine`);
  }
  for (const m of mismatches) shout(`VERDICT MISMATCH: ${m}`);
}

console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
process.exit(failed ? 1 : 0);
