/**
 * The journal of container faults: a grading run writes each container fault it applies
 * (pause, stop, kill, disconnect) to a journal file of its own *before* applying it, and
 * takes it out after its undo. These faults change the engine's state, which outlives the
 * grading process; if that process dies in between (a crash, SIGKILL, the editor closing),
 * `recoverAbandonedFaults` finds the journal of the dead process on the next run or
 * activation and undoes what it lists: a paused database does not stay paused.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../atomicFile';
import * as z from '../../schema';
import { type ContainerInfo, type ContainerRuntime, ContainerRuntimeError, type RuntimeLogger, silentLogger } from '../runtime';
import { isProcessAlive } from '../sessions';

export const JOURNAL_VERSION = 1;
const JOURNAL_NAME = /^faults-(\d+)-([0-9a-f]+)\.json$/;
/** writeFileAtomic's temporary files for a journal: `.faults-<pid>-<run>.json.<writer pid>.<n>.tmp`. */
const JOURNAL_TEMP_NAME = /^\.faults-\d+-[0-9a-f]+\.json\.(\d+)\.\d+\.tmp$/;

const journalFaultSchema = z.object({
  id: z.number(),
  kind: z.enum(['pause', 'stop', 'kill', 'disconnect']),
  service: z.string(),
  containerId: z.string().check(z.minLength(1)),
  network: z.optional(z.string()),
  aliases: z.optional(z.array(z.string())),
  appliedAt: z.string(),
});

const journalSchema = z.object({
  version: z.literal(JOURNAL_VERSION),
  pid: z.number(),
  /** The owner's start time from /proc/<pid>/stat (Linux), so a reused pid is not taken for it. */
  processStartTime: z.optional(z.string()),
  runId: z.string(),
  createdAt: z.string(),
  faults: z.array(journalFaultSchema),
});

export type JournalFault = z.output<typeof journalFaultSchema>;
export type FaultJournal = z.output<typeof journalSchema>;

export type JournalParse = { readonly ok: true; readonly journal: FaultJournal } | { readonly ok: false; readonly reason: string };

