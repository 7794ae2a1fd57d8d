// A lab from end to end, in the real extension host: `dataLabs.openLab` scaffolds
// it into the labs folder, adds it to the workspace, opens its main file beside the
// README, installs its dependencies and starts its PostgreSQL in Docker (the local
// image run-in-code-server.mjs maps in `dataLabs.images`), shown in the Containers
// view; the test controller lists its tests, runs them with the lab's own Vitest
// against that database, and reports each failure at its line; the reference solution
// makes them all pass, on Docker and after switching to the embedded engine; a single
// test runs alone; closing the lab parks its database.
//
// The window must be a multi-root workspace (a .code-workspace file) from the start:
// adding a folder to a single-folder window makes VS Code restart the extension host,
// which would end this run. run-in-code-server.mjs opens one by default; opened
// with --single-folder, this suite skips itself.
//
// The tests run in order and build on each other (open → install → discover → run
// the starter → run the solution → run one test); the suite cleans up after itself:
// the lab folder leaves the workspace, the labs folder is deleted, the setting and
// the progress are reset.
//
// The first run installs the lab's npm dependencies from the registry (allow a few
// minutes); npm's cache makes later runs take seconds.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import pg from 'pg';
import type { DataLabsApi } from '../../../src/dataLabs';
import type { RunOutcomes } from '../../../src/testing/labTestController';
import type { ContainersNode } from '../../../src/views/containersView';
import {
  LAB_ID,
  LAB_TITLE,
  activateApi,
  allTabs,
  children,
  closeAllEditors,
  describeTabs,
  extension,
  groupNode,
  nextEvent,
  previewTab,
  resetProgress,
  waitFor,
  within,
} from './helpers';

const TEST_FILES = ['test/relational.test.ts', 'test/document.test.ts'];
const TEST_COUNT = 10;
const INSTALL_TIMEOUT_MS = 5 * 60_000;
const RUN_TIMEOUT_MS = 2 * 60_000;
const SERVICES_TIMEOUT_MS = 3 * 60_000;

/** The value of one variable in the lab's .env. */
function envValue(labDir: string, key: string): string | undefined {
  const text = fs.readFileSync(path.join(labDir, '.env'), 'utf8');
  return text.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
}

/** One query through the pg client, as the lab's own code connects. */
async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(sql)).rows as unknown[];
  } finally {
    await client.end().catch(() => {});
  }
}

function* leavesOf(item: vscode.TestItem): Generator<vscode.TestItem> {
  if (item.children.size === 0) {
    yield item;
    return;
  }
  for (const [, child] of item.children) yield* leavesOf(child);
}

