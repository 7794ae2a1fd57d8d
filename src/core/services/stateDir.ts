/**
 * Where this machine's Data Labs keeps state that belongs to the machine rather than to
 * one editor: the journals of grading runs' faults (faults.ts), read again by whichever
 * process starts next, editor or CLI.
 */
import * as os from 'node:os';
import * as path from 'node:path';

/** Set this to keep the state elsewhere (tests, portable setups). */
export const STATE_DIR_ENV = 'DATA_LABS_STATE_DIR';

export function dataLabsStateDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = os.homedir()): string {
  const override = env[STATE_DIR_ENV];
  if (override) {
    return override;
  }
  if (platform === 'win32') {
    return path.join(env['LOCALAPPDATA'] ?? path.join(home, 'AppData', 'Local'), 'data-labs');
  }
  if (platform === 'darwin') {
    return path.join(home, 'Library', 'Application Support', 'data-labs');
  }
  return path.join(env['XDG_STATE_HOME'] ?? path.join(home, '.local', 'state'), 'data-labs');
}

/** The journals of faults applied by grading runs, so a crashed run's faults are undone later. */
export function faultJournalDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(dataLabsStateDir(env), 'faults');
}

/** Initialised embedded PostgreSQL clusters, copied into new labs' data folders. */
export function embeddedTemplatesDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(dataLabsStateDir(env), 'embedded-templates');
}
