/**
 * The learner's process and every process it started, as the sandbox watches them: their
 * memory (a Buffer lives outside the V8 heap that --max-old-space-size limits) and their
 * ids, so that a process started `detached` (its own group, out of reach of the group
 * kill) is still found and ended. Linux reads /proc; other Unix systems ask `ps`; Windows
 * has neither, and there only the learner's own process is watched and killed.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { procStatFields } from '../../services/sessions';

/** One process: its id and, where readable, its start time (which tells it apart from a later process given the same id). */
export interface ProcessId {
  readonly pid: number;
  readonly start: string | undefined;
}

interface ProcessRow {
  readonly pid: number;
  readonly ppid: number;
  readonly start: string | undefined;
  /** Resident memory, in bytes. */
  readonly rss: number;
}

/** Page size for /proc/<pid>/stat's rss field, in pages; 4 KiB on the machines this runs on. */
const PAGE_BYTES = 4096;

function linuxRows(): ProcessRow[] | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const rows: ProcessRow[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    // Fields 3 on (state first): ppid is field 4, starttime 22, rss 24. Undefined: gone meanwhile.
    const fields = procStatFields(Number(name));
    if (fields !== undefined) rows.push({ pid: Number(name), ppid: Number(fields[1]), start: fields[19], rss: Number(fields[21]) * PAGE_BYTES });
  }
  return rows;
}

function psRows(): ProcessRow[] | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,rss=,lstart='], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length >= 3 && /^\d+$/.test(f[0] ?? ''))
      .map((f) => ({ pid: Number(f[0]), ppid: Number(f[1]), rss: Number(f[2]) * 1024, start: f.slice(3).join(' ') || undefined }));
  } catch {
    return undefined;
  }
}

/** Every process of the machine that can be seen, or undefined where none can (Windows). */
function processRows(): ProcessRow[] | undefined {
  return linuxRows() ?? psRows();
}

/** `root` and every process descended from it that is still a child of the tree, with their memory. */
export function processTree(root: number): { readonly members: readonly ProcessId[]; readonly rss: number } | undefined {
  const rows = processRows();
  if (rows === undefined) return undefined;
  const children = new Map<number, ProcessRow[]>();
  let rootRow: ProcessRow | undefined;
  for (const row of rows) {
    if (row.pid === root) rootRow = row;
    const list = children.get(row.ppid);
    if (list === undefined) children.set(row.ppid, [row]);
    else list.push(row);
  }
  if (rootRow === undefined) return { members: [], rss: 0 };
  const members: ProcessId[] = [];
  let rss = 0;
  const queue = [rootRow];
  for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
    members.push({ pid: row.pid, start: row.start });
    rss += row.rss;
    queue.push(...(children.get(row.pid) ?? []));
  }
  return { members, rss };
}

/** SIGKILLs each process recorded earlier that still runs as itself (same start time, where known), an escaped one included; returns how many. */
export function killRecorded(ids: Iterable<ProcessId>): number {
  const list = [...ids];
  if (list.length === 0) return 0;
  const rows = new Map((processRows() ?? []).map((r) => [r.pid, r]));
  let killed = 0;
  for (const id of list) {
    const now = rows.get(id.pid);
    if (id.pid === process.pid || now === undefined || (id.start !== undefined && now.start !== id.start)) continue;
    try {
      process.kill(id.pid, 'SIGKILL');
      killed++;
    } catch {
      // Gone meanwhile.
    }
  }
  return killed;
}
