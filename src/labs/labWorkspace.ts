/**
 * Lab folders in the editor: opening one (scaffold, add to the workspace, show the
 * README beside the main file, install dependencies, start its databases), and
 * installing a lab folder's dependencies. (Which folders are open labs: openLabs.ts.)
 *
 * Adding the first or second folder to a window makes VS Code restart the
 * extension host (it turns into a multi-root workspace), which ends this code
 * midway. So the rest of the open is recorded as a "pending open" in global state
 * before the folder is added, and whichever runs first afterwards — this code, or
 * the next activation — finishes it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Lab } from '../core/labs/catalog';
import { DependencyInstallError, dependenciesInstalled, installDependencies } from '../core/labs/dependencies';
import { scaffoldLab } from '../core/labs/scaffold';
import type { LearnerProgress } from '../learnerProgress';
import type { LabServicesManager } from '../services/labServicesManager';
import type { Settings } from '../settings';
import type { LabCatalog } from './labCatalog';
import { workspaceFolderAt } from './openLabs';

const PENDING_OPEN_KEY = 'dataLabs.pendingOpen';

interface PendingOpen {
  readonly labId: string;
  readonly dir: string;
  readonly mainFile: string;
  readonly readmeFile: string;
  readonly at: number;
}

/** A pending open older than this is stale (the window was closed instead of reloading). */
const PENDING_OPEN_TTL_MS = 2 * 60_000;

const RELOADED_FOR_KEY = 'dataLabs.reloadedForOpen';

/** What opening a lab uses. */
export interface LabOpenerDeps {
  readonly settings: Settings;
  readonly catalog: LabCatalog;
  readonly progress: LearnerProgress;
  readonly services: LabServicesManager;
  /** Where the pending open is kept across an extension host restart (the global state). */
  readonly state: vscode.Memento;
  /** The extension's version, written into the lab's marker. */
  readonly productVersion: string;
  readonly log: vscode.LogOutputChannel;
}

export class LabOpener {
  constructor(private readonly deps: LabOpenerDeps) {}

  async open(lab: Lab): Promise<void> {
    const { settings, progress, state, productVersion, log } = this.deps;
    const dir = path.join(settings.labsRoot, lab.id);
    const result = await scaffoldLab(lab, dir, productVersion);
    log.info(`Opened lab ${lab.id} in ${dir}: created [${result.created.join(', ')}], kept [${result.kept.join(', ')}]`);
    await progress.store.recordLabOpened(lab.id);
    const pending: PendingOpen = { labId: lab.id, dir, mainFile: result.mainFile, readmeFile: result.readmeFile, at: Date.now() };
    if (workspaceFolderAt(dir)) {
      await this.finishOpen(pending);
      return;
    }
    await state.update(PENDING_OPEN_KEY, pending);
    const added = new Promise<void>((resolve) => {
      const listener = vscode.workspace.onDidChangeWorkspaceFolders(() => {
        if (workspaceFolderAt(dir)) {
          listener.dispose();
          resolve();
        }
      });
    });
    const index = vscode.workspace.workspaceFolders?.length ?? 0;
    if (!vscode.workspace.updateWorkspaceFolders(index, 0, { uri: vscode.Uri.file(dir), name: lab.manifest.title })) {
      await state.update(PENDING_OPEN_KEY, undefined);
      throw new Error(vscode.l10n.t('VS Code did not add {0} to the workspace. Open that folder with File > Open Folder.', dir));
    }
    // If the extension host restarts, this never resolves and the next activation finishes the open.
    await added;
    await this.resumePending();
  }

  /** Finishes an open that a workspace change interrupted. Called on every activation. */
  async resumePending(): Promise<void> {
    const { state } = this.deps;
    const pending = state.get<PendingOpen>(PENDING_OPEN_KEY);
    if (!pending || !workspaceFolderAt(pending.dir)) {
      if (pending && Date.now() - pending.at > PENDING_OPEN_TTL_MS) {
        await state.update(PENDING_OPEN_KEY, undefined);
      } else if (pending) {
        await this.reloadIfFoldersLost(pending);
      }
      return;
    }
    // Clear first, so the open is finished exactly once.
    await state.update(PENDING_OPEN_KEY, undefined);
    await this.finishOpen(pending);
  }

