/**
 * Grading in the editor: the Grade command, the tree's Grade button, the report's
 * "Replay" and "Grade again", and the Testing view's "Hidden checks" all end here. It gets
 * the lab ready (trust, dependencies, its databases), runs the core grader from the
 * services engine under a cancellable progress notification, puts compile and set-up
 * errors in the Problems panel at the learner's lines, opens the report, and ticks the
 * lab's checklist when every check passed.
 *
 * What happens is told through events rather than callbacks, so that whoever shows it
 * (the Testing view) subscribes, and the grading knows nothing of them: every grading
 * fires onDidStart, onDidDecideCheck per check, then exactly one of onDidFinish (with
 * the report), onDidCancel or onDidFail.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { offerAfterPassing } from '../commands/afterPassing';
import type { Backend } from '../core/backend';
import type { GradingServices } from '../core/grading/prepareGrading';
import type { CheckResult, GradeReport } from '../core/grading/report';
import type { Lab } from '../core/labs/catalog';
import type { LearnerProgress } from '../learnerProgress';
import { ensureDependencies } from '../labs/labWorkspace';
import type { LabServicesManager } from '../services/labServicesManager';
import { loadEngine } from '../services/loadEngine';
import { GradeReportPanel, parseReportMessage } from './reportPanel';

export interface GradeRequest {
  /** Replay a run: the same seed gives the same schedule. */
  readonly seed?: number;
  /** Only these checks. */
  readonly only?: readonly string[];
  /** This backend and no other (the report's "Grade with Docker"): no fallback when it is missing. */
  readonly backend?: Backend;
}

/** One grading of a lab folder, as every event names it. */
export interface Grading {
  readonly lab: Lab;
  readonly labDir: string;
  readonly request: GradeRequest;
}

export interface CheckDecided extends Grading {
  readonly check: CheckResult;
}

export interface GradingFinished extends Grading {
  readonly report: GradeReport;
}

export interface GradingFailed extends Grading {
  /** Why it did not run or did not finish; the learner has been told already. */
  readonly message: string;
}

/** Why a grading did not run; shown to the learner already. */
class GradeNotRun extends Error {
  override readonly name = 'GradeNotRun';
}

/** What the grading uses. */
export interface LabGradingDeps {
  readonly services: LabServicesManager;
  readonly progress: LearnerProgress;
  /** The extension's folder: the report's media, and the sandbox's bundles in dist/sandbox. */
  readonly extensionUri: vscode.Uri;
  readonly extensionPath: string;
  /** A folder of the extension's own, for the compiled learner code (the global storage). */
  readonly storageDir: string;
  readonly log: vscode.LogOutputChannel;
  /** Where the latest score per lab is kept (the extension's global state). */
  readonly state?: vscode.Memento;
}

/** A full grading's counts, as the sidebar shows them (`checks 10/11`). */
export interface LatestScore {
  readonly passed: number;
  readonly failed: number;
  readonly unknown: number;
  readonly total: number;
}

const LATEST_SCORES_KEY = 'dataLabs.latestScores';

