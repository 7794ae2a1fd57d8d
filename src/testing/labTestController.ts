/**
 * The lab's visible tests in VS Code's Testing view: each open lab folder is a root
 * item, its test files below it, and their suites and tests below those, found by
 * reading the files. Running uses the lab's own Vitest, and each failure is shown at
 * the line where it failed.
 *
 * A graded lab also has "Hidden checks": one item per check of its grader. Running them
 * grades the lab (all of them, or the ones selected). Every grading shows its verdicts
 * there, whoever started it (the Grade command, the report's buttons): the view follows
 * the grading's events. Running the whole lab runs only its visible tests.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckResult, GradeReport } from '../core/grading/report';
import { discoverTests, type DiscoveredTest } from '../core/testing/discover';
import { type TestResult, VitestRunError, runVitest } from '../core/testing/vitestRun';
import type { Grading, GradeRequest, LabGrading } from '../grading/labGrading';
import { ensureDependencies } from '../labs/labWorkspace';
import type { OpenLabs } from '../labs/openLabs';
import type { LabServicesManager } from '../services/labServicesManager';

const SEPARATOR = ' › ';
/** Saves within this long of each other make one run on save. */
const SAVE_DEBOUNCE_MS = 300;

interface ItemData {
  readonly labDir: string;
  readonly file: string | undefined;
  /** Suite and test names from the file's top level down. */
  readonly names: readonly string[];
  /** A hidden check's id, or `*` for the lab's "Hidden checks" group. */
  readonly check?: string;
}

/** What a run decided for one test item. */
export interface TestOutcome {
  readonly state: 'passed' | 'failed' | 'errored' | 'skipped';
  /** For a visible test: its lab folder and its name (the `it` title, `TODO(3) …`). */
  readonly test?: { readonly labDir: string; readonly name: string };
  readonly message?: string;
  /** The 0-based line the failure is shown at, when it has a place. */
  readonly line?: number;
}

/** What one run of the Testing view decided, by test item id (only the items it decided). */
export type RunOutcomes = ReadonlyMap<string, TestOutcome>;

function textOf(message: vscode.TestMessage): string {
  return typeof message.message === 'string' ? message.message : message.message.value;
}

/** A run in the Testing view that also keeps what it decided per item, for onDidEndRun. */
class RecordedRun {
  readonly outcomes = new Map<string, TestOutcome>();

  constructor(
    private readonly run: vscode.TestRun,
    /** What a visible test item is, for its outcome's `test`. */
    private readonly visible: (item: vscode.TestItem) => TestOutcome['test'] = () => undefined,
  ) {}

  private record(item: vscode.TestItem, outcome: TestOutcome): void {
    const test = this.visible(item);
    this.outcomes.set(item.id, test !== undefined ? { ...outcome, test } : outcome);
  }

  enqueued(item: vscode.TestItem): void {
    this.run.enqueued(item);
  }

  started(item: vscode.TestItem): void {
    this.run.started(item);
  }

  passed(item: vscode.TestItem, durationMs?: number): void {
    this.run.passed(item, durationMs);
    this.record(item, { state: 'passed' });
  }

  skipped(item: vscode.TestItem): void {
    this.run.skipped(item);
    this.record(item, { state: 'skipped' });
  }

  failed(item: vscode.TestItem, message: vscode.TestMessage, durationMs?: number): void {
    this.run.failed(item, message, durationMs);
    this.record(item, { state: 'failed', message: textOf(message), ...(message.location ? { line: message.location.range.start.line } : {}) });
  }

  errored(item: vscode.TestItem, message: vscode.TestMessage): void {
    this.run.errored(item, message);
    this.record(item, { state: 'errored', message: textOf(message) });
  }

  appendOutput(text: string): void {
    this.run.appendOutput(text);
  }

  end(): void {
    this.run.end();
  }
}

/** A grading shown in the Testing view: its run, and the hidden checks it is deciding. */
interface GradingInView {
  readonly run: RecordedRun;
  readonly items: readonly vscode.TestItem[];
  readonly reported: Set<vscode.TestItem>;
  /** True when the run was made for this grading (and ends with it); false when it is a Testing view run that goes on. */
  readonly ownsRun: boolean;
}

/** What the Testing view uses. */
export interface LabTestControllerDeps {
  readonly openLabs: OpenLabs;
  readonly grading: LabGrading;
  readonly services: LabServicesManager;
  readonly log: vscode.LogOutputChannel;
}

