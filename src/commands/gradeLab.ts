/**
 * "Grade Lab": the lab's hidden checks, from the tree's button, the command palette, the
 * report's "Replay this failure" and "Grade again". Its verdicts also appear in the
 * Testing view under the lab's "Hidden checks".
 */
import * as vscode from 'vscode';
import type { DataLabsContext } from '../context';
import type { GradeRequest } from '../grading/labGrading';

export async function gradeLabCommand(ctx: DataLabsContext, arg: unknown, request?: unknown): Promise<void> {
  const grading = ctx.grading;
  if (!grading || !ctx.tests) {
    return;
  }
  const target = await grading.resolveLabDir(arg);
  if (!target) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Open a graded lab first (for example "Idempotency keys" from the Distributed Data Labs sidebar); then Grade runs its hidden checks.'),
    );
    return;
  }
  const { seed, only } = (typeof request === 'object' && request !== null ? request : {}) as GradeRequest;
  await ctx.tests.grade(target.labDir, { ...(seed !== undefined ? { seed } : {}), ...(only !== undefined ? { only } : {}) });
}
