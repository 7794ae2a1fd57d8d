// A real VS Code for tests: code-server (the VS Code server plus its web workbench),
// and headless Chromium to open that workbench. Used by the extension-host tests,
// the end-to-end tests and the activation benchmark.
//
// Everything listens on, and is reached at, 127.0.0.1 only. A started server is
// stopped by stop(); if the caller forgets, fails or is interrupted, an exit hook, a
// signal handler and a small watchdog process (for SIGKILL of the caller) stop it too.
//
//   const cs = await startCodeServer({ folder, settings: { ... }, env: { ... } });
//   const browser = await launchBrowser();
//   try {
//     await openWorkbench(browser.page, cs.workbenchUrl);
//     ...
//   } catch (error) {
//     console.error(cs.describeLogs());      // code-server and extension-host log tails
//     throw error;
//   } finally {
//     await browser.close();
//     await cs.stop();
//   }
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The only address anything here listens on or talks to. */
export const HOST = '127.0.0.1';
export const CODE_SERVER_VERSION = '4.100.3';
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const INSTALL_SCRIPT = path.join(REPO_ROOT, 'test/setup/install-code-server.sh');
export const CHROMIUM_PATH = process.env.DATA_LABS_CHROMIUM || '/usr/bin/chromium';

/** The flags the workplace's Chromium needs, plus a resolver rule that lets it resolve no host name at all. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${HOST}`,
];

/**
 * Settings written to every test user-data dir before the caller's own: they keep
 * the workbench from reaching for the marketplace, experiments or telemetry.
 */
export const OFFLINE_SETTINGS = {
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'workbench.enableExperiments': false,
  'workbench.settings.enableNaturalLanguageSearch': false,
  'npm.fetchOnlinePackageInfo': false,
};

const requireFromRepo = createRequire(path.join(REPO_ROOT, 'package.json'));
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) => process.stderr.write(`[code-server] ${message}\n`);

// ---------------------------------------------------------------------------
// Installing
// ---------------------------------------------------------------------------

export function cacheDir() {
  return process.env.DATA_LABS_CACHE || path.join(os.homedir(), '.cache', 'data-labs');
}

function describeInstall(bin) {
  // bin links to …/code-server/out/node/entry.js (npm) or lives in …/code-server-X/bin (release).
  let packageDir = path.dirname(fs.realpathSync(bin));
  while (!fs.existsSync(path.join(packageDir, 'lib', 'vscode', 'package.json'))) {
    if (path.dirname(packageDir) === packageDir) throw new Error(`${bin} does not look like code-server (no lib/vscode above it)`);
    packageDir = path.dirname(packageDir);
  }
  const vscodeDir = path.join(packageDir, 'lib', 'vscode');
  const readVersion = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  return {
    bin,
    packageDir,
    vscodeDir,
    serverMain: path.join(vscodeDir, 'out', 'server-main.js'),
    version: readVersion(packageDir),
    vscodeVersion: readVersion(vscodeDir),
  };
}

let installing;

/**
 * Finds code-server, installing it with test/setup/install-code-server.sh when it is
 * missing (about a minute; later calls reuse the cache). DATA_LABS_CODE_SERVER may name
 * a code-server executable to use instead.
 * @returns {Promise<{bin: string, packageDir: string, vscodeDir: string, serverMain: string, version: string, vscodeVersion: string}>}
 */
export function ensureCodeServer({ timeoutMs = 15 * 60_000 } = {}) {
  installing ??= findOrInstall(timeoutMs).catch((error) => {
    installing = undefined;
    throw error;
  });
  return installing;
}

