/**
 * Lab folders in the editor: opening one (scaffold, add to the workspace, show the
 * README beside the main file, install dependencies) and finding the open ones.
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
import { readLabMarker, scaffoldLab } from '../core/labs/scaffold';
import type { DataLabsContext } from '../context';

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

export interface OpenLabFolder {
  readonly folder: vscode.WorkspaceFolder;
  readonly labId: string;
  /** Undefined when the folder names a lab this version does not ship. */
  readonly lab: Lab | undefined;
}

/** The workspace folders that are lab folders (they hold a `.data-lab.json` marker). */
export async function openLabFolders(ctx: DataLabsContext): Promise<OpenLabFolder[]> {
  const result: OpenLabFolder[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (folder.uri.scheme !== 'file') {
      continue;
    }
    const marker = await readLabMarker(folder.uri.fsPath);
    if (marker) {
      result.push({ folder, labId: marker.lab, lab: ctx.lab(marker.lab) });
    }
  }
  return result;
}

function folderInWorkspace(dir: string): vscode.WorkspaceFolder | undefined {
  return (vscode.workspace.workspaceFolders ?? []).find((f) => f.uri.scheme === 'file' && path.resolve(f.uri.fsPath) === path.resolve(dir));
}

export async function openLab(ctx: DataLabsContext, lab: Lab): Promise<void> {
  const dir = path.join(ctx.labsRoot(), lab.id);
  const result = await scaffoldLab(lab, dir, ctx.productVersion);
  ctx.log.info(`Opened lab ${lab.id} in ${dir}: created [${result.created.join(', ')}], kept [${result.kept.join(', ')}]`);
  await ctx.store.recordLabOpened(lab.id);
  const pending: PendingOpen = { labId: lab.id, dir, mainFile: result.mainFile, readmeFile: result.readmeFile, at: Date.now() };
  if (folderInWorkspace(dir)) {
    await finishOpen(ctx, pending);
    return;
  }
  await ctx.extension.globalState.update(PENDING_OPEN_KEY, pending);
  const added = new Promise<void>((resolve) => {
    const listener = vscode.workspace.onDidChangeWorkspaceFolders(() => {
      if (folderInWorkspace(dir)) {
        listener.dispose();
        resolve();
      }
    });
  });
  const index = vscode.workspace.workspaceFolders?.length ?? 0;
  if (!vscode.workspace.updateWorkspaceFolders(index, 0, { uri: vscode.Uri.file(dir), name: lab.manifest.title })) {
    await ctx.extension.globalState.update(PENDING_OPEN_KEY, undefined);
    throw new Error(vscode.l10n.t('VS Code did not add {0} to the workspace. Open that folder with File > Open Folder.', dir));
  }
  // If the extension host restarts, this never resolves and the next activation finishes the open.
  await added;
  await resumePendingOpen(ctx);
}

/** Finishes an open that a workspace change interrupted. Called on every activation. */
export async function resumePendingOpen(ctx: DataLabsContext): Promise<void> {
  const pending = ctx.extension.globalState.get<PendingOpen>(PENDING_OPEN_KEY);
  if (!pending || !folderInWorkspace(pending.dir)) {
    if (pending && Date.now() - pending.at > PENDING_OPEN_TTL_MS) {
      await ctx.extension.globalState.update(PENDING_OPEN_KEY, undefined);
    } else if (pending) {
      await reloadIfFoldersLost(ctx, pending);
    }
    return;
  }
  // Clear first, so the open is finished exactly once.
  await ctx.extension.globalState.update(PENDING_OPEN_KEY, undefined);
  await finishOpen(ctx, pending);
}

const RELOADED_FOR_KEY = 'dataLabs.reloadedForOpen';

/**
 * Once in a few dozen opens, code-server (4.100) shows the untitled workspace it made for
 * the added folder without any folder, though its workspace file lists them; a reload
 * shows them. So a window that is a workspace with no folder, right after an open asked
 * for one, reloads itself, once per open. (The `onStartupFinished` activation is for this:
 * with no folder, nothing else activates the extension there.)
 */
async function reloadIfFoldersLost(ctx: DataLabsContext, pending: PendingOpen): Promise<void> {
  if (vscode.workspace.workspaceFile === undefined || (vscode.workspace.workspaceFolders?.length ?? 0) > 0) {
    return;
  }
  if (ctx.extension.globalState.get<number>(RELOADED_FOR_KEY) === pending.at) {
    return;
  }
  await ctx.extension.globalState.update(RELOADED_FOR_KEY, pending.at);
  ctx.log.warn(`The window came back without the lab folder ${pending.dir} it was asked to add; reloading it once.`);
  await vscode.commands.executeCommand('workbench.action.reloadWindow');
}

async function finishOpen(ctx: DataLabsContext, pending: PendingOpen): Promise<void> {
  const config = vscode.workspace.getConfiguration('dataLabs');
  const main = await vscode.workspace.openTextDocument(vscode.Uri.file(pending.mainFile));
  await vscode.window.showTextDocument(main, { viewColumn: vscode.ViewColumn.One, preview: false });
  if (config.get<boolean>('openReadmeOnOpen', true)) {
    await vscode.commands.executeCommand('markdown.showPreviewToSide', vscode.Uri.file(pending.readmeFile));
  }
  const lab = ctx.lab(pending.labId);
  await Promise.all([
    config.get<boolean>('installDependenciesOnOpen', true) ? ensureDependencies(ctx, pending.dir) : Promise.resolve(true),
    lab && config.get<boolean>('startDatabasesOnOpen', true) ? ctx.services.ensureStarted(lab, pending.dir) : Promise.resolve(undefined),
  ]);
}

/**
 * Installs a lab folder's dependencies once, with a cancellable progress
 * notification showing npm's progress. Returns whether they are installed.
 */
export async function ensureDependencies(ctx: DataLabsContext, dir: string, force = false): Promise<boolean> {
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
      ctx.log.info(`npm install in ${dir}`);
      try {
        await installDependencies(dir, {
          signal: abort.signal,
          onLine: (line) => {
            ctx.log.trace(`npm: ${line}`);
            const fetching = /GET 200 (\S+)/.exec(line);
            progress.report({ message: fetching ? vscode.l10n.t('fetching {0}', path.basename(fetching[1] ?? '')) : line.slice(0, 80) });
          },
        });
        ctx.log.info(`Dependencies installed in ${dir}`);
        // The TypeScript server may have started before the types existed; let it see them now.
        void vscode.commands.executeCommand('typescript.restartTsServer').then(undefined, () => undefined);
        return true;
      } catch (error) {
        const message = error instanceof DependencyInstallError ? error.message : String(error);
        ctx.log.error(`npm install failed in ${dir}: ${message}`);
        if (error instanceof DependencyInstallError) {
          ctx.log.error(error.output);
        }
        const retry = vscode.l10n.t('Retry');
        const showLog = vscode.l10n.t('Show Log');
        void vscode.window.showErrorMessage(message, retry, showLog).then((choice) => {
          if (choice === retry) {
            void ensureDependencies(ctx, dir, true);
          } else if (choice === showLog) {
            ctx.log.show();
          }
        });
        return false;
      } finally {
        cancel.dispose();
      }
    },
  );
}
