// The open labs: the workspace's lab folders, read once and kept in memory, are read
// again when a folder's `.data-lab.json` marker appears or goes (a file system watcher),
// not by polling. The workspace's own folder is made a lab folder by writing a marker
// into it, for a lab this version does not ship (so nothing starts any databases), and
// made a plain folder again by removing it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DataLabsApi } from '../../../src/dataLabs';
import type { OpenLab } from '../../../src/labs/openLabs';
import { activateApi, nextEvent } from './helpers';

const UNKNOWN_LAB = 'no-such-lab-open-labs-test';

suite('Open labs: the lab folders, kept in memory', () => {
  let api: DataLabsApi;
  let folder: string;
  const marker = (): string => path.join(folder, '.data-lab.json');
  const inFolder = (labs: readonly OpenLab[]): boolean => labs.some((l) => path.resolve(l.folder.uri.fsPath) === path.resolve(folder));

  suiteSetup(async function () {
    api = await activateApi();
    const first = vscode.workspace.workspaceFolders?.[0];
    if (!first || first.uri.scheme !== 'file') {
      this.skip();
    }
    folder = first.uri.fsPath;
  });

  suiteTeardown(async () => {
    if (folder && fs.existsSync(marker())) {
      fs.rmSync(marker());
      await api.openLabs.refresh();
    }
  });

  test('a marker written into a workspace folder makes it an open lab, and removing it makes it a plain folder again', async function () {
    this.timeout(60_000);
    assert.equal(inFolder(api.openLabs.current()), false, 'the workspace folder is not a lab folder to begin with');

    const came = nextEvent(api.openLabs.onDidChange, 'the new marker to be seen', 30_000, inFolder);
    fs.writeFileSync(marker(), `${JSON.stringify({ lab: UNKNOWN_LAB, createdAt: new Date().toISOString(), productVersion: '0.0.0' })}\n`);
    await came;
    const open = api.openLabs.inFolder(folder);
    assert.equal(open?.labId, UNKNOWN_LAB);
    assert.equal(open?.lab, undefined, 'a lab this version does not ship has no Lab');
    assert.equal(api.openLabs.ofLab(UNKNOWN_LAB), open);

    const went = nextEvent(api.openLabs.onDidChange, 'the removed marker to be seen', 30_000, (labs) => !inFolder(labs));
    fs.rmSync(marker());
    await went;
    assert.equal(api.openLabs.inFolder(folder), undefined);
    assert.equal(api.openLabs.ofLab(UNKNOWN_LAB), undefined);
  });
});
