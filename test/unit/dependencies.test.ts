import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DependencyInstallError, dependenciesInstalled, installDependencies } from '../../src/core/labs/dependencies';
import { exists, useTempDirs, writeFiles } from './helpers';

const tempDir = useTempDirs('ddl-deps-');
const STAMP = path.join('node_modules', '.data-labs-installed');

/** A lab project whose only dependency is a package in a sibling folder: npm installs it without a network. */
async function localProject(): Promise<string> {
  const root = await tempDir();
  await writeFiles(root, {
    'local-pkg/package.json': JSON.stringify({ name: 'local-pkg', version: '1.0.0', main: 'index.js' }),
    'local-pkg/index.js': 'module.exports = 42;\n',
    'lab/package.json': `${JSON.stringify({ name: 'lab', version: '1.0.0', private: true, dependencies: { 'local-pkg': 'file:../local-pkg' } }, null, 2)}\n`,
  });
  return path.join(root, 'lab');
}

/** A stand-in for npm: a real executable script that prints `output` and exits with `code`. */
async function fakeNpm(body: string): Promise<string> {
  const file = path.join(await tempDir(), 'fake-npm');
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

describe.runIf(process.platform !== 'win32')('dependencies', () => {
  let lab: string;
  const lines: string[] = [];

  beforeAll(async () => {
    lab = await localProject();
  });

  it('are not installed in a fresh folder, nor in one without package.json', async () => {
    expect(await dependenciesInstalled(lab)).toBe(false);
    expect(await dependenciesInstalled(await tempDir())).toBe(false);
  });

  it('installs with npm from a local file: package and writes the stamp', async () => {
    await installDependencies(lab, { onLine: (line) => lines.push(line) });
    expect(await fs.readFile(path.join(lab, 'node_modules', 'local-pkg', 'index.js'), 'utf8')).toBe('module.exports = 42;\n');
    const hash = createHash('sha256').update(await fs.readFile(path.join(lab, 'package.json'))).digest('hex');
    expect(await fs.readFile(path.join(lab, STAMP), 'utf8')).toBe(`${hash}\n`);
    expect(await dependenciesInstalled(lab)).toBe(true);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l === l.trim() && l.length > 0)).toBe(true);
  }, 120_000);

  it('installs a project without dependencies (npm then creates no node_modules)', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'package.json': JSON.stringify({ name: 'no-deps', version: '1.0.0', private: true }) });
    await installDependencies(dir);
    expect(await dependenciesInstalled(dir)).toBe(true);
  }, 120_000);

  it('counts as not installed once package.json changes', async () => {
    const file = path.join(lab, 'package.json');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace('"1.0.0"', '"1.0.1"'));
    expect(await dependenciesInstalled(lab)).toBe(false);
    await fs.writeFile(file, text);
    expect(await dependenciesInstalled(lab)).toBe(true);
  });

  it('rejects with DependencyInstallError carrying npm\'s output when npm fails', async () => {
    const dir = await tempDir();
    await writeFiles(dir, {
      'package.json': JSON.stringify({ name: 'broken', version: '1.0.0', private: true, dependencies: { nope: 'file:./does-not-exist.tgz' } }),
    });
    const error = await installDependencies(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyInstallError);
    const failure = error as DependencyInstallError;
    expect(failure.name).toBe('DependencyInstallError');
    expect(failure.message).toMatch(new RegExp(`^npm install failed in ${escape(dir)} \\(exit code [1-9]\\d*\\)\\. See the log for npm's own message\\.$`));
    expect(failure.output).toMatch(/ENOENT|does-not-exist/);
    expect(await exists(path.join(dir, STAMP))).toBe(false);
    expect(await dependenciesInstalled(dir)).toBe(false);
  }, 120_000);

  it('says so when npm is not installed', async () => {
    const error = await installDependencies(lab, { npmCommand: path.join(await tempDir(), 'no-such-npm') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyInstallError);
    expect((error as Error).message).toBe('npm was not found. Install Node.js 20 or later (it includes npm) and try again.');
  });

  it('advises connecting when npm could not reach the registry', async () => {
    const npm = await fakeNpm('echo "npm error code ENOTFOUND" >&2\necho "npm error getaddrinfo ENOTFOUND registry.npmjs.org" >&2\nexit 1');
    const dir = await localProject();
    const seen: string[] = [];
    const error = await installDependencies(dir, { npmCommand: npm, onLine: (l) => seen.push(l) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyInstallError);
    expect((error as Error).message).toContain('(exit code 1)');
    expect((error as Error).message).toContain('npm could not reach the registry');
    expect((error as DependencyInstallError).output).toContain('getaddrinfo ENOTFOUND');
    expect(seen).toEqual(['npm error code ENOTFOUND', 'npm error getaddrinfo ENOTFOUND registry.npmjs.org']);
  });

  it('passes npm the install arguments and runs it in the lab folder', async () => {
    const npm = await fakeNpm('echo "args: $*"\necho "cwd: $(pwd)"\nmkdir -p node_modules');
    const dir = await localProject();
    const seen: string[] = [];
    await installDependencies(dir, { npmCommand: npm, onLine: (l) => seen.push(l) });
    expect(seen).toEqual(['args: install --no-audit --no-fund --prefer-offline --loglevel=http', `cwd: ${await fs.realpath(dir)}`]);
    expect(await dependenciesInstalled(dir)).toBe(true);
  });

  it('is cancelled by its abort signal', async () => {
    const npm = await fakeNpm('exec sleep 20');
    const dir = await localProject();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const error = await installDependencies(dir, { npmCommand: npm, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyInstallError);
    expect((error as Error).message).toBe('The install was cancelled. Run it again when you are ready.');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await dependenciesInstalled(dir)).toBe(false);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
