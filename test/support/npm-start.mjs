// `npm start` as a newcomer runs it, for the end-to-end test: the README's first command,
// run for real (test/support/start-vscode.sh through npm), with a fresh VS Code profile in a
// directory of the test's own (DATA_LABS_START_DIR). It resolves once the script has
// printed the URL of its VS Code and that URL answers; stop() ends the script and the
// code-server it became (its own process group).
//
// What the script printed is kept: the test checks a newcomer sees progress and no
// internals (npm warnings, the package's file list).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT, serverEnvironment } from './code-server.mjs';

const URL_LINE = /Distributed Data Labs is running in VS Code at:\s+(http:\/\/127\.0\.0\.1:\d+\/\S*)/;

function answers(url) {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode !== undefined && response.statusCode < 500);
    });
    request.on('error', () => resolve(false));
    request.setTimeout(2_000, () => request.destroy());
  });
}

/**
 * @param {object} options
 * @param {string} options.stateDir where `npm start` keeps its profile (created fresh by the caller, or empty)
 * @param {Record<string, unknown>} [options.settings] the machine's settings, written as the profile's settings.json before the start (a learner's would be empty)
 * @param {Record<string, string>} [options.env]
 * @param {number} [options.timeoutMs]
 */
export async function npmStart({ stateDir, settings = {}, env = {}, timeoutMs = 10 * 60_000 }) {
  const userDataDir = path.join(stateDir, 'user-data');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
  const child = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    env: serverEnvironment({ ...env, DATA_LABS_START_DIR: stateDir }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // serverEnvironment drops PORT: the script finds a free port itself.
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        return;
      }
      if (await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5_000))])) return;
    }
  };
  process.once('exit', () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  const deadline = Date.now() + timeoutMs;
  let url;
  for (;;) {
    url = URL_LINE.exec(output)?.[1];
    if (url !== undefined && (await answers(url))) break;
    const ended = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 250))]);
    if (ended !== undefined) throw new Error(`npm start ended (${JSON.stringify(ended)}) before its VS Code answered:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not open its VS Code within ${timeoutMs / 1000} s:\n${output}`);
    }
  }
  return {
    url,
    userDataDir,
    /** What the script printed so far. */
    output: () => output,
    stop,
    describeLogs: ({ lines = 40 } = {}) => {
      const log = path.join(stateDir, 'start.log');
      const tail = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '(none)');
      const hostLogs = [];
      const logsDir = path.join(userDataDir, 'logs');
      for (const dir of fs.existsSync(logsDir) ? fs.readdirSync(logsDir) : []) {
        const find = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? find(path.join(d, e.name)) : /exthost\.log$|Distributed Data Labs\.log$/.test(e.name) ? [path.join(d, e.name)] : []));
        hostLogs.push(...find(path.join(logsDir, dir)));
      }
      return [`--- npm start printed:\n${output}`, `--- ${log}:\n${tail(log)}`, `--- code-server.log:\n${tail(path.join(stateDir, 'code-server.log'))}`, ...hostLogs.map((f) => `--- ${f}:\n${tail(f)}`)].join('\n');
    },
  };
}
