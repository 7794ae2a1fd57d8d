import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { CHECKLIST } from '../../src/core/curriculum/curriculum';
import {
  MAX_PROGRESS_BYTES,
  PROGRESS_FILE_NAME,
  PROGRESS_SCHEMA_VERSION,
  ProgressReadOnlyError,
  ProgressStore,
  emptyProgress,
  parseProgress,
  progressFileSchema,
} from '../../src/core/curriculum/progress';
import { writeFileAtomic } from '../../src/core/atomicFile';
import { exists, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-progress-');

/** A clock that moves one second per call, so every timestamp is distinct and known. */
function steppingClock(start = Date.UTC(2026, 0, 1, 12, 0, 0)): () => Date {
  let t = start;
  return () => {
    const d = new Date(t);
    t += 1000;
    return d;
  };
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
}

async function corruptFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => /^progress\.corrupt-.*\.json$/.test(n));
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.endsWith('.tmp'));
}

const A = 'understand-relational-vs-nosql';
const B = 'learn-document-database';
const C = 'add-idempotency-keys';
const D = 'test-failure-scenarios';

describe('parseProgress', () => {
  it('accepts a version 1 file', () => {
    const text = JSON.stringify({ version: 1, items: { [A]: { at: '2026-01-01T00:00:00.000Z', by: 'learner' } }, labs: { x: { openedAt: 't' } } });
    const outcome = parseProgress(text);
    expect(outcome).toEqual({
      ok: true,
      data: { version: 1, items: { [A]: { at: '2026-01-01T00:00:00.000Z', by: 'learner' } }, labs: { x: { openedAt: 't' } } },
    });
  });

  it('drops checklist ids it does not know', () => {
    const text = JSON.stringify({
      version: 1,
      items: { [A]: { at: 'a', by: 'learner' }, 'renamed-long-ago': { at: 'b', by: 'learner' } },
      labs: {},
    });
    const outcome = parseProgress(text);
    expect(outcome.ok && Object.keys(outcome.data.items)).toEqual([A]);
  });

  it.each([
    ['bad JSON', '{"version": 1, "items": {', /not valid JSON/],
    ['an array', '[]', /not a progress file/],
    ['a tick that is not an object', JSON.stringify({ version: 1, items: { [A]: true }, labs: {} }), /not a progress file at "items\.understand-relational-vs-nosql"/],
    ['no version', JSON.stringify({ items: {}, labs: {} }), /not a progress file at "version"/],
    ['a newer version', JSON.stringify({ version: 2, items: {}, labs: {} }), /newer version of Data Labs \(schema 2; this one reads 1\)/],
  ])('rejects %s with a reason', (_name, text, reason) => {
    const outcome = parseProgress(text);
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.reason).toMatch(reason);
  });

  it('has schema version 1 and an empty shape that passes its own schema', () => {
    expect(PROGRESS_SCHEMA_VERSION).toBe(1);
    expect(progressFileSchema.safeParse(emptyProgress()).success).toBe(true);
  });
});

