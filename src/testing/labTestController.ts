/**
 * The lab's visible tests in VS Code's Testing view: each open lab folder is a root
 * item, its test files below it, and their suites and tests below those, found by
 * reading the files. Running uses the lab's own Vitest, and each failure is shown at
 * the line where it failed.
 *
 * A graded lab also has "Hidden checks": one item per check of its grader. Running them
 * grades the lab (all of them, or the ones selected); the Grade command shows its
 * verdicts there too. Running the whole lab runs only its visible tests.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckResult } from '../core/grading/report';
import { discoverTests, type DiscoveredTest } from '../core/testing/discover';
import { type TestResult, VitestRunError, runVitest } from '../core/testing/vitestRun';
import type { DataLabsContext } from '../context';
import { GradeNotRun, type GradeRequest } from '../grading/labGrading';
import { ensureDependencies, openLabFolders } from '../labs/labWorkspace';

const SEPARATOR = ' › ';

interface ItemData {
  readonly labDir: string;
  readonly file: string | undefined;
  /** Suite and test names from the file's top level down. */
  readonly names: readonly string[];
  /** A hidden check's id, or `*` for the lab's "Hidden checks" group. */
  readonly check?: string;
}

export class LabTestController implements vscode.Disposable {
  readonly controller: vscode.TestController;
  private readonly data = new WeakMap<vscode.TestItem, ItemData>();
  private readonly disposables: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  /** What the last run reported per test item id; read by the extension-host tests. */
  readonly lastResults = new Map<string, { readonly state: 'passed' | 'failed' | 'errored' | 'skipped'; readonly message?: string; readonly line?: number }>();
  private readonly runFinished = new vscode.EventEmitter<void>();
  readonly onDidFinishRun = this.runFinished.event;