export function parseFaultJournal(text: string): JournalParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON (${(error as Error).message})` };
  }
  const parsed = journalSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? ` at "${first.path.join('.')}"` : '';
    return { ok: false, reason: `not a fault journal${where}: ${first?.message ?? 'unknown shape'}` };
  }
  return { ok: true, journal: parsed.data };
}

export function short(id: string): string {
  return id.slice(0, 12);
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ContainerRuntimeError && error.statusCode === 404;
}

export type UndoOutcome = 'undone' | 'nothing-to-undo' | 'container-gone' | 'network-gone';

/**
 * Undoes one container fault, judging by the container's state now, so undoing twice,
 * or undoing what someone else already repaired, does no harm.
 */
export async function undoContainerFault(runtime: ContainerRuntime, fault: JournalFault, logger: RuntimeLogger = silentLogger): Promise<UndoOutcome> {
  const what = `fault ${fault.id} (${fault.kind} ${fault.service}, container ${short(fault.containerId)})`;
  let info: ContainerInfo;
  try {
    info = await runtime.inspectContainer(fault.containerId);
  } catch (error) {
    if (isNotFound(error)) {
      logger.warn(`undo ${what}: the container no longer exists; skipped`);
      return 'container-gone';
    }
    throw error;
  }
  switch (fault.kind) {
    case 'pause':
      if (info.status === 'paused') {
        await runtime.unpauseContainer(fault.containerId);
        logger.info(`undo ${what}: unpaused`);
        return 'undone';
      }
      break;
    case 'stop':
    case 'kill':
      if (info.status === 'exited' || info.status === 'created' || info.status === 'dead') {
        await runtime.startContainer(fault.containerId);
        logger.info(`undo ${what}: started again`);
        return 'undone';
      }
      break;
    case 'disconnect': {
      const network = fault.network;
      if (network !== undefined && !info.networks.includes(network)) {
        try {
          // The same aliases as at creation, so the others find it by its service name again.
          await runtime.connectNetwork(network, fault.containerId, fault.aliases ?? [fault.service]);
        } catch (error) {
          if (isNotFound(error)) {
            logger.warn(`undo ${what}: the network ${network} (or the container) no longer exists; skipped`);
            return 'network-gone';
          }
          throw error;
        }
        logger.info(`undo ${what}: connected to ${network} again as ${(fault.aliases ?? [fault.service]).join(', ')}`);
        return 'undone';
      }
      break;
    }
  }
  logger.info(`undo ${what}: nothing to undo, the container is ${info.status}${fault.kind === 'disconnect' ? ` and on ${info.networks.join(', ') || 'no network'}` : ''}`);
  return 'nothing-to-undo';
}

export interface RecoveredJournal {
  readonly file: string;
  readonly pid: number;
  /** The faults of the dead run, in the order they were undone (newest first). */
  readonly faults: readonly JournalFault[];
  readonly outcomes: readonly UndoOutcome[];
}

export interface RecoveryReport {
  /** Journals of dead processes whose faults were all undone; the files are deleted. */
  readonly recovered: readonly RecoveredJournal[];
  /** Journals of processes still running: left alone. */
  readonly live: readonly string[];
  /** Journals that could not be read, renamed to `<name>.unreadable-<time>` and reported. */
  readonly unreadable: readonly string[];
  /** Journals of dead processes with faults that could not be undone now; kept for the next try. */
  readonly failed: readonly { readonly file: string; readonly error: string }[];
}

/**
 * Undoes the container faults of grading runs whose process died before it could undo
 * them, and deletes their journals. Run it before a new grading run and at activation.
 * The services are not waited for: starting the lab does that.
 */
export async function recoverAbandonedFaults(runtime: ContainerRuntime, journalDir: string, logger: RuntimeLogger = silentLogger): Promise<RecoveryReport> {
  const report = { recovered: [] as RecoveredJournal[], live: [] as string[], unreadable: [] as string[], failed: [] as { file: string; error: string }[] };
  let names: string[];
  try {
    names = await fs.readdir(journalDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return report;
    }
    throw error;
  }
  for (const name of names.sort()) {
    const file = path.join(journalDir, name);
    const temp = JOURNAL_TEMP_NAME.exec(name);
    if (temp) {
      // A write cut short by a crash; the journal it was replacing is still whole.
      if (!(isProcessAlive(Number(temp[1]), undefined))) {
        await fs.rm(file, { force: true });
      }
      continue;
    }
    if (!JOURNAL_NAME.test(name)) {
      continue;
    }
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        continue; // Its run finished meanwhile.
      }
      throw error;
    }
    const parsed = parseFaultJournal(text);
    if (!parsed.ok) {
      const keptAs = `${file}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await fs.rename(file, keptAs).catch(() => {});
      logger.error(
        `fault recovery: ${file} is ${parsed.reason}; kept as ${keptAs}. If a grading run was interrupted, check "docker ps" for paused or stopped lab containers and start the lab again.`,
      );
      report.unreadable.push(file);
      continue;
    }
    const journal = parsed.journal;
    if (isProcessAlive(journal.pid, journal.processStartTime)) {
      report.live.push(file);
      continue;
    }
    logger.info(`fault recovery: grading run ${journal.runId} (pid ${journal.pid}) ended without undoing ${journal.faults.length} fault(s); undoing them`);
    const remaining = [...journal.faults];
    const outcomes: UndoOutcome[] = [];
    const undone: JournalFault[] = [];
    let failure: string | undefined;
    for (const fault of [...journal.faults].reverse()) {
      try {
        outcomes.push(await undoContainerFault(runtime, fault, logger));
        undone.push(fault);
        remaining.splice(remaining.indexOf(fault), 1);
      } catch (error) {
        failure = `undoing fault ${fault.id} (${fault.kind} ${fault.service}, container ${short(fault.containerId)}) failed: ${(error as Error).message}`;
        break;
      }
    }
    if (failure === undefined) {
      await fs.rm(file, { force: true });
      report.recovered.push({ file, pid: journal.pid, faults: undone, outcomes });
    } else {
      await writeFileAtomic(file, `${JSON.stringify({ ...journal, faults: remaining }, null, 2)}\n`);
      logger.error(`fault recovery: ${failure}. The journal ${file} keeps the ${remaining.length} fault(s) left; the next recovery tries again.`);
      report.failed.push({ file, error: failure });
    }
  }
  return report;
}
