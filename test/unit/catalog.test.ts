import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { type CatalogEntry, MANIFEST_FILE_NAME, findLab, loadCatalog, loadLab } from '../../src/core/labs/catalog';
import { formatProblem } from '../../src/core/labs/manifest';
import { REAL_LABS_DIR, useTempDirs, validManifest, writeFixtureLab } from './helpers';

const tempDir = useTempDirs('ddl-catalog-');

function describeProblems(entry: CatalogEntry | undefined): string {
  return entry && !entry.ok ? entry.problems.map(formatProblem).join('\n') : '';
}

describe('the real labs/ folder', () => {
  it('holds at least one lab, and every lab loads without problems', async () => {
    const catalog = await loadCatalog(REAL_LABS_DIR);
    expect(catalog.length).toBeGreaterThan(0);
    for (const entry of catalog) {
      expect(describeProblems(entry), `lab ${entry.id}`).toBe('');
      expect(entry.ok).toBe(true);
    }
  });

  it.runIf(existsSync(path.join(REAL_LABS_DIR, 'relational-vs-document')))('loads relational-vs-document', async () => {
    const entry = await loadLab(path.join(REAL_LABS_DIR, 'relational-vs-document'));
    expect(describeProblems(entry)).toBe('');
    expect(entry.ok && entry.manifest.section).toBe('database-types');
    expect(entry.ok && entry.manifest.completes).toContain('understand-relational-vs-nosql');
  });
});

describe('loadCatalog / loadLab on broken labs', () => {
  let labsDir: string;

  beforeEach(async () => {
    labsDir = await tempDir();
  });

  async function loadBroken(id: string, manifest: Record<string, unknown> | string, omit: readonly string[] = []): Promise<{ file: string; fields: string[]; text: string }> {
    const dir = await writeFixtureLab(labsDir, id, manifest, { omit });
    const entry = await loadLab(dir);
    expect(entry.ok).toBe(false);
    expect(entry.id).toBe(id);
    expect(entry.dir).toBe(dir);
    const problems = entry.ok ? [] : entry.problems;
    expect(problems.length).toBeGreaterThan(0);
    const file = path.join(dir, MANIFEST_FILE_NAME);
    for (const p of problems) {
      expect(p.file).toBe(file);
    }
    return { file, fields: problems.map((p) => p.field), text: describeProblems(entry) };
  }

  it('loads a valid lab', async () => {
    const dir = await writeFixtureLab(labsDir, 'demo-lab');
    const entry = await loadLab(dir);
    expect(describeProblems(entry)).toBe('');
    expect(entry).toMatchObject({ ok: true, id: 'demo-lab', dir });
  });

  it('reports invalid JSON in the lab\'s own lab.json', async () => {
    const { fields, text } = await loadBroken('bad-json', '{ "id": "bad-json",\n');
    expect(fields).toEqual(['']);
    expect(text).toMatch(/lab\.json: is not valid JSON/);
  });

  it('reports a missing field', async () => {
    const manifest = validManifest('no-title');
    delete manifest['summary'];
    expect((await loadBroken('no-title', manifest)).fields).toEqual(['summary']);
  });

  it('reports an unknown section', async () => {
    const { fields, text } = await loadBroken('bad-section', { ...validManifest('bad-section'), section: 'sharding' });
    expect(fields).toEqual(['section']);
    expect(text).toContain('field "section"');
  });

  it('reports an unknown checklist id', async () => {
    expect((await loadBroken('bad-item', { ...validManifest('bad-item'), completes: ['nope'] })).fields).toEqual(['completes.0']);
  });

  it('reports starter.main missing from starter.files', async () => {
    const m = validManifest('bad-main');
    m['starter'] = { dir: 'starter', main: 'src/index.ts', files: ['package.json', 'src/main.ts', 'test/main.test.ts'] };
    expect((await loadBroken('bad-main', m)).fields).toEqual(['starter.main']);
  });

  it('reports a test missing from starter.files', async () => {
    expect((await loadBroken('bad-test', { ...validManifest('bad-test'), tests: ['test/other.test.ts'] })).fields).toEqual(['tests.0']);
  });

  it('reports a path with ".."', async () => {
    const m = validManifest('dot-dot');
    m['starter'] = { dir: 'starter', main: 'src/main.ts', files: ['package.json', 'src/main.ts', 'test/main.test.ts', '../../../secret'] };
    expect((await loadBroken('dot-dot', m)).fields).toEqual(['starter.files.3']);
  });

  it('reports an unknown extra key', async () => {
    const { text } = await loadBroken('extra-key', { ...validManifest('extra-key'), author: 'me' });
    expect(text).toMatch(/"author"/);
  });

  it('reports an id that does not match its folder', async () => {
    const { fields, text } = await loadBroken('folder-name', validManifest('other-name'));
    expect(fields).toEqual(['id']);
    expect(text).toContain('is "other-name" but the folder is "folder-name"');
  });

  it('reports a listed starter file that is missing, by its index', async () => {
    const { fields, text } = await loadBroken('missing-file', validManifest('missing-file'), [path.join('starter', 'src', 'main.ts')]);
    expect(fields).toEqual(['starter.files.1']);
    expect(text).toContain(`names "${path.join('starter', 'src/main.ts')}", which does not exist`);
  });

  it('reports a missing README', async () => {
    expect((await loadBroken('no-readme', validManifest('no-readme'), ['README.md'])).fields).toEqual(['readme']);
  });

  it('reports a folder without lab.json', async () => {
    const { fields, text } = await loadBroken('no-manifest', validManifest('no-manifest'), ['lab.json']);
    expect(fields).toEqual(['']);
    expect(text).toMatch(/cannot be read \(ENOENT\)/);
  });

  it('reports a starter "file" that is a folder', async () => {
    const dir = await writeFixtureLab(labsDir, 'dir-not-file');
    await fs.rm(path.join(dir, 'starter', 'package.json'));
    await fs.mkdir(path.join(dir, 'starter', 'package.json'));
    const entry = await loadLab(dir);
    expect(entry.ok ? [] : entry.problems.map((p) => p.field)).toEqual(['starter.files.0']);
  });

  it('loads the good labs when others are broken, sorted by folder, ignoring plain files', async () => {
    await writeFixtureLab(labsDir, 'zeta-lab');
    await writeFixtureLab(labsDir, 'broken-lab', '{');
    await writeFixtureLab(labsDir, 'alpha-lab');
    await writeFixtureLab(labsDir, 'wrong-id', validManifest('right-id'));
    await fs.writeFile(path.join(labsDir, 'README.md'), 'not a lab');
    const catalog = await loadCatalog(labsDir);
    expect(catalog.map((e) => [e.id, e.ok])).toEqual([
      ['alpha-lab', true],
      ['broken-lab', false],
      ['wrong-id', false],
      ['zeta-lab', true],
    ]);
    expect(findLab(catalog, 'zeta-lab')?.ok).toBe(true);
    expect(findLab(catalog, 'broken-lab')?.ok).toBe(false);
    expect(findLab(catalog, 'right-id')).toBeUndefined();
  });

  it('returns an empty catalog for a missing labs folder', async () => {
    expect(await loadCatalog(path.join(labsDir, 'does-not-exist'))).toEqual([]);
  });

  it('throws for a labs "folder" that is a file', async () => {
    const file = path.join(labsDir, 'labs-file');
    await fs.writeFile(file, '');
    await expect(loadCatalog(file)).rejects.toThrow(/ENOTDIR/);
  });
});
