import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LearnerProgress } from '../learnerProgress';
import type { CommandHandlers } from './commandHandlers';

export interface ProgressCommandsDeps {
  readonly progress: LearnerProgress;
  readonly log: vscode.LogOutputChannel;
}

/** Export, import and reset the learner's progress. */
export function progressCommands(deps: ProgressCommandsDeps): CommandHandlers {
  return {
    'dataLabs.exportProgress': (uri) => exportProgress(deps, uri instanceof vscode.Uri ? uri : undefined),
    'dataLabs.importProgress': (uri) => importProgress(deps, uri instanceof vscode.Uri ? uri : undefined),
    'dataLabs.resetProgress': (confirmed) => resetProgress(deps, confirmed),
  };
}

/** Built on use: module-level work would add to activation time. */
function jsonFilter(): Record<string, string[]> {
  return { [vscode.l10n.t('Progress (JSON)')]: ['json'] };
}

async function exportProgress({ progress, log }: ProgressCommandsDeps, target?: vscode.Uri): Promise<void> {
  const uri = target ?? (await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(os.homedir(), 'data-labs-progress.json')),
    filters: jsonFilter(),
    title: vscode.l10n.t('Export Distributed Data Labs progress'),
  }));
  if (!uri) {
    return;
  }
  try {
    await progress.store.exportTo(uri.fsPath);
    log.info(`Progress exported to ${uri.fsPath}`);
    void vscode.window.showInformationMessage(vscode.l10n.t('Progress exported to {0}.', uri.fsPath));
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Could not export progress: {0}', String(error)));
  }
}

async function importProgress({ progress, log }: ProgressCommandsDeps, source?: vscode.Uri): Promise<void> {
  const uri = source ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: jsonFilter(), title: vscode.l10n.t('Import Distributed Data Labs progress') }))?.[0];
  if (!uri) {
    return;
  }
  if (!source && progress.store.hasStarted()) {
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
    const { items } = await progress.store.importFrom(uri.fsPath);
    log.info(`Progress imported from ${uri.fsPath} (${items} items)`);
    void vscode.window.showInformationMessage(vscode.l10n.t('Imported progress: {0} checklist items ticked.', items));
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Could not import progress: {0}', (error as Error).message));
  }
}

/** `confirmed` is for tests and scripts that already asked. */
async function resetProgress({ progress, log }: ProgressCommandsDeps, confirmed?: unknown): Promise<void> {
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
  await progress.store.reset();
  log.info('Progress reset');
}
