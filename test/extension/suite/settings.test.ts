// The settings object: typed getters over `dataLabs.*`, which read the live configuration,
// and an onDidChange event that names the settings a change affects.
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsApi } from '../../../src/dataLabs';
import { activateApi, nextEvent } from './helpers';

suite('Settings: dataLabs.* through one object', () => {
  let api: DataLabsApi;
  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('dataLabs');

  /** Sets a user setting for the length of `body`, then puts back what was there. */
  async function withSetting(name: string, value: unknown, body: () => Promise<void>): Promise<void> {
    const before = config().inspect(name)?.globalValue;
    await config().update(name, value, vscode.ConfigurationTarget.Global);
    try {
      await body();
    } finally {
      await config().update(name, before, vscode.ConfigurationTarget.Global);
    }
  }

  suiteSetup(async () => {
    api = await activateApi();
  });

  test('changing a dataLabs setting fires onDidChange, naming that setting, and the getter reads the new value', async () => {
    assert.equal(api.settings.openReadmeOnOpen, true, 'the default');
    const changed = nextEvent(api.settings.onDidChange, 'the settings change', 10_000);
    changed.catch(() => {});
    await withSetting('openReadmeOnOpen', false, async () => {
      const change = await changed;
      assert.equal(change.affects('openReadmeOnOpen'), true);
      assert.equal(change.affects('labsRoot'), false);
      assert.equal(api.settings.openReadmeOnOpen, false);
    });
    assert.equal(api.settings.openReadmeOnOpen, true, 'back to the default');
  });

  test('labsRoot expands ~, and images keeps only image names', async () => {
    await withSetting('labsRoot', '~/labs-from-settings-test', async () => {
      assert.equal(api.settings.labsRoot, path.join(os.homedir(), 'labs-from-settings-test'));
    });
    await withSetting('images', { postgres: '  mirror.example.com/postgres:15  ', redis: '', other: 5 }, async () => {
      assert.deepEqual(api.settings.images, { postgres: 'mirror.example.com/postgres:15' });
    });
  });
});