suite('Lab: open, install, discover and run its tests', function () {
  let api: DataLabsApi;
  /** The labs folder for this suite; it has a space in its name, as "My Labs" would. */
  let labsRoot: string;
  let tempDir: string;
  let labDir: string;
  let workspaceFile: vscode.Uri | undefined;
  let opening: Promise<unknown> | undefined;
  const sourceLab = (): string => path.join(api.catalog.dir, LAB_ID);

  const labRoot = (): vscode.TestItem | undefined => api.tests.controller.items.get(`lab:${labDir}`);
  const leaves = (): vscode.TestItem[] => {
    const root = labRoot();
    return root ? [...leavesOf(root)] : [];
  };
  /** What the last run that runTests waited for decided. */
  let lastResults: RunOutcomes = new Map();
  const describeResults = (): string =>
    [...lastResults].map(([id, r]) => `${id.replace(/^.*#/, '')}: ${r.state}${r.message ? ` (${r.message.split('\n')[0]})` : ''}`).join('; ') || 'none';

  /** Runs `command`, waits for the controller to end the run it starts, returns what the run decided. */
  async function runTests(command: string): Promise<RunOutcomes> {
    const ended = nextEvent(api.tests.onDidEndRun, `a test run started by ${command}`, RUN_TIMEOUT_MS);
    ended.catch(() => {});
    await within(vscode.commands.executeCommand(command), RUN_TIMEOUT_MS, command);
    lastResults = await ended;
    return lastResults;
  }

  suiteSetup(async function () {
    if (!vscode.workspace.workspaceFile) {
      // Opening a lab would restart the extension host of a single-folder window (see the header).
      this.skip();
    }
    workspaceFile = vscode.workspace.workspaceFile;
    api = await activateApi();
    await resetProgress(api);
    await closeAllEditors();
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-labs-lab-test-'));
    labsRoot = path.join(tempDir, 'My Labs');
    labDir = path.join(labsRoot, LAB_ID);
    await vscode.workspace.getConfiguration('dataLabs').update('labsRoot', labsRoot, vscode.ConfigurationTarget.Global);
    await waitFor(() => api.settings.labsRoot === labsRoot, `dataLabs.labsRoot to read ${labsRoot}`, { describe: () => api.settings.labsRoot });
  });

  suiteTeardown(async function () {
    this.timeout(60_000);
    if (!api) return;
    // Let an open still running (a failed test) end before its folder goes.
    if (opening) await within(opening, 30_000, 'the lab open').catch(() => {});
    await closeAllEditors().catch(() => vscode.commands.executeCommand('workbench.action.closeAllEditors'));
    const index = (vscode.workspace.workspaceFolders ?? []).findIndex((f) => f.uri.fsPath === labDir);
    if (index >= 0) {
      const removed = nextEvent(vscode.workspace.onDidChangeWorkspaceFolders, 'the lab folder to leave the workspace', 20_000);
      assert.ok(vscode.workspace.updateWorkspaceFolders(index, 1), 'VS Code accepts removing the lab folder');
      await removed;
    }
    // The lab's databases leave the engine with the suite (closing the folder only parks them).
    await api.services.stop(LAB_ID, { remove: true }).catch(() => {});
    await vscode.workspace.getConfiguration('dataLabs').update('labsRoot', undefined, vscode.ConfigurationTarget.Global);
    await resetProgress(api);
    await api.tests.discoverAll();
    fs.rmSync(tempDir, { recursive: true, force: true });
  });

  test('dataLabs.openLab scaffolds the lab into <labsRoot>/<lab>', async function () {
    this.timeout(60_000);
    assert.equal(fs.existsSync(labDir), false, 'the lab folder does not exist yet');
    // The command resolves only once the dependencies are installed (a later test waits for that).
    opening = Promise.resolve(vscode.commands.executeCommand('dataLabs.openLab', LAB_ID));
    opening.catch(() => {});
    await waitFor(() => fs.existsSync(path.join(labDir, '.data-lab.json')), 'the lab marker', { timeoutMs: 30_000 });
    for (const file of ['README.md', 'package.json', 'src/shop.ts', 'src/db.ts', ...TEST_FILES]) {
      assert.ok(fs.existsSync(path.join(labDir, file)), `${file} is scaffolded`);
    }
    assert.equal(fs.readFileSync(path.join(labDir, 'README.md'), 'utf8'), fs.readFileSync(path.join(sourceLab(), 'README.md'), 'utf8'));
    assert.equal(fs.readFileSync(path.join(labDir, 'src/shop.ts'), 'utf8'), fs.readFileSync(path.join(sourceLab(), 'starter/src/shop.ts'), 'utf8'));
    const marker = JSON.parse(fs.readFileSync(path.join(labDir, '.data-lab.json'), 'utf8')) as { lab: string; productVersion: string };
    assert.equal(marker.lab, LAB_ID);
    assert.equal(marker.productVersion, (extension().packageJSON as { version: string }).version);
  });

  test('the lab folder joins the workspace, and the extension host keeps running', async () => {
    const folder = await waitFor(
      () => vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === labDir),
      'the lab folder in the workspace',
      { timeoutMs: 30_000, describe: () => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath).join(', ') },
    );
    assert.equal(folder.name, LAB_TITLE);
    assert.equal(vscode.workspace.workspaceFile?.toString(), workspaceFile?.toString(), 'still the same workspace file');
    const first = process.env.DATA_LABS_TEST_WORKSPACE;
    if (first) assert.equal(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, path.resolve(first), 'the original folder stays first');
    // A restarted extension host would have a new extension instance (and this suite would be gone).
    assert.equal(extension().exports, api);
  });

  test('src/shop.ts is open in an editor, with the README preview beside it', async function () {
    this.timeout(60_000);
    const shop = path.join(labDir, 'src', 'shop.ts');
    const editor = await waitFor(
      () => vscode.window.visibleTextEditors.find((e) => e.document.uri.fsPath === shop),
      'an editor on src/shop.ts',
      { timeoutMs: 30_000, describe: describeTabs },
    );
    assert.equal(editor.viewColumn, vscode.ViewColumn.One);
    const tab = await waitFor(() => previewTab('README.md'), 'the README preview', { timeoutMs: 30_000, describe: describeTabs });
    assert.notEqual(tab.group.viewColumn, vscode.ViewColumn.One, 'the preview is beside the main file');
    assert.ok(allTabs().some((t) => t.input instanceof vscode.TabInputText && t.input.uri.fsPath === shop && t.group.viewColumn === vscode.ViewColumn.One));
  });

  test('the dependencies install once (node_modules/.data-labs-installed)', async function () {
    this.timeout(INSTALL_TIMEOUT_MS + 30_000);
    const stamp = path.join(labDir, 'node_modules', '.data-labs-installed');
    assert.ok(opening, 'the lab was opened');
    await within(opening, INSTALL_TIMEOUT_MS, 'dataLabs.openLab (npm install in the lab)');
    assert.ok(fs.existsSync(stamp), `${stamp} exists once the open has finished (see "Distributed Data Labs: Show Log" for npm's output)`);
    assert.ok(fs.existsSync(path.join(labDir, 'node_modules', 'vitest', 'vitest.mjs')), 'vitest is installed');
    assert.ok(fs.existsSync(path.join(labDir, 'node_modules', 'pg')), 'the pg client is installed');
    // The open is recorded, and the lab's tree item says so.
    assert.ok(api.progress.store.snapshot().labs[LAB_ID]?.openedAt, 'progress records the open');
    const labs = await groupNode(api, 'database-types', 'labs');
    assert.ok(labs);
    const node = (await children(api, labs)).find((n) => n.kind === 'lab' && n.lab.id === LAB_ID);
    assert.ok(node);
    const item = api.tree.getTreeItem(node);
    // Its row says where the learner is in its TODOs: none written yet.
    await waitFor(() => api.steps.stepOf(LAB_ID), 'the lab\'s steps to be read', { timeoutMs: 10_000 });
    assert.equal(api.tree.getTreeItem(node).description, 'TODO 1 of 6');
    assert.equal(item.contextValue, 'lab.opened');
  });

  /** The Containers view's nodes under this lab. */
  async function containerNodes(): Promise<ContainersNode[]> {
    const labs = await api.containers.getChildren();
    const lab = labs.find((n) => n.kind === 'lab' && n.labId === LAB_ID);
    return lab ? api.containers.getChildren(lab) : [];
  }
  const describeNodes = async (): Promise<string> =>
    (await containerNodes()).map((n) => `${n.kind}:${String(api.containers.getTreeItem(n).label)} ${String(api.containers.getTreeItem(n).description ?? '')}`).join('; ');
  let lastNodes = '';

  test('the lab\'s PostgreSQL starts in Docker, answers, and its connection details are in .env', async function () {
    this.timeout(SERVICES_TIMEOUT_MS + 30_000);
    const state = await waitFor(() => api.services.state(LAB_ID)?.phase === 'ready' && api.services.state(LAB_ID), 'the lab\'s databases to be ready', {
      timeoutMs: SERVICES_TIMEOUT_MS,
      intervalMs: 250,
      describe: () => JSON.stringify({ ...api.services.state(LAB_ID), started: undefined }),
    });
    assert.equal(state.backend, 'docker');
    assert.equal(state.labDir, labDir);
    const postgres = state.started?.connections[0];
    assert.ok(postgres?.containerId, 'a container runs it');
    assert.equal(postgres.host, '127.0.0.1');
    assert.equal(envValue(labDir, 'DATABASE_URL'), postgres.url);
    assert.equal(envValue(labDir, 'POSTGRES_PORT'), String(postgres.port));
    assert.equal((fs.statSync(path.join(labDir, '.env')).mode & 0o777).toString(8), '600', '.env holds a password: owner only');
    const rows = await query(postgres.url, "SELECT current_user AS who, split_part(version(), ' ', 2) AS v");
    assert.deepEqual(rows, [{ who: 'lab', v: (rows[0] as { v: string }).v }]);
    assert.match((rows[0] as { v: string }).v, /^15\./, 'real PostgreSQL 15');
  });

  test('the Containers view shows the container running on 127.0.0.1, and copies its connection string', async function () {
    this.timeout(30_000);
    const node = await waitFor(
      async () => (await containerNodes()).find((n): n is Extract<ContainersNode, { kind: 'container' }> => n.kind === 'container' && n.container.status === 'running'),
      'a running container in the Containers view',
      { timeoutMs: 20_000, intervalMs: 250, describe: () => lastNodes },
    ).catch(async (error: unknown) => {
      lastNodes = await describeNodes();
      throw error;
    });
    const item = api.containers.getTreeItem(node);
    assert.equal(item.label, 'postgres');
    const port = envValue(labDir, 'POSTGRES_PORT');
    assert.equal(item.description, `running · 127.0.0.1:${port}`);
    assert.equal(item.contextValue, 'container.running');
    const labItem = api.containers.getTreeItem((await api.containers.getChildren()).find((n) => n.kind === 'lab' && n.labId === LAB_ID)!);
    assert.equal(labItem.label, LAB_TITLE);
    assert.equal(labItem.description, 'Docker · ready');
    const copied = await vscode.commands.executeCommand<string>('dataLabs.copyConnectionString', node);
    assert.equal(copied, envValue(labDir, 'DATABASE_URL'));
    assert.equal(await vscode.env.clipboard.readText(), copied);
  });

  test('stopping and starting the container from the view keeps its data, and .env follows its new port', async function () {
    this.timeout(90_000);
    const url = envValue(labDir, 'DATABASE_URL')!;
    await query(url, 'CREATE TABLE IF NOT EXISTS kept (n int); INSERT INTO kept VALUES (7)');
    const running = (await containerNodes()).find((n) => n.kind === 'container');
    assert.ok(running);
    await vscode.commands.executeCommand('dataLabs.stopContainer', running);
    const stopped = await waitFor(
      async () => (await containerNodes()).find((n): n is Extract<ContainersNode, { kind: 'container' }> => n.kind === 'container' && n.container.status === 'exited'),
      'the container to show as stopped',
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.equal(api.containers.getTreeItem(stopped).contextValue, 'container.stopped');
    await vscode.commands.executeCommand('dataLabs.startContainer', stopped);
    const state = api.services.state(LAB_ID);
    assert.equal(state?.phase, 'ready');
    const newUrl = envValue(labDir, 'DATABASE_URL')!;
    assert.equal(newUrl, state?.started?.connections[0]?.url);
    assert.deepEqual(await query(newUrl, 'SELECT n FROM kept'), [{ n: 7 }]);
    await query(newUrl, 'DROP TABLE kept');
  });

  test('the container\'s log opens in an output channel, and its shell in a terminal', async function () {
    this.timeout(30_000);
    const node = (await containerNodes()).find((n) => n.kind === 'container' && n.container.status === 'running');
    assert.ok(node);
    const lines = await vscode.commands.executeCommand<string[]>('dataLabs.showContainerLogs', node);
    assert.ok(lines?.some((l) => /database system is ready to accept connections/.test(l)), `PostgreSQL's own log: ${lines?.slice(-5).join(' | ')}`);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('dataLabs.openContainerShell', node);
    assert.ok(terminal, 'a terminal opens');
    const options = terminal.creationOptions as vscode.TerminalOptions;
    assert.equal(options.shellPath, 'docker');
    assert.deepEqual(options.shellArgs, ['exec', '-it', node.kind === 'container' ? node.container.id : '', 'psql', '-U', 'lab', '-d', 'lab']);
    terminal.dispose();
  });

  test('a container `data-labs services up` runs for the lab folder is shared, never adopted: it keeps its owner, the view says so, and the editor\'s stop leaves it running', async function () {
    this.timeout(3 * 60_000);
    const cliScript = path.join(extension().extensionPath, 'dist', 'cli.js');
    const progressDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddl-cli-progress-'));
    const cli = (...args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [cliScript, 'services', ...args, LAB_ID, labDir], {
        encoding: 'utf8',
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', DATA_LABS_PROGRESS_DIR: progressDir },
        timeout: 90_000,
      });
    try {
      // The learner closed the window's databases, then started them in a terminal, as the lab README says.
      await vscode.commands.executeCommand('dataLabs.stopDatabases', { kind: 'lab', labId: LAB_ID, labDir, title: LAB_TITLE });
      const up = cli('up');
      assert.equal(up.status, 0, String(up.stderr));
      assert.ok(await vscode.commands.executeCommand<boolean>('dataLabs.startDatabases', { kind: 'lab', labId: LAB_ID, labDir, title: LAB_TITLE }));
      const node = await waitFor(
        async () => (await containerNodes()).find((n): n is Extract<ContainersNode, { kind: 'container' }> => n.kind === 'container' && n.container.status === 'running' && n.container.owner === 'cli'),
        'the running container, still the command line\'s',
        { timeoutMs: 20_000, intervalMs: 250, describe: () => lastNodes },
      ).catch(async (error: unknown) => {
        lastNodes = await describeNodes();
        throw error;
      });
      assert.match(String(api.containers.getTreeItem(node).description), /^running · 127\.0\.0\.1:\d+ · shared with `data-labs services up`$/);
      await vscode.commands.executeCommand('dataLabs.stopDatabases', { kind: 'lab', labId: LAB_ID, labDir, title: LAB_TITLE });
      const after = (await api.services.status(LAB_ID))?.docker.containers;
      assert.deepEqual(after?.map((c) => [c.status, c.owner]), [['running', 'cli']], 'the editor\'s stop left the terminal\'s database running');
    } finally {
      // Back to the editor's own database for the tests after this one: parked by the CLI, taken by the editor.
      cli('down');
      await vscode.commands.executeCommand('dataLabs.startDatabases', { kind: 'lab', labId: LAB_ID, labDir, title: LAB_TITLE });
      fs.rmSync(progressDir, { recursive: true, force: true });
    }
  });

  test('opening it again keeps the learner\'s edits and does not install again', async function () {
    this.timeout(60_000);
    const shop = vscode.Uri.file(path.join(labDir, 'src', 'shop.ts'));
    const document = await vscode.workspace.openTextDocument(shop);
    const editor = await vscode.window.showTextDocument(document, vscode.ViewColumn.One);
    const edit = '// my own note, which opening the lab again must keep\n';
    assert.ok(await editor.edit((e) => e.insert(new vscode.Position(0, 0), edit)));
    assert.ok(await document.save(), 'the edit is saved');
    const stamp = path.join(labDir, 'node_modules', '.data-labs-installed');
    const stampTime = fs.statSync(stamp).mtimeMs;
    const marker = fs.readFileSync(path.join(labDir, '.data-lab.json'), 'utf8');
    const folders = vscode.workspace.workspaceFolders?.length;

    await within(vscode.commands.executeCommand('dataLabs.openLab', LAB_ID), 30_000, 'opening the lab again');
    assert.ok(fs.readFileSync(shop.fsPath, 'utf8').startsWith(edit), 'src/shop.ts keeps the edit');
    assert.equal(fs.readFileSync(path.join(labDir, '.data-lab.json'), 'utf8'), marker, 'the marker is not rewritten');
    assert.equal(fs.statSync(stamp).mtimeMs, stampTime, 'npm install did not run again');
    assert.equal(vscode.workspace.workspaceFolders?.length, folders, 'the folder is not added twice');
    assert.ok(vscode.window.visibleTextEditors.some((e) => e.document.uri.fsPath === shop.fsPath), 'src/shop.ts is shown again');
  });

  test(`the test controller lists the lab with its ${TEST_FILES.length} test files and ${TEST_COUNT} tests`, async () => {
    const root = await waitFor(labRoot, 'the lab in the test controller', {
      describe: () => [...api.tests.controller.items].map(([id]) => id).join(', ') || 'no items',
    });
    assert.equal(root.label, LAB_TITLE);
    assert.equal(root.uri?.fsPath, labDir);
    const files = [...root.children].map(([, item]) => item);
    assert.deepEqual(
      files.map((f) => f.label).sort(),
      [...TEST_FILES].sort(),
    );
    for (const file of files) assert.equal(file.uri?.fsPath, path.join(labDir, file.label));
    const tests = leaves();
    assert.equal(tests.length, TEST_COUNT, `tests: ${tests.map((t) => t.label).join(' | ')}`);
    for (const t of tests) {
      assert.ok(t.range, `${t.label} has a range`);
      assert.ok(TEST_FILES.some((f) => t.uri?.fsPath === path.join(labDir, f)), `${t.label} is in a test file`);
      assert.match(t.label, /^TODO\(\d\)/);
    }
  });

  test('running all tests on the starter reports each failure with its line and a TODO message', async function () {
    this.timeout(RUN_TIMEOUT_MS + 30_000);
    const results = await runTests('testing.runAll');
    const tests = leaves();
    assert.deepEqual([...results.keys()].sort(), tests.map((t) => t.id).sort(), `results: ${describeResults()}`);
    for (const t of tests) {
      const result = results.get(t.id);
      assert.ok(result);
      assert.equal(result.state, 'failed', `${t.label}: ${describeResults()}`);
      assert.match(result.message ?? '', /TODO/, `${t.label} says which TODO is missing`);
      const lines = fs.readFileSync(t.uri?.fsPath ?? '', 'utf8').split('\n');
      assert.equal(typeof result.line, 'number', `${t.label} has a failure line`);
      const line = result.line ?? -1;
      assert.ok(Number.isInteger(line) && line >= 0 && line < lines.length, `${t.label}: line ${line} is inside its test file (${lines.length} lines)`);
      assert.match(lines[line] ?? '', /\S/, `${t.label}: line ${line} is not blank`);
    }
  });

  test('tests on save and the guided next step: with continuous run on, a save runs the lab\'s tests; TODO(1) written, its tests pass and TODO(2) is offered; the whole solution: every step done; off, a save runs nothing', async function () {
    this.timeout(2 * RUN_TIMEOUT_MS + 30_000);
    const root = api.tests.controller.items.get(`lab:${labDir}`);
    assert.ok(root, 'the lab is in the Testing view');
    const profile = api.tests.runProfile;
    assert.equal(profile.supportsContinuousRun, true, 'the Testing view offers continuous run');
    const stop = new vscode.CancellationTokenSource();
    // What the Testing view's "Turn on Continuous Run" does for the lab.
    const watching = profile.runHandler(new vscode.TestRunRequest([root], undefined, profile, true), stop.token);
    const saveShop = async (text: string): Promise<void> => {
      const document = await vscode.workspace.openTextDocument(path.join(labDir, 'src', 'shop.ts'));
      const edit = new vscode.WorkspaceEdit();
      edit.replace(document.uri, new vscode.Range(0, 0, document.lineCount, 0), text);
      assert.ok(await vscode.workspace.applyEdit(edit));
      assert.ok(await document.save());
    };
    const labRow = async (): Promise<string> => {
      const labs = await groupNode(api, 'database-types', 'labs');
      const node = labs && (await children(api, labs)).find((n) => n.kind === 'lab' && n.lab.id === LAB_ID);
      return node ? String(api.tree.getTreeItem(node).description) : '(no row)';
    };
    const solution = fs.readFileSync(path.join(sourceLab(), 'solution', 'src', 'shop.ts'), 'utf8');
    try {
      // TODO(1) written, the rest not: the starter with the solution's createRelationalSchema.
      const fn = /(export async function createRelationalSchema\(db: Db\): Promise<void> \{)[\s\S]*?\n\}\n/;
      const starter = fs.readFileSync(path.join(labDir, 'src', 'shop.ts'), 'utf8');
      const solved = fn.exec(solution)?.[0];
      assert.ok(solved && fn.test(starter), 'createRelationalSchema is found in both files');
      let ended = nextEvent(api.tests.onDidEndRun, 'a run started by a save', RUN_TIMEOUT_MS);
      ended.catch(() => {});
      let offered = nextEvent(api.steps.onDidOffer, 'the next step offered', RUN_TIMEOUT_MS);
      offered.catch(() => {});
      await saveShop(starter.replace(fn, solved));
      let results = await ended;
      assert.equal(results.size, TEST_COUNT, `results: ${[...results].map(([id, r]) => `${id} ${r.state}`).join('; ')}`);
      const todo1 = [...results.values()].filter((r) => r.test?.name.startsWith('TODO(1)'));
      assert.equal(todo1.length, 3);
      assert.ok(todo1.every((r) => r.state === 'passed'), 'the TODO(1) tests pass with TODO(1) alone written');
      // The step moves on, and the next one is offered.
      assert.deepEqual(await offered, { labId: LAB_ID, done: 1, next: 2 });
      assert.equal(await labRow(), 'TODO 2 of 6');

      // Then the whole solution: every test passes, every step is done.
      ended = nextEvent(api.tests.onDidEndRun, 'a run started by a save', RUN_TIMEOUT_MS);
      ended.catch(() => {});
      offered = nextEvent(api.steps.onDidOffer, 'the end offered', RUN_TIMEOUT_MS);
      offered.catch(() => {});
      await saveShop(solution);
      results = await ended;
      assert.equal(results.size, TEST_COUNT, `results: ${[...results].map(([id, r]) => `${id} ${r.state}`).join('; ')}`);
      for (const [id, result] of results) assert.equal(result.state, 'passed', `${id}: ${result.message ?? ''}`);
      assert.deepEqual(await offered, { labId: LAB_ID, done: 6, next: undefined });
      assert.equal(await labRow(), 'TODOs done');

      // Passed (a lab without hidden checks): the reference beside the learner's code, and the questions to go further.
      const reference = await vscode.commands.executeCommand<string>('dataLabs.compareWithReference', LAB_ID);
      assert.equal(reference, path.join(extension().extensionPath, 'labs', LAB_ID, 'solution', 'src', 'shop.ts'));
      const diff = await waitFor(
        () => allTabs().find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.fsPath === path.join(labDir, 'src', 'shop.ts')),
        'a diff tab of the reference and the learner\'s file',
        { describe: describeTabs },
      );
      assert.equal((diff.input as vscode.TabInputTextDiff).original.fsPath, reference);
      assert.match(diff.label, /^Reference ↔ your src\/shop\.ts/);
      const questions = await vscode.commands.executeCommand<string[]>('dataLabs.goingFurther', LAB_ID, true);
      assert.equal(questions?.length, 4);
      assert.match(questions?.[0] ?? '', /unit_price_cents/);
    } finally {
      stop.cancel();
      await within(Promise.resolve(watching), 10_000, 'continuous run to stop');
    }
    // Turned off, a save runs nothing.
    let ran = false;
    const listener = api.tests.onDidEndRun(() => (ran = true));
    try {
      const document = await vscode.workspace.openTextDocument(path.join(labDir, 'src', 'shop.ts'));
      const edit = new vscode.WorkspaceEdit();
      edit.insert(document.uri, new vscode.Position(document.lineCount, 0), '\n');
      await vscode.workspace.applyEdit(edit);
      await document.save();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(ran, false, 'no run after continuous run was turned off');
    } finally {
      listener.dispose();
    }
  });

  test('with the reference solution\'s src/shop.ts, all tests pass', async function () {
    this.timeout(RUN_TIMEOUT_MS + 30_000);
    fs.copyFileSync(path.join(sourceLab(), 'solution', 'src', 'shop.ts'), path.join(labDir, 'src', 'shop.ts'));
    const results = await runTests('testing.runAll');
    assert.equal(results.size, TEST_COUNT, `results: ${describeResults()}`);
    for (const [id, result] of results) assert.equal(result.state, 'passed', `${id}: ${result.message ?? ''}`);
  });

  test('switched to the embedded engine, the same tests pass there, and back on Docker again', async function () {
    this.timeout(RUN_TIMEOUT_MS + SERVICES_TIMEOUT_MS);
    const dockerUrl = envValue(labDir, 'DATABASE_URL');
    assert.equal(await vscode.commands.executeCommand('dataLabs.switchDatabaseBackend', { labId: LAB_ID }, 'embedded'), true, 'the switch succeeds');
    const state = api.services.state(LAB_ID);
    assert.equal(state?.backend, 'embedded');
    assert.equal(state?.phase, 'ready');
    assert.ok((state?.started?.limitations.length ?? 0) > 0, 'embedded mode says what it cannot do');
    const embeddedUrl = envValue(labDir, 'DATABASE_URL');
    assert.notEqual(embeddedUrl, dockerUrl);
    assert.equal(embeddedUrl, state?.started?.connections[0]?.url);
    // Docker's container was parked when the lab left it.
    const parked = await waitFor(
      async () => (await containerNodes()).find((n) => n.kind === 'container' && n.container.status === 'exited'),
      'the Docker container to be stopped',
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.ok(parked);
    const embedded = (await containerNodes()).find((n) => n.kind === 'embedded');
    assert.ok(embedded && embedded.kind === 'embedded' && embedded.running, 'the view shows the embedded server running');

    const results = await runTests('testing.runAll');
    assert.equal(results.size, TEST_COUNT, `results: ${describeResults()}`);
    for (const [id, result] of results) assert.equal(result.state, 'passed', `on embedded: ${id}: ${result.message ?? ''}`);

    assert.equal(await vscode.commands.executeCommand('dataLabs.switchDatabaseBackend', { labId: LAB_ID }, 'docker'), true);
    assert.equal(api.services.state(LAB_ID)?.backend, 'docker');
    assert.equal(envValue(labDir, 'DATABASE_URL'), api.services.state(LAB_ID)?.started?.connections[0]?.url);
  });

  test('running a single test reports only that test', async function () {
    this.timeout(RUN_TIMEOUT_MS + 30_000);
    const target = leaves().find((t) => t.uri?.fsPath === path.join(labDir, 'test', 'document.test.ts') && /upsert/.test(t.label));
    assert.ok(target?.uri && target.range, 'the upsert test is listed');
    // What "Run Test at Cursor" (Ctrl+; C) does: the cursor sits on the test.
    const editor = await vscode.window.showTextDocument(target.uri, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(target.range.start, target.range.start) });
    assert.equal(editor.selection.active.line, target.range.start.line);
    const results = await runTests('testing.runAtCursor');
    // Not the other tests of the file: they did not run, and their last results stand.
    assert.deepEqual([...results.keys()], [target.id], `results: ${describeResults()}`);
    assert.equal(results.get(target.id)?.state, 'passed');
  });

  test('Reset Lab moves the learner\'s work to a timestamped backup, then restores the starter', async function () {
    this.timeout(60_000);
    // The solution was copied in above: that is the learner's work now.
    const worked = fs.readFileSync(path.join(labDir, 'src', 'shop.ts'), 'utf8');
    const starter = fs.readFileSync(path.join(sourceLab(), 'starter', 'src', 'shop.ts'), 'utf8');
    assert.notEqual(worked, starter);
    const backups = path.join(labsRoot, '.backups');
    const before = fs.existsSync(backups) ? fs.readdirSync(backups) : [];
    await vscode.commands.executeCommand('dataLabs.resetLab', LAB_ID, true);
    const created = fs.readdirSync(backups).filter((name) => !before.includes(name));
    assert.equal(created.length, 1, `one new backup in ${backups}: ${created.join(', ')}`);
    assert.match(created[0] ?? '', new RegExp(`^${LAB_ID}-\\d{4}-\\d{2}-\\d{2}T`));
    const backup = path.join(backups, created[0] ?? '');
    assert.equal(fs.readFileSync(path.join(backup, 'src', 'shop.ts'), 'utf8'), worked, 'the backup holds the learner\'s file byte for byte');
    assert.equal(fs.readFileSync(path.join(labDir, 'src', 'shop.ts'), 'utf8'), starter, 'the lab is back to its starter');
    assert.ok(fs.existsSync(path.join(labDir, 'node_modules', '.data-labs-installed')), 'installed dependencies stay, so the lab still works offline');
    assert.ok(!fs.existsSync(path.join(backup, 'node_modules')), 'node_modules is not copied into the backup');
  });
  test('a database that cannot start says why, and offers the embedded engine, the setting, a retry and the log', async function () {
    this.timeout(SERVICES_TIMEOUT_MS + 60_000);
    const config = vscode.workspace.getConfiguration('dataLabs');
    const images = config.get<Record<string, string>>('images') ?? {};
    // A tag the local registry (127.0.0.1:5000, see test/setup/docker.sh) does not have: a real failed pull.
    const missing = '127.0.0.1:5000/data-labs-local/postgres:no-such-tag';
    await config.update('images', { ...images, postgres: missing }, vscode.ConfigurationTarget.Global);
    try {
      const failure = nextEvent(api.services.onDidFailToStart, 'the failure notification', SERVICES_TIMEOUT_MS, (f) => f.labId === LAB_ID);
      failure.catch(() => {});
      assert.equal(await vscode.commands.executeCommand('dataLabs.resetDatabases', { labId: LAB_ID }, true), false, 'the reset fails');
      const state = api.services.state(LAB_ID);
      assert.equal(state?.phase, 'failed');
      assert.match(state?.error ?? '', /Pulling 127\.0\.0\.1:5000\/data-labs-local\/postgres:no-such-tag failed: [\s\S]*dataLabs\.images/);
      const shown = await failure;
      assert.equal(shown.labId, LAB_ID);
      assert.deepEqual(shown.actions, ['Use Embedded Databases', 'Open Settings', 'Retry', 'Show Log']);
      const labNode = (await api.containers.getChildren()).find((n) => n.kind === 'lab' && n.labId === LAB_ID);
      assert.ok(labNode);
      assert.equal(api.containers.getTreeItem(labNode).description, 'Docker · failed');
      const message = (await api.containers.getChildren(labNode)).find((n) => n.kind === 'message');
      assert.match(String(message && api.containers.getTreeItem(message).label), /no-such-tag/);
    } finally {
      await config.update('images', images, vscode.ConfigurationTarget.Global);
    }
    // With the image back, the lab's database comes back, empty.
    assert.ok(await vscode.commands.executeCommand('dataLabs.startDatabases', { labId: LAB_ID }), 'the databases start again');
    assert.equal(api.services.state(LAB_ID)?.phase, 'ready');
  });

  test('closing the lab (its folder leaves the workspace) parks its databases: stopped, kept, owned by no session', async function () {
    this.timeout(60_000);
    const index = (vscode.workspace.workspaceFolders ?? []).findIndex((f) => f.uri.fsPath === labDir);
    assert.ok(index >= 0);
    const removed = nextEvent(vscode.workspace.onDidChangeWorkspaceFolders, 'the lab folder to leave the workspace', 20_000);
    assert.ok(vscode.workspace.updateWorkspaceFolders(index, 1), 'VS Code accepts removing the lab folder');
    await removed;
    await waitFor(() => api.services.state(LAB_ID)?.phase === 'stopped', 'the lab\'s databases to stop', {
      timeoutMs: 30_000,
      intervalMs: 250,
      describe: () => api.services.state(LAB_ID)?.phase ?? 'no state',
    });
    const status = await api.services.status(LAB_ID);
    assert.deepEqual(
      status?.docker.containers.map((c) => [c.service, c.status, c.owner]),
      [['postgres', 'exited', 'parked']],
    );
    assert.ok(fs.existsSync(path.join(labDir, 'src', 'shop.ts')), 'the lab folder itself stays');
  });
});
