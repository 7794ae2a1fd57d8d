/**
 * Finishing a graded lab without Docker: "Grade in CI" writes a GitHub Actions workflow
 * and this build's grader into the lab folder (core/grading/ciGrading.ts), and "Import a
 * Grade Report" records a pass graded there, for the code in the folder only
 * (core/grading/importGrade.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CI_REPORT, CI_WORKFLOW, writeCiGrading } from '../core/grading/ciGrading';
import { checkImportedGrade } from '../core/grading/importGrade';
import type { Lab } from '../core/labs/catalog';
import { learnerLabDir } from '../core/labs/scaffold';
import type { LearnerProgress } from '../learnerProgress';
import type { LabCatalog } from '../labs/labCatalog';
import type { Settings } from '../settings';
import { type OpenLabs, labDirOf } from '../labs/openLabs';
import type { CommandHandlers } from './commandHandlers';
import { gradedLabFolder } from './gradeLab';

export interface GradeElsewhereDeps {
  readonly openLabs: OpenLabs;
  readonly catalog: LabCatalog;
  readonly progress: LearnerProgress;
  readonly extensionPath: string;
  readonly settings: Settings;
  readonly log: vscode.LogOutputChannel;
}

export function gradeElsewhereCommands(deps: GradeElsewhereDeps): CommandHandlers {
  return {
    'dataLabs.gradeInCi': (arg) => gradeInCi(deps, arg),
    'dataLabs.importGradeReport': (arg) => importGradeReport(deps, arg),
  };
}

async function gradeInCi(deps: GradeElsewhereDeps, arg: unknown): Promise<readonly string[] | undefined> {
  const target = await gradedLabFolder(deps.openLabs, arg);
  if (!target) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a graded lab first; then Grade in CI writes the workflow that grades it on GitHub.'));
    return undefined;
  }
  try {
    const written = await writeCiGrading({ lab: target.lab, labDir: target.labDir, productRoot: deps.extensionPath });
    deps.log.info(`Grade in CI: wrote ${written.join(', ')} in ${target.labDir}`);
    const open = vscode.l10n.t('Open the Workflow');
    void vscode.window
      .showInformationMessage(
        vscode.l10n.t(
          '{0}: the workflow {1} and the grader (.data-labs-ci/) are in the lab folder. Push the folder to a GitHub repository: each push is graded with Docker there. Then download the run\'s artifact {2} and use "Import a Grade Report".',
          target.lab.manifest.title,
          CI_WORKFLOW,
          CI_REPORT,
        ),
        open,
      )
      .then(async (choice) => {
        if (choice === open) {
          await vscode.window.showTextDocument(vscode.Uri.file(path.join(target.labDir, CI_WORKFLOW)));
        }
      });
    return written;
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Grade in CI: {0}', (error as Error).message));
    return undefined;
  }
}

/** `arg`: the report's Uri (tests, scripts); otherwise the learner picks the file. */
async function importGradeReport(deps: GradeElsewhereDeps, arg: unknown): Promise<boolean> {
  const uri =
    arg instanceof vscode.Uri
      ? arg
      : (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('Grade report')]: ['json'] }, title: vscode.l10n.t('Import a grade report (data-labs-grade.json)') }))?.[0];
  if (!uri) {
    return false;
  }
  await deps.catalog.ready;
  let text: string;
  try {
    text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Cannot read {0}: {1}', uri.fsPath, (error as Error).message));
    return false;
  }
  const folderOf = (lab: Lab): string => {
    const open = deps.openLabs.current().find((l) => l.labId === lab.id);
    return open ? labDirOf(open) : learnerLabDir(deps.settings.labsRoot, lab.id);
  };
  const verdict = await checkImportedGrade(text, (id) => deps.catalog.lab(id), folderOf);
  if (!verdict.ok) {
    void vscode.window.showWarningMessage(vscode.l10n.t('{0} was not recorded: {1}', path.basename(uri.fsPath), verdict.reason));
    return false;
  }
  await deps.progress.store.recordLabPassed(verdict.lab.id, verdict.lab.manifest.completes);
  deps.log.info(`Imported a passing grade of ${verdict.lab.id} from ${uri.fsPath} (${verdict.report.engine ?? verdict.report.backend}, ${verdict.report.startedAt})`);
  void vscode.window.showInformationMessage(
    vscode.l10n.t('{0} passed {1}/{2} checks on {3}, for the code in your folder: its checklist items are ticked.', verdict.lab.manifest.title, verdict.report.score.passed, verdict.report.score.total, verdict.report.engine ?? verdict.report.backend),
  );
  return true;
}
