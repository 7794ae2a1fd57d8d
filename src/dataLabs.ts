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
import { showLabHintsCommand } from './commands/showLabHints';
import { resumePendingOpen } from './labs/labWorkspace';
import { LabTestController } from './testing/labTestController';
import { CurriculumTree } from './views/curriculumTree';

/**
 * What activate() returns: the live objects, for the extension-host tests (and any
 * extension that builds on this one). Nothing here is a copy or a stand-in.
 */
export interface DataLabsApi {
  readonly context: DataLabsContext;
  readonly tree: CurriculumTree;
  readonly tests: LabTestController;
}

type CommandFactory = (ctx: DataLabsContext) => (...args: unknown[]) => unknown;

/** Every command, by name. package.json declares the same names. */
const COMMANDS: Record<string, CommandFactory> = {
  'dataLabs.openLab': (ctx) => (arg) => openLabCommand(ctx, arg),
  'dataLabs.resetLab': (ctx) => (arg, confirmed) => resetLabCommand(ctx, arg, confirmed),
  'dataLabs.openConcept': (ctx) => (arg) => openConceptCommand(ctx, arg),
  'dataLabs.installLabDependencies': (ctx) => (arg) => installLabDependenciesCommand(ctx, arg),
  'dataLabs.runLabTests': () => () => runLabTestsCommand(),
  'dataLabs.showLabHints': (ctx) => (arg) => showLabHintsCommand(ctx, arg),
  'dataLabs.showLabProblems': (ctx) => (id) => showLabProblemsCommand(ctx, id),
  'dataLabs.exportProgress': (ctx) => (uri) => exportProgressCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  'dataLabs.importProgress': (ctx) => (uri) => importProgressCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  'dataLabs.resetProgress': (ctx) => (confirmed) => resetProgressCommand(ctx, confirmed),
  'dataLabs.refresh': (ctx) => () => ctx.reloadCatalog(),
  'dataLabs.showLog': (ctx) => () => ctx.log.show(),
};

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
    // Another window or the CLI may change progress; show their changes here too.
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(ctx.progressDir), 'progress.json'));
    const reload = (): void => {
      // Another process may also have left the file unreadable; the reload keeps it aside, and it is reported here.
      void ctx.ready
        .then(() => ctx.store.reload())
        .then(() => reportUnreadableProgress(ctx.store, log))
        .catch((error: unknown) => log.error('Reloading progress failed', error));
    };
    extension.subscriptions.push(tree, welcome, tests, watcher, watcher.onDidChange(reload), watcher.onDidCreate(reload));
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
        await Promise.all([
          tests.discoverAll().catch((error: unknown) => log.error('Test discovery failed', error)),
          resumePendingOpen(ctx).catch((error: unknown) => log.error('Finishing the lab open failed', error)),
        ]);
      },
      (error: unknown) => {
        log.error('Loading progress or the lab catalog failed', error);
        void vscode.window.showErrorMessage(vscode.l10n.t('Distributed Data Labs could not load its data: {0}', String(error)));
      },
    );
    return { context: ctx, tree, tests };
  }
}
