#!/usr/bin/env node
// The extension-host suite (test/extension/suite) in desktop VS Code, through
// @vscode/test-electron's runTests: it downloads VS Code (1.100.3 by default) into
// .vscode-test/ and starts it with --extensionDevelopmentPath/--extensionTestsPath.
// For machines that can download VS Code; not part of CI. The offline workplace
// cannot download it: there this script fails with a message saying so, and
// `npm run test:extension` (run-in-code-server.mjs) runs the same suite instead.
//
//   node test/extension/run-in-electron.mjs [same options as run-in-code-server.mjs]
//   xvfb-run -a node test/extension/run-in-electron.mjs      (Linux without a display)
//
//   DATA_LABS_VSCODE_VERSION     VS Code version to download (default 1.100.3)
//   DATA_LABS_VSCODE_EXECUTABLE  use this VS Code executable, download nothing
//
// Ends with the line `N passed, M failed`; exits 0 only if all passed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { buildSuite } from './build-suite.mjs';
import { buildExtension, parseOptions, prepareWorkspace } from './run-in-code-server.mjs';

const require = createRequire(import.meta.url);
const say = (message) => process.stderr.write(`[extension-tests:electron] ${message}\n`);
const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH']);

/** True for the errors a download gives on a machine that cannot reach the VS Code servers. */
function looksOffline(error) {
  for (let e = error; e; e = e.cause) {
    if (OFFLINE_CODES.has(e.code) || e.name === 'TimeoutError') return true;
    if (/getaddrinfo|Failed to get JSON|socket hang up|timed out|Invalid version|Error retrieving VS Code/i.test(String(e.message ?? e))) return true;
  }
  return false;
}

/** Ends processes this one started (VS Code, if runTests is left waiting on it). */
function killChildren() {
  for (const name of fs.existsSync('/proc') ? fs.readdirSync('/proc') : []) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

async function main() {
  const options = parseOptions();
  const version = process.env.DATA_LABS_VSCODE_VERSION || '1.100.3';
  const executable = process.env.DATA_LABS_VSCODE_EXECUTABLE || undefined;
  const { runTests } = require('@vscode/test-electron');

  if (options.build) await buildExtension(options.extensionPath);
  const suite = await buildSuite();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-labs-extension-tests-'));
  const resultFile = path.join(runDir, 'result.json');
  // A workspace file by default, as in run-in-code-server.mjs (see its header for why).
  const { folder, workspaceFile } = prepareWorkspace(options, runDir);
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    say('no DISPLAY: desktop VS Code needs one (run this under `xvfb-run -a`)');
  }

  const timer = setTimeout(() => {
    say(`TIMEOUT: the extension tests did not finish within ${Math.round(options.timeoutMs / 1000)} s`);
    killChildren();
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  }, options.timeoutMs);

  let exitCode;
  let problem;
  try {
    exitCode = await runTests({
      ...(executable ? { vscodeExecutablePath: executable } : { version }),
      extensionDevelopmentPath: options.extensionPath,
      extensionTestsPath: suite.entry,
      extensionTestsEnv: {
        ...options.env,
        DATA_LABS_TEST_RESULT: resultFile,
        DATA_LABS_TEST_GREP: options.grep,
        DATA_LABS_EXTENSION_PATH: options.extensionPath,
        DATA_LABS_TEST_WORKSPACE: folder,
        DATA_LABS_TEST_WORKSPACE_FILE: workspaceFile,
      },
      launchArgs: [
        workspaceFile ?? folder,
        '--disable-extensions', // installed ones; the extension under development still loads
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), // Electron refuses to run as root otherwise
      ],
      timeout: 30_000, // per download request
    });
  } catch (error) {
    if (looksOffline(error)) {
      problem =
        `could not download VS Code ${version}: ${error?.message ?? error}\n` +
        'This machine cannot reach the VS Code download servers (offline). Run the same suite in a real ' +
        'VS Code that is installed here instead: `npm run test:extension` (code-server), or point ' +
        'DATA_LABS_VSCODE_EXECUTABLE at a VS Code executable.';
    } else {
      problem = `VS Code did not run the tests: ${error?.stack ?? error}`;
    }
  } finally {
    clearTimeout(timer);
  }

  let summary;
  try {
    summary = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
  } catch {
    problem ??= `the run ended (exit code ${exitCode}) without a summary from the test runner`;
  }
  fs.rmSync(runDir, { recursive: true, force: true });
  if (!problem && summary && !summary.finished) problem = 'the test runner did not finish';
  if (!problem && exitCode !== 0 && summary?.failed === 0) problem = `VS Code exited with ${exitCode}`;
  const passed = summary?.passed ?? 0;
  const failed = (summary?.failed ?? 0) + (problem ? 1 : 0);
  if (problem) say(problem);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
});
