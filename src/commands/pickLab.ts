import * as vscode from 'vscode';
import type { Lab } from '../core/labs/catalog';
import type { LabCatalog } from '../labs/labCatalog';

/**
 * Resolves a command's lab argument: a lab id (from a tree item or a link), a tree
 * node holding a lab, or nothing (then the learner picks one).
 */
export async function pickLab(catalog: LabCatalog, arg: unknown, placeHolder: string): Promise<Lab | undefined> {
  const id = typeof arg === 'string' ? arg : isLabNode(arg) ? arg.lab.id : undefined;
  if (id !== undefined) {
    const lab = catalog.lab(id);
    if (!lab) {
      void vscode.window.showErrorMessage(vscode.l10n.t('There is no lab "{0}" in this version of Distributed Data Labs.', id));
    }
    return lab;
  }
  const labs = catalog.all.filter((e): e is Lab => e.ok);
  if (labs.length === 0) {
    void vscode.window.showErrorMessage(vscode.l10n.t('No lab could be loaded. See "Distributed Data Labs: Show Log" for the manifest problems.'));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    labs.map((lab) => ({ label: lab.manifest.title, description: lab.id, detail: lab.manifest.summary, lab })),
    { placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.lab;
}

/** A Curriculum tree node holding a lab, as menus pass it to commands. */
export function isLabNode(arg: unknown): arg is { kind: 'lab'; lab: Lab } {
  return typeof arg === 'object' && arg !== null && 'kind' in arg && arg.kind === 'lab' && 'lab' in arg;
}