export class LabGrading implements vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('dataLabs.grade');
  /** The report panels shown, to close them with the extension (GradeReportPanel keeps one per lab). */
  private readonly panels = new Set<GradeReportPanel>();
  /** The grading under way per lab folder (resolved path), with what cancels it. */
  private readonly inflight = new Map<string, { readonly work: Promise<GradeReport | undefined>; readonly cancel: AbortController }>();

  private readonly started = new vscode.EventEmitter<Grading>();
  private readonly decided = new vscode.EventEmitter<CheckDecided>();
  private readonly finished = new vscode.EventEmitter<GradingFinished>();
  private readonly cancelled = new vscode.EventEmitter<Grading>();
  private readonly failed = new vscode.EventEmitter<GradingFailed>();
  /** A grading began (just after grade() returned, so that it is already under way for the listeners). */
  readonly onDidStart = this.started.event;
  /** One check of a grading under way was decided. */
  readonly onDidDecideCheck = this.decided.event;
  /** A grading ended with a report (which may say the code did not compile or set up). */
  readonly onDidFinish = this.finished.event;
  /** A grading was cancelled (the notification's Cancel, or cancel()); the learner's process is stopped. */
  readonly onDidCancel = this.cancelled.event;
  /** A grading did not run (untrusted workspace, no dependencies) or broke; the learner has been told why. */
  readonly onDidFail = this.failed.event;

  constructor(private readonly deps: LabGradingDeps) {}

  /**
   * The score of a lab's latest full grading (every check, not a replay of some), kept in
   * global state so the sidebar shows it after a restart: per-check progress at a glance.
   */
  scoreOf(labId: string): LatestScore | undefined {
    return this.deps.state?.get<Record<string, LatestScore>>(LATEST_SCORES_KEY, {})[labId];
  }

  private async recordScore(labId: string, report: GradeReport): Promise<void> {
    if (this.deps.state === undefined || report.problem !== undefined) return;
    const { passed, failed, unknown, total } = report.score;
    const all = { ...this.deps.state.get<Record<string, LatestScore>>(LATEST_SCORES_KEY, {}), [labId]: { passed, failed, unknown, total } };
    await this.deps.state.update(LATEST_SCORES_KEY, all);
  }

  /**
   * Grades the lab folder; one grading per folder at a time (a second request joins the
   * first). Resolves with the report, or undefined when the grading did not finish (the
   * learner has been told why, and onDidCancel or onDidFail said so); never rejects.
   */
  grade(lab: Lab, labDir: string, request: GradeRequest = {}): Promise<GradeReport | undefined> {
    const key = path.resolve(labDir);
    const running = this.inflight.get(key);
    if (running) {
      return running.work;
    }
    const cancel = new AbortController();
    const work = this.run({ lab, labDir, request }, cancel.signal).finally(() => this.inflight.delete(key));
    this.inflight.set(key, { work, cancel });
    return work;
  }

  /** Whether a grading of this lab folder is under way. */
  isGrading(labDir: string): boolean {
    return this.inflight.has(path.resolve(labDir));
  }

  /**
   * Cancels the grading of this lab folder, as the progress notification's Cancel does: the
   * check under way stops, faults are healed, the learner's process ends. Returns whether a
   * grading was under way; it resolves (undefined) once it has cleaned up.
   */
  cancel(labDir: string): boolean {
    const running = this.inflight.get(path.resolve(labDir));
    running?.cancel.abort();
    return running !== undefined;
  }

  private async run(grading: Grading, signal: AbortSignal): Promise<GradeReport | undefined> {
    const { lab } = grading;
    // grade() records this grading before this line runs, so onDidStart's listeners see it under way (and may cancel it).
    await Promise.resolve();
    this.started.fire(grading);
    GradeReportPanel.markGrading(lab.id, vscode.l10n.t('Grading again… The report below is the previous one; the new one replaces it when the grading ends.'));
    try {
      const report = await this.gradeNow(grading, signal);
      if (grading.request.only === undefined) {
        await this.recordScore(lab.id, report).catch((error: unknown) => this.deps.log.warn(`Keeping the score of ${lab.id} failed: ${String(error)}`));
      }
      this.finished.fire({ ...grading, report });
      return report;
    } catch (error) {
      // No new report: the open one is the latest again.
      GradeReportPanel.unmarkGrading(lab.id);
      if (signal.aborted) {
        // Whatever the error, a cancelled grading was cancelled: the engine and the services' start both stop on the signal.
        this.deps.log.info(`Grading ${lab.id} was cancelled`);
        void vscode.window.showInformationMessage(vscode.l10n.t('Grading {0} was cancelled; its faults were healed and your code stopped.', lab.manifest.title));
        this.cancelled.fire(grading);
        return undefined;
      }
      const message = error instanceof GradeNotRun ? error.message : vscode.l10n.t('The grading failed: {0}', (error as Error).message);
      if (!(error instanceof GradeNotRun)) {
        this.deps.log.error(message);
        void vscode.window.showErrorMessage(message);
      }
      this.failed.fire({ ...grading, message });
      return undefined;
    }
  }

  private async gradeNow(grading: Grading, signal: AbortSignal): Promise<GradeReport> {
    const { lab, labDir, request } = grading;
    const { services, log } = this.deps;
    if (lab.manifest.grader === undefined) {
      throw new GradeNotRun(vscode.l10n.t('{0} has no hidden checks; run its tests from the Testing view.', lab.manifest.title));
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Grading runs the lab\'s code, which needs a trusted workspace. Trust this workspace, then grade again.'));
      throw new GradeNotRun('The workspace is not trusted.');
    }
    if (!(await ensureDependencies(log, labDir))) {
      throw new GradeNotRun(vscode.l10n.t('The lab\'s dependencies are not installed. Run "Distributed Data Labs: Install Lab Dependencies" and grade again.'));
    }
    signal.throwIfAborted();
    const engine = loadEngine();
    const grader = await engine.loadLabGrader(lab);
    const controller = await services.controller();
    const gradingServices: GradingServices = {
      up: (l, dir, backend, upSignal) => services.startForGrading(l, dir, backend, upSignal),
      // The grader's own containers, kept out of the lab's state and views.
      upFresh: (l, dir, upSignal) => controller.up(l, dir, { backend: 'docker', reset: true, ...(upSignal !== undefined ? { signal: upSignal } : {}) }),
      remove: async (l, dir) => void (await controller.down(l, dir, { remove: true })),
      forGrading: (started) => controller.forGrading(started),
      refresh: async (l, dir) => void (await services.refresh(l, dir)),
    };
    const workDir = path.join(this.deps.storageDir, 'grading');
    await fs.mkdir(workDir, { recursive: true });
    const seed = request.seed ?? engine.randomSeed();
    const total = request.only?.length ?? lab.manifest.grader.checks.length;

    let backend: Backend = services.backendFor(lab.id);
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Grading {0}', lab.manifest.title), cancellable: true },
      async (progress, token) => {
        // The notification's Cancel is cancel(), the same path every other canceller takes.
        const onCancel = token.onCancellationRequested(() => this.cancel(labDir));
        try {
          const plan = await engine.prepareGrading({ lab, labDir, grader, preferred: backend, ...(request.backend !== undefined ? { requested: request.backend } : {}), services: gradingServices, signal });
          backend = plan.backend;
          if (plan.fallback !== undefined) {
            void vscode.window.showWarningMessage(vscode.l10n.t('{0}: {1}', lab.manifest.title, plan.fallback));
          }
          log.info(`Grading ${lab.id} in ${labDir} on ${plan.engine}, seed ${seed}${request.only ? `, checks ${request.only.join(', ')}` : ''}`);
          let done = 0;
          progress.report({ message: vscode.l10n.t('compiling your code') });
          try {
            return await engine.gradeLab(lab, grader, {
              labDir,
              backend,
              seed,
              sandboxDir: path.join(this.deps.extensionPath, 'dist', 'sandbox'),
              workDir,
              ...plan.services,
              ...(request.only !== undefined ? { only: request.only } : {}),
              signal,
              logger: { info: (m) => log.debug(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
              onCheck: (check) => {
                done++;
                progress.report({ message: vscode.l10n.t('{0} of {1} checks decided', done, total), increment: 100 / Math.max(1, total) });
                log.info(`Grade ${lab.id}: ${check.status} ${check.id} (${check.durationMs} ms)`);
                this.decided.fire({ ...grading, check });
              },
            });
          } finally {
            await plan.finish();
          }
        } finally {
          onCancel.dispose();
        }
      },
    );
    log.info(engine.formatReport(report, { labDirShown: labDir, replayCommand: `data-labs grade ${lab.id} "${labDir}" --backend ${backend}` }));
    this.showDiagnostics(labDir, report);
    this.showReport(lab, labDir, report);
    if (report.passed && request.only === undefined) {
      await this.deps.progress.store.recordLabPassed(lab.id, lab.manifest.completes);
      offerAfterPassing(labDir, vscode.l10n.t('{0}: all {1} checks passed. Its checklist items are ticked.', lab.manifest.title, report.score.total));
    }
    return report;
  }

  /** Compile and set-up errors at the learner's lines, in the Problems panel; cleared by the next grading. */
  private showDiagnostics(labDir: string, report: GradeReport): void {
    this.diagnostics.clear();
    const problem = report.problem;
    if (!problem) {
      return;
    }
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const d of problem.diagnostics) {
      const file = path.join(labDir, d.file);
      const position = new vscode.Position(Math.max(0, d.line - 1), Math.max(0, d.column - 1));
      const diagnostic = new vscode.Diagnostic(new vscode.Range(position, position.translate(0, 1)), d.message, vscode.DiagnosticSeverity.Error);
      diagnostic.source = vscode.l10n.t('Data Labs grader');
      byFile.set(file, [...(byFile.get(file) ?? []), diagnostic]);
    }
    for (const [file, list] of byFile) {
      this.diagnostics.set(vscode.Uri.file(file), list);
    }
  }

  /** Shows the report in its lab's panel (the open one, updated and revealed, or a new one), its actions bound to this folder. */
  private showReport(lab: Lab, labDir: string, report: GradeReport): void {
    const panel = GradeReportPanel.show(this.deps.extensionUri, lab.manifest.title, report, {
      replay: (checkId, seed) => void this.grade(lab, labDir, { seed, only: [checkId] }),
      gradeAgain: () => void this.grade(lab, labDir, {}),
      gradeWithDocker: () => void this.grade(lab, labDir, { backend: 'docker' }),
      gradeInCi: () => void vscode.commands.executeCommand('dataLabs.gradeInCi', lab.id),
      openFile: (file, line, column) => {
        const position = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
        void vscode.window.showTextDocument(vscode.Uri.file(path.join(labDir, file)), { selection: new vscode.Range(position, position), viewColumn: vscode.ViewColumn.One });
      },
    });
    if (!this.panels.has(panel)) {
      this.panels.add(panel);
      // A script error in the page would otherwise go unseen: the page reports it, and it is logged.
      const messages = panel.onDidReceiveMessage((raw) => {
        const message = parseReportMessage(raw);
        if (message?.type === 'error') {
          this.deps.log.error(`The grade report of ${lab.id} failed to draw: ${message.message}`);
        }
      });
      panel.onDidDispose(() => {
        messages.dispose();
        this.panels.delete(panel);
      });
    }
  }

  dispose(): void {
    for (const running of this.inflight.values()) {
      running.cancel.abort();
    }
    this.diagnostics.dispose();
    for (const panel of [...this.panels]) {
      panel.dispose();
    }
    for (const emitter of [this.started, this.decided, this.finished, this.cancelled, this.failed]) {
      emitter.dispose();
    }
  }
}
