/**
 * Files the product writes inside a lab folder (`.env`, `.data-labs/` with the embedded
 * server's state, data and log, the dependencies' stamp), written so that a folder someone
 * else prepared cannot aim them elsewhere: a symbolic link planted where one of them
 * belongs (`.data-labs` → `~`, `embedded.log` → `~/.bashrc`) is refused, never followed.
 * The lab folder itself may be a link (a learner's own `~/labs` → `/data/labs`): only what
 * lies inside it is checked.
 */
import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A path inside a lab folder that is a symbolic link, or not the kind of file it must be. */
export class UnsafeLabPathError extends Error {
  override readonly name = 'UnsafeLabPathError';
  constructor(
    readonly file: string,
    readonly found: 'a symbolic link' | 'not a folder' | 'not a regular file',
    readonly expected: 'folder' | 'file' = found === 'not a folder' ? 'folder' : 'file',
  ) {
    super(
      `${file} is ${found}, where Data Labs keeps a ${expected} of its own. It writes only real files inside the lab folder and never follows a link out of it, so nothing was written. If you did not make it, someone else's copy of the lab may be trying to overwrite a file of yours: remove ${path.basename(file)} and try again.`,
    );
  }
}

async function lstatOrUndefined(file: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * What is wrong with what lies at `file`, where the product keeps a `expected` of its own:
 * a symbolic link, or the other kind; undefined when it is fine or missing. Read with lstat,
 * so a link is never followed.
 */
export async function unsafeEntry(file: string, expected: 'file' | 'folder' = 'file'): Promise<UnsafeLabPathError | undefined> {
  const stat = await lstatOrUndefined(file);
  if (stat === undefined) return undefined;
  if (stat.isSymbolicLink()) return new UnsafeLabPathError(file, 'a symbolic link', expected);
  if (expected === 'folder' && !stat.isDirectory()) return new UnsafeLabPathError(file, 'not a folder');
  if (expected === 'file' && !stat.isFile()) return new UnsafeLabPathError(file, 'not a regular file');
  return undefined;
}

/**
 * Makes sure `relative` (a folder path inside `labDir`) is a real folder, each of its
 * components too, creating what is missing (with `mode`). Throws UnsafeLabPathError on a
 * component that is a link or a file. Returns the folder's path.
 */
export async function realLabDir(labDir: string, relative: string, mode = 0o700): Promise<string> {
  let current = path.resolve(labDir);
  for (const part of path.normalize(relative).split(path.sep).filter((p) => p !== '' && p !== '.')) {
    if (part === '..') throw new Error(`${relative} leaves the lab folder ${labDir}.`);
    current = path.join(current, part);
    try {
      await fs.mkdir(current, { mode });
      continue;
    } catch (error) {
      // There already (or made meanwhile by another start): check what it is.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await refuseLink(current, 'folder');
  }
  return current;
}

/** Throws UnsafeLabPathError when `file` exists and is a link or not of the `expected` kind; nothing when it is missing. */
export async function refuseLink(file: string, expected: 'file' | 'folder' = 'file'): Promise<void> {
  const problem = await unsafeEntry(file, expected);
  if (problem !== undefined) throw problem;
}

/**
 * Opens `file` for writing, emptied or created (`mode`), refusing a link in its place: with
 * O_NOFOLLOW where the platform has it (so a link planted between a check and the open is
 * refused too), else after an lstat.
 */
export async function openForWriteNoFollow(file: string, mode = 0o600): Promise<fs.FileHandle> {
  await refuseLink(file);
  const noFollow = (constants as { O_NOFOLLOW?: number }).O_NOFOLLOW ?? 0;
  try {
    return await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | noFollow, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafeLabPathError(file, 'a symbolic link');
    throw error;
  }
}

/** Reads a file the product wrote inside a lab folder, refusing a link in its place (undefined when missing). */
export async function readLabFile(file: string): Promise<string | undefined> {
  await refuseLink(file);
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
