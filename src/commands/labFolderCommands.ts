import * as vscode from 'vscode';
import { formatProblem } from '../core/labs/manifest';
import type { LabCatalog } from '../labs/labCatalog';
import { ensureDependencies } from '../labs/labWorkspace';
import type { OpenLabs } from '../labs/openLabs';
import type { CommandHandlers } from './commandHandlers';
import { isLabNode } from './pickLab';

export interface LabFolderCommandsDeps {
  readonly openLabs: OpenLabs;
  readonly catalog: LabCatalog;
  readonly log: vscode.LogOutputChannel;
}

/** Commands on an open lab folder, and on a lab that cannot be loaded. */
export function labFolderCommands(deps: LabFolderCommandsDeps): CommandHandlers {
  return {
    'dataLabs.installLabDependencies': (arg) => installLabDependencies(deps, arg),
    'dataLabs.runLabTests': () => runLabTests(),
    'dataLabs.showLabProblems': (id) => showLabProblems(deps, id),
  };
}

/** The open lab folder a command is about: the one holding the active editor, else the only one, else ask. */
async function currentLabFolder(openLabs: OpenLabs): Promise<string | undefined> {
  const labs = openLabs.current();
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

async function installLabDependencies({ openLabs, log }: LabFolderCommandsDeps, arg?: unknown): Promise<void> {
  const dir = isLabNode(arg) ? openLabs.ofLab(arg.lab.id)?.folder.uri.fsPath : await currentLabFolder(openLabs);
  if (dir) {
    await ensureDependencies(log, dir, true);
  }
}

async function runLabTests(): Promise<void> {
  await vscode.commands.executeCommand('testing.runAll');
}

async function showLabProblems({ catalog, log }: LabFolderCommandsDeps, id?: unknown): Promise<void> {
  const entry = catalog.all.find((e) => e.id === id);
  if (!entry || entry.ok) {
    return;
  }
  log.error(`Lab "${entry.id}" cannot be loaded:\n${entry.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  log.show(true);
  void vscode.window.showErrorMessage(
    vscode.l10n.t('Lab "{0}" has a manifest error: {1}', entry.id, entry.problems.map(formatProblem).join('; ')),
  );
}
