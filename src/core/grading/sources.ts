/**
 * What code a grade report graded: a digest of the learner's sources (every file under the
 * lab's `src/`, by path and content), recorded in the report when the grading starts. A
 * report graded elsewhere (in CI, on a machine with Docker) is accepted into this machine's
 * progress only for the very code in this folder (importGrade.ts).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface GradedSources {
  /** sha256, hex, of each file's path (relative, `/` separators) and content, in path order. */
  readonly digest: string;
  /** How many files it covers. */
  readonly files: number;
}

/** The folder the learner's code lives in, relative to the lab folder. */
export const SOURCES_DIR = 'src';

async function filesUnder(dir: string, relative: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(path.join(dir, relative), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
  const found: string[] = [];
  for (const entry of entries) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) {
      found.push(...(await filesUnder(dir, child)));
    } else if (entry.isFile()) {
      found.push(child);
    }
    // A link is not followed: what it points to is not the lab's code.
  }
  return found;
}

export async function gradedSources(labDir: string): Promise<GradedSources> {
  const root = path.join(labDir, SOURCES_DIR);
  const files = (await filesUnder(root, '')).sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const content = await fs.readFile(path.join(root, file));
    hash.update(`${SOURCES_DIR}/${file}\0${content.length}\0`);
    hash.update(content);
  }
  return { digest: hash.digest('hex'), files: files.length };
}
