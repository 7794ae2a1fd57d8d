// Progress commands (export, reset, import) run with their arguments given, as the
// tests and scripts do, and changes another process makes to progress.json.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsApi } from '../../../src/dataLabs';
import { activateApi, checkboxOf, progressOnDisk, resetProgress, sectionDescription, waitFor } from './helpers';

const TICKED = ['understand-relational-vs-nosql', 'add-idempotency-keys'] as const;

suite('Progress: export, reset, import, and changes from outside', () => {
  let api: DataLabsApi;
  let dir: string;

  suiteSetup(async () => {
    api = await activateApi();
    await resetProgress(api);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-labs-progress-test-'));
  });

  suiteTeardown(async () => {
    await resetProgress(api);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const exported = (): string => path.join(dir, 'exported progress.json');

  test('dataLabs.exportProgress writes the progress to the file it is given', async () => {
    await api.progress.store.setTicks([...TICKED], true, 'learner');
    await vscode.commands.executeCommand('dataLabs.exportProgress', vscode.Uri.file(exported()));
    assert.ok(fs.existsSync(exported()), 'the export file exists');
    const data = JSON.parse(fs.readFileSync(exported(), 'utf8')) as { version: number; items: Record<string, { by: string }> };
    assert.equal(data.version, 1);
    assert.deepEqual(Object.keys(data.items).sort(), [...TICKED].sort());
    assert.equal(data.items[TICKED[0]]?.by, 'learner');
  });

  test('dataLabs.resetProgress, confirmed, clears every tick, on screen and on disk', async () => {
    assert.equal(api.tree.view.description, '2/17 done');
    await vscode.commands.executeCommand('dataLabs.resetProgress', true);
    assert.deepEqual(api.progress.store.snapshot().items, {});
    assert.equal(api.progress.store.hasStarted(), false);
    assert.equal(await checkboxOf(api, TICKED[0]), vscode.TreeItemCheckboxState.Unchecked);
    assert.equal(api.tree.view.description, '0/17 done');
    assert.deepEqual(progressOnDisk(api)?.items, {});
  });

  test('dataLabs.importProgress restores the ticks from an exported file', async () => {
    await vscode.commands.executeCommand('dataLabs.importProgress', vscode.Uri.file(exported()));
    assert.deepEqual(Object.keys(api.progress.store.snapshot().items).sort(), [...TICKED].sort());
    for (const id of TICKED) assert.equal(await checkboxOf(api, id), vscode.TreeItemCheckboxState.Checked, id);
    assert.equal(await sectionDescription(api, 'database-types'), '1/5');
    assert.equal(await sectionDescription(api, 'consistency-patterns'), '1/4');
    assert.equal(api.tree.view.description, '2/17 done');
    assert.deepEqual(Object.keys(progressOnDisk(api)?.items ?? {}).sort(), [...TICKED].sort());
  });

  test('importing a bad file changes nothing', async () => {
    const before = api.progress.store.snapshot();
    const beforeOnDisk = fs.readFileSync(api.progress.store.file, 'utf8');
    const bad = {
      'not JSON': '{ "version": 1, "items": ',
      'not a progress file': JSON.stringify({ version: 1, items: { 'compare-trade-offs': 'yes' } }),
      'from a newer version': JSON.stringify({ version: 99, items: {}, labs: {} }),
    };
    for (const [name, text] of Object.entries(bad)) {
      const file = path.join(dir, `${name}.json`);
      fs.writeFileSync(file, text);
      await vscode.commands.executeCommand('dataLabs.importProgress', vscode.Uri.file(file));
      assert.deepEqual(api.progress.store.snapshot(), before, `after importing a file that is ${name}`);
      assert.equal(fs.readFileSync(api.progress.store.file, 'utf8'), beforeOnDisk, `progress.json after importing a file that is ${name}`);
    }
    // A file that does not exist either.
    await vscode.commands.executeCommand('dataLabs.importProgress', vscode.Uri.file(path.join(dir, 'missing.json')));
    assert.deepEqual(api.progress.store.snapshot(), before, 'after importing a missing file');
    assert.equal(api.tree.view.description, '2/17 done');
  });

  test('a change another process writes to progress.json shows in the tree', async function () {
    this.timeout(45_000);
    const item = 'try-multi-master';
    assert.equal(await checkboxOf(api, item), vscode.TreeItemCheckboxState.Unchecked);
    // What another window or the CLI does: read, change, write atomically (temp file, then rename).
    const file = api.progress.store.file;
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { items: Record<string, { at: string; by: string }> };
    data.items[item] = { at: new Date().toISOString(), by: 'learner' };
    const writeExternally = (): void => {
      const temp = path.join(path.dirname(file), `.progress.json.external-${process.pid}.tmp`);
      fs.writeFileSync(temp, `${JSON.stringify(data, null, 2)}\n`);
      fs.renameSync(temp, file);
    };
    writeExternally();

    await waitFor(async () => (await checkboxOf(api, item)) === vscode.TreeItemCheckboxState.Checked, 'the file watcher to pick up the ticked item', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    assert.equal(api.tree.view.description, '3/17 done');
    assert.equal(api.tree.view.badge?.value, 3);
    assert.equal(await sectionDescription(api, 'replication'), '1/4');

    // And an untick from outside.
    delete data.items[item];
    writeExternally();
    await waitFor(async () => (await checkboxOf(api, item)) === vscode.TreeItemCheckboxState.Unchecked, 'the file watcher to pick up the unticked item', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    assert.equal(api.tree.view.description, '2/17 done');
  });
});