export class LabTestController implements vscode.Disposable {
  readonly controller: vscode.TestController;
  private readonly data = new WeakMap<vscode.TestItem, ItemData>();
  private readonly disposables: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  private readonly runEnded = new vscode.EventEmitter<RunOutcomes>();
  /** Fires when a run ends (of tests, or a grading's), with what it decided. */
  readonly onDidEndRun = this.runEnded.event;
  /** The gradings under way, by lab folder (resolved path). */
  private readonly gradings = new Map<string, GradingInView>();
  /** Runs of the Testing view that asked for a grading, by lab folder, until the grading starts. */
  private readonly awaitingGrading = new Map<string, RecordedRun>();
  private readonly openLabs: OpenLabs;
  private readonly grading: LabGrading;
  private readonly services: LabServicesManager;
  private readonly log: vscode.LogOutputChannel;
  /** The profile that runs the visible tests, once or on every save (continuous run). */
  readonly runProfile: vscode.TestRunProfile;

  constructor(deps: LabTestControllerDeps) {
    this.openLabs = deps.openLabs;
    this.grading = deps.grading;
    this.services = deps.services;
    this.log = deps.log;
    this.controller = vscode.tests.createTestController('dataLabs', vscode.l10n.t('Distributed Data Labs'));
    this.controller.refreshHandler = () => this.discoverAll();
    this.controller.resolveHandler = async (item) => {
      if (!item) {
        await this.discoverAll();
      }
    };
    // Continuous run is "tests on save": the Testing view's eye button, per lab or per file.
    this.runProfile = this.controller.createRunProfile(
      vscode.l10n.t('Run lab tests'),
      vscode.TestRunProfileKind.Run,
      (request, token) => (request.continuous === true ? this.runOnSave(request, token) : this.run(request, token)),
      true,
      undefined,
      true,
    );
    const grading = this.grading;
    this.disposables.push(
      this.controller,
      this.runEnded,
      // The open labs are read once at start-up and again when they change; each read that changes them is discovered.
      this.openLabs.onDidChange(() => void this.discoverAll().catch((error: unknown) => this.log.error('Test discovery failed', error))),
      // Every grading shows in the Testing view, whoever started it (the Grade command, the report's buttons, a run here).
      grading.onDidStart((g) => this.gradingStarted(g)),
      grading.onDidDecideCheck((e) => this.checkDecided(e.labDir, e.check)),
      grading.onDidFinish((e) => this.gradingEnded(e.labDir, problemMessage(e.labDir, e.report))),
      grading.onDidCancel((e) => this.gradingEnded(e.labDir, new vscode.TestMessage(vscode.l10n.t('The grading was cancelled.')))),
      grading.onDidFail((e) => this.gradingEnded(e.labDir, new vscode.TestMessage(e.message))),
    );
  }

