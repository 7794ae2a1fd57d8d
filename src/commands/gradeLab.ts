/**
 * "Grade Lab": the lab's hidden checks, from the tree's button and the command palette.
 * Its verdicts appear in the Testing view under the lab's "Hidden checks" (the view
 * follows the grading's events) and in the report.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Lab } from '../core/labs/catalog';
import type { GradeRequest, LabGrading } from '../grading/labGrading';
import { type OpenLab, type OpenLabs, labDirOf } from '../labs/openLabs';
import type { CommandHandlers } from './commandHandlers';

export interface GradeLabCommandDeps {
  readonly openLabs: OpenLabs;
  readonly grading: LabGrading;
}

export function gradeLabCommands(deps: GradeLabCommandDeps): CommandHandlers {
  return { 'dataLabs.gradeLab': (arg, request) => gradeLab(deps, arg, request) };
}

/** `request` (a seed, some checks) is for tests and scripts; the learner replays from the report. */
async function gradeLab({ openLabs, grading }: GradeLabCommandDeps, arg: unknown, request?: unknown): Promise<void> {
  const target = await gradedLabFolder(openLabs, arg);
  if (!target) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Open a graded lab first (for example "Idempotency keys" from the Distributed Data Labs sidebar); then Grade runs its hidden checks.'),
    );
    return;
  }
  const { seed, only } = (typeof request === 'object' && request !== null ? request : {}) as GradeRequest;
  await grading.grade(target.lab, target.labDir, { ...(seed !== undefined ? { seed } : {}), ...(only !== undefined ? { only } : {}) });
}

/** The open graded lab folder of a lab id, a folder path, or a tree node; else the only one, the one being edited, or one picked. */
export async function gradedLabFolder(openLabs: OpenLabs, arg: unknown): Promise<{ labDir: string; lab: Lab } | undefined> {
  const open = openLabs.current().filter((l): l is OpenLab & { lab: Lab } => l.lab?.manifest.grader !== undefined);
  const chosen = (l: OpenLab & { lab: Lab }): { labDir: string; lab: Lab } => ({ labDir: labDirOf(l), lab: l.lab });
  const id = typeof arg === 'string' ? arg : typeof arg === 'object' && arg !== null && 'lab' in arg ? (arg as { lab?: { id?: unknown } }).lab?.id : undefined;
  if (typeof id === 'string') {
    const match = open.find((l) => l.labId === id || path.resolve(labDirOf(l)) === path.resolve(id));
    return match ? chosen(match) : undefined;
  }
  if (id !== undefined) {
    return undefined;
  }
  if (open.length === 1 && open[0]) {
    return chosen(open[0]);
  }
  if (open.length > 1) {
    // The lab of the file being edited, as a learner pressing Grade means it.
    const active = vscode.window.activeTextEditor?.document.uri;
    const folder = active !== undefined ? vscode.workspace.getWorkspaceFolder(active) : undefined;
    const editing = folder !== undefined ? open.find((l) => l.folder.uri.toString() === folder.uri.toString()) : undefined;
    if (editing) {
      return chosen(editing);
    }
    const picked = await vscode.window.showQuickPick(
      open.map((l) => ({ label: l.lab.manifest.title, description: labDirOf(l), l })),
      { placeHolder: vscode.l10n.t('Which lab do you want to grade?') },
    );
    return picked ? chosen(picked.l) : undefined;
  }
  return undefined;
}
