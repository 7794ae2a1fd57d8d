/**
 * Mutation testing of a lab's reference solution, the pure part (`npm run test:mutation`,
 * test/mutation/main.ts): what StrykerJS's report says about each mutant, the equivalent
 * mutants a lab lists (labs/<id>/grader/mutation.json), the score, which earlier results a
 * run may reuse, the verdict line the grading command prints for Stryker, and the reports.
 */

/** A position in a source file, both 1-based (mutation-testing-report-schema). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

export type MutantStatus = 'Killed' | 'Survived' | 'NoCoverage' | 'CompileError' | 'RuntimeError' | 'Timeout' | 'Ignored' | 'Pending';

/** One mutant of Stryker's JSON report (and of its incremental file, which has the same shape). */
export interface ReportMutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly location: { readonly start: Position; readonly end: Position };
  readonly status: MutantStatus;
  /** For the command runner, what the command printed when it failed: our verdict line. */
  readonly statusReason?: string;
  readonly static?: boolean;
}

export interface ReportFile {
  readonly language?: string;
  readonly source: string;
  readonly mutants: readonly ReportMutant[];
}

/** Stryker's JSON report; fields not read here are kept as they are when it is rewritten. */
export interface MutationReport {
  readonly files: Readonly<Record<string, ReportFile>>;
  readonly [field: string]: unknown;
}

// ---------------------------------------------------------------------------------------
// The verdict of the grading command (gradeMutant.ts), as Stryker keeps it in statusReason.

/** Starts the one line the grading command prints: Stryker keeps it as a killed mutant's reason, also for later runs. */
export const VERDICT_PREFIX = 'data-labs mutation:';

export type Verdict =
  | { readonly kind: 'survived'; readonly seeds: readonly number[] }
  /** A check failed or was unknown (`check`), or the grading could not start (`check` undefined: a compile error, a throw while loading). */
  | { readonly kind: 'killed'; readonly seed: number; readonly check?: string; readonly status?: 'fail' | 'unknown'; readonly detail: string }
  /** The grading itself broke (no report: the CLI crashed, Docker went away): says nothing of the mutant. */
  | { readonly kind: 'error'; readonly seed: number; readonly detail: string };

export function formatVerdict(verdict: Verdict): string {
  switch (verdict.kind) {
    case 'survived':
      return `${VERDICT_PREFIX} survived seeds ${verdict.seeds.join(',')}`;
    case 'killed':
      return verdict.check !== undefined
        ? `${VERDICT_PREFIX} killed on seed ${verdict.seed} by ${verdict.check} (${verdict.status ?? 'fail'}): ${oneLine(verdict.detail)}`
        : `${VERDICT_PREFIX} killed on seed ${verdict.seed}: ${oneLine(verdict.detail)}`;
    case 'error':
      return `${VERDICT_PREFIX} error on seed ${verdict.seed}: ${oneLine(verdict.detail)}`;
  }
}

/** The verdict in a command's output (Stryker's statusReason), or undefined when it has none. */
export function parseVerdict(output: string | undefined): Verdict | undefined {
  const line = output?.split(/\r?\n/).find((l) => l.startsWith(VERDICT_PREFIX));
  if (line === undefined) return undefined;
  const text = line.slice(VERDICT_PREFIX.length).trim();
  let m = /^survived seeds ([\d,]+)$/.exec(text);
  if (m) return { kind: 'survived', seeds: (m[1] ?? '').split(',').map(Number) };
  m = /^killed on seed (\d+) by (\S+) \((fail|unknown)\): (.*)$/.exec(text);
  if (m) return { kind: 'killed', seed: Number(m[1]), check: m[2] ?? '', status: m[3] === 'unknown' ? 'unknown' : 'fail', detail: m[4] ?? '' };
  m = /^killed on seed (\d+): (.*)$/.exec(text);
  if (m) return { kind: 'killed', seed: Number(m[1]), detail: m[2] ?? '' };
  m = /^error on seed (\d+): (.*)$/.exec(text);
  if (m) return { kind: 'error', seed: Number(m[1]), detail: m[2] ?? '' };
  return undefined;
}

