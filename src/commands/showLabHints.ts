import * as vscode from 'vscode';
import type { LabCatalog } from '../labs/labCatalog';
import type { OpenLabs } from '../labs/openLabs';
import type { CommandHandlers } from './commandHandlers';
import { pickLab } from './pickLab';

export interface ShowLabHintsCommandDeps {
  readonly catalog: LabCatalog;
  readonly openLabs: OpenLabs;
}

export function showLabHintsCommands(deps: ShowLabHintsCommandDeps): CommandHandlers {
  return { 'dataLabs.showLabHints': (arg) => showLabHints(deps, arg) };
}

/**
 * Shows a lab's hints, one at a time, by title: each is written for one specific way
 * of getting stuck ("an order for a missing customer is accepted"), so the learner
 * picks the symptom they see and reads only that.
 */
async function showLabHints({ catalog, openLabs }: ShowLabHintsCommandDeps, arg?: unknown): Promise<void> {
  let labArg = arg;
  if (labArg === undefined) {
    // Default to the lab the learner is working in.
    const active = vscode.window.activeTextEditor?.document.uri.fsPath;
    const open = openLabs.current();
    labArg = (active && open.find((l) => active.startsWith(l.folder.uri.fsPath))?.labId) ?? (open.length === 1 ? open[0]?.labId : undefined);
  }
  const lab = await pickLab(catalog, labArg, vscode.l10n.t('Hints for which lab?'));
  if (!lab) {
    return;
  }
  const picked = await vscode.window.showQuickPick(
    lab.manifest.hints.map((hint) => ({ label: hint.title, detail: hint.text, hint })),
    { placeHolder: vscode.l10n.t('{0}: which of these do you see?', lab.manifest.title), matchOnDetail: false },
  );
  if (picked) {
    // A modal shows plain text: code spans lose their backticks and keep quotes instead.
    await vscode.window.showInformationMessage(picked.hint.title, { modal: true, detail: plainText(picked.hint.text) });
  }
}

/** A hint's Markdown as the plain text a dialog shows: `code` → “code”, **bold** → bold. */
export function plainText(markdown: string): string {
  return markdown.replace(/`([^`]+)`/g, '“$1”').replace(/\*\*([^*]+)\*\*/g, '$1');
}
