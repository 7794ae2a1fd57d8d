/**
 * The grade report beside the editor: a webview panel per lab that draws a GradeReport
 * (media/report/report.js and report.css) from the model buildReportModel makes. The
 * page is static HTML under a strict Content-Security-Policy (no inline script or style;
 * one script allowed by its nonce); the model goes to it by postMessage once its script
 * says it is ready, and again each time the page is rebuilt (the panel does not keep a
 * hidden page alive). What the learner clicks comes back as messages, checked against
 * the report before a handler runs.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { GradeReport } from '../core/grading/report';
import { buildReportModel, type ReportModel } from '../core/grading/reportModel';

export interface ReportHandlers {
  /** Run one check again: `seed` is the run's seed, which gives the check the seed it had. */
  replay(checkId: string, seed: number): void;
  /** Open a file of the lab (relative, `/` separators) at a 1-based line and column. */
  openFile(file: string, line: number, column: number): void;
  /** Grade the whole lab again. */
  gradeAgain(): void;
  /** Grade the whole lab again on Docker, with no fallback to the embedded engine. */
  gradeWithDocker(): void;
  /** Write the CI workflow that grades the lab with Docker on GitHub's runners. */
  gradeInCi(): void;
}

/** What the page sends (media/report/report.js). */
export type ReportMessage =
  | { readonly type: 'ready' }
  /** What the page drew: check cards, demonstration cards, and timelines (of both). */
  | { readonly type: 'rendered'; readonly checks: number; readonly demonstrations: number; readonly timelines: number; readonly decide: number }
  | { readonly type: 'replay'; readonly checkId: string; readonly seed: number }
  | { readonly type: 'openFile'; readonly file: string; readonly line: number; readonly column: number }
  | { readonly type: 'gradeAgain' }
  /** A check was left undecided because it needs Docker: grade on Docker, with no fallback. */
  | { readonly type: 'gradeWithDocker' }
  /** The same, by a CI workflow written into the lab folder. */
  | { readonly type: 'gradeInCi' }
  | { readonly type: 'gradingShown' }
  | { readonly type: 'error'; readonly message: string };

export const REPORT_VIEW_TYPE = 'dataLabs.gradeReport';

const isPositiveInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** `value` as a ReportMessage, or undefined when it is not one (the page is ours, but a message is still data). */
export function parseReportMessage(value: unknown): ReportMessage | undefined {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const m = value as Record<string, unknown>;
  switch (m['type']) {
    case 'ready':
    case 'gradeAgain':
    case 'gradeWithDocker':
    case 'gradeInCi':
    case 'gradingShown':
      return { type: m['type'] };
    case 'rendered':
      return typeof m['checks'] === 'number' && typeof m['demonstrations'] === 'number' && typeof m['timelines'] === 'number' && typeof m['decide'] === 'number'
        ? { type: 'rendered', checks: m['checks'], demonstrations: m['demonstrations'], timelines: m['timelines'], decide: m['decide'] }
        : undefined;
    case 'replay':
      return typeof m['checkId'] === 'string' && typeof m['seed'] === 'number' && Number.isInteger(m['seed']) && m['seed'] >= 0
        ? { type: 'replay', checkId: m['checkId'], seed: m['seed'] }
        : undefined;
    case 'openFile':
      return typeof m['file'] === 'string' && isPositiveInteger(m['line']) && isPositiveInteger(m['column'])
        ? { type: 'openFile', file: m['file'], line: m['line'], column: m['column'] }
        : undefined;
    case 'error':
      return typeof m['message'] === 'string' ? { type: 'error', message: m['message'] } : undefined;
    default:
      return undefined;
  }
}

export class GradeReportPanel {
  /** The open panels, by lab id: showing a lab's report again reuses its panel. */
  private static readonly panels = new Map<string, GradeReportPanel>();