function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * A check's verdict line as `data-labs grade` prints it while grading (formatCheck:
 * `FAIL    <title>  (<check id>, 12 ms)`), for one of the lab's own check ids; undefined
 * for any other line. Only the grader prints to the CLI's output (the learner's code runs
 * in a process of its own), so a line cannot be forged by the code under test.
 */
export function parseCheckLine(line: string, checkIds: readonly string[]): { readonly id: string; readonly status: 'pass' | 'fail' | 'unknown' } | undefined {
  const m = /^(PASS|FAIL|UNKNOWN)\s.*\(([^\s,()]+), \d+ ms\)\s*$/.exec(line);
  if (!m || !checkIds.includes(m[2] ?? '')) return undefined;
  return { id: m[2] ?? '', status: m[1] === 'PASS' ? 'pass' : m[1] === 'FAIL' ? 'fail' : 'unknown' };
}

/** The line `data-labs grade` starts a report with when no check could run (compile error, missing export, a throw while loading or setting up). */
export const PROBLEM_LINE = 'The grading could not start:';

// ---------------------------------------------------------------------------------------
// Equivalent mutants: labs/<id>/grader/mutation.json.

/**
 * A mutant that behaves exactly as the reference for everything a learner's grader could
 * observe, so no check can kill it. Matched by its file, mutator, the source text it
 * replaces and its replacement (whitespace-insensitive), never by line number: it still
 * matches after the file's lines move. `context`, when several mutants share all four, is
 * text from the mutant's lines (or the line before or after) that tells it apart.
 */
export interface EquivalentMutant {
  readonly file: string;
  readonly mutator: string;
  readonly original: string;
  readonly replacement: string;
  readonly context?: string;
  /** Why no learner-visible behaviour differs. */
  readonly why: string;
}

export interface LabMutationFile {
  readonly equivalent: readonly EquivalentMutant[];
}

/** Reads labs/<id>/grader/mutation.json's content; throws naming the entry and field that is wrong. */
export function parseLabMutationFile(json: unknown, where: string): LabMutationFile {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('expected an object { "equivalent": [...] }');
  const list = (json as { equivalent?: unknown }).equivalent ?? [];
  if (!Array.isArray(list)) return fail('"equivalent" must be an array');
  const equivalent = list.map((entry: unknown, i): EquivalentMutant => {
    if (typeof entry !== 'object' || entry === null) return fail(`equivalent[${i}] must be an object`);
    const e = entry as Record<string, unknown>;
    const text = (field: string, optional = false): string | undefined => {
      const value = e[field];
      if (value === undefined && optional) return undefined;
      if (typeof value !== 'string' || (field !== 'replacement' && value.trim() === '')) return fail(`equivalent[${i}].${field} must be a${field === 'replacement' ? '' : ' non-empty'} string`);
      return value;
    };
    const context = text('context', true);
    return {
      file: text('file') ?? '',
      mutator: text('mutator') ?? '',
      original: text('original') ?? '',
      replacement: text('replacement') ?? '',
      ...(context !== undefined ? { context } : {}),
      why: text('why') ?? '',
    };
  });
  return { equivalent };
}

