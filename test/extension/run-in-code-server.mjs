#!/usr/bin/env node
// Runs the extension-host tests (test/extension/suite) inside a real VS Code 1.100:
// code-server's remote extension host, driven by headless Chromium. Works offline.
//
//   node test/extension/run-in-code-server.mjs [options]
//
// How the tests get in: code-server's own CLI rejects --extensionTestsPath, but VS
// Code's web workbench reads the same two settings from its URL: the `payload` query
// parameter, a JSON list of [name, value] pairs (what VS Code uses to open an
// "Extension Development Host" window in the browser). This script opens
//
//   http://127.0.0.1:PORT/?workspace=WORKSPACE_FILE&payload=[
//     ["extensionDevelopmentPath", "vscode-remote://127.0.0.1:PORT/EXTENSION"],
//     ["extensionTestsPath",       "vscode-remote://127.0.0.1:PORT/…/out/extension-tests/index.js"]]
//
// The workbench passes both URIs to code-server's remote extension host (which turns
// vscode-remote URIs back into file paths); the host loads the extension under
// development from disk, and once it is up, the workbench asks it to require
// index.js and call its run(), in the extension host with the real `vscode` API.
//
// How completion is detected: when run() settles, the workbench stops the extension
// host and calls window.codeAutomationExit(code) (0 when run() resolved, 1 when it
// rejected), the hook VS Code gives test drivers. This script exposes that function
// to the page through Playwright and waits for it, or for the page to crash,
// code-server to exit or the hard timeout. The counts come from the JSON summary
// index.ts writes (DATA_LABS_TEST_RESULT; rewritten after every test, `finished` only
// at the end, so a dead extension host, which may report code 0, is caught and the
// test it was running named); mocha's report is streamed from DATA_LABS_TEST_OUTPUT
// as it is written. Should the exit call never come, a summary that says finished
// ends the wait a minute later. The run ends with the line `N passed, M failed` (a
// run that fails for any reason but a test — a build error, a crash, no summary, the
// hard timeout — counts one more failure) and exits 0 only if all passed.
//
// The window is a multi-root workspace from the start: by default a fresh temporary
// `tests.code-workspace` file listing one fresh temporary folder. VS Code restarts
// the extension host when a single-folder window gains a folder (it becomes an
// untitled multi-root workspace), which would end the run midway; a window opened on
// a workspace file keeps its extension host when folders are added or removed, so
// tests can open labs (which adds their folder) and remove them again.
//
// The extension host inherits this script's environment (less what would misdirect
// code-server: see serverEnvironment in ../support/code-server.mjs), the --env
// variables, and DATA_LABS_TEST_RESULT, DATA_LABS_TEST_OUTPUT, DATA_LABS_TEST_GREP,
// DATA_LABS_EXTENSION_PATH, DATA_LABS_TEST_WORKSPACE (the folder it opened, the
// workspace's first) and DATA_LABS_TEST_WORKSPACE_FILE (the .code-workspace file it
// opened; unset with --single-folder).
// DATA_LABS_MOCHA_TIMEOUT (ms, default 30000) sets mocha's per-test timeout.
//
// Options (environment variable in brackets):
//   --extension PATH  extension under development [DATA_LABS_EXTENSION_PATH]; default
//                     the repo root, which is built first with `node esbuild.js`
//   --folder PATH     the workspace's folder [DATA_LABS_TEST_WORKSPACE]; default a
//                     fresh temporary folder
//   --workspace FILE  open this .code-workspace file as it is, instead of a fresh one
//                     [DATA_LABS_TEST_WORKSPACE_FILE]
//   --single-folder   open the folder alone, with no workspace file (tests that add a
//                     folder to the workspace then skip themselves)
//   --env NAME=VALUE  extra environment variable for the extension host (repeatable);
//                     the host also inherits this script's environment
//   --grep REGEXP     only tests whose full title matches [DATA_LABS_TEST_GREP]
//   --timeout SECONDS hard limit for the whole run, default 600 [DATA_LABS_TEST_HARD_TIMEOUT]
//   --no-build        do not run `node esbuild.js` (the suite is always compiled)
//   --keep            keep the temporary folders and logs [DATA_LABS_KEEP_TEMP=1]
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { REPO_ROOT, launchBrowser, runProcess, startCodeServer, workbenchQuery } from '../support/code-server.mjs';
import { buildSuite } from './build-suite.mjs';

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (message) => process.stderr.write(`[extension-tests] ${message}\n`);

class UsageError extends Error {}

