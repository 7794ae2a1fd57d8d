import * as vscode from 'vscode';
import { LabFolderError } from '../core/labs/scaffold';
import type { LabCatalog } from '../labs/labCatalog';
import type { LabOpener } from '../labs/labWorkspace';
import type { CommandHandlers } from './commandHandlers';
import { pickLab } from './pickLab';

export interface OpenLabCommandDeps {
  readonly catalog: LabCatalog;
  readonly opener: LabOpener;
  readonly log: vscode.LogOutputChannel;
}

/** Open Lab: scaffold a lab into the labs folder and open it in the workspace. */
export function openLabCommands(deps: OpenLabCommandDeps): CommandHandlers {
  return { 'dataLabs.openLab': (arg) => openLab(deps, arg) };
}

async function openLab({ catalog, opener, log }: OpenLabCommandDeps, arg?: unknown): Promise<void> {
  const lab = await pickLab(catalog, arg, vscode.l10n.t('Which lab do you want to open?'));
  if (!lab) {
    return;
  }
  try {
    await opener.open(lab);
  } catch (error) {
    log.error(`Opening lab ${lab.id} failed`, error);
    const message = error instanceof LabFolderError ? error.message : vscode.l10n.t('Could not open lab "{0}": {1}', lab.manifest.title, String(error));
    const settings = vscode.l10n.t('Change Labs Folder');
    const choice = await vscode.window.showErrorMessage(message, settings);
    if (choice === settings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'dataLabs.labsRoot');
    }
  }
}