/** Whitespace does not matter when texts are compared: runs of it count as one space. */
export function normalizeCode(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The text between two 1-based positions of `source`. */
export function sourceAt(source: string, start: Position, end: Position): string {
  const lines = source.split(/\r?\n/);
  if (start.line === end.line) return (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1);
  const out = [(lines[start.line - 1] ?? '').slice(start.column - 1)];
  for (let l = start.line + 1; l < end.line; l++) out.push(lines[l - 1] ?? '');
  out.push((lines[end.line - 1] ?? '').slice(0, end.column - 1));
  return out.join('\n');
}

/** A mutant with what it needs to be matched and listed: its file (relative to the learner's folder) and the text it replaces. */
export interface LocatedMutant extends ReportMutant {
  readonly file: string;
  readonly original: string;
}

/** Every mutant of the report, with its file relative to the learner's folder and its original text. */
export function locateMutants(report: MutationReport, learnerDir: string): LocatedMutant[] {
  const out: LocatedMutant[] = [];
  for (const [name, file] of Object.entries(report.files)) {
    const relative = relativeFile(name, learnerDir);
    for (const mutant of file.mutants) {
      out.push({ ...mutant, file: relative, original: sourceAt(file.source, mutant.location.start, mutant.location.end) });
    }
  }
  return out;
}

/** A report's file name (absolute, or relative to the project) relative to the learner's folder, with `/`. */
export function relativeFile(name: string, learnerDir: string): string {
  const posix = name.split('\\').join('/');
  const root = learnerDir.split('\\').join('/').replace(/\/+$/, '');
  return posix.startsWith(`${root}/`) ? posix.slice(root.length + 1) : posix.replace(/^\.\//, '');
}

export interface EquivalentMatch {
  readonly entry: EquivalentMutant;
  /** The ids of the mutants it names: exactly one, or none when it matched none or several. */
  readonly mutantIds: readonly string[];
  /** Set when the entry names no mutant: why. */
  readonly problem?: string;
}

/** Which mutants the lab's list names. An entry matching several mutants names none of them until its `context` tells them apart. */
export function matchEquivalents(mutants: readonly LocatedMutant[], entries: readonly EquivalentMutant[], sources: Readonly<Record<string, string>>): EquivalentMatch[] {
  return entries.map((entry) => {
    const found = mutants.filter((m) => {
      if (m.file !== entry.file || m.mutatorName !== entry.mutator) return false;
      if (normalizeCode(m.original) !== normalizeCode(entry.original) || normalizeCode(m.replacement ?? '') !== normalizeCode(entry.replacement)) return false;
      if (entry.context === undefined) return true;
      const lines = (sources[m.file] ?? '').split(/\r?\n/).slice(Math.max(0, m.location.start.line - 2), m.location.end.line + 1);
      return normalizeCode(lines.join('\n')).includes(normalizeCode(entry.context));
    });
    const where = `${entry.file}: ${entry.mutator} \`${oneLine(entry.original, 60)}\` → \`${oneLine(entry.replacement, 60)}\``;
    // Neighbouring lines can both see a context: the one whose own line holds it is meant.
    const own =
      entry.context === undefined
        ? []
        : found.filter((m) => normalizeCode((sources[m.file] ?? '').split(/\r?\n/).slice(m.location.start.line - 1, m.location.end.line).join('\n')).includes(normalizeCode(entry.context ?? '')));
    if (found.length > 1 && own.length === 1) return { entry, mutantIds: [own[0]?.id ?? ''] };
    if (found.length === 1) return { entry, mutantIds: [found[0]?.id ?? ''] };
    if (found.length === 0) return { entry, mutantIds: [], problem: `${where} matches no mutant of this run (the code changed?): remove or update it` };
    return {
      entry,
      mutantIds: [],
      problem: `${where} matches ${found.length} mutants (lines ${found.map((m) => m.location.start.line).join(', ')}): add a "context" from the line of the one meant`,
    };
  });
}

// ---------------------------------------------------------------------------------------
// Categories and the score.

export type Category = 'killed' | 'survived' | 'timeout' | 'compile-error' | 'equivalent' | 'error' | 'ignored';

/**
 * What a mutant counts as. A compile error (the TypeScript checker rejected it) is never
 * run; a mutant the lab lists as equivalent is taken out of the score; a "kill" whose
 * verdict says the grading itself broke is an error, not a kill (retested next run).
 */
export function categorise(mutant: ReportMutant, equivalentIds: ReadonlySet<string>): Category {
  if (mutant.status === 'CompileError') return 'compile-error';
  if (equivalentIds.has(mutant.id)) return 'equivalent';
  switch (mutant.status) {
    case 'Killed':
      return parseVerdict(mutant.statusReason)?.kind === 'error' ? 'error' : 'killed';
    case 'Survived':
    case 'NoCoverage':
      return 'survived';
    case 'Timeout':
      return 'timeout';
    case 'Ignored':
      return 'ignored';
    case 'RuntimeError':
    case 'Pending':
      return 'error';
  }
}

export interface Counts {
  readonly generated: number;
  readonly killed: number;
  readonly survived: number;
  readonly timedOut: number;
  readonly compileErrors: number;
  readonly equivalent: number;
  /** The grading broke (not a verdict on the mutant): tested again on the next run. */
  readonly errors: number;
  readonly ignored: number;
}

export function countCategories(categories: readonly Category[]): Counts {
  const n = (c: Category): number => categories.filter((x) => x === c).length;
  return {
    generated: categories.length,
    killed: n('killed'),
    survived: n('survived'),
    timedOut: n('timeout'),
    compileErrors: n('compile-error'),
    equivalent: n('equivalent'),
    errors: n('error'),
    ignored: n('ignored'),
  };
}

/**
 * killed / (generated − compile errors − equivalent): the share of the mutants that could
 * run and differ from the reference that the grader failed. A timeout is not a kill (the
 * grader gave no verdict in time); null when nothing counts.
 */
export function mutationScore(counts: Counts): number | null {
  const denominator = counts.generated - counts.compileErrors - counts.equivalent;
  return denominator > 0 ? counts.killed / denominator : null;
}

// ---------------------------------------------------------------------------------------
// Which results a run reuses (Stryker's incremental file).

/** What the results of survivors depend on besides the solution: the grader and kit (a hash of their sources) and the seeds. */
export interface GraderKey {
  readonly graderHash: string;
  readonly seeds: readonly number[];
}

export function sameGraderKey(a: GraderKey | undefined, b: GraderKey): boolean {
  return a !== undefined && a.graderHash === b.graderHash && a.seeds.length === b.seeds.length && a.seeds.every((s, i) => s === b.seeds[i]);
}

/**
 * The incremental file a run starts from. Stryker reuses every result of code that did not
 * change (with the command runner it cannot see the grader), so before a run: `--fresh`
 * starts from nothing; a grader, kit or seed set other than the one the results were
 * obtained with drops the survivors and timeouts (a sharper grader may kill them now),
 * keeping kills and compile errors (a kill stays a kill while the solution is the same);
 * a result that was an error is always dropped.
 */
export function reusableResults(report: MutationReport | undefined, previous: GraderKey | undefined, current: GraderKey, options: { readonly fresh: boolean }): { readonly report: MutationReport | undefined; readonly dropped: number; readonly why: string } {
  if (options.fresh || report === undefined) {
    return { report: undefined, dropped: 0, why: options.fresh ? '--fresh: every mutant is tested' : 'no earlier results: every mutant is tested' };
  }
  const graderChanged = !sameGraderKey(previous, current);
  const keep = (m: ReportMutant): boolean => {
    const category = categorise(m, new Set());
    if (category === 'error') return false;
    return !graderChanged || category === 'killed' || category === 'compile-error' || category === 'ignored';
  };
  let dropped = 0;
  const files: Record<string, ReportFile> = {};
  for (const [name, file] of Object.entries(report.files)) {
    const mutants = file.mutants.filter(keep);
    dropped += file.mutants.length - mutants.length;
    files[name] = { ...file, mutants };
  }
  const why = graderChanged
    ? previous === undefined
      ? 'the grader the results were obtained with is not known: survivors and timeouts are tested again'
      : 'the grader, the kit or the seeds changed: survivors and timeouts are tested again, kills and compile errors reused'
    : 'same grader and seeds: every result of unchanged code is reused';
  return { report: { ...report, files }, dropped, why };
}

/**
 * Whether a file counts for the grader's key: everything of labs/<id>/grader that grading
 * runs, not its docs, its tests or the list of equivalent mutants.
 */
export function countsForGrader(relativePath: string): boolean {
  const name = relativePath.split('/').pop() ?? '';
  return !name.endsWith('.md') && !/\.test\.[cm]?[jt]s$/.test(name) && name !== 'mutation.json';
}

// ---------------------------------------------------------------------------------------
// Command line, configuration and reports.

/** `--seeds 1,2`: whole numbers from 0 to 2^31 - 1, no repeats. */
export function parseSeeds(text: string): number[] | undefined {
  if (!/^\d{1,10}(,\d{1,10})*$/.test(text)) return undefined;
  const seeds = text.split(',').map(Number);
  return seeds.every((s) => s <= 0x7fffffff) && new Set(seeds).size === seeds.length ? seeds : undefined;
}

/** The lab an argument names: its id, or a start of exactly one id. */
export function resolveLabId(arg: string, ids: readonly string[]): string | undefined {
  if (ids.includes(arg)) return arg;
  const matching = ids.filter((id) => id.startsWith(arg));
  return matching.length === 1 ? matching[0] : undefined;
}

export interface StrykerSetup {
  /** The solution's files, relative to the learner's folder. */
  readonly mutate: readonly string[];
  /** The command the command runner runs in its sandbox (a copy of the learner's folder). */
  readonly command: string;
  readonly incrementalFile: string;
  readonly jsonReport: string;
  readonly htmlReport: string;
  /** Progress as lines (logs, CI) or as a bar (a terminal). */
  readonly appendOnlyProgress: boolean;
}

/**
 * The Stryker configuration: the solution's files mutated, each mutant checked by the
 * TypeScript checker with the learner's tsconfig (one at a time: accurate compile errors),
 * and graded by the command; one at a time, since gradings of a lab share its containers
 * (the command also takes a lock: see gradingLock.ts). A grade ends by the grader's own
 * budgets (a scenario's, up to 2 min, and a call's); Stryker's timeout is for one that does
 * not, and counts a wait for the lock too, so it is generous: 3 min + 2 × the dry run.
 */
export function strykerConfig(setup: StrykerSetup): Record<string, unknown> {
  return {
    $schema: '../../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    packageManager: 'npm',
    mutate: [...setup.mutate],
    testRunner: 'command',
    commandRunner: { command: setup.command },
    coverageAnalysis: 'off',
    checkers: ['typescript'],
    tsconfigFile: 'tsconfig.json',
    typescriptChecker: { prioritizePerformanceOverAccuracy: false },
    concurrency: 1,
    timeoutMS: 180_000,
    timeoutFactor: 2,
    dryRunTimeoutMinutes: 10,
    incremental: true,
    incrementalFile: setup.incrementalFile,
    reporters: ['json', 'html', setup.appendOnlyProgress ? 'progress-append-only' : 'progress'],
    jsonReporter: { fileName: setup.jsonReport },
    htmlReporter: { fileName: setup.htmlReport },
    cleanTempDir: 'always',
    logLevel: 'info',
    fileLogLevel: 'off',
  };
}

export interface Summary extends Counts {
  readonly lab: string;
  readonly seeds: readonly number[];
  readonly score: number | null;
  /** Mutants graded in this run; the others' results were reused. */
  readonly graded: number;
  /** This run's mean time to grade a mutant that was killed, and one that survived (every seed), in seconds. */
  readonly meanGradingSeconds: { readonly killed: number | null; readonly survived: number | null };
  readonly wallSeconds: number;
  /** The check (or `(could not start)`) each kill came from, as far as the verdicts say. */
  readonly killedBy: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
  readonly finishedAt: string;
  /** What was graded with: the commit, whether the grader or kit had uncommitted changes, and the grader key's hash. */
  readonly commit: string;
  readonly uncommitted: readonly string[];
  readonly graderHash: string;
}

/** The summary as the command prints it. */
export function formatSummary(s: Summary): string {
  const pct = s.score === null ? 'n/a' : `${(s.score * 100).toFixed(1)} %`;
  const lines = [
    `Mutation testing of ${s.lab}'s reference (seeds ${s.seeds.join(', ')}):`,
    `  mutants generated   ${s.generated}`,
    `  killed              ${s.killed}`,
    `  survived            ${s.survived}`,
    `  timed out           ${s.timedOut}`,
    `  compile errors      ${s.compileErrors}   (rejected by the TypeScript checker, never run)`,
    `  equivalent          ${s.equivalent}   (labs/${s.lab}/grader/mutation.json)`,
    ...(s.errors > 0 ? [`  errors              ${s.errors}   (the grading broke, not the mutant: tested again next run)`] : []),
    ...(s.ignored > 0 ? [`  ignored             ${s.ignored}`] : []),
    `  score               ${pct}   killed / (generated − compile errors − equivalent)`,
    `  graded this run     ${s.graded}   (results reused from earlier runs: ${Math.max(0, s.generated - s.compileErrors - s.graded)}); mean ${s.meanGradingSeconds.killed ?? '-'} s a kill, ${s.meanGradingSeconds.survived ?? '-'} s a survivor`,
    `  wall time           ${formatDuration(s.wallSeconds)}`,
  ];
  const by = Object.entries(s.killedBy).sort((a, b) => b[1] - a[1]);
  if (by.length > 0) lines.push(`  kills by check      ${by.map(([id, n]) => `${id} ${n}`).join(', ')}`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

export function formatDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

/** Markdown inline code for any text, backticks in it included (a longer fence around it). */
export function inlineCode(text: string): string {
  if (text === '') return '(nothing)';
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** The lines around a mutant, numbered, its own lines marked. */
export function contextLines(source: string, start: Position, end: Position, around = 1): string[] {
  const lines = source.split(/\r?\n/);
  const out: string[] = [];
  for (let l = Math.max(1, start.line - around); l <= Math.min(lines.length, end.line + around); l++) {
    out.push(`${l >= start.line && l <= end.line ? '>' : ' '} ${String(l).padStart(4)} | ${lines[l - 1] ?? ''}`);
  }
  return out;
}

const UNKILLED: readonly Category[] = ['survived', 'timeout', 'error'];

/**
 * survivors.md: every mutant the grader did not kill (survived, timed out, or not decided
 * because the grading broke), by file and line, with its mutator, what it replaces and
 * with what, and its lines; then the lab's equivalent-list entries that name nothing.
 */
export function renderSurvivors(summary: Summary, mutants: readonly (LocatedMutant & { readonly category: Category })[], sources: Readonly<Record<string, string>>, problems: readonly string[]): string {
  const out = [
    `# Mutants the ${summary.lab} grader does not kill`,
    '',
    `Seeds ${summary.seeds.join(', ')}; ${summary.finishedAt}; commit ${summary.commit.slice(0, 10)}${summary.uncommitted.length > 0 ? ` with uncommitted changes to ${summary.uncommitted.join(', ')}` : ''}. Score ${summary.score === null ? 'n/a' : `${(summary.score * 100).toFixed(1)} %`}: ${summary.killed} killed of ${summary.generated - summary.compileErrors - summary.equivalent} (${summary.generated} generated, ${summary.compileErrors} compile errors, ${summary.equivalent} equivalent). Each is a change to the reference the hidden checks let pass: kill it with a new or sharper scenario, or, if no learner-visible behaviour differs, list it in labs/${summary.lab}/grader/mutation.json with the reason (see labs/README.md).`,
    '',
  ];
  const open = mutants.filter((m) => UNKILLED.includes(m.category)).sort((a, b) => a.file.localeCompare(b.file) || a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column);
  if (open.length === 0) out.push('None.', '');
  for (const m of open) {
    const verdict = parseVerdict(m.statusReason);
    const why = verdict !== undefined && verdict.kind !== 'survived' ? verdict.detail : (m.statusReason ?? 'error');
    const label = m.category === 'survived' ? 'survived' : m.category === 'timeout' ? 'timed out' : `not decided: ${oneLine(why, 120)}`;
    out.push(`## ${m.file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} (${label})`, '');
    out.push(`${inlineCode(oneLine(m.original, 200))} → ${inlineCode(oneLine(m.replacement ?? '', 200))}`, '');
    out.push('```ts', ...contextLines(sources[m.file] ?? '', m.location.start, m.location.end), '```', '');
  }
  if (problems.length > 0) {
    out.push('## The equivalent list', '', ...problems.map((p) => `- ${p}`), '');
  }
  return out.join('\n');
}