describe('ProgressStore', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await tempDir();
    file = path.join(dir, PROGRESS_FILE_NAME);
  });

  it('starts empty without creating a file or a notice', async () => {
    const store = await ProgressStore.open({ dir });
    expect(store.file).toBe(file);
    expect(store.takeNotice()).toBeUndefined();
    expect(store.hasStarted()).toBe(false);
    expect(store.snapshot()).toEqual(emptyProgress());
    expect(CHECKLIST.some((i) => store.isDone(i.id))).toBe(false);
    expect(await exists(file)).toBe(false);
  });

  it('opens on a folder that does not exist yet and creates it on the first write', async () => {
    const nested = path.join(dir, 'a', 'b');
    const store = await ProgressStore.open({ dir: nested });
    await store.tick(A);
    expect(await exists(path.join(nested, PROGRESS_FILE_NAME))).toBe(true);
  });

  it('ticks, persists a versioned file, and reads it back in a new store', async () => {
    const store = await ProgressStore.open({ dir, now: steppingClock() });
    await store.tick(A);
    expect(store.isDone(A)).toBe(true);
    expect(store.hasStarted()).toBe(true);
    expect(await readJson(file)).toEqual({
      version: 1,
      items: { [A]: { at: '2026-01-01T12:00:00.000Z', by: 'learner' } },
      labs: {},
    });
    const again = await ProgressStore.open({ dir });
    expect(again.isDone(A)).toBe(true);
    expect(again.isDone(B)).toBe(false);
    expect(again.snapshot().items[A]).toEqual({ at: '2026-01-01T12:00:00.000Z', by: 'learner' });
  });

  it('unticks and persists the untick', async () => {
    const store = await ProgressStore.open({ dir });
    await store.tick(A);
    await store.tick(B);
    await store.untick(A);
    expect(store.isDone(A)).toBe(false);
    const again = await ProgressStore.open({ dir });
    expect(again.isDone(A)).toBe(false);
    expect(again.isDone(B)).toBe(true);
    expect(Object.keys((await readJson(file)) as object)).toEqual(['version', 'items', 'labs']);
  });

  it('keeps the first tick\'s time when an item is ticked twice', async () => {
    const store = await ProgressStore.open({ dir, now: steppingClock() });
    await store.tick(A);
    await store.tick(A);
    expect(store.snapshot().items[A]?.at).toBe('2026-01-01T12:00:00.000Z');
  });

  it('rejects an unknown checklist id and writes nothing', async () => {
    const store = await ProgressStore.open({ dir });
    await expect(store.tick('not-an-item')).rejects.toThrow('Unknown checklist item "not-an-item".');
    await expect(store.setTicks([A, 'nope'], true, 'learner')).rejects.toThrow(/nope/);
    expect(store.isDone(A)).toBe(false);
    expect(await exists(file)).toBe(false);
  });

  it('ticks several items in one write, recording who ticked them', async () => {
    const store = await ProgressStore.open({ dir, now: steppingClock() });
    await store.setTicks([A, C], true, 'import');
    const data = await readJson(file);
    expect(data).toMatchObject({ items: { [A]: { by: 'import' }, [C]: { by: 'import' } } });
    await store.setTicks([A, C], false, 'learner');
    expect((await readJson(file)) as object).toMatchObject({ items: {} });
  });

  it('writes items in curriculum order whatever order they were ticked in', async () => {
    const store = await ProgressStore.open({ dir });
    await store.tick(D);
    await store.tick(C);
    await store.tick(A);
    const items = ((await readJson(file)) as { items: object }).items;
    expect(Object.keys(items)).toEqual([A, C, D]);
  });

  it('hands out snapshots that are copies', async () => {
    const store = await ProgressStore.open({ dir });
    await store.tick(A);
    const snap = store.snapshot();
    delete snap.items[A];
    expect(store.isDone(A)).toBe(true);
  });

  it('fires onDidChange at once on a change, and not after dispose', async () => {
    const store = await ProgressStore.open({ dir });
    let calls = 0;
    const sub = store.onDidChange(() => calls++);
    const pending = store.tick(A);
    // The in-memory change and its event happen before the write finishes.
    expect(calls).toBe(1);
    expect(store.isDone(A)).toBe(true);
    await pending;
    expect(calls).toBe(1);
    sub.dispose();
    await store.tick(B);
    expect(calls).toBe(1);
  });

  it('drops unknown checklist ids found in the file, and they are gone after the next write', async () => {
    await fs.writeFile(
      file,
      JSON.stringify({ version: 1, items: { [A]: { at: 'x', by: 'learner' }, 'old-item': { at: 'y', by: 'learner' } }, labs: {} }),
    );
    const store = await ProgressStore.open({ dir });
    expect(store.takeNotice()).toBeUndefined();
    expect(store.isDone(A)).toBe(true);
    expect(Object.keys(store.snapshot().items)).toEqual([A]);
    await store.tick(B);
    expect(Object.keys(((await readJson(file)) as { items: object }).items)).toEqual([A, B]);
  });

  describe.each([
    ['bad JSON', '{"version": 1, "items": {"understand-rel', /not valid JSON/],
    ['the wrong shape', JSON.stringify({ version: 1, items: [], labs: 'none' }), /not a progress file/],
    ['over a megabyte', `{"version": 1, "items": {}, "labs": {}, "padding": "${'x'.repeat(MAX_PROGRESS_BYTES)}"}`, /bytes, far more than a progress file holds/],
  ])('a progress file with %s', (_name, content, reason) => {
    it('is moved aside intact, reported exactly once, and the store still works', async () => {
      await fs.writeFile(file, content);
      const store = await ProgressStore.open({ dir, now: () => new Date(Date.UTC(2026, 1, 2, 3, 4, 5, 6)) });
      // The writer's process id keeps two windows from choosing the same name.
      const keptAs = path.join(dir, `progress.corrupt-2026-02-02T03-04-05-006Z-${process.pid}.json`);

      const notice = store.takeNotice();
      expect(notice).toEqual({ kind: 'corrupt', file, keptAs, reason: expect.stringMatching(reason) as unknown });
      expect(store.takeNotice()).toBeUndefined();
      expect(await fs.readFile(keptAs, 'utf8')).toBe(content);
      expect(await exists(file)).toBe(false);
      expect(store.hasStarted()).toBe(false);

      await store.tick(A);
      expect(parseProgress(await fs.readFile(file, 'utf8'))).toMatchObject({ ok: true, data: { items: { [A]: { by: 'learner' } } } });
      expect(store.takeNotice()).toBeUndefined();
      // The learner's unreadable file is never overwritten.
      expect(await fs.readFile(keptAs, 'utf8')).toBe(content);
      expect(await corruptFiles(dir)).toEqual([path.basename(keptAs)]);

      const reopened = await ProgressStore.open({ dir });
      expect(reopened.takeNotice()).toBeUndefined();
      expect(reopened.isDone(A)).toBe(true);
    });
  });

  it('leaves a file written by a newer version where it is, untouched, reports it once, and refuses every change', async () => {
    const content = JSON.stringify({ version: 7, items: { [A]: { at: 'x', by: 'learner' } }, labs: {}, future: true });
    await fs.writeFile(file, content);
    const store = await ProgressStore.open({ dir });
    expect(store.takeNotice()).toEqual({ kind: 'newer', file, reason: expect.stringMatching(/newer version of Data Labs \(schema 7; this one reads 1\)/) as unknown });
    expect(store.takeNotice()).toBeUndefined();
    expect(store.readOnlyReason()).toMatch(/newer version/);
    await expect(store.tick(B)).rejects.toThrow(ProgressReadOnlyError);
    await expect(store.recordLabOpened('saga')).rejects.toThrow(/was written by a newer version .* nothing is written to it\. Update Data Labs/);
    expect(store.isDone(B)).toBe(false);
    await store.reload();
    expect(await fs.readFile(file, 'utf8')).toBe(content);
    expect(await corruptFiles(dir)).toEqual([]);
    // A second reader (the CLI's list) leaves it too.
    await ProgressStore.open({ dir });
    expect(await fs.readFile(file, 'utf8')).toBe(content);
  });

  it('writes through a progress.json that is a symbolic link: the file it leads to changes, the link stays', async () => {
    const synced = path.join(await tempDir(), 'Sync', 'progress.json');
    await fs.mkdir(path.dirname(synced), { recursive: true });
    await fs.writeFile(synced, JSON.stringify({ version: 1, items: { [A]: { at: '2026-01-01T00:00:00.000Z', by: 'learner' } }, labs: {} }));
    await fs.symlink(synced, file);
    const store = await ProgressStore.open({ dir });
    expect(store.isDone(A)).toBe(true);
    await store.tick(B);
    expect((await fs.lstat(file)).isSymbolicLink()).toBe(true);
    expect(Object.keys(((await readJson(synced)) as { items: object }).items)).toEqual([A, B]);
  });

  it('names the file and the cause when its folder is a file, instead of a bare errno', async () => {
    const notAFolder = path.join(await tempDir(), 'progress-dir');
    await fs.writeFile(notAFolder, 'oops');
    await expect(ProgressStore.open({ dir: notAFolder })).rejects.toThrow(
      new RegExp(`Your progress file ${notAFolder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/progress\\.json cannot be read: a part of its path is a file, not a folder\\. .*DATA_LABS_PROGRESS_DIR`),
    );
  });

  // Regression test (fixed): two windows opening the same corrupt file at once both try to move
  // it aside; the second rename fails with ENOENT and its open() throws.
  it('opens in two windows at once on a corrupt file without throwing', async () => {
    await fs.writeFile(file, 'garbage');
    const opened = await Promise.allSettled([ProgressStore.open({ dir }), ProgressStore.open({ dir })]);
    expect(opened.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('exports and imports: the round trip keeps items and labs', async () => {
    const source = await ProgressStore.open({ dir, now: steppingClock() });
    await source.tick(A);
    await source.tick(C);
    await source.recordLabOpened('relational-vs-document');
    await source.recordLabPassed('relational-vs-document', [B]);
    const exported = path.join(await tempDir(), 'export', 'my-progress.json');
    await source.exportTo(exported);
    expect(parseProgress(await fs.readFile(exported, 'utf8')).ok).toBe(true);
    expect(await tempFiles(path.dirname(exported))).toEqual([]);

    const otherDir = await tempDir();
    const target = await ProgressStore.open({ dir: otherDir });
    await target.tick(D);
    const changes: number[] = [];
    target.onDidChange(() => changes.push(1));
    expect(await target.importFrom(exported)).toEqual({ items: 3 });
    expect(changes.length).toBeGreaterThan(0);
    expect(target.snapshot()).toEqual(source.snapshot());
    expect(target.isDone(D)).toBe(false);
    const fromDisk = await ProgressStore.open({ dir: otherDir });
    expect(fromDisk.snapshot()).toEqual(source.snapshot());
  });

  it('drops unknown checklist ids when importing', async () => {
    const exported = path.join(dir, 'export.json');
    await fs.writeFile(exported, JSON.stringify({ version: 1, items: { [A]: { at: 'a', by: 'learner' }, ghost: { at: 'b', by: 'learner' } }, labs: {} }));
    const store = await ProgressStore.open({ dir: path.join(dir, 'store') });
    expect(await store.importFrom(exported)).toEqual({ items: 1 });
    expect(Object.keys(store.snapshot().items)).toEqual([A]);
  });

  it.each([
    ['bad JSON', '{ nope', /is not valid JSON.*Nothing was changed\./],
    ['a newer version', JSON.stringify({ version: 2, items: {}, labs: {} }), /newer version.*Nothing was changed\./],
    ['the wrong shape', JSON.stringify({ version: 1, items: { [A]: 'yes' }, labs: {} }), /is not a progress file.*Nothing was changed\./],
  ])('refuses to import %s and changes nothing', async (_name, content, message) => {
    const store = await ProgressStore.open({ dir });
    await store.tick(A);
    await store.recordLabOpened('some-lab');
    const before = await fs.readFile(file, 'utf8');
    const snapshotBefore = store.snapshot();
    const bad = path.join(dir, 'bad-export.json');
    await fs.writeFile(bad, content);
    let changes = 0;
    store.onDidChange(() => changes++);

    await expect(store.importFrom(bad)).rejects.toThrow(message);
    await expect(store.importFrom(bad)).rejects.toThrow(bad);
    expect(store.snapshot()).toEqual(snapshotBefore);
    expect(await fs.readFile(file, 'utf8')).toBe(before);
    expect(changes).toBe(0);
    // The bad file is the learner's: importing does not move or change it.
    expect(await fs.readFile(bad, 'utf8')).toBe(content);
    expect(await corruptFiles(dir)).toEqual([]);
  });

  it('refuses to import a file that does not exist', async () => {
    const store = await ProgressStore.open({ dir });
    await store.tick(A);
    await expect(store.importFrom(path.join(dir, 'missing.json'))).rejects.toThrow(/ENOENT/);
    expect(store.isDone(A)).toBe(true);
  });

  it('resets everything, on disk too', async () => {
    const store = await ProgressStore.open({ dir });
    await store.tick(A);
    await store.recordLabOpened('lab-a');
    expect(store.hasStarted()).toBe(true);
    await store.reset();
    expect(store.hasStarted()).toBe(false);
    expect(await readJson(file)).toEqual({ version: 1, items: {}, labs: {} });
    expect((await ProgressStore.open({ dir })).hasStarted()).toBe(false);
  });

  it('records a passed lab: ticks its items by lab:<id>, keeps the learner\'s earlier tick, ignores unknown ids', async () => {
    let nowMs = Date.UTC(2026, 0, 1, 12, 0, 0);
    const store = await ProgressStore.open({ dir, now: () => new Date(nowMs) });
    await store.tick(A); // by the learner at 12:00
    nowMs = Date.UTC(2026, 0, 1, 13, 0, 0);
    await store.recordLabOpened('relational-vs-document');
    nowMs = Date.UTC(2026, 0, 1, 14, 0, 0);
    await store.recordLabPassed('relational-vs-document', [A, B, 'not-an-item']);
    const data = store.snapshot();
    expect(data.items[A]).toEqual({ at: '2026-01-01T12:00:00.000Z', by: 'learner' });
    expect(data.items[B]).toEqual({ at: '2026-01-01T14:00:00.000Z', by: 'lab:relational-vs-document' });
    expect(data.items['not-an-item']).toBeUndefined();
    expect(Object.keys(data.items)).toEqual([A, B]);
    expect(data.labs['relational-vs-document']).toEqual({ openedAt: '2026-01-01T13:00:00.000Z', passedAt: '2026-01-01T14:00:00.000Z' });
    expect((await ProgressStore.open({ dir })).snapshot()).toEqual(data);
  });

  it('records a lab as opened once: reopening keeps the first time', async () => {
    let nowMs = Date.UTC(2026, 0, 1, 12, 0, 0);
    const store = await ProgressStore.open({ dir, now: () => new Date(nowMs) });
    await store.recordLabOpened('lab-a');
    nowMs += 3_600_000;
    await store.recordLabOpened('lab-a');
    expect(store.snapshot().labs['lab-a']).toEqual({ openedAt: '2026-01-01T12:00:00.000Z' });
    expect(store.hasStarted()).toBe(true);
  });

  it('keeps both windows\' ticks when two stores share a folder', async () => {
    const first = await ProgressStore.open({ dir });
    const second = await ProgressStore.open({ dir });
    await first.tick(A);
    await second.tick(B);
    await first.tick(C);
    await second.untick(A);
    const onDisk = await ProgressStore.open({ dir });
    expect(CHECKLIST.filter((i) => onDisk.isDone(i.id)).map((i) => i.id)).toEqual([B, C]);
    // Each store also knows the other's changes it merged while writing.
    expect(first.isDone(B)).toBe(true);
    expect(second.isDone(C)).toBe(true);
  });

  // Regression test (fixed): two stores writing at the same moment both read the file before
  // either has written it, so the later rename wins and the other's tick is lost.
  it('keeps both windows\' ticks when two stores write at the same moment', async () => {
    const first = await ProgressStore.open({ dir });
    const second = await ProgressStore.open({ dir });
    await Promise.all([first.tick(A), second.tick(B)]);
    const onDisk = await ProgressStore.open({ dir });
    expect([onDisk.isDone(A), onDisk.isDone(B)]).toEqual([true, true]);
  });

  it('reload() picks up another store\'s change and fires onDidChange once', async () => {
    const window1 = await ProgressStore.open({ dir });
    const window2 = await ProgressStore.open({ dir });
    let calls = 0;
    window1.onDidChange(() => calls++);
    await window2.tick(A);
    await window2.recordLabOpened('lab-a');
    expect(window1.isDone(A)).toBe(false);
    await window1.reload();
    expect(window1.isDone(A)).toBe(true);
    expect(window1.snapshot().labs['lab-a']?.openedAt).toBeDefined();
    expect(calls).toBe(1);
    await window1.reload();
    expect(calls).toBe(1);
    await window2.reset();
    await window1.reload();
    expect(window1.hasStarted()).toBe(false);
    expect(calls).toBe(2);
  });

  it('keeps every change when several are made without waiting', async () => {
    const store = await ProgressStore.open({ dir });
    const writes = [store.tick(A), store.tick(B), store.untick(A), store.tick(C), store.recordLabOpened('lab-a')];
    await Promise.all(writes);
    const onDisk = await ProgressStore.open({ dir });
    expect(CHECKLIST.filter((i) => onDisk.isDone(i.id)).map((i) => i.id)).toEqual([B, C]);
    expect(onDisk.snapshot().labs['lab-a']).toBeDefined();
    expect(await tempFiles(dir)).toEqual([]);
  });

  // Regression test (fixed): when the first of two queued writes finishes, the store replaces
  // its memory with the file as that write left it, so the second change vanishes
  // from isDone() (and the tree flickers) until its own write finishes.
  it('shows a later change in memory while an earlier write is still finishing', async () => {
    const store = await ProgressStore.open({ dir });
    await store.tick(D); // the file exists, as it does for any learner who has started
    const first = store.tick(A);
    const second = store.tick(B);
    await first;
    const seenWhileSecondPending = store.isDone(B);
    await second;
    expect(seenWhileSecondPending).toBe(true);
  });

  it('removes stale temp files on open and leaves fresh ones and other files alone', async () => {
    const stale = path.join(dir, `.${PROGRESS_FILE_NAME}.4242.1.tmp`);
    const fresh = path.join(dir, `.${PROGRESS_FILE_NAME}.4243.1.tmp`);
    const unrelated = path.join(dir, 'notes.tmp');
    for (const f of [stale, fresh, unrelated]) {
      await fs.writeFile(f, '{"half": ');
    }
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    await fs.utimes(stale, twoMinutesAgo, twoMinutesAgo);
    await fs.utimes(unrelated, twoMinutesAgo, twoMinutesAgo);
    const store = await ProgressStore.open({ dir });
    expect(store.takeNotice()).toBeUndefined();
    expect(await exists(stale)).toBe(false);
    expect(await exists(fresh)).toBe(true);
    expect(await exists(unrelated)).toBe(true);
  });

  it('leaves no temp file behind after writes', async () => {
    const store = await ProgressStore.open({ dir });
    for (const item of CHECKLIST) {
      await store.tick(item.id);
    }
    expect(await tempFiles(dir)).toEqual([]);
    expect((await fs.readdir(dir)).sort()).toEqual([PROGRESS_FILE_NAME]);
  });
});

describe('writeFileAtomic', () => {
  it('refuses, with refuseLink, a link planted in the file\'s place, and leaves the file it points to as it was', async () => {
    const dir = await tempDir();
    const victim = path.join(await tempDir(), 'bashrc');
    await fs.writeFile(victim, 'mine\n');
    const file = path.join(dir, '.env');
    await fs.symlink(victim, file);
    await expect(writeFileAtomic(file, 'DATABASE_URL=x\n', { refuseLink: true })).rejects.toThrow(/\.env is a symbolic link, where Data Labs keeps a file of its own/);
    expect(await fs.readFile(victim, 'utf8')).toBe('mine\n');
    expect((await fs.lstat(file)).isSymbolicLink()).toBe(true);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('creates the folder and the file', async () => {
    const file = path.join(await tempDir(), 'deep', 'er', 'out.json');
    await writeFileAtomic(file, 'first\n');
    expect(await fs.readFile(file, 'utf8')).toBe('first\n');
  });

  it('replaces the content and leaves no temp file behind', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'out.json');
    await fs.writeFile(file, 'a much longer old content that must not leave a tail behind\n');
    await writeFileAtomic(file, 'new\n');
    expect(await fs.readFile(file, 'utf8')).toBe('new\n');
    expect(await fs.readdir(dir)).toEqual(['out.json']);
  });

  it('many writes in parallel leave one complete content and no temp files', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'out.txt');
    const contents = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(1000)}\n`);
    await Promise.all(contents.map((c) => writeFileAtomic(file, c)));
    expect(contents).toContain(await fs.readFile(file, 'utf8'));
    expect(await fs.readdir(dir)).toEqual(['out.txt']);
  });

  it('when the rename fails, throws and removes its temp file', async () => {
    const dir = await tempDir();
    const target = path.join(dir, 'occupied');
    await fs.mkdir(path.join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow();
    expect((await fs.readdir(dir)).sort()).toEqual(['occupied']);
  });
});
