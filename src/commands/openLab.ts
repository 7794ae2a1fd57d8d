import * as vscode from 'vscode';
import { LabFolderError } from '../core/labs/scaffold';
import type { DataLabsContext } from '../context';
import { openLab } from '../labs/labWorkspace';
import { pickLab } from './pickLab';

export async function openLabCommand(ctx: DataLabsContext, arg?: unknown): Promise<void> {
  const lab = await pickLab(ctx, arg, vscode.l10n.t('Which lab do you want to open?'));
  if (!lab) {
    return;
  }
  try {
    await openLab(ctx, lab);
  } catch (error) {
    ctx.log.error(`Opening lab ${lab.id} failed`, error);
    const message = error instanceof LabFolderError ? error.message : vscode.l10n.t('Could not open lab "{0}": {1}', lab.manifest.title, String(error));
    const settings = vscode.l10n.t('Change Labs Folder');
    const choice = await vscode.window.showErrorMessage(message, settings);
    if (choice === settings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'dataLabs.labsRoot');
    }
  }
}
