/**
 * A lab folder is its own npm project. Its dependencies are installed once; a stamp
 * records which package.json they were installed for, so later opens (and offline
 * work) skip the install until package.json changes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicFile';

const STAMP_FILE = path.join('node_modules', '.data-labs-installed');

async function packageHash(dir: string): Promise<string> {
  const text = await fs.readFile(path.join(dir, 'package.json'), 'utf8');
  return createHash('sha256').update(text).digest('hex');
}

export async function dependenciesInstalled(dir: string): Promise<boolean> {
  try {
    const [stamp, hash] = await Promise.all([fs.readFile(path.join(dir, STAMP_FILE), 'utf8'), packageHash(dir)]);
    return stamp.trim() === hash;
  } catch {
    return false;
  }
}

export class DependencyInstallError extends Error {
  override readonly name = 'DependencyInstallError';
  constructor(message: string, readonly output: string) {
    super(message);
  }
}

export interface InstallOptions {
  /** Each line npm prints, for a progress message or a log. */
  readonly onLine?: (line: string) => void;
  readonly signal?: AbortSignal;
  /** The npm command; tests and unusual setups can point elsewhere. */
  readonly npmCommand?: string;
}

/**
 * Runs `npm install` in the lab folder. `--prefer-offline` reuses npm's cache, so a
 * second lab with the same dependencies installs without the network.
 */
export async function installDependencies(dir: string, options: InstallOptions = {}): Promise<void> {
  const npm = options.npmCommand ?? (process.platform === 'win32' ? 'npm.cmd' : 'npm');
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=http'];
  let output = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(npm, args, {
      cwd: dir,
      shell: process.platform === 'win32',
      env: { ...process.env, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      for (const line of text.split(/\r?\n/)) {
        if (line.trim()) {
          options.onLine?.(line.trim());
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(new DependencyInstallError('npm was not found. Install Node.js 20 or later (it includes npm) and try again.', output));
      } else if (error.name === 'AbortError') {
        reject(new DependencyInstallError('The install was cancelled. Run it again when you are ready.', output));
      } else {
        reject(error);
      }
    });
    child.on('close', resolve);
  });
  if (code !== 0) {
    const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(output);
    const advice = offline
      ? 'npm could not reach the registry. Connect to the network (or configure your npm registry mirror) and try again; once installed, the lab works offline.'
      : 'See the log for npm\'s own message.';
    throw new DependencyInstallError(`npm install failed in ${dir} (exit code ${String(code)}). ${advice}`, output);
  }
  await fs.mkdir(path.join(dir, 'node_modules'), { recursive: true });
  await writeFileAtomic(path.join(dir, STAMP_FILE), `${await packageHash(dir)}\n`, { refuseLink: true });
}
