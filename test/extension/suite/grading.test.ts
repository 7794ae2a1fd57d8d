// Grading in the real extension host, on the Idempotency Keys lab: opening it lists its
// hidden checks in the Testing view; Grade on the starter stops at its unwritten
// migrate(), shown at that line; a first attempt with a bug (the grader's own mutant
// that stores responses as jsonb) fails the replay check with its hint; a syntax error
// lands in the Problems panel at its line; the reference solution passes every check,
// which ticks the lab's checklist items; "Replay this failure" reruns one check with the
// seed it had; a grading cancelled midway (as the notification's Cancel does) stops the
// learner's process, and the next grading runs as usual. The lab's PostgreSQL runs in
// Docker (the local image that run-in-code-server.mjs maps in `dataLabs.images`).
//
// What the extension did is observed through its public events: the grading's
// (onDidFinish, onDidDecideCheck, onDidCancel) and the Testing view's (onDidEndRun, with
// what the run decided per test item).
//
// Like lab.test.ts, it needs a multi-root window and builds step by step; it cleans up:
// the lab folder leaves the workspace, its container is removed, progress is reset.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GradeReport } from '../../../src/core/grading/report';
import type { DataLabsApi } from '../../../src/dataLabs';
import type { RunOutcomes } from '../../../src/testing/labTestController';
import { activateApi, allTabs, children, closeAllEditors, describeTabs, extension, groupNode, nextEvent, resetProgress, waitFor, within } from './helpers';

const LAB = 'idempotency-keys';
const CHECK_COUNT = 11;
const INSTALL_TIMEOUT_MS = 5 * 60_000;
const GRADE_TIMEOUT_MS = 3 * 60_000;

