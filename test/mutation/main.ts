/**
 * `npm run test:mutation -- <lab> [--seeds 1,2] [--fresh]`: StrykerJS over a graded lab's
 * reference solution, with the lab's hidden checks as the tests (run by test/mutation/run.mjs,
 * which bundles this file). Not part of CI: it grades the reference once per mutant.
 *
 * 1. Bundles the `data-labs` CLI and the grading sandbox as esbuild.js does, into the
 *    run's own folder (test/.mutation/<lab>/bundle): a run takes minutes, and dist/ may be
 *    rebuilt meanwhile by anyone working in the tree. Also bundles the grading command
 *    (gradeMutant.ts).
 * 2. Assembles the reference learner folder (the starter with the solution laid over it,
 *    test/support/labVariants.ts) in test/.mutation/<lab>/learner.
 * 3. Decides which earlier results to reuse (mutation.ts, reusableResults): Stryker's
 *    incremental file keeps every result of unchanged code; survivors and timeouts are
 *    tested again when the grader, the kit or the seeds changed; `--fresh` redoes all.
 * 4. Runs Stryker: the solution's files mutated, the TypeScript checker with the learner's
 *    tsconfig, the command runner grading each mutant on Docker on the seeds (fail-fast),
 *    one mutant at a time (gradings of a lab share its containers). Its dry run grades the
 *    reference without a mutant: it must pass.
 * 5. Writes summary.json and survivors.md beside the reports and prints the summary.
 *
 * Needs Docker and the local images (bash test/setup/docker.sh). The CLI's progress goes
 * to a throw-away folder (DATA_LABS_PROGRESS_DIR), and naming every check records none.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { PROGRESS_DIR_ENV } from '../../src/core/curriculum/progressLocation';
import { type Lab, findLab, loadCatalog } from '../../src/core/labs/catalog';
import { REPO_ROOT, buildScript } from '../support/buildScript';
import { assembleVariant } from '../support/labVariants';
import { serveGradingLock } from './gradingLock';
import {
  type Category,
  type GraderKey,
  type LabMutationFile,
  type MutationReport,
  type Summary,
  categorise,
  countCategories,
  countsForGrader,
  formatDuration,
  formatSummary,
  locateMutants,
  matchEquivalents,
  mutationScore,
  parseLabMutationFile,
  parseSeeds,
  parseVerdict,
  relativeFile,
  renderSurvivors,
  resolveLabId,
  reusableResults,
  strykerConfig,
} from './mutation';

const LABS_DIR = path.join(REPO_ROOT, 'labs');
const STRYKER = path.join(REPO_ROOT, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const IMAGES = { postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7', memcached: 'data-labs-local/memcached:1.6' };
/** Two seeds: a mutant must pass both to survive; a kill usually comes on the first (fail-fast). */
const DEFAULT_SEEDS = [1, 2];

const USAGE = `Usage: npm run test:mutation -- <lab> [--seeds 1,2] [--fresh]

  <lab>          a graded lab (a unique start of its id is enough)
  --seeds LIST   the seeds each mutant is graded with, in turn (default ${DEFAULT_SEEDS.join(',')})
  --fresh        test every mutant again, reusing no earlier result

Reports in test/.mutation/<lab>/: summary.json, survivors.md, mutation.html.
Needs Docker and the local images (bash test/setup/docker.sh).`;