async function findOrInstall(timeoutMs) {
  if (process.env.DATA_LABS_CODE_SERVER) return describeInstall(process.env.DATA_LABS_CODE_SERVER);
  const dest = path.join(cacheDir(), `code-server-${CODE_SERVER_VERSION}`);
  const bin = path.join(dest, 'node_modules', '.bin', 'code-server');
  const installed = () => fs.existsSync(bin) && fs.existsSync(path.join(dest, '.complete'));
  if (installed()) return describeInstall(bin);
  fs.mkdirSync(cacheDir(), { recursive: true });
  // Two test runs starting on a fresh machine must not install into the same folder at once.
  return withLock(`${dest}.lock`, timeoutMs, async () => {
    if (installed()) return describeInstall(bin);
    log(`installing code-server ${CODE_SERVER_VERSION} with ${path.relative(REPO_ROOT, INSTALL_SCRIPT)}`);
    const { code, stdout } = await runProcess('bash', [INSTALL_SCRIPT], { timeoutMs, stderr: 'inherit' });
    const printed = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !printed || !fs.existsSync(printed)) {
      throw new Error(`${INSTALL_SCRIPT} failed (exit ${code}); it printed: ${stdout.trim() || '(nothing)'}`);
    }
    return describeInstall(printed);
  });
}

