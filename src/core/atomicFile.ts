/**
 * Writing a file so that readers see either the old content or the new, never a mix:
 * the text goes to a temporary file in the same folder, is flushed to disk, and is
 * renamed over the target (a rename within one file system is atomic). Used for the
 * progress file and for a lab's `.env`.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { refuseLink } from './labFiles';

let tempCounter = 0;

export interface AtomicWriteOptions {
  /** Permissions of the new file, e.g. 0o600 for one that holds passwords. */
  readonly mode?: number;
  /**
   * For a file inside a lab folder: refuse (UnsafeLabPathError) when a link or a non-file is
   * in its place, instead of replacing it. The rename would replace a link, not write
   * through it, but a link there is a sign of a folder prepared to trick the product.
   */
  readonly refuseLink?: boolean;
}

export async function writeFileAtomic(file: string, text: string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  if (options.refuseLink === true) {
    await refuseLink(file);
  }
  await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
  const handle = await fs.open(temp, 'wx', options.mode ?? 0o666);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  // Flush the directory entry too, so the rename itself survives a power cut.
  try {
    const dirHandle = await fs.open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open a directory; the rename is still atomic there.
  }
}
