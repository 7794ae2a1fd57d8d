import * as vscode from 'vscode';
import { SECTIONS, findConcept } from '../core/curriculum/curriculum';
import type { CommandHandlers } from './commandHandlers';

/** Open Concept Page; the pages are in the extension's folder (`extensionUri`). */
export function openConceptCommands(deps: { readonly extensionUri: vscode.Uri }): CommandHandlers {
  return { 'dataLabs.openConcept': (arg) => openConcept(deps.extensionUri, arg) };
}

/** Opens a concept page (media/concepts/<id>.md) in the Markdown preview. */
async function openConcept(extensionUri: vscode.Uri, arg?: unknown): Promise<void> {
  let id = typeof arg === 'string' ? arg : undefined;
  if (id === undefined) {
    const picked = await vscode.window.showQuickPick(
      SECTIONS.flatMap((s) => s.concepts.map((c) => ({ label: c.title, description: s.title, detail: c.blurb, id: c.id }))),
      { placeHolder: vscode.l10n.t('Which concept do you want to read?'), matchOnDetail: true },
    );
    id = picked?.id;
  }
  if (id === undefined) {
    return;
  }
  if (!findConcept(id)) {
    void vscode.window.showErrorMessage(vscode.l10n.t('There is no concept page "{0}".', id));
    return;
  }
  const uri = vscode.Uri.joinPath(extensionUri, 'media', 'concepts', `${id}.md`);
  await vscode.commands.executeCommand('markdown.showPreview', uri);
}
