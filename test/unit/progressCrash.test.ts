/**
 * The progress store's promise: a process killed at any moment leaves either the old
 * file or the new one, never a broken one. A real child process ticks and unticks in
 * a tight loop and is SIGKILLed at random moments; after every kill a fresh store must
 * open the file without a notice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROGRESS_FILE_NAME, ProgressStore, parseProgress } from '../../src/core/curriculum/progress';
import { REPO_ROOT, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-crash-');
const KILLS = 30;

let workDir: string;
let childScript: string;

beforeAll(async () => {
  workDir = await tempDir();
  const bundle = path.join(workDir, 'progress-bundle.cjs');
  await build({
    stdin: {
      contents: [
        "export { ProgressStore } from './src/core/curriculum/progress';",
        "export { CHECKLIST } from './src/core/curriculum/curriculum';",
      ].join('\n'),
      resolveDir: REPO_ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: bundle,
    logLevel: 'silent',
  });
  childScript = path.join(workDir, 'writer.cjs');
  // Writes as fast as it can: every tick, untick and lab record is one atomic file
  // write. Prints "ready" once the store is open, then one "w" per finished write.
  await fs.writeFile(
    childScript,
    `const { ProgressStore, CHECKLIST } = require(${JSON.stringify(bundle)});
const ids = CHECKLIST.map((item) => item.id);
(async () => {
  const store = await ProgressStore.open({ dir: process.argv[2] });
  process.stdout.write('ready\\n');
  for (let n = 0; ; n++) {
    await store.tick(ids[n % ids.length]);
    process.stdout.write('w');
    await store.untick(ids[(n * 7) % ids.length]);
    process.stdout.write('w');
    if (n % 4 === 0) {
      await store.recordLabOpened('lab-' + (n % 3));
      process.stdout.write('w');
    }
  }
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(3);
});
`,
  );
});

interface Round {
  readonly writes: number;
  readonly stderr: string;
  readonly exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Starts the writer, kills it `delayMs` after it is ready (or after spawning), and waits for it to die. */
function runAndKill(dir: string, delayMs: number, afterReady: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [childScript, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      // Kill only once a write has landed, so the kill hits a writer mid-stream whatever the machine's load.
      if (afterReady && stdout.includes('ready\nw')) {
        kill();
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    if (!afterReady) {
      kill();
    }
    // A writer that never gets going must not hang the suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (timer) {
        clearTimeout(timer);
      }
      resolve({ writes: stdout.replace('ready\n', '').length, stderr, exit: { code, signal } });
    });
  });
}

describe('ProgressStore under SIGKILL', () => {
  it(`never leaves a corrupt progress file (${KILLS} kills at random moments)`, async () => {
    const dir = await tempDir();
    const file = path.join(dir, PROGRESS_FILE_NAME);
    let totalWrites = 0;
    let roundsWithFile = 0;
    for (let round = 0; round < KILLS; round++) {
      // Most kills land while writes are streaming; a few land during start-up.
      const afterReady = round % 5 !== 0;
      const delay = afterReady ? Math.floor(Math.random() * 40) : 20 + Math.floor(Math.random() * 120);
      const result = await runAndKill(dir, delay, afterReady);
      expect(result.stderr).toBe('');
      expect(result.exit.signal).toBe('SIGKILL');
      totalWrites += result.writes;

      const store = await ProgressStore.open({ dir });
      expect(store.takeNotice()).toBeUndefined();
      const names = await fs.readdir(dir);
      expect(names.filter((n) => n.includes('corrupt'))).toEqual([]);
      if (names.includes(PROGRESS_FILE_NAME)) {
        roundsWithFile++;
        const outcome = parseProgress(await fs.readFile(file, 'utf8'));
        expect(outcome.ok).toBe(true);
      }
      // Anything else in the folder is a temp file or the write lock a killed writer left behind.
      for (const name of names.filter((n) => n !== PROGRESS_FILE_NAME)) {
        expect(name).toMatch(/^(\.progress\.json\.(lock\.)?\d+\.\d+\.tmp|progress\.json\.lock)$/);
      }
    }
    // The kills really interrupted a busy writer, not an idle one: every round killed after start-up wrote.
    expect(totalWrites).toBeGreaterThan(KILLS * 0.75);
    expect(roundsWithFile).toBeGreaterThan(KILLS / 2);
    const finalStore = await ProgressStore.open({ dir });
    expect(finalStore.takeNotice()).toBeUndefined();
    expect(finalStore.hasStarted()).toBe(true);
    // A lock left by the killed writer is taken over at once (its process is gone),
    // not waited out: the next change is written and the lock released.
    const before = Date.now();
    await finalStore.tick('compare-trade-offs');
    expect(Date.now() - before).toBeLessThan(5_000);
    expect(parseProgress(await fs.readFile(file, 'utf8'))).toMatchObject({ ok: true, data: { items: { 'compare-trade-offs': {} } } });
    expect((await fs.readdir(dir)).includes('progress.json.lock')).toBe(false);
  }, 120_000);
});
