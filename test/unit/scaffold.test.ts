import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Lab, loadLab } from '../../src/core/labs/catalog';
import {
  BACKUPS_DIR_NAME,
  LAB_MARKER_FILE,
  LabFolderError,
  assertWritable,
  defaultLabsRoot,
  expandHome,
  learnerLabDir,
  readLabMarker,
  resetLab,
  scaffoldLab,
} from '../../src/core/labs/scaffold';
import { REPO_ROOT, STARTER_FILES, exists, permissionsAreIgnored, useTempDirs, writeFixtureLab } from './helpers';

const tempDir = useTempDirs('ddl-scaffold-');

let lab: Lab;
let ignoresPermissions: boolean;

beforeAll(async () => {
  const labsDir = await tempDir();
  const entry = await loadLab(await writeFixtureLab(labsDir, 'demo-lab'));
  if (!entry.ok) {
    throw new Error('the fixture lab must be valid');
  }
  lab = entry;
  ignoresPermissions = await permissionsAreIgnored(await tempDir());
});

const STARTER_PATHS = Object.keys(STARTER_FILES);

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...(await listFiles(full, base)));
    } else {
      out.push(path.relative(base, full).split(path.sep).join('/'));
    }
  }
  return out.sort();
}

describe('scaffoldLab', () => {
  let root: string;
  let target: string;

  beforeEach(async () => {
    root = await tempDir();
    target = learnerLabDir(root, 'demo-lab');
  });

  it('creates the README, the starter files and the lab marker', async () => {
    const now = new Date(Date.UTC(2026, 2, 3, 4, 5, 6));
    const result = await scaffoldLab(lab, target, '9.9.9', now);
    expect(result.dir).toBe(target);
    expect([...result.created].sort()).toEqual(['README.md', ...STARTER_PATHS, LAB_MARKER_FILE].sort());
    expect(result.kept).toEqual([]);
    expect(result.mainFile).toBe(path.join(target, 'src/main.ts'));
    expect(result.readmeFile).toBe(path.join(target, 'README.md'));
    expect(await listFiles(target)).toEqual([LAB_MARKER_FILE, 'README.md', ...STARTER_PATHS].sort());
    for (const [relative, text] of Object.entries(STARTER_FILES)) {
      expect(await fs.readFile(path.join(target, relative), 'utf8')).toBe(text);
    }
    expect(await fs.readFile(result.readmeFile, 'utf8')).toBe(await fs.readFile(path.join(lab.dir, 'README.md'), 'utf8'));
    expect(await readLabMarker(target)).toEqual({ lab: 'demo-lab', createdAt: '2026-03-03T04:05:06.000Z', productVersion: '9.9.9' });
  });

  it('keeps the learner\'s edited files byte for byte on a second call and reports them as kept', async () => {
    await scaffoldLab(lab, target, '1.0.0');
    const edited = Buffer.from('export function answer(): number {\n  return 42; // mine\u00e9\r\n}\n\u0000', 'utf8');
    await fs.writeFile(path.join(target, 'src/main.ts'), edited);
    await fs.rm(path.join(target, 'test/main.test.ts'));
    const markerBefore = await fs.readFile(path.join(target, LAB_MARKER_FILE), 'utf8');

    const again = await scaffoldLab(lab, target, '2.0.0', new Date(Date.UTC(2030, 0, 1)));
    expect(Buffer.compare(await fs.readFile(path.join(target, 'src/main.ts')), edited)).toBe(0);
    expect(again.created).toEqual(['test/main.test.ts']);
    expect([...again.kept].sort()).toEqual(['README.md', 'package.json', 'src/main.ts']);
    // The marker is not rewritten either.
    expect(await fs.readFile(path.join(target, LAB_MARKER_FILE), 'utf8')).toBe(markerBefore);
  });

  it('creates the folder\'s missing parents', async () => {
    const deep = path.join(root, 'a', 'b', 'c');
    await scaffoldLab(lab, deep, '1.0.0');
    expect(await exists(path.join(deep, 'src/main.ts'))).toBe(true);
  });

  it('fails with advice when the folder is under a regular file (even as root)', async () => {
    const afile = path.join(root, 'afile');
    await fs.writeFile(afile, 'I am a file');
    const error = await scaffoldLab(lab, path.join(afile, 'sub', 'demo-lab'), '1.0.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabFolderError);
    expect((error as Error).name).toBe('LabFolderError');
    expect((error as Error).message).toBe(`${afile} is a file, not a folder. Choose another folder for your labs.`);
    expect(await fs.readFile(afile, 'utf8')).toBe('I am a file');
  });

  // Node's recursive mkdir spins forever under /proc; the scaffolder must answer instead.
  it.runIf(process.platform === 'linux')('fails with advice, not a hang, on a file system that refuses folders (/proc)', async () => {
    const target = path.join('/proc', `data-labs-${process.pid}`, 'demo-lab');
    const error = await scaffoldLab(lab, target, '1.0.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabFolderError);
    expect((error as Error).message).toMatch(/^Cannot create .*the file system refused \(ENOENT\)\. Choose a folder on a normal disk/);
  }, 10_000);

  it('fails with advice when the target itself is a file', async () => {
    const file = path.join(root, 'demo-lab');
    await fs.writeFile(file, '');
    await expect(scaffoldLab(lab, file, '1.0.0')).rejects.toThrow(LabFolderError);
    await expect(assertWritable(file)).rejects.toThrow(`${file} is a file, not a folder.`);
  });

  it('fails with advice for a folder without write permission', async (ctx) => {
    if (ignoresPermissions) {
      // As root, mode bits do not stop writes; the regular-file case above covers root.
      ctx.skip();
    }
    const locked = path.join(root, 'locked');
    await fs.mkdir(locked);
    await fs.chmod(locked, 0o500);
    const error = await scaffoldLab(lab, path.join(locked, 'demo-lab'), '1.0.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabFolderError);
    expect((error as Error).message).toContain(`Cannot write to ${locked}`);
    expect((error as Error).message).toContain('dataLabs.labsRoot');
    expect((error as Error).message).toContain('data-labs open <lab> <dir>');
    expect(await fs.readdir(locked)).toEqual([]);
  });

  it('accepts a writable folder', async () => {
    await expect(assertWritable(path.join(root, 'not', 'yet', 'there'))).resolves.toBeUndefined();
  });
});

/**
 * Tests usually run as root here, and root writes anywhere; so the permission errors
 * are checked in a real child process that runs as the unprivileged user "nobody".
 */
describe.runIf(process.getuid?.() === 0)('as an unprivileged user (a child process running as nobody)', () => {
  const NOBODY = 65534;
  let shared: string;
  let script: string;

  beforeAll(async () => {
    shared = await tempDir();
    await fs.chmod(shared, 0o755);
    const bundle = path.join(shared, 'scaffold.cjs');
    await build({
      stdin: {
        contents: "export { loadLab } from './src/core/labs/catalog'; export { scaffoldLab } from './src/core/labs/scaffold';",
        resolveDir: REPO_ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: bundle,
      logLevel: 'silent',
    });
    const labs = path.join(shared, 'labs');
    await writeFixtureLab(labs, 'demo-lab');
    await fs.chmod(labs, 0o755);
    script = path.join(shared, 'scaffold-as-nobody.cjs');
    await fs.writeFile(
      script,
      `const { loadLab, scaffoldLab } = require(${JSON.stringify(bundle)});
loadLab(${JSON.stringify(path.join(labs, 'demo-lab'))})
  .then((lab) => scaffoldLab(lab, process.argv[2], '1.0.0'))
  .then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ ok: false, name: e.name, message: e.message })));
`,
    );
  });

  function scaffoldAsNobody(target: string): Promise<{ ok: boolean; name?: string; message?: string }> {
    return new Promise((resolve, reject) => {
      execFile(process.execPath, [script, target], { uid: NOBODY, gid: NOBODY, cwd: '/' }, (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${error.message}\n${stderr}`));
        } else {
          resolve(JSON.parse(stdout) as { ok: boolean; name?: string; message?: string });
        }
      });
    });
  }

  it('can scaffold into a folder it owns (the setup works)', async () => {
    const mine = path.join(shared, 'mine');
    await fs.mkdir(mine);
    await fs.chown(mine, NOBODY, NOBODY);
    expect(await scaffoldAsNobody(path.join(mine, 'demo-lab'))).toEqual({ ok: true });
    expect(await exists(path.join(mine, 'demo-lab', 'src', 'main.ts'))).toBe(true);
  });

  it('gets a LabFolderError naming the folder and saying what to do, for a folder it cannot write', async () => {
    const locked = path.join(shared, 'locked');
    await fs.mkdir(locked, { mode: 0o755 });
    const outcome = await scaffoldAsNobody(path.join(locked, 'demo-lab'));
    expect(outcome.ok).toBe(false);
    expect(outcome.name).toBe('LabFolderError');
    expect(outcome.message).toBe(
      `Cannot write to ${locked} (permission denied). Choose a folder you own: set "dataLabs.labsRoot" in the settings, or pass a folder to "data-labs open <lab> <dir>".`,
    );
    expect(await fs.readdir(locked)).toEqual([]);
  });

  it('gets a LabFolderError when a subfolder inside the lab cannot be written', async () => {
    const target = path.join(shared, 'partly-mine');
    await fs.mkdir(path.join(target, 'src'), { recursive: true, mode: 0o755 });
    // A lab folder already (its marker), so that opening it again goes on to the subfolder.
    await fs.writeFile(path.join(target, LAB_MARKER_FILE), JSON.stringify({ lab: 'demo-lab', createdAt: '2026-01-01T00:00:00.000Z', productVersion: '1.0.0' }));
    await fs.chown(target, NOBODY, NOBODY);
    const outcome = await scaffoldAsNobody(target);
    expect(outcome.ok).toBe(false);
    expect(outcome.name).toBe('LabFolderError');
    expect(outcome.message).toContain(`Cannot write to ${target} (EACCES). Choose a folder you own`);
  });
});

describe('scaffoldLab in a folder that is not this lab\'s to fill', () => {
  it('refuses a folder whose marker names another lab, writing nothing', async () => {
    const target = path.join(await tempDir(), 'idempotency');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, LAB_MARKER_FILE), JSON.stringify({ lab: 'idempotency-keys', createdAt: '2026-01-01T00:00:00.000Z', productVersion: '1.0.0' }));
    await fs.writeFile(path.join(target, 'notes.md'), 'mine\n');
    await expect(scaffoldLab(lab, target, '1.0.0')).rejects.toThrow(/is the folder of the lab "idempotency-keys" \(its \.data-lab\.json says so\), not of "demo-lab"\. Nothing was written/);
    expect((await fs.readdir(target)).sort()).toEqual([LAB_MARKER_FILE, 'notes.md']);
  });

  it('refuses a folder that holds files but no marker, writing nothing; a folder with only the product\'s own (node_modules, .env, .data-labs) is fine', async () => {
    const project = path.join(await tempDir(), 'my-project');
    await fs.mkdir(path.join(project, '.git'), { recursive: true });
    await fs.writeFile(path.join(project, 'package.json'), '{"name":"mine"}');
    await expect(scaffoldLab(lab, project, '1.0.0')).rejects.toThrow(/already holds files \(\.git, package\.json\) and is not a lab folder .*Nothing was written/);
    expect(await fs.readFile(path.join(project, 'package.json'), 'utf8')).toBe('{"name":"mine"}');
    const leftovers = path.join(await tempDir(), 'demo-lab');
    await fs.mkdir(path.join(leftovers, 'node_modules'), { recursive: true });
    await fs.writeFile(path.join(leftovers, '.env'), 'DATABASE_URL=x\n');
    await scaffoldLab(lab, leftovers, '1.0.0');
    expect(await exists(path.join(leftovers, 'src/main.ts'))).toBe(true);
  });

  it('never follows a link inside the folder: a src that leads elsewhere, or a starter file that is a link, is refused and nothing is written', async () => {
    const elsewhere = await tempDir();
    const target = path.join(await tempDir(), 'demo-lab');
    await scaffoldLab(lab, target, '1.0.0');
    await fs.rm(path.join(target, 'src'), { recursive: true });
    await fs.rm(path.join(target, 'package.json'));
    await fs.symlink(elsewhere, path.join(target, 'src'));
    const victim = path.join(elsewhere, 'victim.json');
    await fs.writeFile(victim, 'precious');
    await fs.symlink(victim, path.join(target, 'package.json'));
    const error = await scaffoldLab(lab, target, '1.0.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabFolderError);
    expect((error as Error).message).toMatch(/demo-lab\/src is a symbolic link[;.]/);
    expect((error as Error).message).toMatch(/demo-lab\/package\.json is a symbolic link[;.]/);
    expect((error as Error).message).toMatch(/Nothing was written/);
    expect(await fs.readdir(elsewhere)).toEqual(['victim.json']);
    expect(await fs.readFile(victim, 'utf8')).toBe('precious');
  });
});

describe('resetLab', () => {
  it('moves the learner\'s files to <root>/.backups/<lab>-<stamp>/, leaves node_modules, .env and .data-labs, and restores the starter', async () => {
    const root = await tempDir();
    const target = learnerLabDir(root, 'demo-lab');
    await scaffoldLab(lab, target, '1.0.0');
    await fs.writeFile(path.join(target, 'src/main.ts'), 'my work\n');
    await fs.writeFile(path.join(target, 'notes.md'), 'my notes\n');
    await fs.mkdir(path.join(target, 'node_modules', 'pkg'), { recursive: true });
    await fs.writeFile(path.join(target, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
    // The databases' connection details and the embedded engine's data are the product's, not the learner's work.
    await fs.writeFile(path.join(target, '.env'), 'DATABASE_URL=postgresql://x\n');
    await fs.mkdir(path.join(target, '.data-labs', 'pgdata'), { recursive: true });

    const now = new Date(Date.UTC(2026, 4, 6, 7, 8, 9, 10));
    const result = await resetLab(lab, target, '1.0.0', now);
    const backup = path.join(root, BACKUPS_DIR_NAME, 'demo-lab-2026-05-06T07-08-09-010Z');
    expect(result.backupDir).toBe(backup);

    expect(await fs.readFile(path.join(backup, 'src/main.ts'), 'utf8')).toBe('my work\n');
    expect(await fs.readFile(path.join(backup, 'notes.md'), 'utf8')).toBe('my notes\n');
    expect(await exists(path.join(backup, LAB_MARKER_FILE))).toBe(true);
    expect(await exists(path.join(backup, 'node_modules'))).toBe(false);
    expect(await exists(path.join(backup, '.env'))).toBe(false);
    expect(await fs.readFile(path.join(target, '.env'), 'utf8')).toBe('DATABASE_URL=postgresql://x\n');
    expect(await exists(path.join(target, '.data-labs', 'pgdata'))).toBe(true);

    expect(await fs.readFile(path.join(target, 'src/main.ts'), 'utf8')).toBe(STARTER_FILES['src/main.ts']);
    expect(await exists(path.join(target, 'notes.md'))).toBe(false);
    expect(await fs.readFile(path.join(target, 'node_modules', 'pkg', 'index.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect([...result.created].sort()).toEqual(['README.md', ...STARTER_PATHS, LAB_MARKER_FILE].sort());
    expect(result.kept).toEqual([]);
    expect((await readLabMarker(target))?.createdAt).toBe(now.toISOString());
  });

  it('makes a separate backup each time', async () => {
    const root = await tempDir();
    const target = learnerLabDir(root, 'demo-lab');
    await scaffoldLab(lab, target, '1.0.0');
    const first = await resetLab(lab, target, '1.0.0', new Date(Date.UTC(2026, 0, 1)));
    const second = await resetLab(lab, target, '1.0.0', new Date(Date.UTC(2026, 0, 2)));
    expect(first.backupDir).not.toBe(second.backupDir);
    expect((await fs.readdir(path.join(root, BACKUPS_DIR_NAME))).sort()).toEqual([
      'demo-lab-2026-01-01T00-00-00-000Z',
      'demo-lab-2026-01-02T00-00-00-000Z',
    ]);
  });

  it('on a missing or empty folder, just scaffolds and makes no backup', async () => {
    const root = await tempDir();
    const target = learnerLabDir(root, 'demo-lab');
    const result = await resetLab(lab, target, '1.0.0');
    expect(result.backupDir).toBeUndefined();
    expect(await exists(path.join(root, BACKUPS_DIR_NAME))).toBe(false);
    expect(await exists(path.join(target, 'src/main.ts'))).toBe(true);
  });

  it('fails with a LabFolderError under a regular file', async () => {
    const root = await tempDir();
    await fs.writeFile(path.join(root, 'afile'), '');
    await expect(resetLab(lab, path.join(root, 'afile', 'demo-lab'), '1.0.0')).rejects.toThrow(LabFolderError);
  });
});

describe('paths', () => {
  it('expands a leading ~ like a shell', () => {
    const home = os.homedir();
    expect(expandHome('~')).toBe(home);
    expect(expandHome('~/data-labs')).toBe(path.join(home, 'data-labs'));
    expect(expandHome('~\\data-labs')).toBe(path.join(home, 'data-labs'));
    expect(expandHome('~/a/b')).toBe(path.join(home, 'a', 'b'));
  });

  it('leaves other paths alone', () => {
    expect(expandHome('/abs/~/x')).toBe('/abs/~/x');
    expect(expandHome('relative/~')).toBe('relative/~');
    expect(expandHome('~other/x')).toBe('~other/x');
    expect(expandHome('')).toBe('');
  });

  it('puts labs in ~/data-labs/<lab> by default', () => {
    expect(defaultLabsRoot()).toBe(path.join(os.homedir(), 'data-labs'));
    expect(learnerLabDir('/r', 'x-lab')).toBe(path.join('/r', 'x-lab'));
  });

  it('reads no marker from a folder that is not a lab, or whose marker is nonsense', async () => {
    const dir = await tempDir();
    expect(await readLabMarker(dir)).toBeUndefined();
    await fs.writeFile(path.join(dir, LAB_MARKER_FILE), '{"lab": 3}');
    expect(await readLabMarker(dir)).toBeUndefined();
    await fs.writeFile(path.join(dir, LAB_MARKER_FILE), 'nonsense');
    expect(await readLabMarker(dir)).toBeUndefined();
  });
});
