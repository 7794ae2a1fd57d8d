#!/usr/bin/env node
/**
 * Checks every lab in labs/ the way a learner meets it, and the way its author meant it:
 *
 *   1. the manifest's starter.files are exactly the files in starter/, and solution/
 *      only replaces starter files (never a visible test);
 *   2. the starter installs (`npm install`) in a temporary folder;
 *   3. the starter typechecks (`tsc --noEmit`);
 *   4. with solution/ laid over it, it still typechecks;
 *   5. the starter FAILS at least one test in each visible test file (its TODOs are real);
 *   6. and with solution/ laid over it every test passes, as many tests as the starter ran.
 *
 * A lab whose manifest lists `services` (databases) gets them from the product's command
 * line before step 5 and gives them back after step 6:
 *
 *   node dist/cli.js services up <lab> <folder> --backend <docker|embedded>   (writes <folder>/.env)
 *   node dist/cli.js services down <lab> <folder> --remove
 *
 * DATA_LABS_BACKEND picks the backend: `embedded` (the default: no Docker needed), `docker`,
 * or `both`, which runs steps 5 and 6 once per backend. A lab with a service that has no
 * embedded engine (Redis) runs them on Docker only, and without services in an
 * embedded-only run. `DATABASE_URL` is removed from the
 * tests' environment then, so that they use the database this script started. dist/cli.js
 * must be built first (`npm run build` or `node esbuild.js`).
 *
 * Usage: node test/labs/check-labs.mjs [lab-id ...]
 *
 * Installed dependencies are kept in ${DATA_LABS_CACHE:-~/.cache/data-labs}/lab-deps/<sha256 of
 * package.json>/node_modules and symlinked into the temporary folder on later runs.
 * DATA_LABS_KEEP_TMP=1 keeps the temporary folders for a look afterwards.
 *
 * The last line is `N passed, M failed` (N and M count checks); the exit code is
 * non-zero when any check failed. Only node built-ins are used.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { todoOfTest, todoStages } from './todoStages.mjs';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const labsDir = path.join(repoRoot, 'labs');
const cacheRoot = process.env.DATA_LABS_CACHE || path.join(os.homedir(), '.cache', 'data-labs');
const keepTmp = process.env.DATA_LABS_KEEP_TMP === '1';
const isWindows = process.platform === 'win32';
const npm = isWindows ? 'npm.cmd' : 'npm';
const npx = isWindows ? 'npx.cmd' : 'npx';

const INSTALL_TIMEOUT_MS = 10 * 60_000;
const TYPECHECK_TIMEOUT_MS = 3 * 60_000;
const TEST_TIMEOUT_MS = 10 * 60_000;
const SERVICES_TIMEOUT_MS = 5 * 60_000;

const cliPath = path.join(repoRoot, 'dist', 'cli.js');

const BACKENDS = ['embedded', 'docker'];
/** What points a lab's tests at servers: removed from their environment, so that only the folder's .env does. */
const SERVICE_ENV = ['DATABASE_URL', 'POSTGRES_URL', 'POSTGRES_2_URL', 'POSTGRES_3_URL'];
const backendSetting = (process.env.DATA_LABS_BACKEND || 'embedded').trim().toLowerCase();
/** The backends a lab with services is checked on, in order; undefined when DATA_LABS_BACKEND is wrong. */
const backends = backendSetting === 'both' ? BACKENDS : BACKENDS.includes(backendSetting) ? [backendSetting] : undefined;

/** The checks of one lab, in the order they run. */
function planChecks(withServices, labBackends) {
  const checks = ['layout', 'install', 'starter typecheck', 'solution typecheck'];
  if (!withServices) return [...checks, 'starter tests fail', 'solution tests pass', 'each TODO\'s tests pass once it is done'];
  for (const [i, backend] of labBackends.entries()) {
    checks.push(`services up (${backend})`, `starter tests fail (${backend})`, `solution tests pass (${backend})`);
    // The stages once, on the first backend: they test the tests, not the engine.
    if (i === 0) checks.push(`each TODO's tests pass once it is done (${backend})`);
    checks.push(`services down (${backend})`);
  }
  return checks;
}

let passed = 0;
let failed = 0;