  /** Lists every open lab and its tests; called when the open labs change, and by the view's Refresh. */
  async discoverAll(): Promise<void> {
    await this.openLabs.ready;
    for (const w of this.watchers) {
      w.dispose();
    }
    this.watchers = [];
    const roots: vscode.TestItem[] = [];
    for (const { folder, labId, lab } of this.openLabs.current()) {
      const labDir = folder.uri.fsPath;
      const root = this.controller.createTestItem(`lab:${labDir}`, lab?.manifest.title ?? labId, folder.uri);
      this.data.set(root, { labDir, file: undefined, names: [] });
      const testFiles = lab?.manifest.tests ?? [];
      for (const relative of testFiles) {
        root.children.add(await this.fileItem(labDir, path.join(labDir, relative)));
      }
      const checks = lab?.manifest.grader?.checks;
      if (checks !== undefined) {
        const group = this.controller.createTestItem(gradeId(labDir), vscode.l10n.t('Hidden checks (Grade)'));
        group.description = vscode.l10n.t('run by the grader under races, crashes and faults');
        group.sortText = '~';
        this.data.set(group, { labDir, file: undefined, names: [], check: '*' });
        checks.forEach((check, index) => {
          const item = this.controller.createTestItem(gradeId(labDir, check.id), check.title);
          item.sortText = String(index).padStart(3, '0');
          if (check.needsDocker) {
            // Said before grading: on the embedded engine this check cannot be decided.
            item.description = vscode.l10n.t('needs Docker');
          }
          this.data.set(item, { labDir, file: undefined, names: [], check: check.id });
          group.children.add(item);
        });
        root.children.add(group);
      }
      roots.push(root);
      // Re-read a test file whenever the learner edits or saves it.
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, '{test,tests,src}/**/*.test.{ts,js,mts}'));
      const reread = (uri: vscode.Uri): void => {
        void this.fileItem(labDir, uri.fsPath).then((item) => root.children.add(item));
      };
      watcher.onDidChange(reread);
      watcher.onDidCreate(reread);
      watcher.onDidDelete((uri) => root.children.delete(fileId(uri.fsPath)));
      this.watchers.push(watcher);
    }
    this.controller.items.replace(roots);
    this.log.info(`Testing: ${roots.length} open lab(s) discovered`);
  }

  private async fileItem(labDir: string, file: string): Promise<vscode.TestItem> {
    const uri = vscode.Uri.file(file);
    const item = this.controller.createTestItem(fileId(file), path.relative(labDir, file), uri);
    this.data.set(item, { labDir, file, names: [] });
    let source = '';
    try {
      source = await fs.readFile(file, 'utf8');
    } catch (error) {
      item.error = vscode.l10n.t('Cannot read this test file: {0}', String(error));
      return item;
    }
    const add = (parent: vscode.TestItem, nodes: readonly DiscoveredTest[], names: readonly string[]): void => {
      for (const node of nodes) {
        const childNames = [...names, node.name];
        const child = this.controller.createTestItem(testId(file, childNames), node.name, uri);
        child.range = new vscode.Range(node.line, 0, node.line, 0);
        this.data.set(child, { labDir, file, names: childNames });
        parent.children.add(child);
        add(child, node.children, childNames);
      }
    };
    add(item, discoverTests(source), []);
    return item;
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const run = new RecordedRun(this.controller.createTestRun(request), (item) => this.visibleTest(item));
    try {
      // Group what was asked for by lab folder: one Vitest process per lab, and one grading.
      const byLab = new Map<string, vscode.TestItem[]>();
      const grades = new Map<string, vscode.TestItem[]>();
      const requested = [...new Set(request.include ?? iterate(this.controller.items))];
      for (const item of requested) {
        const data = this.data.get(item);
        if (!data || request.exclude?.includes(item)) {
          continue;
        }
        const target = data.check !== undefined ? grades : byLab;
        target.set(data.labDir, [...(target.get(data.labDir) ?? []), item]);
      }
      for (const [labDir, items] of byLab) {
        if (token.isCancellationRequested) {
          break;
        }
        await this.runLab(run, labDir, items, token);
      }
      for (const [labDir, items] of grades) {
        if (token.isCancellationRequested) {
          break;
        }
        const checks = items.map((item) => this.data.get(item)?.check);
        await this.runGrade(run, labDir, checks.includes('*') ? {} : { only: checks.filter((c): c is string => c !== undefined) });
      }
    } finally {
      this.endRun(run);
    }
  }

  /**
   * Continuous run ("tests on save"): until the learner turns it off, every save of a source
   * or test file in a lab folder asked for runs that lab's requested visible tests again
   * (the hidden checks are never run on save: they take longer and are for the Grade button).
   * Saves in quick succession make one run; a save during a run makes one more after it.
   */
  private runOnSave(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const byLab = new Map<string, vscode.TestItem[]>();
    for (const item of request.include ?? iterate(this.controller.items)) {
      const data = this.data.get(item);
      if (data === undefined || data.check !== undefined || request.exclude?.includes(item)) continue;
      byLab.set(data.labDir, [...(byLab.get(data.labDir) ?? []), item]);
    }
    /** Per lab folder: the debounce timer, the run under way, and whether a save came during it. */
    type OnSave = { timer?: ReturnType<typeof setTimeout> | undefined; running?: Promise<void> | undefined; again: boolean };
    const pending = new Map<string, OnSave>();
    const stateOf = (labDir: string): OnSave => {
      let state = pending.get(labDir);
      if (state === undefined) {
        state = { again: false };
        pending.set(labDir, state);
      }
      return state;
    };
    const runLab = (labDir: string): void => {
      const state = stateOf(labDir);
      if (state.running !== undefined) {
        state.again = true;
        return;
      }
      const items = byLab.get(labDir) ?? [];
      state.running = this.run(new vscode.TestRunRequest(items, request.exclude, request.profile, false), token)
        .catch((error: unknown) => this.log.error('A run on save failed', error))
        .finally(() => {
          state.running = undefined;
          if (state.again && !token.isCancellationRequested) {
            state.again = false;
            runLab(labDir);
          }
        });
    };
    const saved = vscode.workspace.onDidSaveTextDocument((document) => {
      const file = document.uri.fsPath;
      for (const labDir of byLab.keys()) {
        const relative = path.relative(labDir, file);
        if (relative.startsWith('..') || path.isAbsolute(relative) || !/^(src|test|tests)[\\/].*\.[cm]?[jt]sx?$/.test(relative)) continue;
        const state = stateOf(labDir);
        clearTimeout(state.timer);
        state.timer = setTimeout(() => runLab(labDir), SAVE_DEBOUNCE_MS);
      }
    });
    this.log.info(`Testing: tests on save for ${[...byLab.keys()].join(', ')}`);
    return new Promise((resolve) => {
      const stop = token.onCancellationRequested(() => {
        saved.dispose();
        stop.dispose();
        for (const state of pending.values()) clearTimeout(state.timer);
        this.log.info('Testing: tests on save stopped');
        resolve();
      });
    });
  }

  /** A visible test (a leaf of a test file, not a hidden check): its lab folder and name. */
  private visibleTest(item: vscode.TestItem): TestOutcome['test'] {
    const data = this.data.get(item);
    return data !== undefined && data.check === undefined && data.file !== undefined && item.children.size === 0 ? { labDir: data.labDir, name: item.label } : undefined;
  }

  /** The names of a lab folder's visible tests, as listed in the Testing view. */
  visibleTestNames(labDir: string): string[] {
    const root = this.controller.items.get(`lab:${labDir}`);
    return root ? [...iterate(root.children)].flatMap((file) => [...leavesOf(file)]).filter((leaf) => this.visibleTest(leaf) !== undefined).map((leaf) => leaf.label) : [];
  }

  private endRun(run: RecordedRun): void {
    run.end();
    this.runEnded.fire(run.outcomes);
  }

  /** The "Hidden checks" group of a lab folder, if it is listed. */
  private gradeGroup(labDir: string): vscode.TestItem | undefined {
    return this.controller.items.get(`lab:${labDir}`)?.children.get(gradeId(labDir));
  }

  /** The hidden checks a grading decides: all of the lab's, or the ones asked for. */
  private checkItems(labDir: string, request: GradeRequest): vscode.TestItem[] {
    const group = this.gradeGroup(labDir);
    const wanted = request.only === undefined ? undefined : new Set(request.only);
    return group ? [...iterate(group.children)].filter((item) => wanted === undefined || wanted.has(this.data.get(item)?.check ?? '')) : [];
  }

  /** Grades a lab folder from a run of this view; the grading's events fill in the run (see gradingStarted). */
  private async runGrade(run: RecordedRun, labDir: string, request: GradeRequest): Promise<void> {
    const lab = this.openLabs.inFolder(labDir)?.lab;
    const refuse = (text: string): void => {
      for (const item of this.checkItems(labDir, request)) {
        run.errored(item, new vscode.TestMessage(text));
      }
    };
    if (!lab) {
      refuse(vscode.l10n.t('{0} is no longer an open lab folder, so it cannot be graded.', labDir));
      return;
    }
    if (this.grading.isGrading(labDir)) {
      // Joining it would leave this run without its events; the grading shows in its own run.
      refuse(vscode.l10n.t('This lab is being graded already; its verdicts show in that grading\'s run.'));
      return;
    }
    const key = path.resolve(labDir);
    this.awaitingGrading.set(key, run);
    try {
      await this.grading.grade(lab, labDir, request);
    } finally {
      this.awaitingGrading.delete(key);
    }
  }

  /** A grading began: its hidden checks start, in the run that asked for it or in a run of its own. */
  private gradingStarted(grading: Grading): void {
    const key = path.resolve(grading.labDir);
    const asked = this.awaitingGrading.get(key);
    this.awaitingGrading.delete(key);
    const group = this.gradeGroup(grading.labDir);
    const run = asked ?? new RecordedRun(this.controller.createTestRun(new vscode.TestRunRequest(group ? [group] : undefined), vscode.l10n.t('Grade'), false));
    const items = this.checkItems(grading.labDir, grading.request);
    for (const item of items) {
      run.enqueued(item);
    }
    for (const item of items) {
      run.started(item);
    }
    this.gradings.set(key, { run, items, reported: new Set(), ownsRun: asked === undefined });
  }

  private checkDecided(labDir: string, check: CheckResult): void {
    const shown = this.gradings.get(path.resolve(labDir));
    const item = this.gradeGroup(labDir)?.children.get(gradeId(labDir, check.id));
    if (shown && item) {
      shown.reported.add(item);
      this.reportCheck(shown.run, item, check);
    }
  }

  /** A grading ended: the checks it did not decide say why (`message`), and a run of its own ends. */
  private gradingEnded(labDir: string, message: vscode.TestMessage | undefined): void {
    const key = path.resolve(labDir);
    const shown = this.gradings.get(key);
    if (!shown) {
      return;
    }
    this.gradings.delete(key);
    if (message !== undefined) {
      for (const item of shown.items) {
        if (!shown.reported.has(item)) {
          shown.run.errored(item, message);
        }
      }
    }
    if (shown.ownsRun) {
      this.endRun(shown.run);
    }
  }

  private reportCheck(run: RecordedRun, item: vscode.TestItem, check: CheckResult): void {
    if (check.status === 'pass') {
      run.passed(item, check.durationMs);
      return;
    }
    const text = [
      check.status === 'unknown' ? vscode.l10n.t('Unknown (not a pass): {0}', check.actual) : check.actual,
      vscode.l10n.t('Expected: {0}', check.expected),
      ...(check.hint !== undefined ? [vscode.l10n.t('Hint: {0}', check.hint)] : []),
      vscode.l10n.t('Seed {0}: replay it from the report.', check.seed),
    ].join('\n\n');
    const message = new vscode.TestMessage(text);
    if (check.status === 'fail') {
      run.failed(item, message, check.durationMs);
    } else {
      run.errored(item, message);
    }
  }

  private async runLab(run: RecordedRun, labDir: string, items: vscode.TestItem[], token: vscode.CancellationToken): Promise<void> {
    // Running the lab runs its visible tests; its hidden checks run when they are asked for.
    const leaves = items.flatMap((item) => [...leavesOf(item)]).filter((leaf) => this.data.get(leaf)?.check === undefined);
    for (const leaf of leaves) {
      run.enqueued(leaf);
    }
    if (!vscode.workspace.isTrusted) {
      const message = new vscode.TestMessage(vscode.l10n.t('Running a lab\'s tests executes its code, which needs a trusted workspace. Trust this workspace, then run again.'));
      for (const leaf of leaves) {
        run.errored(leaf, message);
      }
      return;
    }
    if (!(await ensureDependencies(this.log, labDir))) {
      const message = new vscode.TestMessage(vscode.l10n.t('The lab\'s dependencies are not installed. Run "Distributed Data Labs: Install Lab Dependencies" and try again.'));
      for (const leaf of leaves) {
        run.errored(leaf, message);
      }
      return;
    }
    const lab = this.openLabs.inFolder(labDir)?.lab;
    if (lab && lab.manifest.services.length > 0) {
      // The tests connect to the lab's databases through its .env: they must be up first.
      const started = await this.services.ensureStarted(lab, labDir);
      if (!started) {
        const state = this.services.state(lab.id);
        const message = new vscode.TestMessage(
          vscode.l10n.t('The lab\'s databases are not running, so its tests cannot run. {0}', state?.error?.split('\n')[0] ?? vscode.l10n.t('Start them from the Containers view.')),
        );
        for (const leaf of leaves) {
          run.errored(leaf, message);
        }
        return;
      }
    }
    for (const leaf of leaves) {
      run.started(leaf);
    }
    // Narrow the run: whole lab, some files, or one test by its full name.
    const wholeLab = items.some((item) => this.data.get(item)?.file === undefined);
    const files = wholeLab ? [] : [...new Set(items.map((item) => this.data.get(item)?.file).filter((f): f is string => f !== undefined))];
    const single = items.length === 1 ? this.data.get(items[0] as vscode.TestItem) : undefined;
    const namePattern = single && single.names.length > 0 ? `^${escapeRegExp(single.names.join(' '))}` : undefined;
    const abort = new AbortController();
    const cancel = token.onCancellationRequested(() => abort.abort());
    this.log.info(`Running vitest in ${labDir} ${files.join(' ')}${namePattern ? ` -t ${namePattern}` : ''}`);
    try {
      const report = await runVitest(labDir, {
        files,
        ...(namePattern ? { namePattern } : {}),
        signal: abort.signal,
        onOutput: (text) => run.appendOutput(text.replace(/\r?\n/g, '\r\n')),
      });
      const seen = new Set<vscode.TestItem>();
      for (const result of report.results) {
        const item = this.itemFor(labDir, result);
        if (result.status === 'skipped' && !leaves.includes(item)) {
          continue; // not asked for (filtered out by the name pattern): its last result stands
        }
        seen.add(item);
        this.report(run, item, result);
      }
      for (const fileError of report.fileErrors) {
        const fileItem = this.findFileItem(labDir, fileError.file);
        const message = new vscode.TestMessage(fileError.message);
        if (fileError.location) {
          message.location = new vscode.Location(vscode.Uri.file(fileError.location.file), new vscode.Position(fileError.location.line, fileError.location.column));
        }
        for (const leaf of fileItem ? [...leavesOf(fileItem)] : []) {
          seen.add(leaf);
          run.errored(leaf, message);
        }
      }
      // Whatever was asked for but did not run was filtered out or skipped.
      for (const leaf of leaves) {
        if (!seen.has(leaf)) {
          run.skipped(leaf);
        }
      }
    } catch (error) {
      if (token.isCancellationRequested) {
        return;
      }
      const text = error instanceof VitestRunError ? error.message : vscode.l10n.t('Vitest could not run: {0}', String(error));
      this.log.error(text);
      for (const leaf of leaves) {
        run.errored(leaf, new vscode.TestMessage(text));
      }
    } finally {
      cancel.dispose();
    }
  }

  private report(run: RecordedRun, item: vscode.TestItem, result: TestResult): void {
    if (result.status === 'passed') {
      run.passed(item, result.durationMs);
    } else if (result.status === 'skipped') {
      run.skipped(item);
    } else {
      const message = new vscode.TestMessage(result.message ?? vscode.l10n.t('Test failed'));
      const where = result.failureLocation;
      if (where) {
        message.location = new vscode.Location(vscode.Uri.file(where.file), new vscode.Position(where.line, where.column));
      } else if (item.uri && item.range) {
        message.location = new vscode.Location(item.uri, item.range);
      }
      run.failed(item, message, result.durationMs);
    }
  }

  private findFileItem(labDir: string, file: string): vscode.TestItem | undefined {
    return this.controller.items.get(`lab:${labDir}`)?.children.get(fileId(file));
  }

  /** The item for a result, created on the fly when the static discovery missed it. */
  private itemFor(labDir: string, result: TestResult): vscode.TestItem {
    const root = this.controller.items.get(`lab:${labDir}`);
    let parent = this.findFileItem(labDir, result.file);
    if (!parent && root) {
      parent = this.controller.createTestItem(fileId(result.file), path.relative(labDir, result.file), vscode.Uri.file(result.file));
      this.data.set(parent, { labDir, file: result.file, names: [] });
      root.children.add(parent);
    }
    let item = parent as vscode.TestItem;
    for (let depth = 1; depth <= result.names.length; depth++) {
      const names = result.names.slice(0, depth);
      const id = testId(result.file, names);
      let child = item.children.get(id);
      if (!child) {
        child = this.controller.createTestItem(id, names[names.length - 1] ?? '', vscode.Uri.file(result.file));
        this.data.set(child, { labDir, file: result.file, names });
        item.children.add(child);
      }
      item = child;
    }
    return item;
  }

  dispose(): void {
    for (const d of [...this.watchers, ...this.disposables]) {
      d.dispose();
    }
  }
}

