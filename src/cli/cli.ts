/**
 * The `data-labs` command line: the same core as the extension, for terminals,
 * scripts and classrooms. `runCli` returns the exit code instead of exiting so it
 * can be tested in process.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BACKENDS, type Backend } from '../core/backend';
import { printable } from './printable';
import { SECTIONS, countProgress } from '../core/curriculum/curriculum';
import { ProgressStore } from '../core/curriculum/progress';
import { resolveProgressDir } from '../core/curriculum/progressLocation';
import { type CatalogEntry, type Lab, findLab, loadCatalog } from '../core/labs/catalog';
import { dependenciesInstalled, installDependencies } from '../core/labs/dependencies';
import { formatProblem } from '../core/labs/manifest';
import { LabFolderError, defaultLabsRoot, expandHome, learnerLabDir, scaffoldLab } from '../core/labs/scaffold';

export const EXIT_OK = 0;
/** The command ran and something failed (an unknown lab, an unwritable folder, a bad manifest). */
export const EXIT_FAILURE = 1;
/** The command line itself was wrong. */
export const EXIT_USAGE = 2;

export interface CliContext {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The product's own `labs/` folder. */
  readonly labsDir: string;
  readonly version: string;
  /** The bundled embedded PostgreSQL server (dist/embedded-postgres.js), for `services --backend embedded`. */
  readonly embeddedServerScript?: string;
  /** The sandbox's bundles (dist/sandbox: its child harness and the graded labs' adapters), for `grade`. */
  readonly sandboxDir?: string;
  /**
   * From its first call, Ctrl-C no longer ends the process at once but aborts the returned
   * signal, so that a grading stops and cleans up (a second Ctrl-C quits at once).
   */
  readonly catchInterrupts?: () => AbortSignal;
}

const HELP = `data-labs — Distributed Data Labs from the command line

Usage:
  data-labs list [--json]              Labs, their sections, and your progress
  data-labs open <lab> [dir]           Put a lab's starter project in a folder and install it
                                       (default folder: $DATA_LABS_ROOT or ~/data-labs, then <lab>)
      --no-install                     Do not run npm install in the lab folder
  data-labs validate [labs-dir]        Check every lab manifest; exit 1 naming file and field
  data-labs services up|down|status|reset <lab> [dir] [--backend docker|embedded]
                                       Start, stop, list or empty a lab's databases, headless
                                       (see "data-labs services --help")
  data-labs grade <lab> [dir] [--seed N] [--check ID] [--json] [--backend docker|embedded]
                  [--time-limit S]     Run the lab's hidden checks on your code; exit 0 only
                                       if every check passed (see "data-labs grade --help")
  data-labs ci <lab> [dir]             Let GitHub's runners (which have Docker) grade the lab on
                                       each push: writes a workflow and the grader into dir
  data-labs import-grade <file> [dir]  Record a pass graded elsewhere (the CI's report), for the
                                       code in dir only
  data-labs check-history <file> [--model register|cas-register|kv] [--json]
                                       Check a history (this project's JSON or a Jepsen
                                       register log) for linearizability; exit 0 only if it is
  data-labs --help | --version

Environment:
  DATA_LABS_ROOT           Where labs are opened (the editor's "dataLabs.labsRoot" setting)
  DATA_LABS_PROGRESS_DIR   Folder of progress.json (default: the editor's global storage)
  DATA_LABS_IMAGES         JSON map of service to image, like the editor's "dataLabs.images"

Exit codes: 0 success, 1 failure, 2 wrong usage.
`;

class UsageError extends Error {}

interface Parsed {
  readonly positionals: string[];
  readonly flags: Set<string>;
  /** Options that take a value (`--backend docker` or `--backend=docker`). */
  readonly values: Map<string, string>;
}

function parseArgs(args: readonly string[], known: readonly string[], withValue: readonly string[] = []): Parsed {
  const positionals: string[] = [];
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(0, eq) : arg;
      if (withValue.includes(name)) {
        const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
        if (value === undefined || value === '' || value.startsWith('--')) {
          throw new UsageError(`${name} needs a value.`);
        }
        values.set(name, value);
      } else if (known.includes(arg)) {
        flags.add(arg);
      } else {
        throw new UsageError(`Unknown option ${arg}.`);
      }
    } else {
      positionals.push(arg);
    }
  }
  return { positionals, flags, values };
}