// ─── small helpers ────────────────────────────────────────────────────────────

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Children still running, so that stopping this script (Ctrl-C) stops them too. */
const running = new Set();
/** Labs whose services are up ({ labId, workDir }), so that stopping this script stops them too. */
const servicesUp = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) stopChild(child);
    for (const { labId, workDir } of servicesUp) {
      console.log(`\n[check-labs] stopping the services of ${labId} (${workDir})`);
      spawnSync(process.execPath, [cliPath, 'services', 'down', labId, workDir, '--remove'], { cwd: repoRoot, stdio: 'inherit', timeout: 60_000 });
    }
    process.exit(130);
  });
}

function stopChild(child) {
  try {
    if (isWindows) child.kill('SIGTERM');
    else process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * Runs a command; resolves with its exit code and combined output (never rejects).
 * `withoutEnv` names variables to remove from the child's environment.
 */
function run(command, args, cwd, timeoutMs, withoutEnv = []) {
  return new Promise((resolve) => {
    let output = '';
    const env = { ...process.env, CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1', npm_config_update_notifier: 'false' };
    for (const name of withoutEnv) delete env[name];
    const child = spawn(command, args, {
      cwd,
      shell: isWindows,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout stops vitest's workers too, not only npx.
      detached: !isWindows,
    });
    const timer = setTimeout(() => {
      output += `\n[check-labs] ${command} ${args.join(' ')} took longer than ${seconds(timeoutMs)}; stopped.\n`;
      stopChild(child);
    }, timeoutMs);
    running.add(child);
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: -1, output: `${output}\n${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: code ?? -1, output });
    });
  });
}

function tail(text, lines = 25) {
  const all = String(text).trimEnd().split(/\r?\n/);
  return all.slice(-lines).map((l) => `      | ${l}`).join('\n');
}

/** Every file under `dir`, as sorted forward-slash paths relative to it. */
function listFiles(dir, prefix = '') {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...listFiles(path.join(dir, entry.name), rel));
    } else {
      out.push(rel);
    }
  }
  return out.sort();
}

function moveDir(from, to) {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if (error.code !== 'EXDEV') throw error;
    // Another file system: copy (keeping node_modules/.bin's relative links as they are), then remove.
    fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    fs.rmSync(from, { recursive: true, force: true });
  }
}

// ─── dependencies, cached by package.json ────────────────────────────────────

/**
 * Gives `workDir` a node_modules: a symlink to the cached one for this package.json, or a
 * fresh `npm install` whose result then goes into the cache (and is linked back).
 */
async function installDependencies(workDir) {
  const hash = createHash('sha256').update(fs.readFileSync(path.join(workDir, 'package.json'))).digest('hex');
  const entryDir = path.join(cacheRoot, 'lab-deps', hash);
  const cached = path.join(entryDir, 'node_modules');
  const complete = path.join(entryDir, '.complete');
  const linkIn = () => fs.symlinkSync(cached, path.join(workDir, 'node_modules'), isWindows ? 'junction' : 'dir');

  if (fs.existsSync(complete) && fs.existsSync(cached)) {
    linkIn();
    return { ok: true, detail: `cached node_modules (${hash.slice(0, 12)})` };
  }
  const result = await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline'], workDir, INSTALL_TIMEOUT_MS);
  if (result.code !== 0) {
    return { ok: false, detail: `npm install exited with ${result.code}\n${tail(result.output)}` };
  }
  try {
    fs.mkdirSync(entryDir, { recursive: true });
    fs.rmSync(cached, { recursive: true, force: true }); // an earlier run that died half-way
    const staging = path.join(entryDir, `node_modules.tmp-${process.pid}`);
    moveDir(path.join(workDir, 'node_modules'), staging);
    fs.renameSync(staging, cached);
    fs.writeFileSync(complete, `${new Date().toISOString()}\n`);
    linkIn();
    return { ok: true, detail: `npm install, cached as ${hash.slice(0, 12)}` };
  } catch (error) {
    // The install itself worked; a cache we cannot write only costs time next run.
    if (!fs.existsSync(path.join(workDir, 'node_modules'))) {
      return { ok: false, detail: `could not cache or restore node_modules: ${error.message}` };
    }
    return { ok: true, detail: `npm install (not cached: ${error.message})` };
  }
}

// ─── vitest ───────────────────────────────────────────────────────────────────

/** Runs vitest with the JSON reporter and returns, per visible test file, its test statuses. */
async function runTests(workDir, tag, withoutEnv = []) {
  const reportFile = path.join(workDir, `.vitest-${tag}.json`);
  fs.rmSync(reportFile, { force: true });
  const started = Date.now();
  const result = await run(npx, ['--no', '--', 'vitest', 'run', '--reporter=json', `--outputFile=${reportFile}`], workDir, TEST_TIMEOUT_MS, withoutEnv);
  const ms = Date.now() - started;
  if (!fs.existsSync(reportFile)) {
    return { error: `vitest wrote no report (exit ${result.code})\n${tail(result.output)}`, ms };
  }
  let report;
  try {
    report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  } catch (error) {
    return { error: `vitest's report is not JSON: ${error.message}`, ms };
  }
  const realWorkDir = fs.realpathSync(workDir);
  const files = new Map();
  for (const suite of report.testResults ?? []) {
    const rel = path.relative(realWorkDir, fs.existsSync(suite.name) ? fs.realpathSync(suite.name) : suite.name).split(path.sep).join('/');
    files.set(rel, {
      suiteStatus: suite.status,
      suiteMessage: suite.message ?? '',
      tests: (suite.assertionResults ?? []).map((a) => ({ name: a.fullName ?? a.title, status: a.status, message: (a.failureMessages ?? []).join('\n') })),
    });
  }
  return { files, total: report.numTotalTests ?? 0, exitCode: result.code, output: result.output, ms };
}

function firstLine(text) {
  return String(text).split(/\r?\n/).find((l) => l.trim()) ?? '';
}

// ─── one lab ─────────────────────────────────────────────────────────────────

async function checkLab(labId) {
  const labDir = path.join(labsDir, labId);
  const results = [];
  let plan = planChecks(false);
  const record = (check, ok, detail, ms) => {
    results.push({ check, ok, detail, ms });
    if (ok) passed += 1;
    else failed += 1;
    const time = ms === undefined ? '' : ` (${seconds(ms)})`;
    console.log(`  ${ok ? '✓' : '✗'} ${check}${time}${detail ? ` — ${detail}` : ''}`);
  };
  const skipRest = (reason) => {
    for (const check of plan.slice(results.length)) record(check, false, `not run: ${reason}`);
  };

  console.log(`\n${labId}`);

  // 1. layout
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(labDir, 'lab.json'), 'utf8'));
  } catch (error) {
    record('layout', false, `lab.json cannot be read: ${error.message}`);
    skipRest('no manifest');
    return results;
  }
  const hasServices = Array.isArray(manifest.services) && manifest.services.length > 0;
  // A lab whose services cannot run embedded (Redis) is checked on Docker only; in an
  // embedded-only run its tests run without services (they must not need them then).
  const embeddable = hasServices && manifest.services.every((s) => s.embedded === true);
  const labBackends = hasServices ? (backends ?? []).filter((b) => b === 'docker' || embeddable) : [];
  const withServices = hasServices && (backends === undefined || labBackends.length > 0);
  plan = planChecks(withServices, labBackends);
  const starterDir = path.join(labDir, manifest.starter?.dir ?? 'starter');
  const solutionDir = path.join(labDir, 'solution');
  const problems = [];
  if (manifest.id !== labId) problems.push(`id is "${manifest.id}" but the folder is "${labId}"`);
  if (!fs.existsSync(path.join(labDir, manifest.readme ?? 'README.md'))) problems.push(`readme "${manifest.readme ?? 'README.md'}" is missing`);
  const listed = [...(manifest.starter?.files ?? [])].sort();
  const onDisk = fs.existsSync(starterDir) ? listFiles(starterDir) : [];
  const unlisted = onDisk.filter((f) => !listed.includes(f));
  const missing = listed.filter((f) => !onDisk.includes(f));
  if (unlisted.length) problems.push(`in ${manifest.starter?.dir}/ but not in starter.files: ${unlisted.join(', ')}`);
  if (missing.length) problems.push(`in starter.files but not in ${manifest.starter?.dir}/: ${missing.join(', ')}`);
  const tests = manifest.tests ?? [];
  if (tests.length === 0) problems.push('no visible tests');
  for (const t of tests) if (!listed.includes(t)) problems.push(`test "${t}" is not in starter.files`);
  if (!listed.includes(manifest.starter?.main)) problems.push(`starter.main "${manifest.starter?.main}" is not in starter.files`);
  const solutionFiles = fs.existsSync(solutionDir) ? listFiles(solutionDir) : [];
  if (solutionFiles.length === 0) problems.push('solution/ is missing or empty');
  for (const f of solutionFiles) {
    if (!listed.includes(f)) problems.push(`solution/${f} replaces no starter file`);
    if (tests.includes(f)) problems.push(`solution/${f} would replace a visible test`);
  }
  if (withServices && backends === undefined) problems.push(`DATA_LABS_BACKEND is "${backendSetting}"; use embedded, docker or both`);
  record('layout', problems.length === 0, problems.length ? problems.join('; ') : `${listed.length} starter files, ${tests.length} test files, ${solutionFiles.length} solution files`);
  if (problems.length) {
    skipRest('layout is wrong');
    return results;
  }

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `lab-${labId}-`));
  // solution/ only replaces starter files (checked above), so copying starter/ again undoes it.
  const layStarter = () => fs.cpSync(starterDir, workDir, { recursive: true, force: true });
  const laySolution = () => fs.cpSync(solutionDir, workDir, { recursive: true, force: true });
  try {
    layStarter();

    // 2. install
    let started = Date.now();
    const install = await installDependencies(workDir);
    record('install', install.ok, install.detail, Date.now() - started);
    if (!install.ok) {
      skipRest('install failed');
      return results;
    }

    // 3. starter typecheck
    started = Date.now();
    let tsc = await run(npx, ['--no', '--', 'tsc', '--noEmit'], workDir, TYPECHECK_TIMEOUT_MS);
    record('starter typecheck', tsc.code === 0, tsc.code === 0 ? '' : `tsc exited with ${tsc.code}\n${tail(tsc.output)}`, Date.now() - started);

    // 4. solution typecheck
    laySolution();
    started = Date.now();
    tsc = await run(npx, ['--no', '--', 'tsc', '--noEmit'], workDir, TYPECHECK_TIMEOUT_MS);
    record('solution typecheck', tsc.code === 0, tsc.code === 0 ? '' : `tsc exited with ${tsc.code}\n${tail(tsc.output)}`, Date.now() - started);
    layStarter();

    // 5. and 6., once per backend for a lab with services.
    if (!withServices) {
      // A lab whose services cannot run here (Docker-only, in an embedded-only run): its tests
      // that need them skip themselves, saying why, and the others must still run.
      const servicesAbsent = hasServices;
      await checkTests({ workDir, tests, record, laySolution, suffix: '', withoutEnv: SERVICE_ENV, servicesAbsent });
      await checkStages({ labDir, starterDir, workDir, record, suffix: '', withoutEnv: SERVICE_ENV, servicesAbsent });
      return results;
    }
    for (const [i, backend] of labBackends.entries()) {
      if (i > 0) layStarter();
      const suffix = ` (${backend})`;
      started = Date.now();
      const envFile = path.join(workDir, '.env');
      fs.rmSync(envFile, { force: true }); // the previous backend's
      servicesUp.add({ labId, workDir });
      const up = await services(['up', labId, workDir, '--backend', backend]);
      const upOk = up.code === 0 && fs.existsSync(envFile);
      record(
        `services up${suffix}`,
        upOk,
        upOk ? firstLine(up.output) : `${up.code === 0 ? `exit 0 but no ${envFile}` : `exit ${up.code}`}\n${tail(up.output)}`,
        Date.now() - started,
      );
      if (upOk) {
        await checkTests({ workDir, tests, record, laySolution, suffix, withoutEnv: SERVICE_ENV });
        if (i === 0) await checkStages({ labDir, starterDir, workDir, record, suffix, withoutEnv: SERVICE_ENV });
      } else {
        record(`starter tests fail${suffix}`, false, 'not run: services up failed');
        record(`solution tests pass${suffix}`, false, 'not run: services up failed');
        if (i === 0) record(`each TODO's tests pass once it is done${suffix}`, false, 'not run: services up failed');
      }
      // Down even after a failed up: a half-started service is removed too.
      started = Date.now();
      const down = await services(['down', labId, workDir, '--remove']);
      servicesUp.clear();
      record(`services down${suffix}`, down.code === 0, down.code === 0 ? '' : `exit ${down.code}\n${tail(down.output)}`, Date.now() - started);
    }
    return results;
  } finally {
    if (keepTmp) console.log(`  (kept ${workDir})`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * Each visible test depends only on the TODOs its name says: with TODO(1) to TODO(k) done
 * (todoStages.mjs: the solution, the pieces of later TODOs as the starter has them), every
 * test named `TODO(j) …` with j <= k passes, for every k. The solution used is the lab's
 * reference if it is written in the starter's functions, else the first alternative that is.
 */
async function checkStages({ labDir, starterDir, workDir, record, suffix, withoutEnv, servicesAbsent = false }) {
  const check = `each TODO's tests pass once it is done${suffix}`;
  const started = Date.now();
  const candidates = [path.join(labDir, 'solution'), ...(fs.existsSync(path.join(labDir, 'alternatives')) ? fs.readdirSync(path.join(labDir, 'alternatives')).sort().map((a) => path.join(labDir, 'alternatives', a)) : [])];
  let stages;
  const refused = [];
  for (const dir of candidates) {
    try {
      stages = { dir, ...todoStages(starterDir, dir, listFiles(dir)) };
      break;
    } catch (error) {
      refused.push(`${path.relative(labDir, dir)}: ${error.message}`);
    }
  }
  if (stages === undefined) {
    record(check, false, `no solution is written in the starter's functions:\n${refused.map((r) => `      - ${r}`).join('\n')}`, Date.now() - started);
    return;
  }
  const complaints = [];
  let runs = 0;
  for (let k = 1; k < stages.count; k++) {
    fs.cpSync(stages.dir, workDir, { recursive: true, force: true });
    for (const [rel, text] of Object.entries(stages.files(k))) fs.writeFileSync(path.join(workDir, rel), text);
    const run = await runTests(workDir, `todo-${k}`, withoutEnv);
    runs++;
    if (run.error) {
      complaints.push(`with TODO(1..${k}) done: ${run.error}`);
      continue;
    }
    for (const test of [...run.files.values()].flatMap((f) => f.tests)) {
      const todo = todoOfTest(test.name);
      if (todo !== undefined && todo <= k && test.status !== 'passed' && !(servicesAbsent && isSkipped(test))) {
        complaints.push(`with TODO(1..${k}) done, "${test.name}" ${test.status}: ${firstLine(test.message)}`);
      }
    }
  }
  fs.cpSync(path.join(labDir, 'solution'), workDir, { recursive: true, force: true });
  record(
    check,
    complaints.length === 0,
    complaints.length ? `\n${complaints.map((c) => `      - ${c}`).join('\n')}` : `${runs} stages of ${stages.count} TODOs (${stages.pieces.length} functions, from ${path.relative(labDir, stages.dir)})`,
    Date.now() - started,
  );
}

/** Runs the product's `data-labs services ...` command. */
async function services(args) {
  if (!fs.existsSync(cliPath)) {
    return { code: -1, output: `${cliPath} is missing: build the product first (npm run build, or node esbuild.js).` };
  }
  return run(process.execPath, [cliPath, 'services', ...args], repoRoot, SERVICES_TIMEOUT_MS);
}

/**
 * The starter's tests, which must fail in each visible test file, then the same tests
 * with solution/ laid over the starter, which must all pass.
 */
async function checkTests({ workDir, tests, record, laySolution, suffix, withoutEnv, servicesAbsent = false }) {
  const tag = suffix ? suffix.replace(/[^a-z]/g, '') : '';
  // starter tests: at least one failure in each visible test file
  const starterRun = await runTests(workDir, `starter${tag ? `-${tag}` : ''}`, withoutEnv);
  let starterCount = -1;
  if (starterRun.error) {
    record(`starter tests fail${suffix}`, false, starterRun.error, starterRun.ms);
  } else {
    const complaints = [];
    const perFile = [];
    for (const t of tests) {
      const file = starterRun.files.get(t);
      if (!file) {
        complaints.push(`${t} did not run`);
        continue;
      }
      if (servicesAbsent && file.tests.length > 0 && file.tests.every(isSkipped)) {
        perFile.push(`${t}: skipped (needs the lab's services)`);
        continue;
      }
      const failing = file.tests.filter((x) => x.status === 'failed');
      perFile.push(`${t}: ${failing.length}/${file.tests.length} failing`);
      if (file.tests.length === 0) complaints.push(`${t} ran no test (${firstLine(file.suiteMessage) || 'the file did not load'})`);
      else if (failing.length === 0) complaints.push(`every test in ${t} already passes with the starter: its TODOs test nothing`);
    }
    starterCount = starterRun.total;
    if (starterCount === 0) complaints.push('vitest ran no test at all');
    if (servicesAbsent && [...starterRun.files.values()].every((f) => f.tests.every(isSkipped))) complaints.push('every test needs the lab\'s services: none runs without them');
    record(
      `starter tests fail${suffix}`,
      complaints.length === 0,
      complaints.length ? `\n${complaints.map((c) => `      - ${c}`).join('\n')}\n${tail(starterRun.output, 10)}` : `${perFile.join(', ')} (as intended)`,
      starterRun.ms,
    );
  }

  // solution tests: all pass, same count as the starter
  laySolution();
  const solutionRun = await runTests(workDir, `solution${tag ? `-${tag}` : ''}`, withoutEnv);
  if (solutionRun.error) {
    record(`solution tests pass${suffix}`, false, solutionRun.error, solutionRun.ms);
  } else {
    const complaints = [];
    const all = [...solutionRun.files.values()].flatMap((f) => f.tests);
    for (const [file, info] of solutionRun.files) {
      if (info.suiteStatus !== 'passed' && info.tests.length === 0) complaints.push(`${file} did not load: ${firstLine(info.suiteMessage)}`);
    }
    for (const t of tests) if (!solutionRun.files.has(t)) complaints.push(`${t} did not run`);
    const notPassing = all.filter((x) => x.status !== 'passed' && !(servicesAbsent && isSkipped(x)));
    for (const x of notPassing) complaints.push(`${x.status}: ${x.name}${x.message ? ` — ${firstLine(x.message)}` : ''}`);
    if (solutionRun.total !== starterCount) complaints.push(`${solutionRun.total} tests ran, but the starter ran ${starterCount}`);
    if (solutionRun.total === 0) complaints.push('vitest ran no test at all');
    if (complaints.length === 0 && solutionRun.exitCode !== 0) complaints.push(`vitest exited with ${solutionRun.exitCode}\n${tail(solutionRun.output, 10)}`);
    record(
      `solution tests pass${suffix}`,
      complaints.length === 0,
      complaints.length
        ? `\n${complaints.map((c) => `      - ${c}`).join('\n')}`
        : `${all.filter((x) => x.status === 'passed').length}/${solutionRun.total} passed${servicesAbsent ? `, ${all.filter(isSkipped).length} skipped (need the lab's services)` : ''}`,
      solutionRun.ms,
    );
  }
}

/** A test that did not run: skipped by `skipIf` (a lab's test that needs its services, without them). */
function isSkipped(test) {
  return test.status === 'skipped' || test.status === 'pending';
}

// ─── main ─────────────────────────────────────────────────────────────────────

async function main() {
  const wanted = process.argv.slice(2);
  const all = fs.existsSync(labsDir)
    ? fs.readdirSync(labsDir, { withFileTypes: true }).filter((d) => d.isDirectory() && fs.existsSync(path.join(labsDir, d.name, 'lab.json'))).map((d) => d.name).sort()
    : [];
  for (const id of wanted) {
    if (!all.includes(id)) {
      console.log(`✗ no lab "${id}" in ${labsDir}`);
      failed += 1;
    }
  }
  const labs = wanted.length ? all.filter((id) => wanted.includes(id)) : all;
  if (labs.length === 0) {
    console.log(`✗ no lab found in ${labsDir}`);
    failed += 1;
  }
  console.log(`check-labs: ${labs.length} lab(s); dependency cache ${path.join(cacheRoot, 'lab-deps')}; services backend: ${backendSetting}`);

  const started = Date.now();
  const summary = [];
  // One lab at a time: each test run already uses every core.
  for (const id of labs) {
    const labStarted = Date.now();
    const results = await checkLab(id);
    summary.push({ id, ok: results.filter((r) => r.ok).length, total: results.length, ms: Date.now() - labStarted });
  }

  console.log('\nSummary');
  for (const s of summary) {
    console.log(`  ${s.ok === s.total ? '✓' : '✗'} ${s.id}: ${s.ok}/${s.total} checks passed in ${seconds(s.ms)}`);
  }
  console.log(`  total time ${seconds(Date.now() - started)}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
