import * as vscode from 'vscode';
import { formatProblem } from '../core/labs/manifest';
import type { DataLabsContext } from '../context';
import { ensureDependencies, openLabFolders } from '../labs/labWorkspace';
import { isLabNode } from './pickLab';

/** The open lab folder a command is about: the one holding the active editor, else the only one, else ask. */
async function currentLabFolder(ctx: DataLabsContext): Promise<string | undefined> {
  const labs = await openLabFolders(ctx);
  const active = vscode.window.activeTextEditor?.document.uri;
  const holding = active && labs.find((l) => active.fsPath.startsWith(l.folder.uri.fsPath));
  if (holding) {
    return holding.folder.uri.fsPath;
  }
  if (labs.length === 1) {
    return labs[0]?.folder.uri.fsPath;
  }
  if (labs.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No lab is open. Open one from the Curriculum view first.'));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(labs.map((l) => ({ label: l.lab?.manifest.title ?? l.labId, description: l.folder.uri.fsPath })));
  return picked?.description;
}

export async function installLabDependenciesCommand(ctx: DataLabsContext, arg?: unknown): Promise<void> {
  const dir = isLabNode(arg) ? (await openLabFolders(ctx)).find((l) => l.labId === arg.lab.id)?.folder.uri.fsPath : await currentLabFolder(ctx);
  if (dir) {
    await ensureDependencies(ctx, dir, true);
  }
}

export async function runLabTestsCommand(): Promise<void> {
  await vscode.commands.executeCommand('testing.runAll');
}

export async function showLabProblemsCommand(ctx: DataLabsContext, id?: unknown): Promise<void> {
  const entry = ctx.catalog.find((e) => e.id === id);
  if (!entry || entry.ok) {
    return;
  }
  ctx.log.error(`Lab "${entry.id}" cannot be loaded:\n${entry.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  ctx.log.show(true);
  void vscode.window.showErrorMessage(
    vscode.l10n.t('Lab "{0}" has a manifest error: {1}', entry.id, entry.problems.map(formatProblem).join('; ')),
  );
}
