/**
 * Puts a lab's starter project into the learner's folder, and resets it.
 *
 * The learner's files are sacred: opening a lab never overwrites a file that is
 * already there (each copy is exclusive), and resetting first moves the whole
 * folder's work to a timestamped backup.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unsafeEntry } from '../labFiles';
import type { Lab } from './catalog';

/** Written into each learner lab folder; its presence is how the editor recognises a lab. */
export const LAB_MARKER_FILE = '.data-lab.json';
export const BACKUPS_DIR_NAME = '.backups';

export interface LabMarker {
  readonly lab: string;
  readonly createdAt: string;
  readonly productVersion: string;
}

export function defaultLabsRoot(): string {
  return path.join(os.homedir(), 'data-labs');
}

/** Expands a leading `~` the way a shell would, so settings can say `~/somewhere`. */
export function expandHome(p: string): string {
  if (p === '~') {
    return os.homedir();
  }
  if (p.startsWith('~/') || p.startsWith('~\\')) {
    return path.join(os.homedir(), p.slice(2));
  }
  return p;
}

export function learnerLabDir(labsRoot: string, labId: string): string {
  return path.join(labsRoot, labId);
}

export interface ScaffoldResult {
  readonly dir: string;
  /** Files written now, relative to `dir`. */
  readonly created: readonly string[];
  /** Files that were already there and were left as they are. */
  readonly kept: readonly string[];
  /** The file to open beside the README. */
  readonly mainFile: string;
  readonly readmeFile: string;
}

/** An error meant for the learner's eyes: it says what went wrong and what to do. */
export class LabFolderError extends Error {
  override readonly name = 'LabFolderError';
}

/** The starter files plus the README, as [source in the product, target relative to the learner folder]. */
function labFiles(lab: Lab): Array<[source: string, target: string]> {
  const { manifest, dir } = lab;
  return [
    [path.join(dir, manifest.readme), 'README.md'],
    ...manifest.starter.files.map((f): [string, string] => [path.join(dir, manifest.starter.dir, f), f]),
  ];
}

/** Fails early, with advice, when the folder cannot be written. */
export async function assertWritable(target: string): Promise<void> {
  // Walk up to the nearest folder that exists; that is the one whose permissions matter.
  let probe = path.resolve(target);
  for (;;) {
    try {
      const stat = await fs.stat(probe);
      if (!stat.isDirectory()) {
        throw new LabFolderError(`${probe} is a file, not a folder. Choose another folder for your labs.`);
      }
      break;
    } catch (error) {
      if (error instanceof LabFolderError) {
        throw error;
      }
      const parent = path.dirname(probe);
      if (parent === probe) {
        break;
      }
      probe = parent;
    }
  }
  try {
    await fs.access(probe, fsConstants.W_OK);
  } catch {
    throw new LabFolderError(
      `Cannot write to ${probe} (permission denied). Choose a folder you own: set "dataLabs.labsRoot" in the settings, or pass a folder to "data-labs open <lab> <dir>".`,
    );
  }
}

/**
 * Copies the lab's starter into `target`, creating what is missing and keeping what
 * is there. Safe to call again on a folder the learner has worked in.
 */
