// Activation: the extension starts in a real VS Code, registers every command it
// declares, and finishes loading its data.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { CATEGORY, EXTENSION_ID, extension } from './helpers';

interface ContributedCommand {
  command: string;
  title: string;
  category?: string;
}

function contributedCommands(): ContributedCommand[] {
  const manifest = extension().packageJSON as { contributes?: { commands?: ContributedCommand[] } };
  return manifest.contributes?.commands ?? [];
}

suite('Activation', () => {
  test('the extension activates and returns its live API', async () => {
    const ext = extension();
    assert.equal(ext.id, EXTENSION_ID);
    const api = await ext.activate();
    assert.equal(ext.isActive, true);
    assert.equal(ext.exports, api, 'exports is the object activate() returned');
    assert.ok(api.tree && api.tests && api.containers && api.grading && api.services, 'the API has the views and the services');
    assert.equal(api.tests.controller.id, 'dataLabs');
    assert.ok(api.tree.view, 'the Curriculum view exists');
  });

  test('ready resolves: progress and the lab catalog load', async () => {
    const api = await extension().activate();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('api.ready did not resolve within 10 s')), 10_000);
    });
    try {
      await Promise.race([api.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
    assert.doesNotThrow(() => api.progress.store, 'the progress store is loaded');
    assert.ok(api.progress.store.file.endsWith('progress.json'));
    assert.ok(api.catalog.all.length > 0, 'the catalog has labs');
    assert.ok(api.catalog.lab('relational-vs-document'), 'the shipped lab loads');
  });

  test('every command in contributes.commands is registered', async () => {
    await extension().activate();
    const declared = contributedCommands().map((c) => c.command);
    assert.ok(declared.length >= 11, `package.json declares the commands (found ${declared.length})`);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], 'declared but not registered');
  });

  test('every dataLabs.* command the extension registers is declared in package.json', async () => {
    await extension().activate();
    const declared = new Set(contributedCommands().map((c) => c.command));
    // View commands that VS Code generates (dataLabs.curriculum.focus…) have a second dot.
    const ours = (await vscode.commands.getCommands(true)).filter((id) => /^dataLabs\.[A-Za-z]+$/.test(id));
    assert.deepEqual(ours.filter((id) => !declared.has(id)), [], 'registered but not declared');
  });

  test(`each contributed command is in the "${CATEGORY}" category and has a title`, () => {
    for (const command of contributedCommands()) {
      assert.equal(command.category, CATEGORY, `${command.command} category`);
      assert.ok(command.title.trim().length > 0, `${command.command} has a title`);
    }
  });
});
