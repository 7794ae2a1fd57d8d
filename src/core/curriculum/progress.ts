/**
 * The learner's progress: which checklist items are ticked, by whom and when, and
 * which labs were opened or passed. Kept as one versioned JSON file.
 *
 * Guarantees:
 * - Every write goes to a temporary file in the same folder, is flushed to disk, and
 *   then renamed over the real file. A rename within one file system is atomic, so a
 *   process killed mid-write leaves either the old file or the new one, never half.
 * - A file that cannot be read as progress (bad JSON, unknown shape, over MAX_PROGRESS_BYTES)
 *   is moved aside to `progress.corrupt-<time>.json`, never overwritten, and reported
 *   once through `takeNotice()`; the store then starts empty and keeps working.
 * - A file written by a newer version is left exactly where it is: the store reports it
 *   once and is read-only (every change is refused, saying why) until that version is
 *   used again or this one updated.
 * - A progress.json that is a symbolic link (a learner keeping it in a synced folder) is
 *   written through: the file it points to is replaced, the link stays.
 * - Writes are serialised: the last change always wins on disk.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicFile';
import * as z from '../schema';
import { CHECKLIST, findChecklistItem } from './curriculum';

export const PROGRESS_FILE_NAME = 'progress.json';
export const PROGRESS_SCHEMA_VERSION = 1;

const tickSchema = z.object({
  at: z.string(),
  /** `learner` when ticked by hand, `lab:<id>` when a passing grade ticked it. */
  by: z.string(),
});

const labRecordSchema = z.object({
  openedAt: z.optional(z.string()),
  passedAt: z.optional(z.string()),
});

export const progressFileSchema = z.object({
  version: z.literal(PROGRESS_SCHEMA_VERSION),
  items: z.record(z.string(), tickSchema),
  labs: z.record(z.string(), labRecordSchema),
});

export type ProgressData = z.output<typeof progressFileSchema>;
export type Tick = z.output<typeof tickSchema>;

export function emptyProgress(): ProgressData {
  return { version: PROGRESS_SCHEMA_VERSION, items: {}, labs: {} };
}

export type ProgressNotice =
  | { readonly kind: 'corrupt'; readonly file: string; readonly keptAs: string; readonly reason: string }
  | { readonly kind: 'newer'; readonly file: string; readonly reason: string };

export type ParseOutcome = { readonly ok: true; readonly data: ProgressData } | { readonly ok: false; readonly reason: string; readonly newer?: true };

/** A progress file is a few KB; one larger than this is not one, and is not read whole. */
export const MAX_PROGRESS_BYTES = 1024 * 1024;

/** A progress file written by a newer version: nothing of this version may change it. */
export class ProgressReadOnlyError extends Error {
  override readonly name = 'ProgressReadOnlyError';
}

/** The error for a progress file that cannot be reached, with the path and what to do, instead of the bare errno text. */
function unreachable(file: string, error: unknown, doing: 'read' | 'write'): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOTDIR'
      ? `a part of its path is a file, not a folder`
      : code === 'EISDIR'
        ? `it is a folder, not a file`
        : code === 'EACCES' || code === 'EPERM'
          ? `you are not allowed to ${doing} it`
          : code === 'ELOOP'
            ? `it is a symbolic link that leads round in a circle`
            : (error as Error).message;
  return new Error(`Your progress file ${file} cannot be ${doing === 'read' ? 'read' : 'written'}: ${why}. Fix that path, or choose another folder with DATA_LABS_PROGRESS_DIR.`);
}

