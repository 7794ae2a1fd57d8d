import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsContext } from '../context';

/** Built on use: module-level work would add to activation time. */
function jsonFilter(): Record<string, string[]> {
  return { [vscode.l10n.t('Progress (JSON)')]: ['json'] };
}

export async function exportProgressCommand(ctx: DataLabsContext, target?: vscode.Uri): Promise<void> {
  const uri = target ?? (await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(os.homedir(), 'data-labs-progress.json')),
    filters: jsonFilter(),
    title: vscode.l10n.t('Export Distributed Data Labs progress'),
  }));
  if (!uri) {
    return;
  }
  try {
    await ctx.store.exportTo(uri.fsPath);
    ctx.log.info(`Progress exported to ${uri.fsPath}`);
    void vscode.window.showInformationMessage(vscode.l10n.t('Progress exported to {0}.', uri.fsPath));
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Could not export progress: {0}', String(error)));
  }
}

export async function importProgressCommand(ctx: DataLabsContext, source?: vscode.Uri): Promise<void> {
  const uri = source ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: jsonFilter(), title: vscode.l10n.t('Import Distributed Data Labs progress') }))?.[0];
  if (!uri) {
    return;
  }
  if (!source && ctx.store.hasStarted()) {
    const replace = vscode.l10n.t('Replace');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('Replace your current progress with the imported one?'),
      { modal: true, detail: vscode.l10n.t('Export your current progress first if you may want it back.') },
      replace,
    );
    if (choice !== replace) {
      return;
    }
  }
  try {
    const { items } = await ctx.store.importFrom(uri.fsPath);
    ctx.log.info(`Progress imported from ${uri.fsPath} (${items} items)`);
    void vscode.window.showInformationMessage(vscode.l10n.t('Imported progress: {0} checklist items ticked.', items));
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Could not import progress: {0}', (error as Error).message));
  }
}

/** `confirmed` is for tests and scripts that already asked. */
export async function resetProgressCommand(ctx: DataLabsContext, confirmed?: unknown): Promise<void> {
  if (confirmed !== true) {
    const reset = vscode.l10n.t('Reset Progress');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('Untick every checklist item and forget which labs you opened?'),
      { modal: true, detail: vscode.l10n.t('Your lab folders are not touched. Export your progress first if you may want it back.') },
      reset,
    );
    if (choice !== reset) {
      return;
    }
  }
  await ctx.store.reset();
  ctx.log.info('Progress reset');
}
