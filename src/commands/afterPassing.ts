/**
 * After a lab passes: the reference solution beside the learner's code (a diff), and the
 * lab's "Going further" questions. Offered when the hidden checks all pass (graded labs) or
 * every TODO is done and every test passes (the others); before that, the reference is shown
 * only when the learner confirms they want it.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Lab } from '../core/labs/catalog';
import { goingFurther } from '../core/labs/steps';
import type { LabSteps } from '../labs/labSteps';
import { type OpenLabs, labDirOf } from '../labs/openLabs';
import type { LearnerProgress } from '../learnerProgress';
import type { CommandHandlers } from './commandHandlers';
import { plainText } from './showLabHints';

export interface AfterPassingDeps {
  readonly openLabs: OpenLabs;
  readonly progress: LearnerProgress;
  readonly steps: LabSteps;
}

export function afterPassingCommands(deps: AfterPassingDeps): CommandHandlers {
  return {
    'dataLabs.compareWithReference': (arg, confirmed) => compareWithReference(deps, arg, confirmed === true),
    'dataLabs.goingFurther': (arg, quiet) => showGoingFurther(deps, arg, quiet === true),
  };
}

/** The open lab a command means: by id or folder, else the only open one. */
function openLabOf(openLabs: OpenLabs, arg: unknown): { lab: Lab; labDir: string } | undefined {
  const open = openLabs.current().filter((l) => l.lab !== undefined);
  const found = typeof arg === 'string' ? open.find((l) => l.labId === arg || path.resolve(labDirOf(l)) === path.resolve(arg)) : open.length === 1 ? open[0] : undefined;
  return found?.lab !== undefined ? { lab: found.lab, labDir: labDirOf(found) } : undefined;
}

/**
 * The reference to compare with: the lab's solution written in the starter's functions when
 * it has one (alternatives/starter-shaped: the diff then lines up with the learner's file),
 * else its reference solution.
 */
export function referenceFile(lab: Lab): string | undefined {
  const main = lab.manifest.starter.main;
  return [path.join(lab.dir, 'alternatives', 'starter-shaped', main), path.join(lab.dir, 'solution', main)].find((f) => existsSync(f));
}

async function compareWithReference({ openLabs, progress, steps }: AfterPassingDeps, arg: unknown, confirmed: boolean): Promise<string | undefined> {
  const target = openLabOf(openLabs, arg);
  if (target === undefined) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open the lab first; then its reference solution can be shown beside your code.'));
    return undefined;
  }
  const { lab, labDir } = target;
  const reference = referenceFile(lab);
  if (reference === undefined) {
    void vscode.window.showInformationMessage(vscode.l10n.t('{0} has no reference solution to show.', lab.manifest.title));
    return undefined;
  }
  const passed = progress.store.labRecord(lab.id)?.passedAt !== undefined || (lab.manifest.grader === undefined && steps.stepOf(lab.id)?.current === undefined && steps.stepOf(lab.id) !== undefined);
  if (!passed && !confirmed) {
    const show = vscode.l10n.t('Show It Anyway');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('{0} has not passed yet. Reading the reference now takes away the part where you work it out. Show it anyway?', lab.manifest.title),
      { modal: true },
      show,
    );
    if (choice !== show) return undefined;
  }
  const main = lab.manifest.starter.main;
  await vscode.commands.executeCommand(
    'vscode.diff',
    vscode.Uri.file(reference),
    vscode.Uri.file(path.join(labDir, main)),
    vscode.l10n.t('Reference ↔ your {0}', main),
    { preview: false },
  );
  return reference;
}

async function showGoingFurther({ openLabs }: AfterPassingDeps, arg: unknown, quiet: boolean): Promise<string[]> {
  const target = openLabOf(openLabs, arg);
  if (target === undefined) return [];
  const questions = goingFurther(await fs.readFile(path.join(target.lab.dir, target.lab.manifest.readme), 'utf8').catch(() => ''));
  if (!quiet && questions.length > 0) {
    // A dialog shows plain text, as the hints' dialog does.
    const plain = questions.map((q, i) => `${i + 1}. ${plainText(q)}`).join('\n\n');
    void vscode.window.showInformationMessage(vscode.l10n.t('{0}: going further', target.lab.manifest.title), { modal: true, detail: plain });
  }
  return questions;
}

/** The buttons offered once a lab passes, and what each does. */
export function offerAfterPassing(labDir: string, message: string): void {
  const compare = vscode.l10n.t('Compare with the Reference');
  const further = vscode.l10n.t('Going Further');
  void vscode.window.showInformationMessage(message, compare, further).then((choice) => {
    if (choice === compare) void vscode.commands.executeCommand('dataLabs.compareWithReference', labDir, true);
    else if (choice === further) void vscode.commands.executeCommand('dataLabs.goingFurther', labDir);
  });
}