  /**
   * Once in a few dozen opens, code-server (4.100) shows the untitled workspace it made for
   * the added folder without any folder, though its workspace file lists them; a reload
   * shows them. So a window that is a workspace with no folder, right after an open asked
   * for one, reloads itself, once per open. (The `onStartupFinished` activation is for this:
   * with no folder, nothing else activates the extension there.)
   */
  private async reloadIfFoldersLost(pending: PendingOpen): Promise<void> {
    const { state, log } = this.deps;
    if (vscode.workspace.workspaceFile === undefined || (vscode.workspace.workspaceFolders?.length ?? 0) > 0) {
      return;
    }
    if (state.get<number>(RELOADED_FOR_KEY) === pending.at) {
      return;
    }
    await state.update(RELOADED_FOR_KEY, pending.at);
    log.warn(`The window came back without the lab folder ${pending.dir} it was asked to add; reloading it once.`);
    await vscode.commands.executeCommand('workbench.action.reloadWindow');
  }

  private async finishOpen(pending: PendingOpen): Promise<void> {
    const { settings, catalog, services, log } = this.deps;
    const main = await vscode.workspace.openTextDocument(vscode.Uri.file(pending.mainFile));
    await vscode.window.showTextDocument(main, { viewColumn: vscode.ViewColumn.One, preview: false });
    if (settings.openReadmeOnOpen) {
      await vscode.commands.executeCommand('markdown.showPreviewToSide', vscode.Uri.file(pending.readmeFile));
    }
    const lab = catalog.lab(pending.labId);
    await Promise.all([
      settings.installDependenciesOnOpen ? ensureDependencies(log, pending.dir) : Promise.resolve(true),
      lab && settings.startDatabasesOnOpen ? services.ensureStarted(lab, pending.dir) : Promise.resolve(undefined),
    ]);
  }
}

/**
 * Installs a lab folder's dependencies once, with a cancellable progress
 * notification showing npm's progress. Returns whether they are installed.
 */
export async function ensureDependencies(log: vscode.LogOutputChannel, dir: string, force = false): Promise<boolean> {
  if (!force && (await dependenciesInstalled(dir))) {
    return true;
  }
  if (!vscode.workspace.isTrusted) {
    const trust = vscode.l10n.t('Manage Workspace Trust');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('Installing the lab\'s dependencies runs npm in {0}, which needs a trusted workspace.', dir),
      trust,
    );
    if (choice === trust) {
      await vscode.commands.executeCommand('workbench.trust.manage');
    }
    return false;
  }
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Installing lab dependencies (once; works offline afterwards)'), cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => abort.abort());
      log.info(`npm install in ${dir}`);
      try {
        await installDependencies(dir, {
          signal: abort.signal,
          onLine: (line) => {
            log.trace(`npm: ${line}`);
            const fetching = /GET 200 (\S+)/.exec(line);
            progress.report({ message: fetching ? vscode.l10n.t('fetching {0}', path.basename(fetching[1] ?? '')) : line.slice(0, 80) });
          },
        });
        log.info(`Dependencies installed in ${dir}`);
        // The TypeScript server may have started before the types existed; let it see them now.
        void vscode.commands.executeCommand('typescript.restartTsServer').then(undefined, () => undefined);
        return true;
      } catch (error) {
        const message = error instanceof DependencyInstallError ? error.message : String(error);
        log.error(`npm install failed in ${dir}: ${message}`);
        if (error instanceof DependencyInstallError) {
          log.error(error.output);
        }
        const retry = vscode.l10n.t('Retry');
        const showLog = vscode.l10n.t('Show Log');
        void vscode.window.showErrorMessage(message, retry, showLog).then((choice) => {
          if (choice === retry) {
            void ensureDependencies(log, dir, true);
          } else if (choice === showLog) {
            log.show();
          }
        });
        return false;
      } finally {
        cancel.dispose();
      }
    },
  );
}