/** Options from the command line and the environment (see the header). */
export function parseOptions(argv = process.argv.slice(2), env = process.env) {
  const options = {
    extensionPath: env.DATA_LABS_EXTENSION_PATH || REPO_ROOT,
    folder: env.DATA_LABS_TEST_WORKSPACE || undefined,
    workspaceFile: env.DATA_LABS_TEST_WORKSPACE_FILE || undefined,
    singleFolder: false,
    env: {},
    grep: env.DATA_LABS_TEST_GREP || undefined,
    timeoutMs: (Number(env.DATA_LABS_TEST_HARD_TIMEOUT) || 600) * 1000,
    build: true,
    keep: env.DATA_LABS_KEEP_TEMP === '1',
    help: false,
  };
  const args = argv.flatMap((arg) => (/^--[^=]+=/.test(arg) ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg]));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case '--extension':
        options.extensionPath = value();
        break;
      case '--folder':
        options.folder = value();
        break;
      case '--workspace':
        options.workspaceFile = value();
        break;
      case '--single-folder':
        options.singleFolder = true;
        break;
      case '--env': {
        const pair = value();
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`--env wants NAME=VALUE, not ${pair}`);
        options.env[pair.slice(0, eq)] = pair.slice(eq + 1);
        break;
      }
      case '--grep':
        options.grep = value();
        break;
      case '--timeout': {
        const seconds = Number(value());
        if (!(seconds > 0)) throw new UsageError('--timeout wants a number of seconds');
        options.timeoutMs = seconds * 1000;
        break;
      }
      case '--no-build':
        options.build = false;
        break;
      case '--keep':
        options.keep = true;
        break;
      case '-h':
      case '--help':
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown argument: ${arg}`);
    }
  }
  options.extensionPath = path.resolve(options.extensionPath);
  if (options.folder) options.folder = path.resolve(options.folder);
  if (options.workspaceFile) {
    options.workspaceFile = path.resolve(options.workspaceFile);
    if (!options.workspaceFile.endsWith('.code-workspace')) throw new UsageError(`--workspace wants a .code-workspace file, not ${options.workspaceFile}`);
    if (options.singleFolder) throw new UsageError('--workspace and --single-folder exclude each other');
  }
  return options;
}

/**
 * What the window opens (see the header): `options.workspaceFile` as it is, or a
 * fresh `tests.code-workspace` in `runDir` listing the folder (`options.folder`, else
 * a fresh `runDir/workspace`), or with `options.singleFolder` the folder alone.
 * Returns { folder, workspaceFile } (workspaceFile undefined for a single folder;
 * folder is the workspace's first folder, if any, for a given file).
 */
export function prepareWorkspace(options, runDir) {
  if (options.workspaceFile) {
    if (!fs.existsSync(options.workspaceFile)) throw new Error(`${options.workspaceFile} does not exist`);
    let folder;
    try {
      const first = JSON.parse(fs.readFileSync(options.workspaceFile, 'utf8')).folders?.[0]?.path;
      if (typeof first === 'string') folder = path.resolve(path.dirname(options.workspaceFile), first);
    } catch {
      // A workspace file with comments or trailing commas: VS Code reads it, we do not need to.
    }
    return { folder, workspaceFile: options.workspaceFile };
  }
  const folder = options.folder ?? path.join(runDir, 'workspace');
  fs.mkdirSync(folder, { recursive: true });
  if (options.singleFolder) return { folder, workspaceFile: undefined };
  const workspaceFile = path.join(runDir, 'tests.code-workspace');
  fs.writeFileSync(workspaceFile, `${JSON.stringify({ folders: [{ path: folder }], settings: {} }, null, 2)}\n`);
  return { folder, workspaceFile };
}

/** Builds the extension under development: `node esbuild.js` when it is this repo. */
export async function buildExtension(extensionPath, { timeoutMs = 5 * 60_000 } = {}) {
  const manifestFile = path.join(extensionPath, 'package.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`${extensionPath} is not an extension: it has no package.json`);
  if (extensionPath === REPO_ROOT && fs.existsSync(path.join(REPO_ROOT, 'esbuild.js'))) {
    const { code } = await runProcess(process.execPath, ['esbuild.js'], { cwd: REPO_ROOT, timeoutMs, stdout: 'inherit', stderr: 'inherit' });
    if (code !== 0) throw new Error(`building the extension failed: \`node esbuild.js\` exited with ${code}`);
  }
  const { main } = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  if (main) {
    const file = path.resolve(extensionPath, main);
    if (![file, `${file}.js`].some((f) => fs.existsSync(f))) {
      throw new Error(`the extension's main file ${file} does not exist (is it built?)`);
    }
  }
}

