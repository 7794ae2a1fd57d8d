import * as path from 'node:path';
import * as vscode from 'vscode';
import { resetLab } from '../core/labs/scaffold';
import type { LabCatalog } from '../labs/labCatalog';
import type { Settings } from '../settings';
import type { CommandHandlers } from './commandHandlers';
import { pickLab } from './pickLab';

export interface ResetLabCommandDeps {
  readonly catalog: LabCatalog;
  readonly settings: Settings;
  /** The extension's version, written into the lab's marker. */
  readonly productVersion: string;
  readonly log: vscode.LogOutputChannel;
}

/** Reset Lab: back the learner's files up, then put the starter back. */
export function resetLabCommands(deps: ResetLabCommandDeps): CommandHandlers {
  return { 'dataLabs.resetLab': (arg, confirmed) => resetLabToStarter(deps, arg, confirmed) };
}

/** `confirmed` is for tests and scripts that already asked; the backup is made either way. */
async function resetLabToStarter({ catalog, settings, productVersion, log }: ResetLabCommandDeps, arg?: unknown, confirmed?: unknown): Promise<void> {
  const lab = await pickLab(catalog, arg, vscode.l10n.t('Which lab do you want to reset to its starter code?'));
  if (!lab) {
    return;
  }
  const dir = path.join(settings.labsRoot, lab.id);
  if (confirmed !== true) {
    const reset = vscode.l10n.t('Back Up and Reset');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('Reset "{0}" to its starter code?', lab.manifest.title),
      { modal: true, detail: vscode.l10n.t('Your files in {0} are first moved to a timestamped backup folder, so nothing is lost.', dir) },
      reset,
    );
    if (choice !== reset) {
      return;
    }
  }
  try {
    // Unsaved edits would be written back over the fresh starter; save them into the backup first.
    await vscode.workspace.saveAll(false);
    const result = await resetLab(lab, dir, productVersion);
    log.info(`Reset lab ${lab.id}; backup in ${result.backupDir ?? '(nothing to back up)'}`);
    const reveal = vscode.l10n.t('Reveal Backup');
    const message = result.backupDir
      ? vscode.l10n.t('"{0}" is back to its starter code. Your previous files are in {1}.', lab.manifest.title, result.backupDir)
      : vscode.l10n.t('"{0}" is back to its starter code.', lab.manifest.title);
    void vscode.window.showInformationMessage(message, ...(result.backupDir ? [reveal] : [])).then((picked) => {
      if (picked === reveal && result.backupDir) {
        void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.backupDir));
      }
    });
  } catch (error) {
    log.error(`Reset of ${lab.id} failed`, error);
    void vscode.window.showErrorMessage(vscode.l10n.t('Could not reset "{0}": {1}', lab.manifest.title, String(error)));
  }
}