/** Reads progress JSON text (from the store or an export); unknown checklist ids are dropped. */
export function parseProgress(text: string): ParseOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON (${(error as Error).message})` };
  }
  if (typeof json === 'object' && json !== null && 'version' in json && typeof json.version === 'number' && json.version > PROGRESS_SCHEMA_VERSION) {
    return { ok: false, newer: true, reason: `written by a newer version of Data Labs (schema ${json.version}; this one reads ${PROGRESS_SCHEMA_VERSION})` };
  }
  const parsed = progressFileSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? ` at "${first.path.join('.')}"` : '';
    return { ok: false, reason: `not a progress file${where}: ${first?.message ?? 'unknown shape'}` };
  }
  const items = Object.fromEntries(Object.entries(parsed.data.items).filter(([id]) => findChecklistItem(id) !== undefined));
  return { ok: true, data: { ...parsed.data, items } };
}

type Mutation = (data: ProgressData) => void;

export interface ProgressStoreOptions {
  /** Folder holding the progress file (the extension's global storage, or a CLI override). */
  readonly dir: string;
  readonly now?: () => Date;
}

export class ProgressStore {
  private data: ProgressData = emptyProgress();
  private notice: ProgressNotice | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Changes applied in memory whose write has not finished yet, oldest first. */
  private readonly pending: Mutation[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly now: () => Date;
  /** Why the file must not be written (a newer version wrote it), once seen. */
  private readOnly: string | undefined;
  readonly file: string;

  private constructor(private readonly dir: string, now: (() => Date) | undefined) {
    this.file = path.join(dir, PROGRESS_FILE_NAME);
    this.now = now ?? (() => new Date());
  }

  /** Opens the store, reading the file back if there is one. Never throws for a bad file. */
  static async open(options: ProgressStoreOptions): Promise<ProgressStore> {
    const store = new ProgressStore(options.dir, options.now);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    await removeStaleTempFiles(this.dir);
    const onDisk = await this.readFromDisk();
    if (onDisk) {
      this.data = onDisk;
    }
  }

  /**
   * Reads the file as it is now. Missing → undefined. Unreadable → moved aside,
   * reported once, undefined. Never overwrites a file it could not read.
   */
  private async readFromDisk(): Promise<ProgressData | undefined> {
    let text: string | { readonly tooLarge: number };
    try {
      const handle = await fs.open(this.file, 'r');
      try {
        const size = (await handle.stat()).size;
        text = size > MAX_PROGRESS_BYTES ? { tooLarge: size } : await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw unreachable(this.file, error, 'read');
    }
    if (typeof text !== 'string') {
      return this.setAside(`${text.tooLarge} bytes, far more than a progress file holds (at most ${MAX_PROGRESS_BYTES})`);
    }
    const outcome = parseProgress(text);
    if (outcome.ok) {
      this.readOnly = undefined;
      return outcome.data;
    }
    if (outcome.newer === true) {
      // Left where it is, untouched: the newer version still needs it.
      if (this.readOnly === undefined) this.notice = { kind: 'newer', file: this.file, reason: outcome.reason };
      this.readOnly = outcome.reason;
      return undefined;
    }
    return this.setAside(outcome.reason);
  }

  /** Moves an unreadable file aside (never overwritten), to report once; undefined. */
  private async setAside(reason: string): Promise<undefined> {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    const keptAs = path.join(this.dir, `progress.corrupt-${stamp}-${process.pid}.json`);
    try {
      await fs.rename(this.file, keptAs);
    } catch (error) {
      // Another window moved it aside first (several windows restore at once); it reports it.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw error;
    }
    this.notice = { kind: 'corrupt', file: this.file, keptAs, reason };
    return undefined;
  }

  /** The refusal of a change to a file a newer version wrote (`when`: '' or ' meanwhile', for one found while writing). */
  private readOnlyError(when: string): ProgressReadOnlyError {
    return new ProgressReadOnlyError(`Your progress file ${this.file} was ${this.readOnly ?? '?'}${when}; it is kept as it is and nothing is written to it. Update Data Labs to keep recording progress.`);
  }

  /** Why changes are refused, when the file was written by a newer version; undefined otherwise. */
  readOnlyReason(): string | undefined {
    return this.readOnly;
  }

  /**
   * Picks up changes another process made (a second editor window, the CLI). The
   * extension calls this when it sees the file change.
   */
  async reload(): Promise<void> {
    await this.writing;
    const onDisk = await this.readFromDisk();
    if (onDisk) {
      this.adopt(onDisk);
    }
  }

  /** A problem found while loading, handed out once so it is reported once. */
  takeNotice(): ProgressNotice | undefined {
    const notice = this.notice;
    this.notice = undefined;
    return notice;
  }

  onDidChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  snapshot(): ProgressData {
    return structuredClone(this.data);
  }

  isDone(itemId: string): boolean {
    return this.data.items[itemId] !== undefined;
  }

  /** Who ticked an item and when, without copying the whole progress (the tree asks per row). */
  tickOf(itemId: string): Readonly<Tick> | undefined {
    return this.data.items[itemId];
  }

  labRecord(labId: string): Readonly<ProgressData['labs'][string]> | undefined {
    return this.data.labs[labId];
  }

  tick(itemId: string): Promise<void> {
    return this.setTicks([itemId], true, 'learner');
  }

  untick(itemId: string): Promise<void> {
    return this.setTicks([itemId], false, 'learner');
  }

  /** Ticks and unticks several items in one write (a multi-select in the tree). */
  setTicks(itemIds: readonly string[], done: boolean, by: string): Promise<void> {
    for (const id of itemIds) {
      if (!findChecklistItem(id)) {
        return Promise.reject(new Error(`Unknown checklist item "${id}".`));
      }
    }
    const at = this.now().toISOString();
    return this.change((data) => {
      for (const id of itemIds) {
        if (done) {
          data.items[id] ??= { at, by };
        } else {
          delete data.items[id];
        }
      }
    });
  }

  /**
   * Called by the grader when a lab passes: records the pass and ticks the lab's
   * checklist items. Items the learner ticked earlier keep their original tick.
   */
  recordLabPassed(labId: string, completes: readonly string[]): Promise<void> {
    const at = this.now().toISOString();
    return this.change((data) => {
      data.labs[labId] = { ...data.labs[labId], passedAt: at };
      for (const id of completes) {
        if (findChecklistItem(id)) {
          data.items[id] ??= { at, by: `lab:${labId}` };
        }
      }
    });
  }

  recordLabOpened(labId: string): Promise<void> {
    const at = this.now().toISOString();
    return this.change((data) => {
      data.labs[labId] = { ...data.labs[labId], openedAt: data.labs[labId]?.openedAt ?? at };
    });
  }

  /** True once the learner has ticked anything or opened a lab. */
  hasStarted(): boolean {
    return Object.keys(this.data.items).length > 0 || Object.keys(this.data.labs).length > 0;
  }

  /** Writes the current progress to another file (atomically as well). */
  async exportTo(file: string): Promise<void> {
    await this.writing;
    await writeFileAtomic(file, serialise(this.data));
  }

  /**
   * Replaces progress with an exported file's. The file is checked first; a bad one
   * changes nothing and the error says why.
   */
  async importFrom(file: string): Promise<{ readonly items: number }> {
    const text = await fs.readFile(file, 'utf8');
    const outcome = parseProgress(text);
    if (!outcome.ok) {
      throw new Error(`${file} is ${outcome.reason}. Nothing was changed.`);
    }
    await this.change((data) => {
      data.items = outcome.data.items;
      data.labs = outcome.data.labs;
    });
    return { items: Object.keys(outcome.data.items).length };
  }

  reset(): Promise<void> {
    return this.change((data) => {
      data.items = {};
      data.labs = {};
    });
  }

  /**
   * Applies a change in memory at once (the UI updates immediately), then, in order
   * after any earlier write and holding the cross-process lock, applies it again to
   * the file as it is on disk and writes the result. Re-reading under the lock keeps
   * changes made meanwhile by another process (a second window, the CLI). A change
   * is a deterministic set operation (its time is taken once, outside), so applying
   * it twice is harmless.
   */
  private change(mutate: Mutation): Promise<void> {
    if (this.readOnly !== undefined) {
      return Promise.reject(this.readOnlyError(''));
    }
    mutate(this.data);
    this.pending.push(mutate);
    this.emit();
    const write = this.writing.then(() =>
      withFileLock(`${this.file}.lock`, async () => {
        const base = (await this.readFromDisk()) ?? structuredClone(this.data);
        if (this.readOnly !== undefined) {
          throw this.readOnlyError(' meanwhile');
        }
        mutate(base);
        try {
          await writeFileAtomic(await writeTarget(this.file), serialise(base));
        } catch (error) {
          throw unreachable(this.file, error, 'write');
        }
        return base;
      }),
    ).then(
      (written) => {
        this.pending.splice(this.pending.indexOf(mutate), 1);
        this.adopt(written);
      },
      (error: unknown) => {
        this.pending.splice(this.pending.indexOf(mutate), 1);
        throw error;
      },
    );
    // A failed write must not block later ones; the caller still sees its own failure.
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** Takes the file's state as truth, with the changes still queued applied on top. */
  private adopt(onDisk: ProgressData): void {
    const next = structuredClone(onDisk);
    for (const mutate of this.pending) {
      mutate(next);
    }
    if (JSON.stringify(next) !== JSON.stringify(this.data)) {
      this.data = next;
      this.emit();
    }
  }

  private emit(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }
}

/**
 * Where to write `file`: itself, or, when it is a symbolic link, the file the link leads
 * to (so that the rename replaces that file and the link stays a link).
 */
async function writeTarget(file: string): Promise<string> {
  const stat = await fs.lstat(file).catch(() => undefined);
  if (stat === undefined || !stat.isSymbolicLink()) return file;
  try {
    return await fs.realpath(file);
  } catch {
    // A link to a file not made yet: write where it points.
    return path.resolve(path.dirname(file), await fs.readlink(file));
  }
}

function serialise(data: ProgressData): string {
  // Items are written in curriculum order so the file diffs well and reads naturally.
  const order = new Map(CHECKLIST.map((item, i) => [item.id, i]));
  const items = Object.fromEntries(
    Object.entries(data.items).sort(([a], [b]) => (order.get(a) ?? 0) - (order.get(b) ?? 0)),
  );
  return `${JSON.stringify({ ...data, items }, null, 2)}\n`;
}

let tempCounter = 0;

/** A lock older than this is abandoned even if its process id is alive (ids are reused). */
const STALE_LOCK_MS = 30_000;
/** An empty lock older than this was left by a writer killed while creating it. */
const ORPHAN_LOCK_MS = 1_000;
/** How long a writer waits for another one before it gives up with an error. */
const LOCK_WAIT_MS = 10_000;

/**
 * Runs `fn` while holding an exclusive lock file, so that two processes never
 * interleave their read-modify-write of the progress file. The lock names its
 * owner's process id; a lock whose owner is gone (killed mid-write) is taken over.
 */
async function withFileLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  // The lock is made by hard-linking a file that already holds our process id, so a
  // lock never exists without its owner's id, even if we are killed while taking it.
  const claim = path.join(path.dirname(lockFile), `.${path.basename(lockFile)}.${process.pid}.${++tempCounter}.tmp`);
  await fs.writeFile(claim, `${process.pid}\n`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.link(claim, lockFile);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw error;
        }
        if (await lockIsAbandoned(lockFile)) {
          await fs.rm(lockFile, { force: true });
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(`Another process has held ${lockFile} for over ${LOCK_WAIT_MS / 1000} s; your change is kept in memory. Try again.`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** Math.min(attempt, 6))));
      }
    }
  } finally {
    await fs.rm(claim, { force: true });
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}

async function lockIsAbandoned(lockFile: string): Promise<boolean> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(lockFile, 'utf8'), fs.stat(lockFile)]);
    if (Date.now() - stat.mtimeMs > STALE_LOCK_MS) {
      return true;
    }
    const pid = Number(text.trim());
    if (text.trim() === '' || !Number.isInteger(pid) || pid <= 0) {
      // Empty: its owner was killed between creating it and writing its id (a lock
      // is written within microseconds of being created), or it is being written now.
      return Date.now() - stat.mtimeMs > ORPHAN_LOCK_MS;
    }
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    // Released between our attempt and this look: not abandoned, just try again.
    return false;
  }
}

/** Temp files older than this belong to a writer that was killed mid-write. */
const STALE_TEMP_MS = 60_000;

async function removeStaleTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const name of names) {
    if (name.startsWith(`.${PROGRESS_FILE_NAME}.`) && name.endsWith('.tmp')) {
      const file = path.join(dir, name);
      const stat = await fs.stat(file).catch(() => undefined);
      if (stat && stat.mtimeMs < cutoff) {
        await fs.rm(file, { force: true });
      }
    }
  }
}
