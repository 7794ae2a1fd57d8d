/**
 * A grade report made on another machine (a CI runner with Docker, see ciGrading.ts),
 * brought back into this machine's progress: accepted only when it is a valid report of a
 * full grading that passed, of a lab this build knows, for the very code in the lab folder
 * here (its `sources` digest). Otherwise it says why and records nothing.
 */
import type { Lab } from '../labs/catalog';
import { type GradeReport, gradeReportSchema } from './report';
import { gradedSources } from './sources';

export type ImportedGrade = { readonly ok: true; readonly report: GradeReport; readonly lab: Lab } | { readonly ok: false; readonly reason: string };

export async function checkImportedGrade(text: string, findLab: (id: string) => Lab | undefined, labDir: (lab: Lab) => string): Promise<ImportedGrade> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `it is not JSON (${(error as Error).message}). Choose the data-labs-grade.json that the grading wrote.` };
  }
  const parsed = gradeReportSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `it is not a grade report of this version (${issue ? `${issue.path.join('.') || 'the report'}: ${issue.message}` : 'invalid'}).` };
  }
  const report = parsed.data as GradeReport;
  const lab = findLab(report.labId);
  if (lab?.manifest.grader === undefined) {
    return { ok: false, reason: `it grades "${report.labId}", which is not a graded lab of this version of Distributed Data Labs.` };
  }
  if (report.problem !== undefined) {
    return { ok: false, reason: `no check could run there: ${report.problem.message.split('\n')[0] ?? ''} Nothing to record: fix it (the CI log shows where) and grade again.` };
  }
  if (!report.passed) {
    const { passed, failed, unknown, total } = report.score;
    return { ok: false, reason: `${passed}/${total} checks passed there (${failed} failed, ${unknown} undecided): nothing to record. Read the failures in the CI log (or grade here), fix, and grade again.` };
  }
  const declared = lab.manifest.grader.checks.length;
  if (report.checks.length !== declared) {
    return { ok: false, reason: `it ran ${report.checks.length} of the lab's ${declared} checks (a replay of some checks); only a full grading counts.` };
  }
  if (report.sources === undefined) {
    return { ok: false, reason: 'it does not say which code it graded (a report from an older version): grade again.' };
  }
  const dir = labDir(lab);
  const here = await gradedSources(dir);
  if (here.digest !== report.sources.digest) {
    return {
      ok: false,
      reason: `it graded other code than the code in ${dir}/src (${report.sources.files} files there, ${here.files} here, and they differ). Grade the code you have (commit and push it, and take the new report), or bring that code here.`,
    };
  }
  return { ok: true, report, lab };
}
