/**
 * The owner object: creates every view, controller and command once, and disposes
 * all of them through the extension context.
 */
import * as vscode from 'vscode';
import { ProgressStore } from './core/curriculum/progress';
import { DataLabsContext } from './context';
import { exportProgressCommand, importProgressCommand, resetProgressCommand } from './commands/progressCommands';
import { installLabDependenciesCommand, runLabTestsCommand, showLabProblemsCommand } from './commands/labFolderCommands';
import { openConceptCommand } from './commands/openConcept';
import { openLabCommand } from './commands/openLab';
import { resetLabCommand } from './commands/resetLab';
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
  'dataLabs.resetLab': (ctx) => (arg) => resetLabCommand(ctx, arg),
  'dataLabs.openConcept': (ctx) => (arg) => openConceptCommand(ctx, arg),
  'dataLabs.installLabDependencies': (ctx) => (arg) => installLabDependenciesCommand(ctx, arg),
  'dataLabs.runLabTests': () => () => runLabTestsCommand(),
  'dataLabs.showLabProblems': (ctx) => (id) => showLabProblemsCommand(ctx, id),
  'dataLabs.exportProgress': (ctx) => (uri) => exportProgressCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  'dataLabs.importProgress': (ctx) => (uri) => importProgressCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  'dataLabs.resetProgress': (ctx) => (confirmed) => resetProgressCommand(ctx, confirmed),
  'dataLabs.refresh': (ctx) => () => ctx.reloadCatalog(),
  'dataLabs.showLog': (ctx) => () => ctx.log.show(),
};

export class DataLabs {
  static async start(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<DataLabsApi> {
    const storageDir = extension.globalStorageUri.fsPath;
    const store = await ProgressStore.open({ dir: storageDir });
    const ctx = new DataLabsContext(extension, log, store);
    log.info(`Progress file: ${store.file}`);
    const notice = store.takeNotice();
    if (notice) {
      log.warn(`Progress file was unreadable (${notice.reason}); kept as ${notice.keptAs}`);
      const reveal = vscode.l10n.t('Show the Kept File');
      void vscode.window
        .showWarningMessage(
          vscode.l10n.t('Your saved progress could not be read ({0}). It was kept as {1} and progress starts afresh. You can import an exported copy.', notice.reason, notice.keptAs),
          reveal,
        )
        .then((choice) => choice === reveal && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(notice.keptAs)));
    }
    await ctx.reloadCatalog();

    const tree = new CurriculumTree(ctx);
    const welcome = vscode.window.createTreeView('dataLabs.welcome', { treeDataProvider: { getChildren: () => [], getTreeItem: (x: vscode.TreeItem) => x } });
    const tests = new LabTestController(ctx);
    // Another window or the CLI may change progress; show their changes here too.
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(storageDir), 'progress.json'));
    const reload = (): void => {
      void store.reload().catch((error: unknown) => log.error('Reloading progress failed', error));
    };
    extension.subscriptions.push(tree, welcome, tests, watcher, watcher.onDidChange(reload), watcher.onDidCreate(reload));
    for (const [name, factory] of Object.entries(COMMANDS)) {
      extension.subscriptions.push(vscode.commands.registerCommand(name, factory(ctx)));
    }
    await vscode.commands.executeCommand('setContext', 'dataLabs.ready', true);

    // Work that need not hold up activation.
    void tests.discoverAll().catch((error: unknown) => log.error('Test discovery failed', error));
    void resumePendingOpen(ctx).catch((error: unknown) => log.error('Finishing the lab open failed', error));
    return { context: ctx, tree, tests };
  }
}
