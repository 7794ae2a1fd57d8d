/**
 * The owner object: creates every view, controller and command once, and disposes
 * all of them through the extension context.
 */
import * as vscode from 'vscode';
import type { ProgressStore } from './core/curriculum/progress';
import { DataLabsContext } from './context';
import { exportProgressCommand, importProgressCommand, resetProgressCommand } from './commands/progressCommands';
import { installLabDependenciesCommand, runLabTestsCommand, showLabProblemsCommand } from './commands/labFolderCommands';
import { openConceptCommand } from './commands/openConcept';
import { openLabCommand } from './commands/openLab';
import { resetLabCommand } from './commands/resetLab';
import {
  containerActionCommand,
  copyConnectionStringCommand,
  openContainerShellCommand,
  resetLabDataCommand,
  showContainerLogsCommand,
  startLabServicesCommand,
  stopLabServicesCommand,
  switchBackendCommand,
} from './commands/servicesCommands';
import { showLabHintsCommand } from './commands/showLabHints';
import { gradeLabCommand } from './commands/gradeLab';
import type { GradeReport } from './core/grading/report';
import { LabGrading } from './grading/labGrading';
import { GradeReportPanel } from './grading/reportPanel';
import { openLabFolders, resumePendingOpen } from './labs/labWorkspace';
import { LabTestController } from './testing/labTestController';
import { ContainersView } from './views/containersView';
import { CurriculumTree } from './views/curriculumTree';

/**
 * What activate() returns: the live objects, for the extension-host tests (and any
 * extension that builds on this one). Nothing here is a copy or a stand-in.
 */
export interface DataLabsApi {
  readonly context: DataLabsContext;
  readonly tree: CurriculumTree;
  readonly tests: LabTestController;
  readonly containers: ContainersView;
  readonly grading: LabGrading;
  /** Opens a report panel for a report, with handlers that do nothing (for the extension-host tests). */
  showGradeReport(labTitle: string, report: GradeReport): GradeReportPanel;
}

/** How long after start-up the sweep waits when no open lab needs databases. */
const SWEEP_DELAY_MS = 3_000;

type CommandFactory = (ctx: DataLabsContext) => (...args: unknown[]) => unknown;

/** Every command, by name. package.json declares the same names. */
const COMMANDS: Record<string, CommandFactory> = {
  'dataLabs.openLab': (ctx) => (arg) => openLabCommand(ctx, arg),
  'dataLabs.resetLab': (ctx) => (arg, confirmed) => resetLabCommand(ctx, arg, confirmed),
  'dataLabs.openConcept': (ctx) => (arg) => openConceptCommand(ctx, arg),
  'dataLabs.installLabDependencies': (ctx) => (arg) => installLabDependenciesCommand(ctx, arg),
  'dataLabs.runLabTests': () => () => runLabTestsCommand(),
  'dataLabs.showLabHints': (ctx) => (arg) => showLabHintsCommand(ctx, arg),
  'dataLabs.gradeLab': (ctx) => (arg, request) => gradeLabCommand(ctx, arg, request),
  'dataLabs.showLabProblems': (ctx) => (id) => showLabProblemsCommand(ctx, id),
  'dataLabs.exportProgress': (ctx) => (uri) => exportProgressCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  'dataLabs.importProgress': (ctx) => (uri) => importProgressCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  'dataLabs.resetProgress': (ctx) => (confirmed) => resetProgressCommand(ctx, confirmed),
  'dataLabs.refresh': (ctx) => () => ctx.reloadCatalog(),
  'dataLabs.showLog': (ctx) => () => ctx.log.show(),
  'dataLabs.startDatabases': (ctx) => (node) => startLabServicesCommand(ctx, node),
  'dataLabs.stopDatabases': (ctx) => (node) => stopLabServicesCommand(ctx, node),
  'dataLabs.resetDatabases': (ctx) => (node, confirmed) => resetLabDataCommand(ctx, node, confirmed),
  'dataLabs.switchDatabaseBackend': (ctx) => (node, backend) => switchBackendCommand(ctx, node, backend),
  'dataLabs.refreshContainers': (ctx) => () => ctx.containersView?.refresh(),
  'dataLabs.startContainer': (ctx) => (node) => containerActionCommand(ctx, 'start', node),
  'dataLabs.stopContainer': (ctx) => (node) => containerActionCommand(ctx, 'stop', node),
  'dataLabs.restartContainer': (ctx) => (node) => containerActionCommand(ctx, 'restart', node),
  'dataLabs.showContainerLogs': (ctx) => (node) => showContainerLogsCommand(ctx, node),
  'dataLabs.openContainerShell': (ctx) => (node) => openContainerShellCommand(ctx, node),
  'dataLabs.copyConnectionString': (ctx) => (node) => copyConnectionStringCommand(ctx, node),
};

/**
 * Keeps each open lab's databases running and stops those of labs whose folder left
 * the workspace. Runs at start-up (after the sweep) and whenever folders change.
 */
async function syncLabServices(ctx: DataLabsContext): Promise<void> {
  const open = await openLabFolders(ctx);
  for (const state of ctx.services.allStates()) {
    if ((state.phase === 'ready' || state.phase === 'starting') && !open.some((l) => l.labId === state.labId)) {
      await ctx.services.stop(state.labId);
    }
  }
  if (!vscode.workspace.getConfiguration('dataLabs').get<boolean>('startDatabasesOnOpen', true)) {
    return;
  }
  await Promise.all(
    open
      .filter((l) => l.lab && l.lab.manifest.services.length > 0 && ctx.services.state(l.labId) === undefined)
      .map((l) => ctx.services.start(l.lab!, l.folder.uri.fsPath)),
  );
}

