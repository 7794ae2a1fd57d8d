/**
 * Grading in the editor: the Grade command, the tree's Grade button and the Testing
 * view's "Hidden checks" all end here. It gets the lab ready (trust, dependencies, its
 * databases), runs the core grader from the services engine, shows each verdict as it is
 * decided, puts compile and set-up errors in the Problems panel at the learner's lines,
 * opens the report, and ticks the lab's checklist when every check passed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsContext } from '../context';
import type { Backend } from '../core/backend';
import type { GradingServices } from '../core/grading/prepareGrading';
import type { CheckResult, GradeReport } from '../core/grading/report';

import type { Lab } from '../core/labs/catalog';
import { ensureDependencies, openLabFolders } from '../labs/labWorkspace';
import { loadEngine } from '../services/loadEngine';
import { GradeReportPanel } from './reportPanel';

export interface GradeRequest {
  /** Replay a run: the same seed gives the same schedule. */
  readonly seed?: number;
  /** Only these checks. */
  readonly only?: readonly string[];
  /** Called as each check is decided. */
  readonly onCheck?: (check: CheckResult) => void;
}

/** Why a grading did not run; shown to the learner already. */
export class GradeNotRun extends Error {
  override readonly name = 'GradeNotRun';
}

export class LabGrading implements vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('dataLabs.grade');
  /** The panel each lab folder's last report is in (GradeReportPanel itself keeps one per lab). */
  private readonly panels = new Map<string, GradeReportPanel>();
  /** The last report per lab folder; read by the extension-host tests. */
  readonly lastReports = new Map<string, GradeReport>();
  private readonly inflight = new Map<string, Promise<GradeReport>>();

  constructor(private readonly ctx: DataLabsContext) {}

  /** The open lab folder of a lab id, a folder path, or the only open graded lab. */
  async resolveLabDir(arg: unknown): Promise<{ labDir: string; lab: Lab } | undefined> {
    const open = (await openLabFolders(this.ctx)).filter((l) => l.lab?.manifest.grader !== undefined);
    const id = typeof arg === 'string' ? arg : typeof arg === 'object' && arg !== null && 'lab' in arg ? (arg as { lab?: { id?: unknown } }).lab?.id : undefined;
    const match = open.find((l) => l.labId === id || path.resolve(l.folder.uri.fsPath) === (typeof id === 'string' ? path.resolve(id) : ''));
    if (match?.lab) {
      return { labDir: match.folder.uri.fsPath, lab: match.lab };
    }
    if (id === undefined && open.length === 1 && open[0]?.lab) {
      return { labDir: open[0].folder.uri.fsPath, lab: open[0].lab };
    }
    if (id === undefined && open.length > 1) {
      // The lab of the file being edited, as a learner pressing Grade means it.
      const active = vscode.window.activeTextEditor?.document.uri;
      const folder = active !== undefined ? vscode.workspace.getWorkspaceFolder(active) : undefined;
      const editing = folder !== undefined ? open.find((l) => l.folder.uri.toString() === folder.uri.toString()) : undefined;
      if (editing?.lab) {
        return { labDir: editing.folder.uri.fsPath, lab: editing.lab };
      }
      const picked = await vscode.window.showQuickPick(
        open.map((l) => ({ label: l.lab?.manifest.title ?? l.labId, description: l.folder.uri.fsPath, l })),
        { placeHolder: vscode.l10n.t('Which lab do you want to grade?') },
      );
      return picked?.l.lab ? { labDir: picked.l.folder.uri.fsPath, lab: picked.l.lab } : undefined;
    }
    return undefined;
  }

  /** Grades the lab folder; one grading per folder at a time (a second request joins the first). */
  grade(lab: Lab, labDir: string, request: GradeRequest = {}): Promise<GradeReport> {
    const running = this.inflight.get(labDir);
    if (running) {
      return running;
    }
    const work = this.gradeNow(lab, labDir, request).finally(() => this.inflight.delete(labDir));
    this.inflight.set(labDir, work);
    return work;
  }

  private async gradeNow(lab: Lab, labDir: string, request: GradeRequest): Promise<GradeReport> {
    if (lab.manifest.grader === undefined) {
      throw new GradeNotRun(vscode.l10n.t('{0} has no hidden checks; run its tests from the Testing view.', lab.manifest.title));
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Grading runs the lab\'s code, which needs a trusted workspace. Trust this workspace, then grade again.'));
      throw new GradeNotRun('The workspace is not trusted.');
    }
    if (!(await ensureDependencies(this.ctx, labDir))) {
      throw new GradeNotRun(vscode.l10n.t('The lab\'s dependencies are not installed. Run "Distributed Data Labs: Install Lab Dependencies" and grade again.'));
    }
    const engine = loadEngine();
    const grader = await engine.loadLabGrader(lab);
    const services = this.ctx.services;
    const controller = await services.controller();
    const gradingServices: GradingServices = {
      up: (l, dir, backend, signal) => services.startForGrading(l, dir, backend, signal),
      forGrading: (started) => controller.forGrading(started),
      refresh: async (l, dir) => void (await services.refresh(l, dir)),
    };
    const workDir = path.join(this.ctx.extension.globalStorageUri.fsPath, 'grading');
    await fs.mkdir(workDir, { recursive: true });
    const seed = request.seed ?? engine.randomSeed();
    const total = request.only?.length ?? lab.manifest.grader?.checks.length ?? 0;

    const cancel = new AbortController();
    let report: GradeReport;
    let backend: Backend = services.backendFor(lab.id);
    try {
      report = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Grading {0}', lab.manifest.title), cancellable: true },
        async (progress, token) => {
          const cancelled = token.onCancellationRequested(() => cancel.abort());
          const plan = await engine.prepareGrading({ lab, labDir, grader, preferred: backend, services: gradingServices, signal: cancel.signal });
          backend = plan.backend;
          if (plan.fallback !== undefined) {
            void vscode.window.showWarningMessage(vscode.l10n.t('{0}: {1}', lab.manifest.title, plan.fallback));
          }
          this.ctx.log.info(`Grading ${lab.id} in ${labDir} on ${plan.engine}, seed ${seed}${request.only ? `, checks ${request.only.join(', ')}` : ''}`);
          let done = 0;
          progress.report({ message: vscode.l10n.t('compiling your code') });
          try {
            return await engine.gradeLab(lab, grader, {
              labDir,
              backend,
              seed,
              sandboxDir: path.join(this.ctx.extension.extensionPath, 'dist', 'sandbox'),
              workDir,
              ...plan.services,
              ...(request.only !== undefined ? { only: request.only } : {}),
              signal: cancel.signal,
              logger: { info: (m) => this.ctx.log.debug(m), warn: (m) => this.ctx.log.warn(m), error: (m) => this.ctx.log.error(m) },
              onCheck: (check) => {
                done++;
                progress.report({ message: vscode.l10n.t('{0} of {1} checks decided', done, total), increment: 100 / Math.max(1, total) });
                this.ctx.log.info(`Grade ${lab.id}: ${check.status} ${check.id} (${check.durationMs} ms)`);
                request.onCheck?.(check);
              },
            });
          } finally {
            cancelled.dispose();
            await plan.finish();
          }
        },
      );
    } catch (error) {
      if (error instanceof engine.GradingCancelledError) {
        void vscode.window.showInformationMessage(vscode.l10n.t('Grading {0} was cancelled; its faults were healed and your code stopped.', lab.manifest.title));
        throw new GradeNotRun('The grading was cancelled.');
      }
      throw error;
    }
    this.lastReports.set(labDir, report);
    this.ctx.log.info(
      engine.formatReport(report, { labDirShown: labDir, replayCommand: `data-labs grade ${lab.id} "${labDir}" --backend ${backend}` }),
    );
    this.showDiagnostics(labDir, report);
    this.showReport(lab, labDir, report);
    if (report.passed && request.only === undefined) {
      await this.ctx.store.recordLabPassed(lab.id, lab.manifest.completes);
      void vscode.window.showInformationMessage(vscode.l10n.t('{0}: all {1} checks passed. Its checklist items are ticked.', lab.manifest.title, report.score.total));
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
    const panel = GradeReportPanel.show(this.ctx.extension.extensionUri, lab.manifest.title, report, {
      replay: (checkId, seed) => void this.regrade(labDir, { seed, only: [checkId] }),
      gradeAgain: () => void this.regrade(labDir, {}),
      openFile: (file, line, column) => {
        const position = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
        void vscode.window.showTextDocument(vscode.Uri.file(path.join(labDir, file)), { selection: new vscode.Range(position, position), viewColumn: vscode.ViewColumn.One });
      },
    });
    if (this.panels.get(labDir) !== panel) {
      this.panels.set(labDir, panel);
      panel.onDidDispose(() => this.panels.delete(labDir));
    }
  }

  /** The report panel of a lab folder, if one is open; for the extension-host tests. */
  panelFor(labDir: string): GradeReportPanel | undefined {
    return this.panels.get(labDir);
  }

  private async regrade(labDir: string, request: GradeRequest): Promise<void> {
    await vscode.commands.executeCommand('dataLabs.gradeLab', labDir, request);
  }

  dispose(): void {
    this.diagnostics.dispose();
    for (const panel of new Set(this.panels.values())) {
      panel.dispose();
    }
  }
}