/** The message of the checks a report decided none of: its compile, load or set-up problem, at its first place. */
function problemMessage(labDir: string, report: GradeReport): vscode.TestMessage | undefined {
  const problem = report.problem;
  if (problem === undefined) {
    return undefined;
  }
  const message = new vscode.TestMessage(`${problem.message}\n${problem.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('\n')}`);
  const first = problem.diagnostics[0];
  if (first) {
    message.location = new vscode.Location(vscode.Uri.file(path.join(labDir, first.file)), new vscode.Position(first.line - 1, first.column - 1));
  }
  return message;
}

function gradeId(labDir: string, check?: string): string {
  return check === undefined ? `grade:${path.resolve(labDir)}` : `grade:${path.resolve(labDir)}#${check}`;
}

function fileId(file: string): string {
  return `file:${path.resolve(file)}`;
}

function testId(file: string, names: readonly string[]): string {
  return `test:${path.resolve(file)}#${names.join(SEPARATOR)}`;
}

function* iterate(collection: vscode.TestItemCollection): Generator<vscode.TestItem> {
  for (const [, item] of collection) {
    yield item;
  }
}

/** The runnable tests under an item (the item itself if it has no children). */
function* leavesOf(item: vscode.TestItem): Generator<vscode.TestItem> {
  if (item.children.size === 0) {
    yield item;
    return;
  }
  for (const child of iterate(item.children)) {
    yield* leavesOf(child);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
