/**
 * The guided next step: each open lab's TODOs as steps (core/labs/steps.ts decides), shown in
 * the Curriculum as "TODO 3 of 6", and after a test run that finishes a step, the next one
 * offered with its explanation, a way to go to it, and the lab's hints.
 *
 * The latest outcome of each visible test is kept per lab folder (global state), so the step
 * shown after a restart is the one the learner reached.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { offerAfterPassing } from '../commands/afterPassing';
import type { Lab } from '../core/labs/catalog';
import { type LatestOutcome, type StepState, type TodoMark, stepState, todoMarks, unwrittenTodos } from '../core/labs/steps';
import type { LabTestController, RunOutcomes } from '../testing/labTestController';
import { type OpenLabs, labDirOf } from './openLabs';

const LATEST_KEY = 'dataLabs.latestTestOutcomes';

export interface LabStep extends StepState {
  readonly labDir: string;
  /** The TODOs of the lab's main file, with where each is explained. */
  readonly marks: readonly TodoMark[];
}

export interface LabStepsDeps {
  readonly tests: LabTestController;
  readonly openLabs: OpenLabs;
  readonly state: vscode.Memento;
  readonly log: vscode.LogOutputChannel;
}

export class LabSteps implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a lab's step changes. */
  readonly onDidChange = this.changed.event;
  private readonly offered = new vscode.EventEmitter<{ readonly labId: string; readonly done: number; readonly next: number | undefined }>();
  /** Fires when a run finished a step and the next one was offered (for tests). */
  readonly onDidOffer = this.offered.event;
  private readonly steps = new Map<string, LabStep>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly deps: LabStepsDeps) {
    this.disposables.push(
      this.changed,
      this.offered,
      deps.tests.onDidEndRun((outcomes) => void this.afterRun(outcomes).catch((error: unknown) => deps.log.error('Updating the lab steps failed', error))),
      deps.openLabs.onDidChange(() => void this.refreshAll()),
      // Writing a TODO (its throw gone) moves the step on save, before any test runs.
      vscode.workspace.onDidSaveTextDocument((document) => {
        const open = this.deps.openLabs.current().find((l) => l.lab !== undefined && path.resolve(document.uri.fsPath) === path.resolve(labDirOf(l), l.lab.manifest.starter.main));
        if (open?.lab !== undefined) void this.refresh(open.lab, labDirOf(open));
      }),
    );
    void deps.openLabs.ready.then(() => this.refreshAll());
  }

  /** The step of an open lab, once known. */
  stepOf(labId: string): LabStep | undefined {
    return this.steps.get(labId);
  }

  private latest(labDir: string): Map<string, LatestOutcome> {
    const all = this.deps.state.get<Record<string, Record<string, LatestOutcome>>>(LATEST_KEY, {});
    return new Map(Object.entries(all[path.resolve(labDir)] ?? {}));
  }

  private async refreshAll(): Promise<void> {
    for (const open of this.deps.openLabs.current()) {
      if (open.lab !== undefined) await this.refresh(open.lab, labDirOf(open));
    }
  }

  /** The TODOs of each lab's starter main file, by its path: the product's own file, read once. */
  private readonly starterMarks = new Map<string, readonly TodoMark[]>();

  private async marksOf(lab: Lab): Promise<readonly TodoMark[]> {
    const file = path.join(lab.dir, lab.manifest.starter.dir, lab.manifest.starter.main);
    let marks = this.starterMarks.get(file);
    if (marks === undefined) {
      marks = todoMarks(await fs.readFile(file, 'utf8'));
      this.starterMarks.set(file, marks);
    }
    return marks;
  }

  /** Reads the lab's main file (and, once, its starter's), and decides its step. */
  async refresh(lab: Lab, labDir: string): Promise<LabStep | undefined> {
    let marks: readonly TodoMark[];
    let learner: string;
    try {
      marks = await this.marksOf(lab);
      learner = await fs.readFile(path.join(labDir, lab.manifest.starter.main), 'utf8');
    } catch {
      return undefined;
    }
    if (marks.length === 0) return undefined;
    const total = Math.max(...marks.map((m) => m.todo));
    const step: LabStep = { labDir, marks, ...stepState(total, unwrittenTodos(learner), this.deps.tests.visibleTestNames(labDir), this.latest(labDir)) };
    const before = this.steps.get(lab.id);
    this.steps.set(lab.id, step);
    if (before?.current !== step.current || before?.total !== step.total) this.changed.fire();
    return step;
  }

  private async afterRun(outcomes: RunOutcomes): Promise<void> {
    const byLab = new Map<string, Map<string, LatestOutcome>>();
    for (const outcome of outcomes.values()) {
      if (outcome.test === undefined) continue;
      const dir = path.resolve(outcome.test.labDir);
      const seen = byLab.get(dir) ?? new Map<string, LatestOutcome>();
      seen.set(outcome.test.name, outcome.state);
      byLab.set(dir, seen);
    }
    if (byLab.size === 0) return;
    const all = { ...this.deps.state.get<Record<string, Record<string, LatestOutcome>>>(LATEST_KEY, {}) };
    for (const [dir, seen] of byLab) {
      all[dir] = { ...(all[dir] ?? {}), ...Object.fromEntries(seen) };
    }
    await this.deps.state.update(LATEST_KEY, all);
    for (const dir of byLab.keys()) {
      const open = this.deps.openLabs.inFolder(dir);
      if (open?.lab === undefined) continue;
      const before = this.steps.get(open.lab.id);
      const step = await this.refresh(open.lab, dir);
      if (step !== undefined && before !== undefined && step.done > before.done) {
        this.offerNext(open.lab, step);
      }
    }
  }

  /** After a run that finished a step: says so, and offers the next TODO (or grading, after the last). */
  private offerNext(lab: Lab, step: LabStep): void {
    this.offered.fire({ labId: lab.id, done: step.done, next: step.current });
    if (step.current === undefined) {
      if (lab.manifest.grader === undefined) {
        // No hidden checks: the visible tests are the whole lab, so it has passed.
        offerAfterPassing(step.labDir, vscode.l10n.t('{0}: every TODO is done and every test passes.', lab.manifest.title));
        return;
      }
      const grade = vscode.l10n.t('Grade');
      void vscode.window
        .showInformationMessage(vscode.l10n.t('{0}: every TODO is done and every visible test passes. Grade it to run the hidden checks under faults.', lab.manifest.title), grade)
        .then((choice) => choice === grade && vscode.commands.executeCommand('dataLabs.gradeLab', step.labDir));
      return;
    }
    const next = step.marks.find((m) => m.todo === step.current);
    const goTo = vscode.l10n.t('Go to TODO({0})', step.current);
    const hints = vscode.l10n.t('Hints');
    void vscode.window
      .showInformationMessage(vscode.l10n.t('TODO({0}) done. Next, TODO({1}): {2}', step.done, step.current, next?.title ?? ''), goTo, hints)
      .then(async (choice) => {
        if (choice === goTo) {
          await this.reveal(lab, step.labDir, step.current);
        } else if (choice === hints) {
          await vscode.commands.executeCommand('dataLabs.showLabHints', lab.id);
        }
      });
  }

  /** Opens the lab's main file at the comment that explains TODO(`todo`). */
  async reveal(lab: Lab, labDir: string, todo: number | undefined): Promise<vscode.TextEditor | undefined> {
    const file = vscode.Uri.file(path.join(labDir, lab.manifest.starter.main));
    const document = await vscode.workspace.openTextDocument(file);
    const line = document.getText().split(/\r?\n/).findIndex((text) => text.includes(`TODO(${todo})`));
    const at = new vscode.Position(Math.max(0, line), 0);
    return vscode.window.showTextDocument(document, { selection: new vscode.Range(at, at), viewColumn: vscode.ViewColumn.One });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