/** A vscode-remote URI for a path on the code-server machine. */
function remoteUri(authority, file) {
  return `vscode-remote://${authority}${file.split(path.sep).map(encodeURIComponent).join('/')}`;
}

/** Prints what is appended to `file`, as it is appended. */
function follow(file, write) {
  let position = 0;
  const readNew = () => {
    let fd;
    try {
      fd = fs.openSync(file, 'r');
      const size = fs.fstatSync(fd).size;
      if (size <= position) return;
      const buffer = Buffer.alloc(size - position);
      const read = fs.readSync(fd, buffer, 0, buffer.length, position);
      position += read;
      write(buffer.subarray(0, read).toString('utf8'));
    } catch {
      // not there yet
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };
  const timer = setInterval(readNew, 200);
  return {
    get printedAnything() {
      return position > 0;
    },
    stop() {
      clearInterval(timer);
      readNew();
    },
  };
}

function readSummary(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function tailOf(file, lines) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

/**
 * Runs the suite in code-server and prints mocha's report and the closing
 * `N passed, M failed` line. Resolves with { passed, failed, ok, summary }.
 */
export async function runExtensionTests(options) {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const remaining = () => Math.max(1000, deadline - Date.now());
  let phase = 'starting';
  let timer;
  const timedOut = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`TIMEOUT: the extension tests did not finish within ${Math.round(options.timeoutMs / 1000)} s (stuck while ${phase})`)),
      options.timeoutMs,
    );
  });
  timedOut.catch(() => {});
  /** Starts phase `name` (`start` makes its promise) and waits for it, within the hard timeout. */
  const step = (name, start) => {
    phase = name;
    say(`${name}… (at ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return Promise.race([start(), timedOut]);
  };

  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'data-labs-extension-tests-'));
  const resultFile = path.join(runDir, 'result.json');
  const outputFile = path.join(runDir, 'mocha-output.log');
  const browserLog = path.join(runDir, 'workbench.log');
  const { folder, workspaceFile } = prepareWorkspace(options, runDir);
  fs.writeFileSync(outputFile, '');
  const appendBrowserLog = (line) => fs.appendFileSync(browserLog, `${line}\n`);
  // Interrupted (Ctrl+C): the servers and the browser are stopped by their modules; this goes too.
  const removeRunDir = () => fs.rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
  if (!options.keep) process.on('exit', removeRunDir);

  let serverPromise;
  let browserPromise;
  let server;
  let follower;
  let exitCode;
  let error;
  let finished = false;
  try {
    const building = options.extensionPath === REPO_ROOT ? 'building the extension (node esbuild.js)' : 'checking the extension';
    if (options.build) await step(building, () => buildExtension(options.extensionPath, { timeoutMs: remaining() }));
    const suite = await step('compiling the test suite', () => buildSuite());

    server = await step('starting code-server', () => (serverPromise = startCodeServer({
      env: {
        ...options.env,
        DATA_LABS_TEST_RESULT: resultFile,
        DATA_LABS_TEST_OUTPUT: outputFile,
        DATA_LABS_TEST_GREP: options.grep,
        DATA_LABS_EXTENSION_PATH: options.extensionPath,
        DATA_LABS_TEST_WORKSPACE: folder,
        DATA_LABS_TEST_WORKSPACE_FILE: workspaceFile,
      },
      settings: {
        'workbench.startupEditor': 'none',
        // The walkthrough the first start shows (checked end to end) would take the editor area.
        'dataLabs.showWalkthroughOnFirstStart': false,
        // Labs' databases run in Docker from the local images test/setup/docker.sh builds.
        'dataLabs.images': { postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7', memcached: 'data-labs-local/memcached:1.6' },
      },
      startTimeoutMs: Math.min(120_000, remaining()),
      keep: options.keep,
    })));
    const { page } = await step('starting Chromium', () => (browserPromise = launchBrowser({ timeoutMs: Math.min(120_000, remaining()) })));

    // The workbench reports the end of the run through these (see the header).
    let reportExit;
    const exited = new Promise((resolve) => (reportExit = resolve));
    await page.exposeFunction('codeAutomationExit', (code, logs) => {
      for (const { relativePath, contents } of Array.isArray(logs) ? logs : []) {
        const target = path.join(runDir, 'workbench-logs', relativePath);
        if (!target.startsWith(runDir)) continue;
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, contents);
      }
      reportExit(Number(code));
    });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      appendBrowserLog(`[${type}] ${format(...(Array.isArray(args) ? args : [args]))}`);
    });
    page.on('pageerror', (e) => appendBrowserLog(`[pageerror] ${e.stack ?? e.message}`));
    const pageGone = new Promise((_, reject) => {
      page.on('crash', () => reject(new Error('the workbench page crashed')));
      page.on('close', () => reject(new Error('the workbench page closed')));
    });
    pageGone.catch(() => {});
    const serverGone = server.exited.then(({ code, signal }) => {
      throw new Error(`code-server exited (code ${code}, signal ${signal}) during the run`);
    });
    serverGone.catch(() => {});
    // Should the exit report never come although the runner finished, go by its summary.
    const summaryFinished = (async () => {
      while (!finished && !readSummary(resultFile)?.finished) await delay(500);
      for (let waited = 0; !finished && waited < 60_000; waited += 500) await delay(500);
      if (finished) return new Promise(() => {});
      say('the test runner finished a minute ago but the workbench never reported the exit; going by its summary');
      return readSummary(resultFile)?.failed === 0 ? 0 : 1;
    })();

    follower = follow(outputFile, (text) => process.stdout.write(text));
    const payload = [
      ['extensionDevelopmentPath', remoteUri(server.authority, options.extensionPath)],
      ['extensionTestsPath', remoteUri(server.authority, suite.entry)],
    ];
    const url = `${server.url}?${workbenchQuery(workspaceFile ?? folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await step('opening the workbench', () => page.goto(url, { waitUntil: 'domcontentloaded', timeout: remaining() }));
    exitCode = await step('running the tests', () => Promise.race([exited, summaryFinished, pageGone, serverGone]));
  } catch (caught) {
    error = caught instanceof Error ? caught : new Error(String(caught));
  } finally {
    finished = true;
    clearTimeout(timer);
    follower?.stop();
  }

  const summary = readSummary(resultFile);
  let passed = summary?.passed ?? 0;
  let failed = summary?.failed ?? 0;
  const running = summary?.running ? ` while running "${summary.running}"` : '';
  let problem;
  if (error) problem = `${error.message}${running}`;
  else if (!summary) problem = `the run ended (workbench exit code ${exitCode}) without a summary from the test runner: did the extension host crash or fail to load index.js? See the logs below`;
  else if (!summary.finished) problem = `the run ended (workbench exit code ${exitCode}) before the test runner finished${running}: did the extension host crash? See the logs below`;
  else if (summary.total === 0) problem = 'no test ran (does --grep match nothing?)';
  else if (exitCode !== 0 && failed === 0) problem = `the test runner failed (exit code ${exitCode}) without a failed test`;
  if (problem) failed += 1;
  const ok = !problem && failed === 0 && passed > 0;

  if (summary && !follower?.printedAnything) {
    for (const f of summary.failures) process.stdout.write(`FAILED ${f.fullTitle}\n  ${f.stack ?? f.message}\n`);
  }
  if (problem) {
    // Not (only) a failing test: show what the workbench, code-server and the extension host said.
    say(problem);
    process.stderr.write(`--- workbench log ${browserLog} (last 40 lines) ---\n${tailOf(browserLog, 40)}\n`);
    if (server) process.stderr.write(`${server.describeLogs({ lines: 40 })}\n`);
  }

  // Everything that was started is stopped, even what we stopped waiting for.
  const close = async (promise, closer) => {
    if (!promise) return;
    const value = await Promise.race([promise.catch(() => undefined), delay(30_000)]);
    if (value) await closer(value);
    else promise.then(closer, () => {});
  };
  await close(browserPromise, (browser) => browser.close());
  await close(serverPromise, (s) => s.stop({ keep: options.keep }));
  if (options.keep) say(`kept ${runDir}${server ? ` and ${server.workDir}` : ''}`);
  else {
    removeRunDir();
    process.removeListener('exit', removeRunDir);
  }

  say(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return { passed, failed, ok, summary };
}

async function main() {
  let options;
  try {
    options = parseOptions();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n(see the header of ${process.argv[1]})\n`);
    process.exit(2);
  }
  if (options.help) {
    const lines = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1);
    const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
    process.stdout.write(`${header.map((l) => l.slice(3)).join('\n')}\n`);
    return;
  }
  const { ok } = await runExtensionTests(options);
  process.exit(ok ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  });
}
