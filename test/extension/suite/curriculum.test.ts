// The Curriculum view: its sections, groups, concepts and checklist, the concept
// pages, and ticking checklist items through the store the view's checkbox handler
// calls (the counts, the view's description and badge, and progress.json follow).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsApi } from '../../../src/dataLabs';
import {
  activateApi,
  checkboxOf,
  checklistNode,
  children,
  closeAllEditors,
  describeTabs,
  extension,
  groupNode,
  labelOf,
  previewTab,
  progressOnDisk,
  resetProgress,
  sectionDescription,
  sectionNodes,
  waitFor,
} from './helpers';

/** The seed's Progress Checklist, word for word, by section. */
const SEED: ReadonlyArray<{ id: string; title: string; items: ReadonlyArray<readonly [id: string, label: string]> }> = [
  {
    id: 'database-types',
    title: 'Database Types',
    items: [
      ['understand-relational-vs-nosql', 'Understand relational vs NoSQL'],
      ['learn-document-database', 'Learn document database (MongoDB)'],
      ['try-key-value-store', 'Try key-value store (Redis)'],
      ['explore-graph-database', 'Explore graph database (Neo4j)'],
      ['compare-trade-offs', 'Compare trade-offs'],
    ],
  },
  {
    id: 'consistency-patterns',
    title: 'Consistency Patterns',
    items: [
      ['implement-two-phase-commit', 'Implement two-phase commit'],
      ['build-saga-with-compensation', 'Build saga with compensation'],
      ['add-idempotency-keys', 'Add idempotency keys'],
      ['handle-retries-safely', 'Handle retries safely'],
    ],
  },
  {
    id: 'replication',
    title: 'Replication',
    items: [
      ['set-up-master-slave', 'Set up master-slave (PostgreSQL)'],
      ['handle-replication-lag', 'Handle replication lag'],
      ['try-multi-master', 'Try multi-master'],
      ['implement-quorum-reads-writes', 'Implement quorum reads/writes'],
    ],
  },
  {
    id: 'hands-on-project',
    title: 'Hands-On Project',
    items: [
      ['design-polyglot-system', 'Design polyglot system'],
      ['implement-distributed-transaction', 'Implement distributed transaction'],
      ['set-up-replication', 'Set up replication'],
      ['test-failure-scenarios', 'Test failure scenarios'],
    ],
  },
];

const ITEM = 'understand-relational-vs-nosql';

