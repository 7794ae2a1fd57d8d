// The lab catalog: a lab whose manifest is broken shows as an error item in the
// Curriculum view, and nothing else breaks. The extension under development reads
// <repo>/labs, so the broken lab is a temporary folder there, removed afterwards.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsApi } from '../../../src/dataLabs';
import type { CurriculumNode } from '../../../src/views/curriculumTree';
import { LAB_ID, LAB_TITLE, activateApi, children, extension, groupNode, labelOf, sectionNodes } from './helpers';

const BROKEN_ID = 'zz-broken-e2e';
/** Required fields the broken manifest leaves out. */
const MISSING = ['section', 'summary', 'completes', 'starter', 'tests', 'hints'];

suite('Lab catalog: a broken manifest', () => {
  let api: DataLabsApi;
  let brokenDir: string;

  const labNodes = async (): Promise<CurriculumNode[]> => {
    const group = await groupNode(api, 'database-types', 'labs');
    return group ? children(api, group) : [];
  };
  const brokenNode = async (): Promise<CurriculumNode | undefined> => (await labNodes()).find((n) => n.kind === 'brokenLab' && n.lab.id === BROKEN_ID);
  const removeBroken = (): void => fs.rmSync(brokenDir, { recursive: true, force: true });

  suiteSetup(async () => {
    api = await activateApi();
    brokenDir = path.join(api.catalog.dir, BROKEN_ID);
    assert.equal(path.dirname(brokenDir), path.join(extension().extensionPath, 'labs'));
    fs.mkdirSync(brokenDir, { recursive: true });
    fs.writeFileSync(path.join(brokenDir, 'lab.json'), `${JSON.stringify({ id: BROKEN_ID, title: 'A broken lab for the extension tests' }, null, 2)}\n`);
    await vscode.commands.executeCommand('dataLabs.refresh');
  });

  suiteTeardown(async () => {
    removeBroken();
    await vscode.commands.executeCommand('dataLabs.refresh');
  });

  test('the catalog keeps the broken lab as an entry naming each missing field', () => {
    const entry = api.catalog.all.find((e) => e.id === BROKEN_ID);
    assert.ok(entry, `catalog: ${api.catalog.all.map((e) => e.id).join(', ')}`);
    assert.equal(entry.ok, false);
    if (entry.ok) return;
    const fields = entry.problems.map((p) => p.field);
    for (const field of MISSING) assert.ok(fields.includes(field), `a problem names "${field}" (problems: ${fields.join(', ')})`);
    assert.ok(entry.problems.every((p) => p.file === path.join(brokenDir, 'lab.json')));
    assert.equal(api.catalog.lab(BROKEN_ID), undefined, 'a broken lab cannot be opened');
  });

  test('the Curriculum view shows a brokenLab error item with the problem', async () => {
    const node = await brokenNode();
    assert.ok(node, `lab items: ${(await labNodes()).map((n) => labelOf(api.tree.getTreeItem(n))).join(', ')}`);
    const item = api.tree.getTreeItem(node);
    assert.equal(labelOf(item), `${BROKEN_ID} (manifest error)`);
    assert.equal(item.contextValue, 'lab.broken');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'error');
    assert.equal(typeof item.description, 'string');
    const description = item.description as string;
    assert.ok(MISSING.some((field) => description.startsWith(`${field}: `)), `description names a missing field: ${description}`);
    const tooltip = typeof item.tooltip === 'string' ? item.tooltip : (item.tooltip?.value ?? '');
    for (const field of MISSING) assert.ok(tooltip.includes(`"${field}"`), `tooltip names "${field}": ${tooltip}`);
    assert.ok(tooltip.includes(path.join(brokenDir, 'lab.json')), 'tooltip names the manifest file');
    assert.equal(item.command?.command, 'dataLabs.showLabProblems');
    assert.deepEqual(item.command?.arguments, [BROKEN_ID]);
  });

  test('dataLabs.showLabProblems for it runs without failing', async () => {
    await vscode.commands.executeCommand('dataLabs.showLabProblems', BROKEN_ID);
  });

  test('the real lab and all four sections still load', async () => {
    assert.deepEqual(
      (await sectionNodes(api)).map((s) => s.section.id),
      ['database-types', 'consistency-patterns', 'replication', 'hands-on-project'],
    );
    const real = (await labNodes()).find((n) => n.kind === 'lab' && n.lab.id === LAB_ID);
    assert.ok(real, 'the shipped lab is still listed');
    assert.equal(labelOf(api.tree.getTreeItem(real)), LAB_TITLE);
    assert.ok(api.catalog.lab(LAB_ID), 'the shipped lab can still be opened');
    // Only the sections with a shipped lab have a Labs group: the broken lab adds none.
    const withLabs = new Set<string>(api.catalog.all.flatMap((e) => (e.ok ? [e.manifest.section] : [])));
    for (const id of ['consistency-patterns', 'replication', 'hands-on-project']) {
      assert.equal(Boolean(await groupNode(api, id, 'labs')), withLabs.has(id), `${id} has a Labs group exactly when a shipped lab belongs to it`);
      assert.ok(await groupNode(api, id, 'checklist'), `${id} still has its checklist`);
    }
    assert.equal(api.tree.view.description?.endsWith('/17 done'), true);
  });

  test('removing the folder and refreshing clears the error item', async () => {
    removeBroken();
    await vscode.commands.executeCommand('dataLabs.refresh');
    assert.equal(api.catalog.all.some((e) => e.id === BROKEN_ID), false);
    assert.equal(await brokenNode(), undefined);
    assert.ok(api.catalog.all.every((e) => e.ok), 'no other lab is broken');
  });
});