export async function scaffoldLab(lab: Lab, target: string, productVersion: string, now: Date = new Date()): Promise<ScaffoldResult> {
  await assertWritable(target);
  await checkTarget(lab, target);
  const created: string[] = [];
  const kept: string[] = [];
  try {
    await makeDirectory(target);
    for (const [source, relative] of labFiles(lab)) {
      const destination = path.join(target, relative);
      await makeDirectory(path.dirname(destination));
      try {
        // COPYFILE_EXCL: fail instead of replacing, so even a race cannot overwrite the learner's file.
        await fs.copyFile(source, destination, fsConstants.COPYFILE_EXCL);
        created.push(relative);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw error;
        }
        kept.push(relative);
      }
    }
    const marker: LabMarker = { lab: lab.id, createdAt: now.toISOString(), productVersion };
    try {
      await fs.writeFile(path.join(target, LAB_MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`, { flag: 'wx' });
      created.push(LAB_MARKER_FILE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
  } catch (error) {
    throw toFolderError(error, target);
  }
  return {
    dir: target,
    created,
    kept,
    mainFile: path.join(target, lab.manifest.starter.main),
    readmeFile: path.join(target, 'README.md'),
  };
}

/**
 * Refuses, before anything is written, a folder that is not this lab's to fill:
 * - one whose marker names another lab (opening `saga` into the idempotency lab's folder
 *   would mix the two);
 * - one that holds files but no marker (someone's project, a home folder), besides what
 *   the product itself keeps in a lab folder (KEPT_ON_RESET);
 * - a link, or a file where a folder belongs, on the way to a starter file inside it
 *   (`src` → `~/.ssh` would have the starter written outside the lab), and anything but a
 *   regular file where a starter file belongs.
 * The folder itself may be a link (a learner's own `~/data-labs` → another disk).
 */
async function checkTarget(lab: Lab, target: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new LabFolderError(`${target} is a file, not a folder. Choose another folder for your labs.`);
    throw toFolderError(error, target);
  }
  const markerFile = path.join(target, LAB_MARKER_FILE);
  const badMarker = await unsafeEntry(markerFile);
  if (badMarker !== undefined) {
    throw new LabFolderError(`${markerFile} is ${badMarker.found}, not a lab marker this product wrote. Nothing was written; remove it, or choose another folder.`);
  }
  const hasMarker = entries.includes(LAB_MARKER_FILE);
  const marker = hasMarker ? await readLabMarker(target) : undefined;
  if (marker !== undefined && marker.lab !== lab.id) {
    throw new LabFolderError(`${target} is the folder of the lab "${marker.lab}" (its ${LAB_MARKER_FILE} says so), not of "${lab.id}". Nothing was written: open "${lab.id}" into a folder of its own.`);
  }
  const others = entries.filter((name) => name !== LAB_MARKER_FILE && !KEPT_ON_RESET.includes(name));
  if (!hasMarker && others.length > 0) {
    const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? `, and ${others.length - 5} more` : '');
    throw new LabFolderError(`${target} already holds files (${shown}) and is not a lab folder (it has no ${LAB_MARKER_FILE}). Nothing was written: open the lab into a new or empty folder.`);
  }
  const problems: string[] = [];
  for (const [, relative] of labFiles(lab)) {
    const parts = relative.split('/');
    let current = path.resolve(target);
    for (const [i, part] of parts.entries()) {
      current = path.join(current, part);
      // A missing component, or a real one of the right kind: the walk goes on (a missing one has nothing below it).
      const problem = await unsafeEntry(current, i === parts.length - 1 ? 'file' : 'folder');
      if (problem !== undefined) {
        problems.push(`${current} is ${problem.found}`);
        break;
      }
    }
  }
  if (problems.length > 0) {
    throw new LabFolderError(`Where the lab's starter files belong, ${[...new Set(problems)].join('; ')}. Nothing was written: the starter is only ever written as real files inside the lab folder. Remove ${problems.length === 1 ? 'it' : 'them'}, or choose another folder.`);
  }
}

export interface ResetResult extends ScaffoldResult {
  /** Where the learner's previous files were moved, or undefined if the folder was empty. */
  readonly backupDir: string | undefined;
}

/**
 * What a reset leaves in place, being the product's and not the learner's: installed
 * dependencies (the lab keeps working offline), the databases' connection details, and
 * the embedded engine's data (its own "Reset Data" empties that).
 */
const KEPT_ON_RESET = ['node_modules', '.env', '.data-labs'];

/**
 * Moves the learner's lab folder aside into `<labsRoot>/.backups/<lab>-<time>/` (the
 * installed dependencies stay where they are, so the lab still works offline), then
 * scaffolds the starter afresh.
 */
export async function resetLab(lab: Lab, target: string, productVersion: string, now: Date = new Date()): Promise<ResetResult> {
  await assertWritable(target);
  let backupDir: string | undefined;
  let entries: string[] = [];
  try {
    entries = await fs.readdir(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw toFolderError(error, target);
    }
  }
  const toMove = entries.filter((name) => !KEPT_ON_RESET.includes(name));
  if (toMove.length > 0) {
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    backupDir = path.join(path.dirname(target), BACKUPS_DIR_NAME, `${path.basename(target)}-${stamp}`);
    try {
      await makeDirectory(backupDir);
      for (const name of toMove) {
        await moveEntry(path.join(target, name), path.join(backupDir, name));
      }
    } catch (error) {
      throw toFolderError(error, target);
    }
  }
  const result = await scaffoldLab(lab, target, productVersion, now);
  return { ...result, backupDir };
}

async function moveEntry(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (error) {
    // Across file systems a rename fails; copy, then remove the original.
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') {
      throw error;
    }
    await fs.cp(from, to, { recursive: true, errorOnExist: true, force: false });
    await fs.rm(from, { recursive: true, force: true });
  }
}

/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdir never returns on some
 * special file systems (it spins on /proc), and a folder the learner typed must
 * give an error, not a hang.
 */
async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    try {
      if (!(await fs.stat(current)).isDirectory()) {
        throw new LabFolderError(`${current} is a file, not a folder. Choose another folder for your labs.`);
      }
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (error instanceof LabFolderError || (code !== 'ENOENT' && code !== 'ENOTDIR')) {
        throw error;
      }
      missing.push(current);
      const parent = path.dirname(current);
      if (parent === current) {
        break;
      }
      current = parent;
    }
  }
  for (const folder of missing.reverse()) {
    try {
      await fs.mkdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
  }
}

function toFolderError(error: unknown, target: string): Error {
  if (error instanceof LabFolderError) {
    return error;
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new LabFolderError(
      `Cannot create ${target}: the file system refused (${code}). Choose a folder on a normal disk: set "dataLabs.labsRoot" in the settings, or pass a folder to "data-labs open <lab> <dir>".`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new LabFolderError(
      `Cannot write to ${target} (${code}). Choose a folder you own: set "dataLabs.labsRoot" in the settings, or pass a folder to "data-labs open <lab> <dir>".`,
    );
  }
  if (code === 'ENOSPC') {
    return new LabFolderError(`The disk holding ${target} is full. Free some space and try again; nothing was overwritten.`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Reads a folder's lab marker, or undefined if the folder is not a lab. */
export async function readLabMarker(dir: string): Promise<LabMarker | undefined> {
  try {
    const json: unknown = JSON.parse(await fs.readFile(path.join(dir, LAB_MARKER_FILE), 'utf8'));
    if (typeof json === 'object' && json !== null && 'lab' in json && typeof json.lab === 'string') {
      return json as LabMarker;
    }
  } catch {
    // Not a lab folder, or a marker the learner edited into nonsense: treat as not a lab.
  }
  return undefined;
}