suite('Curriculum view', () => {
  let api: DataLabsApi;

  suiteSetup(async () => {
    api = await activateApi();
    await resetProgress(api);
  });

  suiteTeardown(async () => {
    await resetProgress(api);
    await closeAllEditors();
  });

  test('the root is the four sections in order, each with a done/total count', async () => {
    const sections = await sectionNodes(api);
    assert.deepEqual(
      sections.map((s) => labelOf(api.tree.getTreeItem(s))),
      SEED.map((s) => s.title),
    );
    for (const [i, node] of sections.entries()) {
      const item = api.tree.getTreeItem(node);
      assert.equal(item.description, `0/${SEED[i]?.items.length}`, `${node.section.id} description`);
      assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    }
  });

  test('each section has Concepts and Checklist groups, and a Labs group only where a lab exists', async () => {
    const sectionsWithLabs = new Set(api.catalog.all.flatMap((e) => (e.ok ? [e.manifest.section] : [])));
    assert.ok(sectionsWithLabs.has('database-types'), 'the shipped lab belongs to Database Types');
    for (const section of await sectionNodes(api)) {
      const groups = (await children(api, section)).map((n) => {
        assert.equal(n.kind, 'group');
        return labelOf(api.tree.getTreeItem(n));
      });
      const expected = sectionsWithLabs.has(section.section.id) ? ['Concepts', 'Labs', 'Checklist'] : ['Concepts', 'Checklist'];
      assert.deepEqual(groups, expected, `groups of ${section.section.id}`);
    }
    const labs = await groupNode(api, 'database-types', 'labs');
    assert.ok(labs);
    const labItems = (await children(api, labs)).map((n) => api.tree.getTreeItem(n));
    assert.ok(
      labItems.some((i) => labelOf(i) === 'Relational vs document modelling' && i.command?.command === 'dataLabs.openLab'),
      `lab items: ${labItems.map(labelOf).join(', ')}`,
    );
  });

  test('all 17 checklist items are there with the seed\'s labels, unchecked', async () => {
    let count = 0;
    for (const seed of SEED) {
      const group = await groupNode(api, seed.id, 'checklist');
      assert.ok(group, `${seed.id} has a checklist`);
      assert.equal(api.tree.getTreeItem(group).description, `0/${seed.items.length}`);
      const nodes = await children(api, group);
      assert.deepEqual(
        nodes.map((n) => (n.kind === 'item' ? [n.item.id, labelOf(api.tree.getTreeItem(n))] : [n.kind, ''])),
        seed.items.map(([id, label]) => [id, label]),
      );
      for (const node of nodes) {
        const item = api.tree.getTreeItem(node);
        const checkbox = item.checkboxState;
        assert.ok(typeof checkbox === 'object');
        assert.equal(checkbox.state, vscode.TreeItemCheckboxState.Unchecked);
        // Each item has its own spoken label and state (not the hint every item shares).
        const label = node.kind === 'item' ? node.item.label : '';
        assert.equal(checkbox.accessibilityInformation?.label, `${label}: not done yet. Tick this when you have learned it.`);
        assert.equal(item.accessibilityInformation?.label, checkbox.accessibilityInformation?.label);
        count++;
      }
    }
    assert.equal(count, 17);
    assert.equal(api.tree.view.description, '0/17 done');
    assert.equal(api.tree.view.badge, undefined, 'no badge while nothing is done');
  });

  test('a lab row says, before it is opened, whether it is graded, what it needs and how long it takes', async () => {
    const rows = new Map<string, string>();
    for (const seed of SEED) {
      const labs = await groupNode(api, seed.id, 'labs');
      for (const node of labs ? await children(api, labs) : []) {
        if (node.kind === 'lab') rows.set(node.lab.id, String(api.tree.getTreeItem(node).description));
      }
    }
    assert.equal(rows.get('relational-vs-document'), 'tests · Docker or embedded · 45 min');
    assert.equal(rows.get('idempotency-keys'), 'graded · Docker or embedded · 60 min');
    assert.equal(rows.get('quorum'), 'graded · Docker · 60 min');
  });

  test('concept items open their page through dataLabs.openConcept', async () => {
    let concepts = 0;
    for (const seed of SEED) {
      const group = await groupNode(api, seed.id, 'concepts');
      assert.ok(group, `${seed.id} has concepts`);
      const nodes = await children(api, group);
      assert.ok(nodes.length > 0, `${seed.id} has at least one concept`);
      for (const node of nodes) {
        assert.equal(node.kind, 'concept');
        if (node.kind !== 'concept') continue;
        const item = api.tree.getTreeItem(node);
        assert.equal(item.command?.command, 'dataLabs.openConcept', `${node.concept.id} command`);
        assert.deepEqual(item.command?.arguments, [node.concept.id]);
        assert.ok(labelOf(item).length > 0 && typeof item.description === 'string' && item.description.length > 0);
        concepts++;
      }
    }
    assert.equal(concepts, 17, 'the curriculum has 17 concept pages');
  });

  test('dataLabs.openConcept opens the concept page in a Markdown preview', async () => {
    await closeAllEditors();
    await vscode.commands.executeCommand('dataLabs.openConcept', 'relational');
    const tab = await waitFor(() => previewTab('relational.md'), 'a preview tab for relational.md', { describe: describeTabs });
    assert.match(tab.label, /^Preview relational\.md/);
    assert.equal(tab.isActive, true, 'the preview is the active tab of its group');
    // The page it shows is the extension's own concept file.
    const expected = path.join(extension().extensionPath, 'media', 'concepts', 'relational.md');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(expected));
    assert.match(doc.getText(), /\S/, 'the concept page has content');
  });

  test('ticking an item updates its checkbox, the counts, the view\'s description and badge, and progress.json', async () => {
    await api.progress.store.setTicks([ITEM], true, 'learner');
    assert.equal(await checkboxOf(api, ITEM), vscode.TreeItemCheckboxState.Checked);
    const ticked = api.tree.getTreeItem(await checklistNode(api, ITEM)).checkboxState;
    assert.match(typeof ticked === 'object' ? (ticked.accessibilityInformation?.label ?? '') : '', /^[^:]+: done\. Ticked by you on /);
    assert.equal(await sectionDescription(api, 'database-types'), '1/5');
    assert.equal(await sectionDescription(api, 'replication'), '0/4');
    const checklist = await groupNode(api, 'database-types', 'checklist');
    assert.ok(checklist);
    assert.equal(api.tree.getTreeItem(checklist).description, '1/5');
    assert.equal(api.tree.view.description, '1/17 done');
    assert.equal(api.tree.view.badge?.value, 1);
    assert.match(api.tree.view.badge?.tooltip ?? '', /1\/17/);

    const onDisk = progressOnDisk(api);
    assert.ok(onDisk, `${api.progress.store.file} exists`);
    assert.equal(onDisk.items[ITEM]?.by, 'learner');
    assert.deepEqual(Object.keys(onDisk.items), [ITEM]);
  });

  test('ticking a whole section marks it complete', async () => {
    const ids = SEED[0]?.items.map(([id]) => id) ?? [];
    await api.progress.store.setTicks(ids, true, 'learner');
    const [first] = await sectionNodes(api);
    assert.ok(first);
    const item = api.tree.getTreeItem(first);
    assert.equal(item.description, '5/5');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'pass-filled');
    assert.equal(api.tree.view.description, '5/17 done');
    assert.equal(api.tree.view.badge?.value, 5);
    assert.equal(Object.keys(progressOnDisk(api)?.items ?? {}).length, 5);
    // Back to one tick for the next test.
    await api.progress.store.setTicks(ids.filter((id) => id !== ITEM), false, 'learner');
    assert.equal(api.tree.view.description, '1/17 done');
  });

  test('unticking reverses it, on screen and on disk', async () => {
    await api.progress.store.setTicks([ITEM], false, 'learner');
    assert.equal(await checkboxOf(api, ITEM), vscode.TreeItemCheckboxState.Unchecked);
    assert.equal(await sectionDescription(api, 'database-types'), '0/5');
    assert.equal(api.tree.view.description, '0/17 done');
    assert.equal(api.tree.view.badge, undefined);
    const [first] = await sectionNodes(api);
    assert.ok(first);
    assert.equal((api.tree.getTreeItem(first).iconPath as vscode.ThemeIcon).id, 'circle-large-outline');
    assert.deepEqual(progressOnDisk(api)?.items, {});
  });
});
