/**
 * Who owns a lab's containers, and whether that owner is still alive.
 *
 * Every running editor window (and every CLI run that starts services) is a session.
 * A session id says where it lives: `ed-<host tag>-<pid>-<process start time>`, so any
 * later process on the same machine can tell, from the id alone, whether its owner is
 * still running, even after that owner was killed with SIGKILL and could clean nothing.
 *
 * Two owners are not processes and never die:
 *   - `parked`: containers stopped on purpose (the lab was closed, the editor quit), kept
 *     with their data so reopening the lab restarts them instead of creating new ones;
 *   - `cli`: services started by `data-labs services up`, which must outlive the command
 *     until `data-labs services down`.
 *
 * A container's owner is the suffix of its name after the first "." (a name is the one
 * thing about a container that can change; its labels cannot). See labServices.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

export const PARKED_OWNER = 'parked';
export const CLI_OWNER = 'cli';

const SESSION_PATTERN = /^ed-([0-9a-f]{6})-(\d+)-(\d+|x)$/;

/** A short, stable tag for this machine, so ids from another host are never judged here. */
export function hostTag(hostname: string = os.hostname()): string {
  return createHash('sha256').update(hostname).digest('hex').slice(0, 6);
}

/** The fields of /proc/<pid>/stat after the command name (field 3 first), or undefined without /proc. */
export function procStatFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ")": skip past its last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * A process's command line, or undefined when it cannot be read: on Linux its arguments
 * exactly (/proc/<pid>/cmdline, the program first) and the line they make; on other Unix
 * systems only the line `ps` prints (arguments joined by spaces). Windows gives no
 * portable way, so there it is undefined.
 */
export function processCommandLine(pid: number): { readonly args?: readonly string[]; readonly line: string } | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
    return { args, line: args.join(' ') };
  } catch {
    // No /proc: ask ps.
  }
  if (process.platform === 'win32') return undefined;
  try {
    const line = execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return line === '' ? undefined : { line };
  } catch {
    return undefined;
  }
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * undefined where there is no /proc. Together with the pid it names one process for
 * good: a pid reused by a later process has a later start time.
 */
export function processStartTime(pid: number): string | undefined {
  const start = procStatFields(pid)?.[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

/** The session id of a process (by default this one). */
export function sessionIdFor(pid: number = process.pid, hostname: string = os.hostname()): string {
  return `ed-${hostTag(hostname)}-${pid}-${processStartTime(pid) ?? 'x'}`;
}

/**
 * Whether a process still runs: some process has the pid (`kill(pid, 0)`), not a zombie, and it is the
 * same one, when its start time was recorded (a pid given again to a later process has a
 * later start time; an unreadable one means the process is gone).
 */
export function isProcessAlive(pid: number, recordedStartTime: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') {
      return false;
    }
  }
  const fields = procStatFields(pid);
  // A zombie has exited; only its parent has not collected it yet.
  if (fields?.[0] === 'Z') {
    return false;
  }
  return recordedStartTime === undefined || processStartTime(pid) === recordedStartTime;
}

export interface ParsedSession {
  readonly host: string;
  readonly pid: number;
  readonly startTime: string | undefined;
}

export function parseSessionId(id: string): ParsedSession | undefined {
  const match = SESSION_PATTERN.exec(id);
  if (!match) {
    return undefined;
  }
  const [, host, pid, start] = match as unknown as [string, string, string, string];
  return { host, pid: Number(pid), startTime: start === 'x' ? undefined : start };
}

/**
 * Whether the owner named by `id` still runs. `parked` and `cli` always "live"; a session
 * of another machine is assumed alive (it cannot be checked from here, and removing
 * someone else's containers is worse than leaving them); an id that is not a session id
 * at all has no owner to wait for.
 */
export function isOwnerAlive(id: string, hostname: string = os.hostname()): boolean {
  if (id === PARKED_OWNER || id === CLI_OWNER) {
    return true;
  }
  const parsed = parseSessionId(id);
  if (!parsed) {
    return false;
  }
  if (parsed.host !== hostTag(hostname)) {
    return true;
  }
  return isProcessAlive(parsed.pid, parsed.startTime);
}