/** Every file under `dir` (or `dir` itself when it is a file), relative to the repository, sorted. */
async function filesOf(target: string): Promise<string[]> {
  const stat = await fs.stat(target).catch(() => undefined);
  if (stat === undefined) return [];
  if (stat.isFile()) return [path.relative(REPO_ROOT, target)];
  const out: string[] = [];
  for (const entry of await fs.readdir(target, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.relative(REPO_ROOT, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

/**
 * A hash of what grading the lab runs besides the solution: its grader (not its docs, tests
 * or equivalent list), manifest and starter, the kit and the CLI, the build script, and the
 * grading command.
 */
async function graderHash(lab: Lab): Promise<string> {
  const hash = createHash('sha256');
  const grader = (await filesOf(path.join(lab.dir, 'grader'))).filter((f) => countsForGrader(f.split(path.sep).join('/')));
  const rest = await Promise.all(
    [path.join(lab.dir, 'lab.json'), path.join(lab.dir, lab.manifest.starter.dir), 'src/core', 'src/cli', 'esbuild.js', 'test/mutation/gradeMutant.ts'].map((p) => filesOf(path.resolve(REPO_ROOT, p))),
  );
  for (const file of [...grader, ...rest.flat()]) {
    hash.update(`${file.split(path.sep).join('/')}\0`);
    hash.update(await fs.readFile(path.join(REPO_ROOT, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await fs.rename(`${file}.tmp`, file);
}

/** The CLI, the sandbox's bundles and the grading command, built for this run; returns the CLI and the command. */
async function bundle(dir: string): Promise<{ cli: string; gradeMutant: string }> {
  const build = buildScript();
  await fs.rm(dir, { recursive: true, force: true });
  const cli = path.join(dir, 'dist', 'cli.js');
  const gradeMutant = path.join(dir, 'grade-mutant.cjs');
  await Promise.all([
    esbuild.build(build.cliOptions(cli, { labsDir: LABS_DIR })),
    esbuild.build(build.sandboxOptions(path.join(dir, 'dist', 'sandbox'), { labsDir: LABS_DIR })),
    esbuild.build({ entryPoints: [path.join(REPO_ROOT, 'test', 'mutation', 'gradeMutant.ts')], outfile: gradeMutant, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' }),
  ]);
  // The CLI reads the labs' manifests beside its folder, as dist/cli.js does.
  await fs.symlink(LABS_DIR, path.join(dir, 'labs'), 'dir');
  return { cli, gradeMutant };
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const q = (text: string): string => JSON.stringify(text);

/** The commit graded, and the grading inputs changed since it (the tree is shared while a run takes minutes). */
function gitState(lab: Lab): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]): string => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout ?? '';
  const inputs = [path.relative(REPO_ROOT, lab.dir), 'src/core', 'src/cli'];
  const changed = git('status', '--porcelain', '--', ...inputs)
    .split('\n')
    .map((l) => l.slice(3).trim())
    .filter((f) => f !== '' && countsForGrader(f) && !f.includes('/mutants/') && !f.includes('/alternatives/'));
  return { commit: git('rev-parse', 'HEAD').trim() || 'unknown', uncommitted: changed };
}

async function main(argv: readonly string[]): Promise<number> {
  const ids = buildScript().gradedLabIds(LABS_DIR);
  const positional = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--seeds');
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`${USAGE}\n\nGraded labs: ${ids.join(', ')}`);
    return 0;
  }
  const labId = positional.length === 1 ? resolveLabId(positional[0] ?? '', ids) : undefined;
  const seedsArg = argv.includes('--seeds') ? argv[argv.indexOf('--seeds') + 1] ?? '' : undefined;
  const seeds = seedsArg === undefined ? DEFAULT_SEEDS : parseSeeds(seedsArg);
  const unknown = argv.filter((a) => a.startsWith('--') && !['--seeds', '--fresh'].includes(a));
  if (labId === undefined || seeds === undefined || unknown.length > 0) {
    console.error(`${labId === undefined ? `test:mutation: name one graded lab: ${ids.join(', ')}` : seeds === undefined ? 'test:mutation: --seeds takes seeds like 1,2' : `test:mutation: unknown option ${unknown.join(' ')}`}\n\n${USAGE}`);
    return 2;
  }
  const entry = findLab(await loadCatalog(LABS_DIR), labId);
  if (!entry?.ok) {
    console.error(`test:mutation: labs/${labId} is missing or its lab.json is broken (npm run validate).`);
    return 1;
  }
  const lab = entry;
  const checks = (lab.manifest.grader?.checks ?? []).map((c) => c.id);
  const started = performance.now();
  const home = path.join(REPO_ROOT, 'test', '.mutation', labId);
  const learner = path.join(home, 'learner');
  const files = {
    config: path.join(home, 'stryker.config.json'),
    incremental: path.join(home, 'stryker-incremental.json'),
    state: path.join(home, 'grader-key.json'),
    json: path.join(home, 'mutation.json'),
    html: path.join(home, 'mutation.html'),
    log: path.join(home, 'gradings.jsonl'),
    summary: path.join(home, 'summary.json'),
    survivors: path.join(home, 'survivors.md'),
  };
  await fs.mkdir(home, { recursive: true });

  console.log(`test:mutation: ${labId}, seeds ${seeds.join(', ')}; bundling the CLI and assembling the reference in ${path.relative(REPO_ROOT, home)}`);
  const { cli, gradeMutant } = await bundle(path.join(home, 'bundle'));
  const graded = gitState(lab);
  await assembleVariant(lab, {}, learner);
  const mutate = (await filesOf(path.join(lab.dir, 'solution'))).map((f) => path.relative(path.join(lab.dir, 'solution'), path.join(REPO_ROOT, f)).split(path.sep).join('/')).filter((f) => /\.[cm]?tsx?$/.test(f) && !f.endsWith('.d.ts'));

  const key: GraderKey = { graderHash: await graderHash(lab), seeds };
  const previous = await readJson<GraderKey>(files.state);
  const reuse = reusableResults(await readJson<MutationReport>(files.incremental), previous, key, { fresh: argv.includes('--fresh') });
  if (reuse.report === undefined) await fs.rm(files.incremental, { force: true });
  else await writeJson(files.incremental, reuse.report);
  console.log(`test:mutation: ${reuse.why}${reuse.dropped > 0 ? ` (${reuse.dropped} earlier results dropped)` : ''}`);

  // Stryker may run two grading commands at once (see gradingLock.ts): they take turns.
  const lockPath = process.platform === 'win32' ? `\\\\.\\pipe\\data-labs-mutation-${process.pid}` : path.join(os.tmpdir(), `data-labs-mutation-${process.pid}.sock`);
  const command = [process.execPath, gradeMutant, '--cli', cli, '--lab', labId, '--seeds', seeds.join(','), '--checks', checks.join(','), '--log', files.log, '--lock', lockPath].map(q).join(' ');
  await writeJson(
    files.config,
    strykerConfig({ mutate, command, incrementalFile: files.incremental, jsonReport: files.json, htmlReport: files.html, appendOnlyProgress: process.stdout.isTTY !== true }),
  );
  await fs.rm(files.log, { force: true });
  await fs.rm(files.json, { force: true });
  const env = {
    ...process.env,
    DATA_LABS_IMAGES: process.env['DATA_LABS_IMAGES'] ?? JSON.stringify(IMAGES),
    // A mutation run must never tick the user's checklist (naming every check already records nothing).
    [PROGRESS_DIR_ENV]: path.join(home, 'progress'),
  };
  const lock = await serveGradingLock(lockPath);
  let code: number;
  try {
    code = await run(process.execPath, [STRYKER, 'run', files.config], learner, env);
  } finally {
    await lock.close();
  }
  if (code !== 0 || !existsSync(files.json)) {
    console.error(`test:mutation: Stryker ended with exit code ${code}${existsSync(files.json) ? '' : ' and no report'}. If its dry run failed, the reference does not pass on these seeds here: grade it (bash test/setup/docker.sh; node dist/cli.js grade ${labId} ${path.relative(process.cwd(), learner)} --seed ${seeds[0] ?? 1}).`);
    return 1;
  }

  const report = (await readJson<MutationReport>(files.json)) as MutationReport;
  const mutants = locateMutants(report, learner);
  const sources = Object.fromEntries(Object.entries(report.files).map(([name, file]) => [relativeFile(name, learner), file.source]));
  const listFile = path.join(lab.dir, 'grader', 'mutation.json');
  const list: LabMutationFile = parseLabMutationFile((await readJson<unknown>(listFile)) ?? { equivalent: [] }, path.relative(REPO_ROOT, listFile));
  const matches = matchEquivalents(mutants, list.equivalent, sources);
  const equivalentIds = new Set(matches.flatMap((m) => m.mutantIds));
  const categorised = mutants.map((m) => ({ ...m, category: categorise(m, equivalentIds) as Category }));
  const counts = countCategories(categorised.map((m) => m.category));
  const killedBy: Record<string, number> = {};
  for (const m of categorised.filter((x) => x.category === 'killed')) {
    const verdict = parseVerdict(m.statusReason);
    const by = verdict?.kind === 'killed' ? (verdict.check ?? '(could not start)') : '(not recorded)';
    killedBy[by] = (killedBy[by] ?? 0) + 1;
  }
  const gradings = (await fs.readFile(files.log, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { mutant: string | null; ms: number; verdict: string });
  const mean = (kind: 'killed' | 'survived'): number | null => {
    const ms = gradings.filter((g) => g.mutant !== null && parseVerdict(g.verdict)?.kind === kind).map((g) => g.ms);
    return ms.length > 0 ? Math.round(ms.reduce((a, b) => a + b, 0) / ms.length / 100) / 10 : null;
  };
  const problems = matches.flatMap((m) => (m.problem !== undefined ? [m.problem] : []));
  const warnings = [
    ...problems,
    ...categorised
      .filter((m) => equivalentIds.has(m.id) && m.status === 'Killed')
      .map((m) => `${m.file}:${m.location.start.line} ${m.mutatorName} is listed as equivalent but the grader kills it: either it is not equivalent, or the grader fails correct code`),
    ...(counts.killed === 0 && counts.generated - counts.compileErrors > 0 ? ['no mutant was killed: is the active mutant reaching the learner\'s process (__STRYKER_ACTIVE_MUTANT__)?'] : []),
  ];
  const summary: Summary = {
    lab: labId,
    seeds,
    ...counts,
    score: mutationScore(counts),
    graded: new Set(gradings.filter((g) => g.mutant !== null).map((g) => g.mutant)).size,
    meanGradingSeconds: { killed: mean('killed'), survived: mean('survived') },
    wallSeconds: Math.round((performance.now() - started) / 1000),
    killedBy,
    warnings,
    finishedAt: new Date().toISOString(),
    ...graded,
    graderHash: key.graderHash,
  };
  await writeJson(files.summary, summary);
  await fs.writeFile(files.survivors, renderSurvivors(summary, categorised, sources, problems));
  // These results were obtained with this grader; an error is tested again next time.
  await writeJson(files.state, key);
  const kept = reusableResults(await readJson<MutationReport>(files.incremental), key, key, { fresh: false });
  if (kept.report !== undefined) await writeJson(files.incremental, kept.report);

  console.log(`\n${formatSummary(summary)}`);
  console.log(`\nSurvivors: ${path.relative(process.cwd(), files.survivors)}; summary: ${path.relative(process.cwd(), files.summary)}; report: ${path.relative(process.cwd(), files.html)} (${formatDuration(summary.wallSeconds)})`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`test:mutation: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
