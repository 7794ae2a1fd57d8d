/**
 * The built `data-labs` executable (src/cli/main.ts bundled by esbuild), run as a real
 * subprocess: it must find the product's labs/ and package.json beside its dist/ folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKLIST } from '../../src/core/curriculum/curriculum';
import { loadCatalog } from '../../src/core/labs/catalog';
import { REAL_LABS_DIR, REPO_ROOT, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-main-');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliFile, ...args], { cwd, env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** Runs the product's own build; returns its output when it fails. */
function buildProduct(): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['esbuild.js'], { cwd: REPO_ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ ok: !error, output: `${stdout}${stderr}` });
    });
  });
}

let cliFile: string;
let ownBuild: string | undefined;
let progressDir: string;
const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(async () => {
  progressDir = await tempDir();
  const product = await buildProduct();
  if (product.ok && existsSync(path.join(REPO_ROOT, 'dist', 'cli.js'))) {
    cliFile = path.join(REPO_ROOT, 'dist', 'cli.js');
    return;
  }
  // The extension half did not build (someone is mid-edit there): bundle only the CLI,
  // into dist/ so that the product root is one folder up, as for the real dist/cli.js.
  ownBuild = path.join(REPO_ROOT, 'dist', `cli-test-${process.pid}.js`);
  await build({
    entryPoints: [path.join(REPO_ROOT, 'src', 'cli', 'main.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    outfile: ownBuild,
    logLevel: 'silent',
  });
  cliFile = ownBuild;
}, 120_000);

afterAll(async () => {
  if (ownBuild) {
    await fs.rm(ownBuild, { force: true });
  }
});

describe('the built data-labs CLI', () => {
  it('--help prints the usage and exits 0', async () => {
    const out = await run(['--help']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage:');
    expect(out.stdout).toContain('data-labs list [--json]');
    expect(out.stderr).not.toContain('data-labs:');
  });

  it('--version reads the product\'s package.json', async () => {
    const out = await run(['--version']);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`${version}\n`);
  });

  it('list shows the curriculum, the real labs and the progress folder\'s ticks', async () => {
    const out = await run(['list'], { DATA_LABS_PROGRESS_DIR: progressDir });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Progress: 0/17 checklist items');
    expect(out.stdout).toContain('Database Types  0/5');
    for (const item of CHECKLIST) {
      expect(out.stdout).toContain(`  [ ]  ${item.label}`);
    }
    for (const lab of (await loadCatalog(REAL_LABS_DIR)).filter((e) => e.ok)) {
      expect(out.stdout).toMatch(new RegExp(`^ {2}lab {2}${lab.id} `, 'm'));
    }
    // Run from another folder: the labs are found next to the executable, not in the cwd.
    const elsewhere = await run(['list', '--json'], { DATA_LABS_PROGRESS_DIR: progressDir }, await tempDir());
    expect(elsewhere.code).toBe(0);
    const json = JSON.parse(elsewhere.stdout) as { progressFile: string; overall: { total: number } };
    expect(json.progressFile).toBe(path.join(progressDir, 'progress.json'));
    expect(json.overall.total).toBe(17);
  });

  it('validate passes on the shipped labs', async () => {
    const out = await run(['validate']);
    expect(out.stderr).not.toContain('error');
    expect(out.code).toBe(0);
  });

  it('exits 2 for wrong usage and 1 for an unknown lab', async () => {
    expect((await run(['nonsense'])).code).toBe(2);
    const unknown = await run(['open', 'no-such-lab', '--no-install'], { DATA_LABS_PROGRESS_DIR: progressDir, DATA_LABS_ROOT: await tempDir() });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('there is no lab "no-such-lab"');
  });
});
