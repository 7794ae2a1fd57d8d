import * as vscode from 'vscode';
import type { DataLabsContext } from '../context';
import { openLabFolders } from '../labs/labWorkspace';
import { pickLab } from './pickLab';

/**
 * Shows a lab's hints, one at a time, by title: each is written for one specific way
 * of getting stuck ("an order for a missing customer is accepted"), so the learner
 * picks the symptom they see and reads only that.
 */
export async function showLabHintsCommand(ctx: DataLabsContext, arg?: unknown): Promise<void> {
  let labArg = arg;
  if (labArg === undefined) {
    // Default to the lab the learner is working in.
    const active = vscode.window.activeTextEditor?.document.uri.fsPath;
    const open = await openLabFolders(ctx);
    labArg = (active && open.find((l) => active.startsWith(l.folder.uri.fsPath))?.labId) ?? (open.length === 1 ? open[0]?.labId : undefined);
  }
  const lab = await pickLab(ctx, labArg, vscode.l10n.t('Hints for which lab?'));
  if (!lab) {
    return;
  }
  const picked = await vscode.window.showQuickPick(
    lab.manifest.hints.map((hint) => ({ label: hint.title, detail: hint.text, hint })),
    { placeHolder: vscode.l10n.t('{0}: which of these do you see?', lab.manifest.title), matchOnDetail: false },
  );
  if (picked) {
    await vscode.window.showInformationMessage(picked.hint.title, { modal: true, detail: picked.hint.text });
  }
}
