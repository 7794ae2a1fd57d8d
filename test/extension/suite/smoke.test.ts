// Proves the harness: these run in a real VS Code extension host against the real API.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Polls `probe` until it returns a value (the workbench applies some changes asynchronously). */
async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

suite('Smoke: the tests run inside a real VS Code', () => {
  test('VS Code is 1.100', () => {
    assert.match(vscode.version, /^1\.100\./);
  });

  test('the workspace that was opened is the window\'s workspace', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const listed = `workspace folders: ${folders.map((f) => f.uri.toString()).join(', ')}`;
    const workspaceFile = process.env.DATA_LABS_TEST_WORKSPACE_FILE;
    if (workspaceFile) {
      // A multi-root workspace from the start (see run-in-code-server.mjs), so that tests
      // can add folders without VS Code restarting the extension host.
      assert.equal(vscode.workspace.workspaceFile?.fsPath, path.resolve(workspaceFile));
    } else {
      assert.equal(vscode.workspace.workspaceFile, undefined, 'a single-folder window');
    }
    // Tests that add folders remove them again.
    assert.equal(folders.length, 1, listed);
    const expected = process.env.DATA_LABS_TEST_WORKSPACE;
    if (expected) assert.equal(folders[0]?.uri.fsPath, path.resolve(expected), listed);
  });

  test('the workspace file system API reaches the folder on disk', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'a workspace folder is open');
    const uri = vscode.Uri.joinPath(folder.uri, `smoke-${process.pid}.txt`);
    await vscode.workspace.fs.writeFile(uri, Buffer.from('written through vscode.workspace.fs'));
    try {
      assert.equal(fs.readFileSync(uri.fsPath, 'utf8'), 'written through vscode.workspace.fs');
    } finally {
      await vscode.workspace.fs.delete(uri);
    }
  });

  test('a command opens an untitled editor that can be edited', async () => {
    await vscode.commands.executeCommand('workbench.action.files.newUntitledFile');
    const editor = await waitFor(
      () => (vscode.window.activeTextEditor?.document.isUntitled ? vscode.window.activeTextEditor : undefined),
      'an untitled editor',
    );
    assert.ok(await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), 'hello from the smoke test')));
    assert.equal(editor.document.getText(), 'hello from the smoke test');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  test('the extension under development is loaded', () => {
    const expected = process.env.DATA_LABS_EXTENSION_PATH;
    const ids = vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => `${e.id} (${e.extensionPath})`);
    if (expected) {
      const found = vscode.extensions.all.find((e) => path.resolve(e.extensionPath) === path.resolve(expected));
      assert.ok(found, `no extension at ${expected}; non-builtin extensions: ${ids.join(', ') || 'none'}`);
    } else {
      assert.ok(ids.length > 0, 'some extension besides the built-in ones is loaded');
    }
  });
});
