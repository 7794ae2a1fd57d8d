/**
 * Where the extension keeps progress (its global storage folder), so that the CLI
 * reads the same file. Every VS Code flavour keeps global storage under its own user
 * data folder; the CLI looks in each and takes the most recently written file.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROGRESS_FILE_NAME } from './progress';

export const EXTENSION_ID = 'ddlabs.distributed-data-labs';

/** Set this to use a specific folder (tests, classrooms, portable setups). */
export const PROGRESS_DIR_ENV = 'DATA_LABS_PROGRESS_DIR';

const FLAVOURS = ['Code', 'Code - Insiders', 'VSCodium', 'Code - OSS'];

export function candidateProgressDirs(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = os.homedir()): string[] {
  const userDataRoots: string[] = [];
  if (platform === 'darwin') {
    userDataRoots.push(...FLAVOURS.map((f) => path.join(home, 'Library', 'Application Support', f)));
  } else if (platform === 'win32') {
    const appData = env['APPDATA'] ?? path.join(home, 'AppData', 'Roaming');
    userDataRoots.push(...FLAVOURS.map((f) => path.join(appData, f)));
  } else {
    const config = env['XDG_CONFIG_HOME'] ?? path.join(home, '.config');
    userDataRoots.push(...FLAVOURS.map((f) => path.join(config, f)));
  }
  // code-server (the browser VS Code) keeps its user data here on every platform.
  const dataHome = env['XDG_DATA_HOME'] ?? path.join(home, '.local', 'share');
  userDataRoots.push(path.join(dataHome, 'code-server'));
  // The VS Code that `npm start` opens from a clone of this repository keeps its profile here (test/support/start-vscode.sh).
  userDataRoots.push(path.join(env['DATA_LABS_CACHE'] ?? path.join(home, '.cache', 'data-labs'), 'start', 'user-data'));
  return userDataRoots.map((root) => path.join(root, 'User', 'globalStorage', EXTENSION_ID));
}

/**
 * The folder whose progress file the CLI should use: the override if set, else the
 * flavour written most recently, else the desktop VS Code default.
 */
export async function resolveProgressDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const override = env[PROGRESS_DIR_ENV];
  if (override) {
    return override;
  }
  const candidates = candidateProgressDirs(env);
  let best: { dir: string; mtime: number } | undefined;
  for (const dir of candidates) {
    try {
      const stat = await fs.stat(path.join(dir, PROGRESS_FILE_NAME));
      if (!best || stat.mtimeMs > best.mtime) {
        best = { dir, mtime: stat.mtimeMs };
      }
    } catch {
      // No progress for this flavour.
    }
  }
  return best?.dir ?? (candidates[0] as string);
}