export async function runCli(given: CliContext): Promise<number> {
  // Whatever a command prints, control characters from a history, a learner's message or a folder are shown, not obeyed.
  const ctx: CliContext = { ...given, stdout: (text) => given.stdout(printable(text)), stderr: (text) => given.stderr(printable(text)) };
  const [command, ...rest] = ctx.argv;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        ctx.stdout(HELP);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      case '--version':
      case '-v':
        ctx.stdout(`${ctx.version}\n`);
        return EXIT_OK;
      case 'list':
        return await listCommand(ctx, parseArgs(rest, ['--json', '--help']));
      case 'open':
        return await openCommand(ctx, parseArgs(rest, ['--no-install', '--help']));
      case 'validate':
        return await validateCommand(ctx, parseArgs(rest, ['--help']));
      case 'services':
        return await servicesCommand(ctx, parseArgs(rest, ['--help', '--json', '--remove'], ['--backend']));
      case 'grade':
        return await gradeCommand(ctx, parseArgs(rest, ['--help', '--json'], ['--backend', '--seed', '--check', '--time-limit', '--report']));
      case 'ci':
        return await ciCommand(ctx, parseArgs(rest, ['--help']));
      case 'import-grade':
        return await importGradeCommand(ctx, parseArgs(rest, ['--help']));
      case 'check-history':
        return await checkHistoryCommand(ctx, parseArgs(rest, ['--help', '--json'], ['--model']));
      default:
        throw new UsageError(`Unknown command "${command}".`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.stderr(`data-labs: ${error.message}\nRun "data-labs --help" for usage.\n`);
      return EXIT_USAGE;
    }
    if (error instanceof LabFolderError) {
      ctx.stderr(`data-labs: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    ctx.stderr(`data-labs: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

function labsRoot(ctx: CliContext): string {
  return path.resolve(ctx.cwd, expandHome(ctx.env['DATA_LABS_ROOT'] ?? defaultLabsRoot()));
}

/** The lab folder a command works in: `dir` as the user named it, else `<labs root>/<lab>`. */
function learnerFolder(ctx: CliContext, labId: string, dirArg: string | undefined): string {
  return dirArg !== undefined ? path.resolve(ctx.cwd, expandHome(dirArg)) : learnerLabDir(labsRoot(ctx), labId);
}

async function listCommand(ctx: CliContext, args: Parsed): Promise<number> {
  if (args.flags.has('--help')) {
    ctx.stdout('Usage: data-labs list [--json]\nLists the curriculum sections, their labs, and your checklist progress.\n');
    return EXIT_OK;
  }
  const catalog = await loadCatalog(ctx.labsDir);
  const store = await ProgressStore.open({ dir: await resolveProgressDir(ctx.env) });
  const notice = store.takeNotice();
  if (notice?.kind === 'newer') {
    ctx.stderr(`data-labs: your progress file ${notice.file} was ${notice.reason}; it is left as it is, and nothing is recorded into it. Update Data Labs.\n`);
  } else if (notice) {
    ctx.stderr(`data-labs: your progress file was unreadable (${notice.reason}); it was kept as ${notice.keptAs}.\n`);
  }
  const progress = store.snapshot();
  const counts = countProgress((id) => store.isDone(id));
  if (args.flags.has('--json')) {
    const json = {
      progressFile: store.file,
      overall: counts.overall,
      sections: SECTIONS.map((section) => ({
        id: section.id,
        title: section.title,
        done: counts.perSection.get(section.id)?.done ?? 0,
        total: section.checklist.length,
        checklist: section.checklist.map((item) => ({ id: item.id, label: item.label, done: store.isDone(item.id) })),
        labs: catalog
          .filter((e) => e.ok && e.manifest.section === section.id)
          .map((e) => labJson(e, progress.labs)),
      })),
      brokenLabs: catalog.filter((e) => !e.ok).map((e) => ({ id: e.id, problems: e.ok ? [] : e.problems.map(formatProblem) })),
    };
    ctx.stdout(`${JSON.stringify(json, null, 2)}\n`);
    return EXIT_OK;
  }
  const lines: string[] = [`Progress: ${counts.overall.done}/${counts.overall.total} checklist items`, `(from ${store.file}; DATA_LABS_PROGRESS_DIR chooses another folder)`, ''];
  for (const section of SECTIONS) {
    const c = counts.perSection.get(section.id);
    lines.push(`${section.title}  ${c?.done ?? 0}/${c?.total ?? 0}`);
    for (const entry of catalog) {
      if (entry.ok && entry.manifest.section === section.id) {
        const record = progress.labs[entry.id];
        const state = record?.passedAt ? 'passed' : record?.openedAt ? 'opened' : 'not started';
        lines.push(`  lab  ${entry.id.padEnd(28)} ${entry.manifest.title} (${state})`);
      }
    }
    for (const item of section.checklist) {
      lines.push(`  [${store.isDone(item.id) ? 'x' : ' '}]  ${item.label}`);
    }
    lines.push('');
  }
  for (const entry of catalog) {
    if (!entry.ok) {
      lines.push(`Broken lab "${entry.id}":`, ...entry.problems.map((p) => `  ${formatProblem(p)}`), '');
    }
  }
  ctx.stdout(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

function labJson(entry: CatalogEntry, labs: Record<string, { openedAt?: string | undefined; passedAt?: string | undefined }>): object {
  if (!entry.ok) {
    return { id: entry.id };
  }
  return {
    id: entry.id,
    title: entry.manifest.title,
    completes: entry.manifest.completes,
    services: entry.manifest.services,
    openedAt: labs[entry.id]?.openedAt ?? null,
    passedAt: labs[entry.id]?.passedAt ?? null,
  };
}

async function openCommand(ctx: CliContext, args: Parsed): Promise<number> {
  if (args.flags.has('--help')) {
    ctx.stdout('Usage: data-labs open <lab> [dir] [--no-install]\nCopies the lab\'s starter project into dir (never overwriting your files) and installs its dependencies.\n');
    return EXIT_OK;
  }
  const [labId, dirArg] = labAndFolder(args.positionals, 'open', 'relational-vs-document');
  const catalog = await loadCatalog(ctx.labsDir);
  const entry = findLab(catalog, labId);
  if (!entry) {
    const known = catalog.map((e) => e.id).join(', ') || 'none';
    ctx.stderr(`data-labs: there is no lab "${labId}". Known labs: ${known}.\n`);
    return EXIT_FAILURE;
  }
  if (!entry.ok) {
    ctx.stderr(`data-labs: lab "${labId}" has a broken manifest:\n${entry.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
    return EXIT_FAILURE;
  }
  const target = dirArg ? path.resolve(ctx.cwd, expandHome(dirArg)) : learnerLabDir(labsRoot(ctx), labId);
  const result = await scaffoldLab(entry, target, ctx.version);
  ctx.stdout(`Lab "${entry.manifest.title}" is in ${result.dir}\n`);
  ctx.stdout(`  created ${result.created.length} file(s)${result.kept.length > 0 ? `, kept ${result.kept.length} of yours unchanged` : ''}\n`);
  // The lab is created: a progress file that cannot record it is worth a warning, not a failure.
  try {
    const store = await ProgressStore.open({ dir: await resolveProgressDir(ctx.env) });
    await store.recordLabOpened(labId);
  } catch (error) {
    ctx.stderr(`data-labs: the lab is ready, but opening it was not recorded in your progress: ${(error as Error).message}\n`);
  }
  if (!args.flags.has('--no-install') && !(await dependenciesInstalled(target))) {
    ctx.stdout('Installing the lab\'s dependencies (once; it works offline afterwards)...\n');
    await installDependencies(target);
  }
  ctx.stdout(`Next: read ${result.readmeFile}, edit ${result.mainFile}, and run "npm test" in ${result.dir}.\n`);
  return EXIT_OK;
}

async function validateCommand(ctx: CliContext, args: Parsed): Promise<number> {
  if (args.flags.has('--help')) {
    ctx.stdout('Usage: data-labs validate [labs-dir]\nChecks every labs/<id>/lab.json; names the file and field of each problem.\n');
    return EXIT_OK;
  }
  const dir = args.positionals[0] ? path.resolve(ctx.cwd, args.positionals[0]) : ctx.labsDir;
  const catalog = await loadCatalog(dir);
  if (catalog.length === 0) {
    ctx.stderr(`data-labs: no labs found in ${dir}.\n`);
    return EXIT_FAILURE;
  }
  let broken = 0;
  for (const entry of catalog) {
    if (entry.ok) {
      ctx.stdout(`ok    ${entry.id}\n`);
    } else {
      broken++;
      for (const problem of entry.problems) {
        ctx.stderr(`error ${formatProblem(problem)}\n`);
      }
    }
  }
  ctx.stdout(`${catalog.length - broken} valid, ${broken} invalid\n`);
  return broken === 0 ? EXIT_OK : EXIT_FAILURE;
}

async function servicesCommand(ctx: CliContext, args: Parsed): Promise<number> {
  // Loaded here, not at the top: the Docker client and pg cost time every other command would pay.
  const { SERVICES_HELP, runServicesCommand } = await import('./services');
  if (args.flags.has('--help')) {
    ctx.stdout(SERVICES_HELP);
    return EXIT_OK;
  }
  const [action, labId, dirArg, ...extra] = args.positionals;
  if (action !== 'up' && action !== 'down' && action !== 'status' && action !== 'reset') {
    throw new UsageError(action === undefined ? 'services needs an action: up, down, status or reset.' : `Unknown services action "${action}": use up, down, status or reset.`);
  }
  if (!labId) {
    throw new UsageError(`services ${action} needs a lab id, e.g. "data-labs services ${action} relational-vs-document".`);
  }
  if (extra.length > 0) {
    throw new UsageError(`services ${action} takes a lab and at most one folder; got also ${extra.join(' ')}.`);
  }
  const backend = backendOption(args);
  const images = imagesFromEnv(ctx);
  if (images === undefined) {
    return EXIT_USAGE;
  }
  const entry = await labForCommand(ctx, labId);
  if (!entry) {
    return EXIT_FAILURE;
  }
  const labDir = learnerFolder(ctx, labId, dirArg);
  const { createServicesController } = await import('./servicesController');
  const controller = createServicesController({ images, env: ctx.env, ...(ctx.embeddedServerScript !== undefined ? { embeddedServerScript: ctx.embeddedServerScript } : {}) });
  return runServicesCommand(
    { action, lab: entry, labDir, backend, remove: args.flags.has('--remove'), json: args.flags.has('--json') },
    controller,
    { stdout: ctx.stdout, stderr: ctx.stderr },
  );
}

/** `<lab> [dir]`, or a usage error naming the command. */
function labAndFolder(positionals: readonly string[], command: string, example: string): [string, string | undefined] {
  const [labId, dirArg, ...extra] = positionals;
  if (!labId) {
    throw new UsageError(`${command} needs a lab id, e.g. "data-labs ${command} ${example}". See "data-labs list".`);
  }
  if (extra.length > 0) {
    throw new UsageError(`${command} takes a lab and at most one folder; got also ${extra.join(' ')}.`);
  }
  return [labId, dirArg];
}

function backendOption(args: Parsed): Backend | undefined {
  const backend = args.values.get('--backend');
  if (backend === undefined) {
    return undefined;
  }
  const known = BACKENDS.find((b) => b === backend);
  if (known === undefined) {
    throw new UsageError(`--backend must be ${BACKENDS.join(' or ')}, not "${backend}".`);
  }
  return known;
}

/** DATA_LABS_IMAGES as a map, or undefined (after saying why) when it is not one. */
function imagesFromEnv(ctx: CliContext): Record<string, string> | undefined {
  const imagesEnv = ctx.env['DATA_LABS_IMAGES'];
  if (imagesEnv === undefined || imagesEnv.trim() === '') {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(imagesEnv);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new Error('not an object of strings');
    }
    return parsed as Record<string, string>;
  } catch (error) {
    ctx.stderr(`data-labs: DATA_LABS_IMAGES must be a JSON object mapping services to images, like {"postgres":"postgres:15"} (${(error as Error).message}).\n`);
    return undefined;
  }
}

/** The lab with a valid manifest, or undefined after saying what is wrong. */
async function labForCommand(ctx: CliContext, labId: string): Promise<Lab | undefined> {
  const catalog = await loadCatalog(ctx.labsDir);
  const entry = findLab(catalog, labId);
  if (!entry) {
    ctx.stderr(`data-labs: there is no lab "${labId}". Known labs: ${catalog.map((e) => e.id).join(', ') || 'none'}.\n`);
    return undefined;
  }
  if (!entry.ok) {
    ctx.stderr(`data-labs: lab "${labId}" has a broken manifest:\n${entry.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
    return undefined;
  }
  return entry;
}

async function checkHistoryCommand(ctx: CliContext, args: Parsed): Promise<number> {
  const { CHECK_HISTORY_HELP, MODELS, runCheckHistory } = await import('./checkHistory');
  if (args.flags.has('--help')) {
    ctx.stdout(CHECK_HISTORY_HELP);
    return EXIT_OK;
  }
  const [file, extra] = args.positionals;
  if (file === undefined || extra !== undefined) {
    throw new UsageError('check-history takes one file: data-labs check-history <file> [--model register|cas-register|kv].');
  }
  const model = args.values.get('--model') ?? 'register';
  if (!(MODELS as readonly string[]).includes(model)) {
    throw new UsageError(`--model must be ${MODELS.join(', ')}, not "${model}".`);
  }
  return runCheckHistory(path.resolve(ctx.cwd, file), model as (typeof MODELS)[number], args.flags.has('--json'), { stdout: ctx.stdout, stderr: ctx.stderr });
}

async function gradeCommand(ctx: CliContext, args: Parsed): Promise<number> {
  // Loaded here: the grader, the Docker client and pg cost time every other command would pay.
  const { GRADE_HELP, parseSeed, parseTimeLimit, runGradeCommand } = await import('./grade');
  if (args.flags.has('--help')) {
    ctx.stdout(GRADE_HELP);
    return EXIT_OK;
  }
  const [labId, dirArg] = labAndFolder(args.positionals, 'grade', 'idempotency-keys');
  const backend = backendOption(args);
  const seedArg = args.values.get('--seed');
  const seed = seedArg === undefined ? undefined : parseSeed(seedArg);
  if (seedArg !== undefined && seed === undefined) {
    throw new UsageError(`--seed must be a whole number from 0 to 2147483647, not "${seedArg}".`);
  }
  const limitArg = args.values.get('--time-limit');
  const timeLimitMs = limitArg === undefined ? undefined : parseTimeLimit(limitArg);
  if (limitArg !== undefined && timeLimitMs === undefined) {
    throw new UsageError(`--time-limit must be a whole number of seconds from 1 to 86400, not "${limitArg}".`);
  }
  const checkArg = args.values.get('--check');
  const only = checkArg === undefined ? undefined : checkArg.split(',').map((c) => c.trim()).filter((c) => c !== '');
  const images = imagesFromEnv(ctx);
  if (images === undefined) {
    return EXIT_USAGE;
  }
  const entry = await labForCommand(ctx, labId);
  if (!entry) {
    return EXIT_FAILURE;
  }
  if (ctx.sandboxDir === undefined) {
    ctx.stderr('data-labs: this build has no grading sandbox (dist/sandbox).\n');
    return EXIT_FAILURE;
  }
  const labDir = learnerFolder(ctx, labId, dirArg);
  const { createServicesController } = await import('./servicesController');
  // An embedded server this grading starts ends with this process, even one killed (it is also stopped when the grading ends).
  const controller = createServicesController({ images, env: ctx.env, embeddedOwnerPid: process.pid, ...(ctx.embeddedServerScript !== undefined ? { embeddedServerScript: ctx.embeddedServerScript } : {}) });
  return runGradeCommand(
    {
      lab: entry,
      labDir,
      labDirShown: dirArg ?? labDir,
      backend,
      seed,
      only,
      json: args.flags.has('--json'),
      ...(args.values.get('--report') !== undefined ? { reportFile: path.resolve(ctx.cwd, expandHome(args.values.get('--report') ?? '')) } : {}),
      ...(timeLimitMs !== undefined ? { timeLimitMs } : {}),
      sandboxDir: ctx.sandboxDir,
      env: ctx.env,
      ...(ctx.catchInterrupts !== undefined ? { signal: ctx.catchInterrupts() } : {}),
    },
    controller,
    { stdout: ctx.stdout, stderr: ctx.stderr },
  );
}

const CI_HELP = `Usage: data-labs ci <lab> [dir]
Writes into the lab folder dir (default $DATA_LABS_ROOT/<lab>) a GitHub Actions workflow
(.github/workflows/data-labs.yml) and the grader of this version (.data-labs-ci/, no
solution in it). Push the folder as a repository: each push is graded with Docker on
GitHub's runners, and the report is kept as the run's artifact "data-labs-grade". Then
"data-labs import-grade data-labs-grade.json" records the pass here. On any machine with
Docker, "bash .data-labs-ci/grade.sh" grades the same way.
`;

async function ciCommand(ctx: CliContext, args: Parsed): Promise<number> {
  if (args.flags.has('--help')) {
    ctx.stdout(CI_HELP);
    return EXIT_OK;
  }
  const [labId, dirArg] = labAndFolder(args.positionals, 'ci', 'saga');
  const entry = await labForCommand(ctx, labId);
  if (!entry) {
    return EXIT_FAILURE;
  }
  const { labDirExists } = await import('./services');
  const labDir = learnerFolder(ctx, labId, dirArg);
  if (!(await labDirExists(labDir, labId, { stderr: ctx.stderr }))) {
    return EXIT_FAILURE;
  }
  const { CI_REPORT, writeCiGrading } = await import('../core/grading/ciGrading');
  const written = await writeCiGrading({ lab: entry, labDir, productRoot: path.dirname(ctx.labsDir) });
  ctx.stdout(
    `Wrote ${written.join(', ')} in ${labDir}.\nPush the folder to GitHub: each push grades ${labId} with Docker there, and the run keeps ${CI_REPORT} as its artifact "data-labs-grade".\nThen: data-labs import-grade ${CI_REPORT}${dirArg !== undefined ? ` ${dirArg}` : ''}\n`,
  );
  return EXIT_OK;
}

const IMPORT_GRADE_HELP = `Usage: data-labs import-grade <file> [dir]
Records, in your progress, a lab graded on another machine (the report data-labs-grade.json
that "data-labs ci" has GitHub's runners keep, or that "data-labs grade --report" wrote):
only a full grading where every check passed, of the code that is now in dir (default
$DATA_LABS_ROOT/<lab>). Exit 0 when it was recorded, 1 when it was not (it says why).
`;

async function importGradeCommand(ctx: CliContext, args: Parsed): Promise<number> {
  if (args.flags.has('--help')) {
    ctx.stdout(IMPORT_GRADE_HELP);
    return EXIT_OK;
  }
  const [file, dirArg, ...extra] = args.positionals;
  if (file === undefined || extra.length > 0) {
    throw new UsageError('import-grade takes a report file and at most one lab folder, e.g. "data-labs import-grade data-labs-grade.json".');
  }
  const reportPath = path.resolve(ctx.cwd, expandHome(file));
  let text: string;
  try {
    text = await fs.readFile(reportPath, 'utf8');
  } catch (error) {
    ctx.stderr(`data-labs: cannot read ${reportPath}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const catalog = await loadCatalog(ctx.labsDir);
  const { checkImportedGrade } = await import('../core/grading/importGrade');
  const verdict = await checkImportedGrade(
    text,
    (id) => {
      const entry = findLab(catalog, id);
      return entry?.ok === true ? entry : undefined;
    },
    (lab) => learnerFolder(ctx, lab.id, dirArg),
  );
  if (!verdict.ok) {
    ctx.stderr(`data-labs: ${reportPath} was not recorded: ${verdict.reason}\n`);
    return EXIT_FAILURE;
  }
  const store = await ProgressStore.open({ dir: await resolveProgressDir(ctx.env) });
  await store.recordLabPassed(verdict.lab.id, verdict.lab.manifest.completes);
  const { report } = verdict;
  ctx.stdout(`Recorded: ${verdict.lab.manifest.title} passed ${report.score.passed}/${report.score.total} checks on ${report.engine ?? report.backend} (${report.startedAt}), graded for the code in your folder; its checklist items are ticked in ${store.file}.\n`);
  return EXIT_OK;
}