async function withLock(lockDir, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (lockIsStale(lockDir)) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir} (another install running?)`);
      await delay(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function lockIsStale(lockDir) {
  try {
    const pid = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
    return !processAlive(pid);
  } catch {
    // No pid yet: being created right now, unless it has been like that for a while.
    try {
      return Date.now() - fs.statSync(lockDir).mtimeMs > 60_000;
    } catch {
      return true;
    }
  }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/** Reads `/proc/<pid>/stat`: [state, pgrp], or undefined when the process is gone. */
function procStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [fields[0], Number(fields[2])];
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie (PID 1 here does not reap orphans). */
export function processAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (fs.existsSync('/proc/self/stat')) {
    const stat = procStat(pid);
    return stat !== undefined && stat[0] !== 'Z';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** True while any live (non-zombie) process is in process group `pgid`. */
export function processGroupAlive(pgid) {
  if (fs.existsSync('/proc/self/stat')) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = procStat(Number(name));
      if (stat && stat[1] === pgid && stat[0] !== 'Z') return true;
    }
    return false;
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Ends a whole process group: SIGTERM, then SIGKILL after `graceMs`. Resolves true once it is gone. */
export async function killProcessGroup(pgid, { graceMs = 5000, killWaitMs = 5000 } = {}) {
  const waitGone = async (ms) => {
    const deadline = Date.now() + ms;
    while (processGroupAlive(pgid)) {
      if (Date.now() > deadline) return false;
      await delay(100);
    }
    return true;
  };
  if (!processGroupAlive(pgid)) return true;
  signalGroup(pgid, 'SIGTERM');
  if (await waitGone(graceMs)) return true;
  signalGroup(pgid, 'SIGKILL');
  return waitGone(killWaitMs);
}

/**
 * Runs a command in its own process group; resolves with its exit code and output.
 * On timeout the whole group is killed and the promise rejects.
 */
export function runProcess(command, args, { cwd, env, timeoutMs = 5 * 60_000, stderr = 'pipe', stdout = 'pipe' } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', stdout, stderr] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk) => (out += chunk));
    child.stderr?.on('data', (chunk) => (err += chunk));
    const timer = setTimeout(() => {
      killProcessGroup(child.pid, { graceMs: 2000 }).finally(() =>
        reject(new Error(`${command} ${args.join(' ')} did not finish within ${Math.round(timeoutMs / 1000)} s`)),
      );
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), signal, stdout: out, stderr: err });
    });
  });
}

// A started server's group is ended if this process exits or is interrupted without stop().
const liveServers = new Set();
const liveBrowsers = new Set();
let hooksInstalled = false;

function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const server of liveServers) server.killNow();
  });
  // Interrupted: stop the servers (at most 10 s), then exit as the signal would have (128 + its number).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, async () => {
      const closing = [...[...liveBrowsers].map((b) => b.close()), ...[...liveServers].map((s) => s.stop())];
      await Promise.race([Promise.allSettled(closing), delay(10_000)]);
      process.exit(128 + (os.constants.signals[signal] ?? 0));
    });
  }
}

// Stops a server's process group, and removes its temp dir, if the process that started
// it dies without stopping it (e.g. killed with SIGKILL, where no exit hook runs). It
// polls once a second.
const WATCHDOG_SOURCE = `
const [parent, pgid] = process.argv.slice(1, 3).map(Number);
const removeDir = process.argv[3];
const fs = require('fs');
const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' '); } catch { return undefined; } };
const alive = (pid) => { const s = state(pid); if (s) return s[0] !== 'Z'; try { process.kill(pid, 0); return true; } catch { return false; } };
const groupAlive = () => { try { process.kill(-pgid, 0); return true; } catch { return false; } };
const timer = setInterval(() => {
  if (!groupAlive()) process.exit(0);
  if (alive(parent)) return;
  clearInterval(timer);
  try { process.kill(-pgid, 'SIGTERM'); } catch {}
  setTimeout(() => {
    try { process.kill(-pgid, 'SIGKILL'); } catch {}
    setTimeout(() => { if (removeDir) fs.rmSync(removeDir, { recursive: true, force: true, maxRetries: 3 }); process.exit(0); }, 1000);
  }, 5000);
}, 1000);
`;

function startWatchdog(pgid, removeDir) {
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(process.pid), String(pgid), removeDir ?? ''], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  return watchdog;
}

// ---------------------------------------------------------------------------
// Directories, ports, environment
// ---------------------------------------------------------------------------

/** A port that was free on 127.0.0.1 a moment ago. */
export function findFreePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Writes `dir/User/settings.json`: workspace trust off (unless `workspaceTrust`),
 * OFFLINE_SETTINGS, then the caller's `settings`.
 */
export function prepareUserDataDir(dir, { settings = {}, workspaceTrust = false } = {}) {
  fs.mkdirSync(path.join(dir, 'User'), { recursive: true });
  const all = { 'security.workspace.trust.enabled': workspaceTrust, ...OFFLINE_SETTINGS, ...settings };
  fs.writeFileSync(path.join(dir, 'User', 'settings.json'), `${JSON.stringify(all, null, 2)}\n`);
  return dir;
}

/** Creates an extensions dir with the `extensions.json` (`[]`) that code-server needs before installing. */
export function prepareExtensionsDir(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const manifest = path.join(dir, 'extensions.json');
  if (!fs.existsSync(manifest)) fs.writeFileSync(manifest, '[]\n');
  return dir;
}

/**
 * The environment code-server (and so the extension host) gets: ours without what
 * would redirect or hijack it (PORT and CODE_SERVER_HOST override --bind-addr;
 * VSCODE_IPC_HOOK_CLI, set in a VS Code terminal, makes code-server hand its
 * arguments to that other instance), with no extension gallery, plus `extra`.
 */
export function serverEnvironment(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(VSCODE_|ELECTRON_|CODE_SERVER_)/.test(key)) continue;
    if (['PORT', 'PASSWORD', 'HASHED_PASSWORD', 'GITHUB_TOKEN', 'LOG_LEVEL', 'EXTENSIONS_GALLERY'].includes(key)) continue;
    env[key] = value;
  }
  // An empty gallery turns the marketplace (open-vsx.org by default) off.
  env.EXTENSIONS_GALLERY = '{}';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = String(value);
  }
  for (const key of ['PORT', 'CODE_SERVER_HOST', 'VSCODE_IPC_HOOK_CLI']) delete env[key];
  return env;
}

function supportsFlag(install, flag) {
  try {
    return fs.readFileSync(path.join(install.packageDir, 'out', 'node', 'cli.js'), 'utf8').includes(`"${flag}"`);
  } catch {
    return false;
  }
}

function codeServerArgs({ configFile, userDataDir, extensionsDir }) {
  // Our own (empty) config file: otherwise code-server reads, or writes, ~/.config/code-server/config.yaml.
  return ['--config', configFile, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
}

// ---------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------

/** Installs a .vsix into `extensionsDir` with `code-server --install-extension`. */
export async function installExtension(vsix, { extensionsDir, userDataDir, configFile, timeoutMs = 5 * 60_000 } = {}) {
  if (!extensionsDir) throw new Error('installExtension needs an extensionsDir');
  const install = await ensureCodeServer();
  const scratch = !configFile || !userDataDir ? await fsp.mkdtemp(path.join(os.tmpdir(), 'data-labs-install-')) : undefined;
  configFile ??= path.join(scratch, 'config.yaml');
  userDataDir ??= path.join(scratch, 'user-data');
  if (!fs.existsSync(configFile)) fs.writeFileSync(configFile, '');
  prepareExtensionsDir(extensionsDir);
  const args = [
    ...codeServerArgs({ configFile, userDataDir, extensionsDir }),
    '--force',
    '--install-extension',
    path.resolve(vsix),
  ];
  try {
    const { code, stdout, stderr } = await runProcess(install.bin, args, { env: serverEnvironment(), timeoutMs });
    const output = `${stdout}${stderr}`.trim();
    if (code !== 0 || /Failed Installing/i.test(output)) {
      throw new Error(`installing ${vsix} failed (exit ${code}):\n${output}`);
    }
    return output;
  } finally {
    if (scratch) await fsp.rm(scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------

function httpStatus(url, timeoutMs) {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

function tail(file, lines) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(missing)';
  }
}

/**
 * Starts code-server on a free port of 127.0.0.1 and waits until it answers HTTP.
 *
 * @param {object} [options]
 * @param {string} [options.folder] folder (or .code-workspace) for `workbenchUrl` to open
 * @param {Record<string, unknown>} [options.settings] user settings, after OFFLINE_SETTINGS
 * @param {boolean} [options.workspaceTrust] keep Workspace Trust on (default: off)
 * @param {string | string[]} [options.vsix] .vsix file(s) to install first
 * @param {Record<string, string | undefined>} [options.env] extra environment for the server and its extension host
 * @param {string[]} [options.args] extra code-server arguments
 * @param {string} [options.userDataDir] reuse this user-data dir (default: a fresh one)
 * @param {string} [options.extensionsDir] reuse this extensions dir (default: a fresh one)
 * @param {string} [options.cwd] working directory of the server and extension host
 * @param {number} [options.startTimeoutMs] how long to wait for it to answer (default 90 s)
 * @param {boolean} [options.keep] keep the temporary dirs after stop() (also DATA_LABS_KEEP_TEMP=1)
 */
export async function startCodeServer(options = {}) {
  const install = await ensureCodeServer();
  const workDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'data-labs-code-server-'));
  const userDataDir = options.userDataDir ? path.resolve(options.userDataDir) : path.join(workDir, 'user-data');
  const extensionsDir = options.extensionsDir ? path.resolve(options.extensionsDir) : path.join(workDir, 'extensions');
  const configFile = path.join(workDir, 'config.yaml');
  const logFile = path.join(workDir, 'code-server.log');
  const keepByDefault = options.keep ?? process.env.DATA_LABS_KEEP_TEMP === '1';
  fs.writeFileSync(configFile, '');
  prepareUserDataDir(userDataDir, { settings: options.settings, workspaceTrust: options.workspaceTrust ?? false });
  prepareExtensionsDir(extensionsDir);

  try {
    for (const vsix of [options.vsix ?? []].flat()) {
      await installExtension(vsix, { extensionsDir, userDataDir, configFile });
    }
    // The port may be taken between findFreePort() and code-server binding it: try again then.
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort();
      try {
        return await launch({ install, options, port, workDir, userDataDir, extensionsDir, configFile, logFile, keepByDefault });
      } catch (error) {
        if (attempt < 3 && /EADDRINUSE/.test(tail(logFile, 30))) continue;
        throw error;
      }
    }
  } catch (error) {
    if (!keepByDefault) await fsp.rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

async function launch({ install, options, port, workDir, userDataDir, extensionsDir, configFile, logFile, keepByDefault }) {
  const args = [
    ...codeServerArgs({ configFile, userDataDir, extensionsDir }),
    '--bind-addr',
    `${HOST}:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--ignore-last-opened',
  ];
  if (!options.workspaceTrust && supportsFlag(install, 'disable-workspace-trust')) args.push('--disable-workspace-trust');
  args.push(...(options.args ?? []));
  if (options.folder) args.push(path.resolve(options.folder));

  const logFd = fs.openSync(logFile, 'a');
  fs.writeSync(logFd, `$ ${install.bin} ${args.join(' ')}\n`);
  const child = spawn(install.bin, args, {
    cwd: options.cwd ?? process.cwd(),
    env: serverEnvironment(options.env),
    detached: true, // its own process group: stop() ends code-server and everything it started
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not start ${install.bin}`);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', () => {});
  const watchdog = startWatchdog(pgid, keepByDefault ? undefined : workDir);

  const authority = `${HOST}:${port}`;
  const url = `http://${authority}/`;
  let stopping;
  const server = {
    install,
    host: HOST,
    port,
    authority,
    url,
    /** The workbench on `options.folder` (or an empty window). */
    workbenchUrl: options.folder ? `${url}?${workbenchQuery(options.folder)}` : url,
    pid: pgid,
    workDir,
    userDataDir,
    extensionsDir,
    /** code-server's own output (stdout and stderr). */
    logFile,
    /** VS Code's log folder: one subfolder per start, with remoteagent.log and exthost<N>/remoteexthost.log. */
    logsDir: path.join(userDataDir, 'logs'),
    /** Resolves when the code-server process exits. */
    exited,
    /** Paths of the remote extension-host logs written so far, oldest first. */
    extensionHostLogFiles() {
      const found = [];
      const logsDir = path.join(userDataDir, 'logs');
      for (const session of fs.existsSync(logsDir) ? fs.readdirSync(logsDir).sort() : []) {
        const sessionDir = path.join(logsDir, session);
        if (!fs.statSync(sessionDir).isDirectory()) continue;
        for (const host of fs.readdirSync(sessionDir).filter((n) => n.startsWith('exthost')).sort()) {
          const file = path.join(sessionDir, host, 'remoteexthost.log');
          if (fs.existsSync(file)) found.push(file);
        }
      }
      return found;
    },
    /** The last lines of code-server's output and of each extension-host log, for a failure report. */
    describeLogs({ lines = 60 } = {}) {
      const parts = [`--- ${logFile} (last ${lines} lines) ---\n${tail(logFile, lines)}`];
      for (const file of server.extensionHostLogFiles()) {
        parts.push(`--- ${file} (last ${lines} lines) ---\n${tail(file, lines)}`);
      }
      return parts.join('\n');
    },
    /** Ends the process group SIGKILL-hard at once and removes the temp dirs (used on process exit). */
    killNow() {
      signalGroup(pgid, 'SIGKILL');
      signalGroup(watchdog.pid, 'SIGKILL');
      liveServers.delete(server);
      if (!keepByDefault) fs.rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
    },
    /** Stops code-server and everything it started; removes the temp dirs unless kept. Safe to call twice. */
    stop({ keep = keepByDefault } = {}) {
      stopping ??= (async () => {
        const gone = await killProcessGroup(pgid);
        signalGroup(watchdog.pid, 'SIGKILL');
        liveServers.delete(server);
        if (!gone) log(`process group ${pgid} did not end after SIGKILL`);
        if (!keep) await fsp.rm(workDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  liveServers.add(server);
  installExitHooks();

  try {
    await waitForHttp(server, child, options.startTimeoutMs ?? 90_000);
  } catch (error) {
    await killProcessGroup(pgid, { graceMs: 2000 });
    signalGroup(watchdog.pid, 'SIGKILL');
    liveServers.delete(server);
    throw error;
  }
  return server;
}

/**
 * The query that makes the workbench open `target`: `workspace=…` for a
 * `.code-workspace` file (a multi-root workspace, even with one folder), else
 * `folder=…`. A window opened on a workspace file keeps its extension host when
 * folders are added or removed; a single-folder window restarts it on the first
 * folder added (it turns into an untitled multi-root workspace).
 */
export function workbenchQuery(target) {
  const resolved = path.resolve(target);
  return `${resolved.endsWith('.code-workspace') ? 'workspace' : 'folder'}=${encodeURIComponent(resolved)}`;
}

async function waitForHttp(server, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let exit;
  server.exited.then((e) => (exit = e));
  const failed = (why) => new Error(`code-server ${why}\n${tail(server.logFile, 40)}`);
  // /healthz answers as soon as code-server listens; the first request to / also loads the VS Code server.
  for (const [route, requestTimeout] of [
    ['healthz', 5000],
    ['', 60_000],
  ]) {
    for (;;) {
      if (exit) throw failed(`exited (code ${exit.code}, signal ${exit.signal}) before it answered`);
      const status = await httpStatus(`${server.url}${route}`, Math.min(requestTimeout, Math.max(1000, deadline - Date.now())));
      if (status >= 200 && status < 400) break; // `/` redirects to `/?folder=…` when a folder is given
      if (Date.now() > deadline) {
        throw failed(`did not answer ${server.url}${route} within ${Math.round(timeoutMs / 1000)} s (last status ${status})`);
      }
      await Promise.race([delay(200), server.exited]);
    }
  }
  if (child.exitCode !== null) throw failed('exited right after starting');
}

/** Starts code-server, runs `fn(server)`, and always stops the server afterwards. */
export async function withCodeServer(options, fn) {
  const server = await startCodeServer(options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------
// Browser
// ---------------------------------------------------------------------------

/**
 * Launches Debian's Chromium through playwright-core with a fresh user-data dir.
 * @returns {Promise<{context: import('playwright-core').BrowserContext, page: import('playwright-core').Page, userDataDir: string, close: () => Promise<void>}>}
 */
export async function launchBrowser({ headless = true, args = [], viewport = { width: 1400, height: 900 }, timeoutMs = 60_000, ...contextOptions } = {}) {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (or set DATA_LABS_CHROMIUM)`);
  }
  const { chromium } = requireFromRepo('playwright-core');
  const userDataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'data-labs-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless,
      args: [...CHROMIUM_ARGS, ...args],
      viewport,
      timeout: timeoutMs,
      ...contextOptions,
    });
  } catch (error) {
    await fsp.rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  // If the caller exits without close(), Playwright kills the browser and this removes its profile.
  const removeProfile = () => fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 });
  process.on('exit', removeProfile);
  const page = context.pages()[0] ?? (await context.newPage());
  let closing;
  const browser = {
    context,
    page,
    userDataDir,
    close() {
      closing ??= (async () => {
        await Promise.race([context.close().catch(() => {}), delay(20_000)]);
        liveBrowsers.delete(browser);
        process.removeListener('exit', removeProfile);
        await fsp.rm(userDataDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
      })();
      return closing;
    },
  };
  liveBrowsers.add(browser);
  installExitHooks();
  return browser;
}

/** Opens `url` in `page` and waits until the VS Code workbench (`.monaco-workbench`) is visible. */
export async function openWorkbench(page, url, { timeoutMs = 120_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: Math.max(1000, deadline - Date.now()) });
  return page;
}