/** Tells the learner, once, that their progress file could not be read and where it was kept. */
function reportUnreadableProgress(store: ProgressStore, log: vscode.LogOutputChannel): void {
  const notice = store.takeNotice();
  if (!notice) {
    return;
  }
  log.warn(`Progress file was unreadable (${notice.reason}); kept as ${notice.keptAs}`);
  const reveal = vscode.l10n.t('Show the Kept File');
  void vscode.window
    .showWarningMessage(
      vscode.l10n.t('Your saved progress could not be read ({0}). It was kept as {1} and progress starts afresh. You can import an exported copy.', notice.reason, notice.keptAs),
      reveal,
    )
    .then((choice) => choice === reveal && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(notice.keptAs)));
}

/** Resolves once the view is visible (at once if it is), or the workspace's folders change (a lab may have come). */
function whenWanted(view: vscode.TreeView<unknown>, subscriptions: vscode.Disposable[]): Promise<void> {
  if (view.visible) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const listeners = [
      view.onDidChangeVisibility((e) => e.visible && done()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => done()),
    ];
    function done(): void {
      for (const listener of listeners) listener.dispose();
      resolve();
    }
    subscriptions.push(...listeners);
  });
}

export class DataLabs {
  /**
   * Registers everything without waiting for any I/O, so activation stays in the
   * low milliseconds; loading progress and the catalog continues in the background
   * (`ctx.ready`), and views and commands wait for it.
   */
  static start(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel): DataLabsApi {
    const ctx = new DataLabsContext(extension, log);

    const tree = new CurriculumTree(ctx);
    const welcome = vscode.window.createTreeView('dataLabs.welcome', { treeDataProvider: { getChildren: () => [], getTreeItem: (x: vscode.TreeItem) => x } });
    const tests = new LabTestController(ctx);
    const grading = new LabGrading(ctx);
    ctx.tests = tests;
    ctx.grading = grading;
    const containers = new ContainersView(ctx, ctx.services);
    ctx.containersView = containers;
    // Another window or the CLI may change progress; show their changes here too.
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(ctx.progressDir), 'progress.json'));
    const reload = (): void => {
      // Another process may also have left the file unreadable; the reload keeps it aside, and it is reported here.
      void ctx.ready
        .then(() => ctx.store.reload())
        .then(() => reportUnreadableProgress(ctx.store, log))
        .catch((error: unknown) => log.error('Reloading progress failed', error));
    };
    extension.subscriptions.push(tree, welcome, tests, grading, containers, watcher, watcher.onDidChange(reload), watcher.onDidCreate(reload));
    for (const [name, factory] of Object.entries(COMMANDS)) {
      const run = factory(ctx);
      extension.subscriptions.push(
        vscode.commands.registerCommand(name, async (...args: unknown[]) => {
          await ctx.ready;
          return run(...args);
        }),
      );
    }

    void ctx.ready.then(
      async () => {
        log.info(`Progress file: ${ctx.store.file}`);
        reportUnreadableProgress(ctx.store, log);
        await vscode.commands.executeCommand('setContext', 'dataLabs.ready', true);
        extension.subscriptions.push(
          vscode.workspace.onDidChangeWorkspaceFolders(() => void syncLabServices(ctx).catch((error: unknown) => log.error('Syncing lab databases failed', error))),
        );
        await Promise.all([
          tests.discoverAll().catch((error: unknown) => log.error('Test discovery failed', error)),
          resumePendingOpen(ctx).catch((error: unknown) => log.error('Finishing the lab open failed', error)),
          // Containers a crashed editor left are swept before this window starts its own.
          // The sweep loads the Docker client (a megabyte of code); with no lab open that
          // needs databases, it waits a moment so it does not hold up the window's start.
          // The extension also activates in every window once it has started (to repair an
          // open that code-server interrupted; see resumePendingOpen); Docker is only touched
          // in a window with a lab open, or once the Data Labs side bar is shown.
          openLabFolders(ctx)
            .then(async (labs) => {
              if (labs.length === 0) {
                await whenWanted(tree.view, extension.subscriptions);
              }
              await new Promise((resolve) => setTimeout(resolve, labs.some((l) => (l.lab?.manifest.services.length ?? 0) > 0) ? 0 : SWEEP_DELAY_MS));
            })
            .then(() => ctx.services.sweep())
            .then(() => syncLabServices(ctx))
            .catch((error: unknown) => log.error('Starting the open labs\' databases failed', error)),
        ]);
      },
      (error: unknown) => {
        log.error('Loading progress or the lab catalog failed', error);
        void vscode.window.showErrorMessage(vscode.l10n.t('Distributed Data Labs could not load its data: {0}', String(error)));
      },
    );
    const noop = (): void => undefined;
    return {
      context: ctx,
      tree,
      tests,
      containers,
      grading,
      showGradeReport: (labTitle, report) => GradeReportPanel.show(extension.extensionUri, labTitle, report, { replay: noop, openFile: noop, gradeAgain: noop }),
    };
  }
}