suite('Grading: the Idempotency Keys lab', function () {
  let api: DataLabsApi;
  let tempDir: string;
  let labDir: string;
  let opening: Promise<unknown> | undefined;
  const sourceLab = (): string => path.join(api.catalog.dir, LAB);
  const gradeGroup = (): vscode.TestItem | undefined => api.tests.controller.items.get(`lab:${labDir}`)?.children.get(`grade:${labDir}`);
  const ofThisLab = (e: { labDir: string }): boolean => path.resolve(e.labDir) === path.resolve(labDir);
  /** The reference's full passing report, as a CI runner would have made it for this code. */
  let passingReport: GradeReport | undefined;
  /** What the Testing view's run of the last grading decided, by test item id. */
  let lastResults: RunOutcomes = new Map();

  /** Runs the Grade command, waits for its report and for its run in the Testing view to end; returns the report. */
  async function grade(request?: { seed?: number; only?: string[] }): Promise<GradeReport> {
    const finished = nextEvent(api.grading.onDidFinish, 'the grading\'s report', GRADE_TIMEOUT_MS, ofThisLab);
    const ended = nextEvent(api.tests.onDidEndRun, 'the grading run', GRADE_TIMEOUT_MS);
    finished.catch(() => {});
    ended.catch(() => {});
    await within(vscode.commands.executeCommand('dataLabs.gradeLab', LAB, request), GRADE_TIMEOUT_MS, 'dataLabs.gradeLab');
    const { report } = await finished;
    lastResults = await ended;
    return report;
  }

  /** The learner's processes the sandbox runs (node …/dist/sandbox/child.cjs), children of this extension host. */
  function learnerProcesses(): number[] {
    const child = path.join(extension().extensionPath, 'dist', 'sandbox', 'child.cjs');
    const found: number[] = [];
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        // The parent is the field after the command's name, which is in parentheses and may hold spaces.
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        // A process that has ended but is not yet reaped has an empty command line: it is not running.
        const command = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
        if (parent === process.pid && command.includes(child)) found.push(Number(name));
      } catch {
        // The process ended while it was being read.
      }
    }
    return found;
  }

  suiteSetup(async function () {
    if (!vscode.workspace.workspaceFile) {
      this.skip();
    }
    api = await activateApi();
    await resetProgress(api);
    await closeAllEditors();
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-labs-grade-test-'));
    const labsRoot = path.join(tempDir, 'labs');
    labDir = path.join(labsRoot, LAB);
    await vscode.workspace.getConfiguration('dataLabs').update('labsRoot', labsRoot, vscode.ConfigurationTarget.Global);
    await waitFor(() => api.settings.labsRoot === labsRoot, 'dataLabs.labsRoot');
  });

  suiteTeardown(async function () {
    this.timeout(60_000);
    if (!api) return;
    if (opening) await within(opening, 30_000, 'the lab open').catch(() => {});
    await closeAllEditors().catch(() => vscode.commands.executeCommand('workbench.action.closeAllEditors'));
    const index = (vscode.workspace.workspaceFolders ?? []).findIndex((f) => f.uri.fsPath === labDir);
    if (index >= 0) {
      const removed = nextEvent(vscode.workspace.onDidChangeWorkspaceFolders, 'the lab folder to leave the workspace', 20_000);
      vscode.workspace.updateWorkspaceFolders(index, 1);
      await removed;
    }
    await api.services.stop(LAB, { remove: true }).catch(() => {});
    await vscode.workspace.getConfiguration('dataLabs').update('labsRoot', undefined, vscode.ConfigurationTarget.Global);
    await resetProgress(api);
    await api.tests.discoverAll();
    fs.rmSync(tempDir, { recursive: true, force: true });
  });

  test('opening the lab lists its hidden checks in the Testing view', async function () {
    this.timeout(INSTALL_TIMEOUT_MS + 60_000);
    opening = Promise.resolve(vscode.commands.executeCommand('dataLabs.openLab', LAB));
    opening.catch(() => {});
    await within(opening, INSTALL_TIMEOUT_MS, 'opening the lab (scaffold, workspace, npm install)');
    await waitFor(() => fs.existsSync(path.join(labDir, 'node_modules', 'esbuild')), 'the lab dependencies (esbuild comes with Vitest)', { timeoutMs: INSTALL_TIMEOUT_MS });
    const group = await waitFor(gradeGroup, 'the "Hidden checks" test item', { timeoutMs: 30_000 });
    const checks = [...group.children].map(([, item]) => item.label);
    assert.equal(checks.length, CHECK_COUNT);
    assert.ok(checks.includes('Concurrent requests with one key charge once'), checks.join(' | '));
    // Said before grading: the one check the embedded engine cannot decide.
    const needsDocker = [...group.children].filter(([, item]) => item.description === 'needs Docker').map(([, item]) => item.label);
    assert.deepEqual(needsDocker, ['Concurrent requests with one key charge once']);
  });

  test('Grade on the starter stops at its unwritten migrate(), shown at its line with the report panel', async function () {
    this.timeout(GRADE_TIMEOUT_MS + 30_000);
    const report = await grade();
    assert.equal(report.passed, false);
    assert.equal(report.problem?.kind, 'setup', `the starter's migrate() throws its TODO: ${JSON.stringify(report.problem ?? report.score)}`);
    assert.match(report.problem?.message ?? '', /TODO\(1\)/);
    const file = path.join(labDir, 'src', 'payments.ts');
    const diagnostic = await waitFor(() => vscode.languages.getDiagnostics(vscode.Uri.file(file)).find((d) => d.source === 'Data Labs grader'), 'the set-up error in Problems');
    const todoLine = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes("TODO(1)") && l.includes('throw'));
    assert.equal(diagnostic.range.start.line, todoLine, 'at the line that throws');
    const result = lastResults.get(`grade:${labDir}#stale-lock`);
    assert.equal(result?.state, 'errored', 'each hidden check says why it did not run');
    // The panel's page itself (its CSP, its script) is tested in gradeReport.test.ts.
    const title = `Grade: ${api.catalog.lab(LAB)?.manifest.title ?? LAB}`;
    await waitFor(() => allTabs().find((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith('dataLabs.gradeReport') && tab.label === title), 'the report panel', { describe: describeTabs });
    assert.equal(api.progress.store.isDone('add-idempotency-keys'), false);
  });

  test('a first attempt that stores the response as jsonb fails the replay check, with its hint, in the Testing view', async function () {
    this.timeout(GRADE_TIMEOUT_MS);
    const attempt = path.join(api.catalog.dir, 'idempotency-keys', 'mutants', 'replay-rebuilt-from-jsonb', 'src', 'payments.ts');
    fs.copyFileSync(attempt, path.join(labDir, 'src', 'payments.ts'));
    const report = await grade();
    const replay = report.checks.find((c) => c.id === 'replay-after-success');
    assert.equal(replay?.status, 'fail', report.checks.map((c) => `${c.id}=${c.status}`).join(', '));
    assert.match(replay?.hint ?? '', /jsonb/);
    assert.ok((replay?.culprits ?? []).length > 0, 'the failure points at events of its history');
    const result = lastResults.get(`grade:${labDir}#replay-after-success`);
    assert.equal(result?.state, 'failed');
    assert.match(result?.message ?? '', /Hint: .*jsonb/s);
    assert.equal(lastResults.get(`grade:${labDir}#per-user-scope`)?.state, 'passed');
    // The sidebar's row says how many hidden checks the latest grading passed.
    const failedChecks = report.checks.filter((c) => c.status !== 'pass').length;
    const labs = await groupNode(api, 'consistency-patterns', 'labs');
    const row = labs && (await children(api, labs)).find((n) => n.kind === 'lab' && n.lab.id === LAB);
    assert.ok(row, 'the lab has a row');
    assert.match(String(api.tree.getTreeItem(row).description), new RegExp(`^checks ${CHECK_COUNT - failedChecks}/${CHECK_COUNT}( · \\d+ undecided)?$`));
  });

  test('a syntax error is shown in the Problems panel at its line, and no check runs', async function () {
    this.timeout(GRADE_TIMEOUT_MS);
    const file = path.join(labDir, 'src', 'payments.ts');
    const original = fs.readFileSync(file, 'utf8');
    const lines = original.split('\n');
    lines.push('const broken = ;');
    const brokenLine = lines.length - 1;
    fs.writeFileSync(file, lines.join('\n'));
    try {
      const report = await grade();
      assert.equal(report.problem?.kind, 'compile');
      assert.equal(report.checks.length, 0);
      const diagnostics = await waitFor(
        () => {
          const list = vscode.languages.getDiagnostics(vscode.Uri.file(file)).filter((d) => d.source === 'Data Labs grader');
          return list.length > 0 ? list : undefined;
        },
        'the grader\'s diagnostic on src/payments.ts',
      );
      assert.equal(diagnostics[0]?.range.start.line, brokenLine, 'at the line of the error');
      assert.equal(lastResults.get(`grade:${labDir}#stale-lock`)?.state, 'errored');
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  test('with the reference solution every check passes, the checklist is ticked, and a failure can be replayed by seed', async function () {
    this.timeout(2 * GRADE_TIMEOUT_MS);
    fs.copyFileSync(path.join(sourceLab(), 'solution', 'src', 'payments.ts'), path.join(labDir, 'src', 'payments.ts'));
    const report = await grade();
    assert.deepEqual(
      report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.actual}`),
      [],
    );
    assert.equal(report.passed, true);
    passingReport = report;
    assert.equal(api.progress.store.isDone('add-idempotency-keys'), true);
    assert.equal(api.progress.store.isDone('handle-retries-safely'), true);
    assert.equal(vscode.languages.getDiagnostics(vscode.Uri.file(path.join(labDir, 'src', 'payments.ts'))).filter((d) => d.source === 'Data Labs grader').length, 0, 'the compile error is gone from Problems');
    // Passed: the reference to compare with is the one written in the starter's functions, so the diff lines up.
    assert.equal(
      await vscode.commands.executeCommand<string>('dataLabs.compareWithReference', LAB),
      path.join(extension().extensionPath, 'labs', LAB, 'alternatives', 'starter-shaped', 'src', 'payments.ts'),
    );

    const staleLock = report.checks.find((c) => c.id === 'stale-lock');
    const replay = await grade({ seed: report.seed, only: ['stale-lock'] });
    assert.deepEqual(
      replay.checks.map((c) => [c.id, c.seed, c.status]),
      [['stale-lock', staleLock?.seed, 'pass']],
      'the replay runs that one check with the seed it had',
    );
  });

  test('cancelling a grading reports it cancelled, stops the learner\'s process, and the next grading still works', async function () {
    this.timeout(3 * GRADE_TIMEOUT_MS);
    // The reference solution is in place (the test above): every check runs, which takes a while.
    const decided = nextEvent(api.grading.onDidDecideCheck, 'a first check to be decided', GRADE_TIMEOUT_MS, ofThisLab);
    const cancelled = nextEvent(api.grading.onDidCancel, 'the grading to be cancelled', GRADE_TIMEOUT_MS, ofThisLab);
    const ended = nextEvent(api.tests.onDidEndRun, 'the grading run', GRADE_TIMEOUT_MS);
    let finished = false;
    const finishing = api.grading.onDidFinish((e) => (finished ||= ofThisLab(e)));
    try {
      const running = Promise.resolve(vscode.commands.executeCommand('dataLabs.gradeLab', LAB));
      for (const promise of [decided, cancelled, ended, running]) promise.catch(() => {});
      await decided;
      assert.ok(learnerProcesses().length > 0, 'the learner\'s code runs in the sandbox\'s process');
      // What the progress notification's Cancel calls.
      assert.equal(api.grading.cancel(labDir), true, 'a grading was under way');
      await cancelled;
      await within(running, GRADE_TIMEOUT_MS, 'the cancelled Grade command');
      assert.equal(finished, false, 'the cancelled grading made no report');
      assert.equal(api.grading.isGrading(labDir), false);
      const results = await ended;
      const cancelledChecks = [...results.values()].filter((r) => r.state === 'errored' && /cancelled/.test(r.message ?? ''));
      assert.ok(cancelledChecks.length > 0, `the checks not decided say the grading was cancelled: ${JSON.stringify([...results])}`);
      await waitFor(() => learnerProcesses().length === 0, 'no learner process left running', { timeoutMs: 15_000, describe: () => learnerProcesses().join(', ') });
    } finally {
      finishing.dispose();
    }

    const report = await grade({ only: ['per-user-scope'] });
    assert.deepEqual(report.checks.map((c) => [c.id, c.status]), [['per-user-scope', 'pass']], 'a grading after the cancelled one runs as usual');
    assert.equal(lastResults.get(`grade:${labDir}#per-user-scope`)?.state, 'passed');
    await waitFor(() => learnerProcesses().length === 0, 'its learner process to end too', { timeoutMs: 15_000, describe: () => learnerProcesses().join(', ') });
  });

  test('Grade in CI writes the workflow and the grader into the folder; a report graded elsewhere is recorded for this code only', async function () {
    this.timeout(60_000);
    assert.ok(passingReport, 'the reference was graded');
    const written = await vscode.commands.executeCommand<readonly string[]>('dataLabs.gradeInCi', LAB);
    assert.ok(written?.includes('.github/workflows/data-labs.yml'), `written: ${JSON.stringify(written)}`);
    assert.match(fs.readFileSync(path.join(labDir, '.github', 'workflows', 'data-labs.yml'), 'utf8'), /run: bash \.data-labs-ci\/grade\.sh/);
    assert.equal(fs.existsSync(path.join(labDir, '.data-labs-ci', 'labs', LAB, 'solution')), false, 'no solution in the folder');

    const reportFile = path.join(tempDir, 'data-labs-grade.json');
    fs.writeFileSync(reportFile, JSON.stringify(passingReport));
    const main = path.join(labDir, 'src', 'payments.ts');
    const graded = fs.readFileSync(main, 'utf8');
    await resetProgress(api);
    try {
      fs.writeFileSync(main, `${graded}\n// changed after the grading\n`);
      assert.equal(await vscode.commands.executeCommand<boolean>('dataLabs.importGradeReport', vscode.Uri.file(reportFile)), false, 'a report of other code is not recorded');
      assert.equal(api.progress.store.isDone('add-idempotency-keys'), false);
    } finally {
      fs.writeFileSync(main, graded);
    }
    assert.equal(await vscode.commands.executeCommand<boolean>('dataLabs.importGradeReport', vscode.Uri.file(reportFile)), true, 'the report of this code is recorded');
    assert.equal(api.progress.store.isDone('add-idempotency-keys'), true);
    assert.equal(api.progress.store.isDone('handle-retries-safely'), true);
  });
});