  constructor(private readonly ctx: DataLabsContext) {
    this.controller = vscode.tests.createTestController('dataLabs', vscode.l10n.t('Distributed Data Labs'));
    this.controller.refreshHandler = () => this.discoverAll();
    this.controller.resolveHandler = async (item) => {
      if (!item) {
        await this.discoverAll();
      }
    };
    this.controller.createRunProfile(vscode.l10n.t('Run lab tests'), vscode.TestRunProfileKind.Run, (request, token) => this.run(request, token), true);
    this.disposables.push(
      this.controller,
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.discoverAll()),
    );
    // The first discovery runs once `ready` resolves (see DataLabs.start); only later
    // catalog reloads need another, or start-up would discover everything twice.
    void ctx.ready.then(() => this.disposables.push(ctx.onDidChangeCatalog(() => this.discoverAll())));
  }

  /** Finds every open lab and its tests; called on start and whenever folders change. */
  async discoverAll(): Promise<void> {
    for (const w of this.watchers) {
      w.dispose();
    }
    this.watchers = [];
    const labs = await openLabFolders(this.ctx);
    const roots: vscode.TestItem[] = [];
    for (const { folder, labId, lab } of labs) {
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
    this.ctx.log.info(`Testing: ${roots.length} open lab(s) discovered`);
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
    const run = this.controller.createTestRun(request);
    this.lastResults.clear();
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
      run.end();
      this.runFinished.fire();
    }
  }

  /**
   * Grades a lab folder with its verdicts in the Testing view (the Grade command's path).
   * Resolves with the report, or undefined when the grading could not run (already shown).
   */
  async grade(labDir: string, request: GradeRequest = {}): Promise<void> {
    const group = this.controller.items.get(`lab:${labDir}`)?.children.get(gradeId(labDir));
    const run = this.controller.createTestRun(new vscode.TestRunRequest(group ? [group] : undefined), vscode.l10n.t('Grade'), false);
    try {
      await this.runGrade(run, labDir, request);
    } finally {
      run.end();
      this.runFinished.fire();
    }
  }

  private async runGrade(run: vscode.TestRun, labDir: string, request: GradeRequest): Promise<void> {
    const group = this.controller.items.get(`lab:${labDir}`)?.children.get(gradeId(labDir));
    const wanted = request.only === undefined ? undefined : new Set(request.only);
    const items = group ? [...iterate(group.children)].filter((item) => wanted === undefined || wanted.has(this.data.get(item)?.check ?? '')) : [];
    for (const item of items) {
      run.enqueued(item);
    }
    const lab = (await openLabFolders(this.ctx)).find((l) => path.resolve(l.folder.uri.fsPath) === path.resolve(labDir))?.lab;
    const grading = this.ctx.grading;
    if (!lab || !grading) {
      const message = new vscode.TestMessage(vscode.l10n.t('{0} is no longer an open lab folder, so it cannot be graded.', labDir));
      for (const item of items) {
        this.errored(run, item, message);
      }
      return;
    }
    for (const item of items) {
      run.started(item);
    }
    const reported = new Set<vscode.TestItem>();
    try {
      const report = await grading.grade(lab, labDir, {
        ...request,
        onCheck: (check) => {
          const item = group?.children.get(gradeId(labDir, check.id));
          if (item) {
            reported.add(item);
            this.reportCheck(run, item, check);
          }
          request.onCheck?.(check);
        },
      });
      if (report.problem !== undefined) {
        const message = new vscode.TestMessage(`${report.problem.message}\n${report.problem.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('\n')}`);
        const first = report.problem.diagnostics[0];
        if (first) {
          message.location = new vscode.Location(vscode.Uri.file(path.join(labDir, first.file)), new vscode.Position(first.line - 1, first.column - 1));
        }
        for (const item of items) {
          if (!reported.has(item)) {
            this.errored(run, item, message);
          }
        }
      }
    } catch (error) {
      const text = error instanceof GradeNotRun ? error.message : vscode.l10n.t('The grading failed: {0}', (error as Error).message);
      if (!(error instanceof GradeNotRun)) {
        this.ctx.log.error(text);
        void vscode.window.showErrorMessage(text);
      }
      for (const item of items) {
        if (!reported.has(item)) {
          this.errored(run, item, new vscode.TestMessage(text));
        }
      }
    }
  }

  private reportCheck(run: vscode.TestRun, item: vscode.TestItem, check: CheckResult): void {
    if (check.status === 'pass') {
      run.passed(item, check.durationMs);
      this.lastResults.set(item.id, { state: 'passed' });
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
      this.lastResults.set(item.id, { state: 'failed', message: text });
    } else {
      this.errored(run, item, message);
    }
  }

  private async runLab(run: vscode.TestRun, labDir: string, items: vscode.TestItem[], token: vscode.CancellationToken): Promise<void> {
    // Running the lab runs its visible tests; its hidden checks run when they are asked for.
    const leaves = items.flatMap((item) => [...leavesOf(item)]).filter((leaf) => this.data.get(leaf)?.check === undefined);
    for (const leaf of leaves) {
      run.enqueued(leaf);
    }
    if (!vscode.workspace.isTrusted) {
      const message = new vscode.TestMessage(vscode.l10n.t('Running a lab\'s tests executes its code, which needs a trusted workspace. Trust this workspace, then run again.'));
      for (const leaf of leaves) {
        this.errored(run, leaf, message);
      }
      return;
    }
    if (!(await ensureDependencies(this.ctx, labDir))) {
      const message = new vscode.TestMessage(vscode.l10n.t('The lab\'s dependencies are not installed. Run "Distributed Data Labs: Install Lab Dependencies" and try again.'));
      for (const leaf of leaves) {
        this.errored(run, leaf, message);
      }
      return;
    }
    const lab = (await openLabFolders(this.ctx)).find((l) => path.resolve(l.folder.uri.fsPath) === path.resolve(labDir))?.lab;
    if (lab && lab.manifest.services.length > 0) {
      // The tests connect to the lab's databases through its .env: they must be up first.
      const started = await this.ctx.services.ensureStarted(lab, labDir);
      if (!started) {
        const state = this.ctx.services.state(lab.id);
        const message = new vscode.TestMessage(
          vscode.l10n.t('The lab\'s databases are not running, so its tests cannot run. {0}', state?.error?.split('\n')[0] ?? vscode.l10n.t('Start them from the Containers view.')),
        );
        for (const leaf of leaves) {
          this.errored(run, leaf, message);
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
    this.ctx.log.info(`Running vitest in ${labDir} ${files.join(' ')}${namePattern ? ` -t ${namePattern}` : ''}`);
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
          this.errored(run, leaf, message);
        }
      }
      // Whatever was asked for but did not run was filtered out or skipped.
      for (const leaf of leaves) {
        if (!seen.has(leaf)) {
          run.skipped(leaf);
          this.lastResults.set(leaf.id, { state: 'skipped' });
        }
      }
    } catch (error) {
      if (token.isCancellationRequested) {
        return;
      }
      const text = error instanceof VitestRunError ? error.message : vscode.l10n.t('Vitest could not run: {0}', String(error));
      this.ctx.log.error(text);
      for (const leaf of leaves) {
        this.errored(run, leaf, new vscode.TestMessage(text));
      }
    } finally {
      cancel.dispose();
    }
  }

  private report(run: vscode.TestRun, item: vscode.TestItem, result: TestResult): void {
    if (result.status === 'passed') {
      run.passed(item, result.durationMs);
      this.lastResults.set(item.id, { state: 'passed' });
    } else if (result.status === 'skipped') {
      run.skipped(item);
      this.lastResults.set(item.id, { state: 'skipped' });
    } else {
      const message = new vscode.TestMessage(result.message ?? vscode.l10n.t('Test failed'));
      const where = result.failureLocation;
      if (where) {
        message.location = new vscode.Location(vscode.Uri.file(where.file), new vscode.Position(where.line, where.column));
      } else if (item.uri && item.range) {
        message.location = new vscode.Location(item.uri, item.range);
      }
      run.failed(item, message, result.durationMs);
      this.lastResults.set(item.id, {
        state: 'failed',
        message: typeof message.message === 'string' ? message.message : message.message.value,
        ...(message.location ? { line: message.location.range.start.line } : {}),
      });
    }
  }

  private errored(run: vscode.TestRun, item: vscode.TestItem, message: vscode.TestMessage): void {
    run.errored(item, message);
    this.lastResults.set(item.id, { state: 'errored', message: typeof message.message === 'string' ? message.message : message.message.value });
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
    this.runFinished.dispose();
    for (const d of [...this.watchers, ...this.disposables]) {
      d.dispose();
    }
  }
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
