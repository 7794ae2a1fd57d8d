/**
 * Grading in CI, for a learner without Docker: the lab folder gets a GitHub Actions
 * workflow and, beside it, the grader this build carries (`.data-labs-ci/`: the command
 * line, the sandbox and the lab's manifest; about 2 MB, no solution). On a push, GitHub's
 * runner (which has Docker) grades the code with Docker and keeps the report
 * (`data-labs-grade.json`) as the run's artifact; importing that report here
 * (importGrade.ts) records the lab as passed when it graded this very code.
 *
 * `.data-labs-ci/grade.sh` is the whole job: the workflow only checks out, sets up Node
 * and runs it, so the same script grades on any machine with Docker.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Lab } from '../labs/catalog';

export const CI_DIR = '.data-labs-ci';
export const CI_WORKFLOW = '.github/workflows/data-labs.yml';
export const CI_REPORT = 'data-labs-grade.json';

/** What of a lab's folder in the product the CI grader needs: not its solution, other solutions, mutants or grader sources (the grader is in the command line's bundle). */
const LAB_PARTS_LEFT_OUT = new Set(['solution', 'alternatives', 'mutants', 'grader', 'node_modules']);

export interface CiGradingOptions {
  readonly lab: Lab;
  /** The learner's lab folder (the root of the repository they push). */
  readonly labDir: string;
  /** The product: its package.json, dist/cli.js and dist/sandbox/. */
  readonly productRoot: string;
}

export class CiGradingError extends Error {
  override readonly name = 'CiGradingError';
}

/** Refuses to write through a link the folder holds where these files go (it could point anywhere). */
async function refuseLinks(labDir: string, relatives: readonly string[]): Promise<void> {
  for (const relative of relatives) {
    const stat = await fs.lstat(path.join(labDir, relative)).catch(() => undefined);
    if (stat?.isSymbolicLink() === true) {
      throw new CiGradingError(`${path.join(labDir, relative)} is a symbolic link; nothing is written through it. Remove it and try again.`);
    }
    if (stat !== undefined && !stat.isDirectory()) {
      throw new CiGradingError(`${path.join(labDir, relative)} is not a folder. Move it away and try again.`);
    }
  }
}

async function copyTree(from: string, to: string, leaveOut: ReadonlySet<string> = new Set()): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    if (leaveOut.has(entry.name)) {
      continue;
    }
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      await copyTree(source, target);
    } else if (entry.isFile()) {
      await fs.copyFile(source, target);
    }
  }
}

export function ciWorkflowText(lab: Lab): string {
  return `# Grades "${lab.manifest.title}" with its hidden checks on GitHub's runners, which have
# Docker. Written by Distributed Data Labs (Grade in CI); the grading is ${CI_DIR}/grade.sh.
# The report is kept as the run's artifact "data-labs-grade": download it and import it
# (Distributed Data Labs: Import a Grade Report, or data-labs import-grade) to record a pass.
name: Data Labs grade
on:
  push:
  workflow_dispatch:
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - name: Grade ${lab.manifest.title} with Docker
        run: bash ${CI_DIR}/grade.sh
      - name: Keep the report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: data-labs-grade
          path: ${CI_REPORT}
          if-no-files-found: ignore
`;
}

export function ciScriptText(lab: Lab): string {
  return `#!/usr/bin/env bash
# Grades the lab "${lab.id}" in this folder with Docker, as the editor does, and writes the
# report to ${CI_REPORT}. Written by Distributed Data Labs; runs on any machine with Node 20
# and Docker (the workflow in ${CI_WORKFLOW} runs it on GitHub's). Exit 0 only when every
# check passed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi || exit 1
# Progress is this machine's, not the learner's: kept apart, and thrown away with the runner.
export DATA_LABS_PROGRESS_DIR="\${RUNNER_TEMP:-\${TMPDIR:-/tmp}}/data-labs-ci-progress"
node ${CI_DIR}/dist/cli.js grade ${lab.id} . --backend docker --report ${CI_REPORT}
`;
}

/** Writes the workflow, the script and the grader bundle into the lab folder; returns the files written (relative). */
export async function writeCiGrading(options: CiGradingOptions): Promise<readonly string[]> {
  const { lab, labDir, productRoot } = options;
  if (lab.manifest.grader === undefined) {
    throw new CiGradingError(`${lab.manifest.title} has no hidden checks to grade; its tests run with "npm test".`);
  }
  const cli = path.join(productRoot, 'dist', 'cli.js');
  const sandbox = path.join(productRoot, 'dist', 'sandbox');
  for (const needed of [cli, sandbox]) {
    if (!(await fs.stat(needed).catch(() => undefined))) {
      throw new CiGradingError(`${needed} is missing: build the product first (npm run build).`);
    }
  }
  await refuseLinks(labDir, [CI_DIR, '.github', '.github/workflows']);
  const ciDir = path.join(labDir, CI_DIR);
  await fs.rm(ciDir, { recursive: true, force: true });
  await fs.mkdir(path.join(ciDir, 'dist'), { recursive: true });
  await fs.copyFile(cli, path.join(ciDir, 'dist', 'cli.js'));
  await copyTree(sandbox, path.join(ciDir, 'dist', 'sandbox'), new Set(['node_modules']));
  await copyTree(lab.dir, path.join(ciDir, 'labs', lab.id), LAB_PARTS_LEFT_OUT);
  const product = JSON.parse(await fs.readFile(path.join(productRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  await fs.writeFile(path.join(ciDir, 'package.json'), `${JSON.stringify({ name: product.name, version: product.version, private: true }, null, 2)}\n`);
  await fs.writeFile(path.join(ciDir, 'grade.sh'), ciScriptText(lab), { mode: 0o755 });
  await fs.writeFile(
    path.join(ciDir, 'README.md'),
    `# Grading in CI\n\nThe grader of Distributed Data Labs ${product.version} for "${lab.manifest.title}", so that GitHub's runners (which have Docker) can grade this folder: \`${CI_WORKFLOW}\` runs \`grade.sh\` on every push. It holds no solution. Written again by "Grade in CI"; delete the folder and the workflow to stop.\n`,
  );
  await fs.mkdir(path.join(labDir, path.dirname(CI_WORKFLOW)), { recursive: true });
  await fs.writeFile(path.join(labDir, CI_WORKFLOW), ciWorkflowText(lab));
  return [CI_WORKFLOW, `${CI_DIR}/grade.sh`, `${CI_DIR}/dist/cli.js`, `${CI_DIR}/dist/sandbox/`, `${CI_DIR}/labs/${lab.id}/`];
}