  /**
   * Shows `report` in its lab's panel, beside the active editor: the open one (updated
   * and revealed), or a new one.
   */
  static show(extensionUri: vscode.Uri, labTitle: string, report: GradeReport, handlers: ReportHandlers): GradeReportPanel {
    const open = GradeReportPanel.panels.get(report.labId);
    if (open) {
      open.handlers = handlers;
      open.labTitle = labTitle;
      open.update(report);
      // Where it already is: beside the editor it was opened from (ViewColumn.Beside here
      // would move it one column further right when the panel itself is active).
      open.panel.reveal(undefined, false);
      return open;
    }
    const mediaRoot = vscode.Uri.joinPath(extensionUri, 'media', 'report');
    const panel = vscode.window.createWebviewPanel(
      REPORT_VIEW_TYPE,
      GradeReportPanel.titleOf(labTitle),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [mediaRoot] },
    );
    const created = new GradeReportPanel(panel, mediaRoot, labTitle, report, handlers);
    GradeReportPanel.panels.set(report.labId, created);
    return created;
  }

  private static titleOf(labTitle: string): string {
    return vscode.l10n.t('Grade: {0}', labTitle);
  }

  /**
   * A new grading of a lab whose report is open has begun: until its report comes, the panel
   * says so ("Grading again…" in its title, and a banner over the previous report, dimmed).
   */
  static markGrading(labId: string, text: string): GradeReportPanel | undefined {
    const open = GradeReportPanel.panels.get(labId);
    if (open !== undefined && !open.disposed) {
      open.grading = text;
      open.panel.title = `${GradeReportPanel.titleOf(open.labTitle)} ${vscode.l10n.t('(grading…)')}`;
      open.post();
    }
    return open;
  }

  /** The grading markGrading announced ended without a report (cancelled, failed): the report shown is the latest again. */
  static unmarkGrading(labId: string): void {
    const open = GradeReportPanel.panels.get(labId);
    if (open !== undefined && !open.disposed && open.grading !== undefined) {
      open.grading = undefined;
      open.panel.title = GradeReportPanel.titleOf(open.labTitle);
      open.post();
    }
  }

  /** What the banner says while a new grading runs; undefined when the report shown is the latest. */
  private grading: string | undefined;

  private readonly messageEmitter = new vscode.EventEmitter<unknown>();
  /**
   * Every message the page sends, as received (valid or not), before it is acted on:
   * besides the actions, the page says what it drew ('rendered') and any script error.
   */
  readonly onDidReceiveMessage: vscode.Event<unknown> = this.messageEmitter.event;

  private readonly disposeEmitter = new vscode.EventEmitter<void>();
  /** Fires once, when the panel closes or is disposed. */
  readonly onDidDispose: vscode.Event<void> = this.disposeEmitter.event;

  private readonly subscriptions: vscode.Disposable[] = [];
  private model: ReportModel;
  private disposed = false;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly mediaRoot: vscode.Uri,
    private labTitle: string,
    private report: GradeReport,
    private handlers: ReportHandlers,
  ) {
    this.model = buildReportModel(report, labTitle);
    this.subscriptions.push(
      panel.webview.onDidReceiveMessage((message: unknown) => this.receive(message)),
      panel.onDidDispose(() => {
        // Closed by the learner: forget it (dispose() ignores a second call).
        this.dispose();
      }),
    );
    panel.webview.html = this.render();
  }

  /** The lab whose report this is. */
  get labId(): string {
    return this.report.labId;
  }

  /** The panel VS Code shows (to reveal it, or check whether it is visible). */
  get webviewPanel(): vscode.WebviewPanel {
    return this.panel;
  }

  /** Draws another report of the same lab (a new grading) in this panel. */
  update(report: GradeReport): void {
    if (this.disposed) {
      throw new Error(`The grade report of lab "${this.report.labId}" was closed; show the report again with GradeReportPanel.show.`);
    }
    if (report.labId !== this.report.labId) {
      throw new Error(`This panel shows lab "${this.report.labId}", not "${report.labId}"; show that report with GradeReportPanel.show.`);
    }
    this.report = report;
    this.grading = undefined;
    this.model = buildReportModel(report, this.labTitle);
    this.panel.title = GradeReportPanel.titleOf(this.labTitle);
    this.post();
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (GradeReportPanel.panels.get(this.report.labId) === this) {
      GradeReportPanel.panels.delete(this.report.labId);
    }
    for (const s of this.subscriptions.splice(0)) {
      s.dispose();
    }
    this.panel.dispose();
    this.disposeEmitter.fire();
    this.disposeEmitter.dispose();
    this.messageEmitter.dispose();
  }

  private post(): void {
    // A hidden page does not exist (retainContextWhenHidden is off): it asks again with 'ready' when shown.
    void this.panel.webview.postMessage({ type: 'report', model: this.model });
    if (this.grading !== undefined) {
      void this.panel.webview.postMessage({ type: 'grading', text: this.grading });
    }
  }

  private receive(raw: unknown): void {
    this.messageEmitter.fire(raw);
    const message = parseReportMessage(raw);
    if (!message) {
      return;
    }
    switch (message.type) {
      case 'ready':
        this.post();
        break;
      case 'replay': {
        // Only a check of this report, with the seed it ran with.
        const check = this.report.checks.find((c) => c.id === message.checkId && c.seed === message.seed);
        if (check) {
          // A check's seed is derived from the run's seed and its id: replaying the run's
          // seed with only this check gives the check the very same seed again.
          this.handlers.replay(check.id, this.report.seed);
        }
        break;
      }
      case 'openFile': {
        // Only a place the report names.
        const named = this.report.problem?.diagnostics.some((d) => d.file === message.file && d.line === message.line && d.column === message.column);
        if (named === true) {
          this.handlers.openFile(message.file, message.line, message.column);
        }
        break;
      }
      case 'gradeAgain':
        this.handlers.gradeAgain();
        break;
      case 'gradeWithDocker':
      case 'gradeInCi':
        // Only when this report has a check that Docker decides.
        if (this.report.checks.some((c) => c.status === 'unknown' && c.needsDocker === true)) {
          if (message.type === 'gradeWithDocker') {
            this.handlers.gradeWithDocker();
          } else {
            this.handlers.gradeInCi();
          }
        }
        break;
      case 'rendered':
      case 'gradingShown':
      case 'error':
        // Nothing to do here: the page reports what it drew, or a script error (see onDidReceiveMessage).
        break;
    }
  }

  private render(): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(18).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.mediaRoot, 'report.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.mediaRoot, 'report.css'));
    // Strict: nothing inline (no style attributes, no handlers); the one script only by its nonce.
    const csp = `default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'; img-src ${webview.cspSource};`;
    if (csp.includes('"')) {
      throw new Error(`The webview's CSP source ${webview.cspSource} contains a double quote; it cannot go into the page's meta tag.`);
    }
    const title = escapeHtml(GradeReportPanel.titleOf(this.labTitle));
    return [
      '<!DOCTYPE html>',
      '<html lang="en">',
      '<head>',
      '<meta charset="UTF-8">',
      `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
      '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
      `<link rel="stylesheet" href="${escapeHtml(style.toString())}">`,
      `<title>${title}</title>`,
      '</head>',
      '<body>',
      `<main id="report" aria-live="polite"><p class="loading">${escapeHtml(vscode.l10n.t('Loading the grade report…'))}</p></main>`,
      `<script nonce="${nonce}" src="${escapeHtml(script.toString())}"></script>`,
      '</body>',
      '</html>',
    ].join('\n');
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
