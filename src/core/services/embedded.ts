/**
 * The embedded backend: a lab's PostgreSQL without Docker. A separate Node process
 * (src/embedded/postgresServer.ts, bundled as dist/embedded-postgres.js) runs PGlite and
 * serves it over the PostgreSQL wire protocol on 127.0.0.1, so the lab's code connects
 * exactly as it would to a container: the `pg` client and the URL in `.env`.
 *
 * The server is started detached, so it can outlive the CLI command that started it,
 * and everything needed to find it again lives in the lab folder:
 *
 *   <labDir>/.data-labs/embedded.json   pid, port, process start time, credentials
 *   <labDir>/.data-labs/pgdata/         the database (kept between starts)
 *   <labDir>/.data-labs/embedded.log    the server's diagnostics of its last start
 *
 * so `embeddedServicesStatus` and `stopEmbeddedServices` work from any later process.
 * With `ownerPid`, the server ends by itself within about 2 s of that process ending
 * (an editor killed with SIGKILL leaves nothing running).
 *
 * Only a lab whose manifest marks PostgreSQL `"embedded": true` may run here: the lab's
 * author has checked that what it teaches does not need what PGlite cannot do (see
 * EMBEDDED_LIMITATIONS). Anything else raises EmbeddedUnsupportedError.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicFile';
import { openForWriteNoFollow, readLabFile, realLabDir, refuseLink } from '../labFiles';
import type { ServiceKind } from '../labs/manifest';
import * as z from '../schema';
import { ENV_FILE_NAME, SERVICE_HOST, type ServiceConnection, folderKey, renderEnvFile } from './labServices';
import { type RuntimeLogger, silentLogger } from './runtime';
import { addressText } from './address';
import { type ServiceCredentials, serviceDefinition } from './serviceCatalog';
import { isProcessAlive, processCommandLine, processStartTime } from './sessions';

/**
 * What embedded mode cannot do, in words for the UI and the CLI to show beside a lab
 * that runs without Docker.
 */
export const EMBEDDED_LIMITATIONS: readonly string[] = [
  'Transactions run one at a time: while one session has a transaction open, the statements of every other session wait until it commits or rolls back. So races, lock waits and deadlocks between sessions cannot happen, and isolation levels make no visible difference.',
  'All connections share one database session: a SET on one connection (search_path, a time zone) applies to every other, and session-level locks and temporary tables are shared too.',
  process.platform === 'win32'
    ? 'There is one database and one user: whatever user, password and database a client names, it is connected as "postgres" to "postgres". No password is checked: while the server runs, any program or user of this computer can connect to it on 127.0.0.1 (no other machine can). Keep nothing secret in it, and stop it when you are done.'
    : 'There is one database and one user: whatever user, password and database a client names, it is connected as "postgres" to "postgres". No password is checked, so the server listens only on a Unix socket in a folder only you can open (POSTGRES_HOST in .env): other users of this computer cannot connect, and no other machine can; any program you run can.',
  'Container faults (pause, kill, network cuts, restarts under load) are not available: they need Docker.',
  'Only PostgreSQL can run embedded, one server per lab; Redis, Memcached and labs with several PostgreSQL servers need Docker.',
];

/** The folder in a lab that holds the embedded server's state, data and log. */
export const EMBEDDED_STATE_DIR = '.data-labs';
const STATE_FILE = 'embedded.json';
const DATA_DIR = 'pgdata';
const LOG_FILE = 'embedded.log';
/** The Unix socket's folder, in .data-labs; elsewhere (see socketDirOf) when its path would be too long. */
const SOCKET_DIR = 'run';
/** The port number in the socket's name, `.s.PGSQL.5432`. */
const SOCKET_PORT = 5432;
/** Unix socket paths are limited to 104 bytes (macOS) or 108 (Linux), with the terminating zero. */
const MAX_SOCKET_PATH = 100;

/** Enough for a `pg.Pool` of the default size (10) and a test runner beside it. */
const MAX_CONNECTIONS = 12;
const DEFAULT_READINESS_TIMEOUT_MS = 60_000;
/** How long a running server gets to answer `select 1` before it counts as hung. */
const PROBE_TIMEOUT_MS = 3_000;
const DEFAULT_STOP_TIMEOUT_MS = 15_000;
const LOG_LINES_ON_FAILURE = 30;
/** PGlite has one role and one database; naming any other is ignored, so .env names these. */
const PGLITE_USER = 'postgres';
const PGLITE_DATABASE = 'postgres';
const ENGINE_DESCRIPTION = 'PGlite (embedded, no Docker)';

export interface EmbeddedPaths {
  readonly stateDir: string;
  /** Where the server's Unix socket is; undefined on Windows, where it listens on 127.0.0.1. */
  readonly socketDir: string | undefined;
  readonly stateFile: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly envFile: string;
}

export function embeddedPaths(labDir: string): EmbeddedPaths {
  // Absolute, so that the server's command line names its data folder the same way from any working directory.
  const stateDir = path.join(path.resolve(labDir), EMBEDDED_STATE_DIR);
  return {
    stateDir,
    socketDir: socketDirOf(labDir, stateDir),
    stateFile: path.join(stateDir, STATE_FILE),
    dataDir: path.join(stateDir, DATA_DIR),
    logFile: path.join(stateDir, LOG_FILE),
    envFile: path.join(path.resolve(labDir), ENV_FILE_NAME),
  };
}

/**
 * The socket's folder: `.data-labs/run` in the lab folder, or, when that path is too long for
 * a socket, `data-labs-<uid>/<folder key>` in the temporary folder; none on Windows.
 */
function socketDirOf(labDir: string, stateDir: string): string | undefined {
  if (process.platform === 'win32') {
    return undefined;
  }
  const inLab = path.join(stateDir, SOCKET_DIR);
  if (Buffer.byteLength(path.join(inLab, `.s.PGSQL.${SOCKET_PORT}`)) <= MAX_SOCKET_PATH) {
    return inLab;
  }
  return path.join(os.tmpdir(), `data-labs-${process.getuid?.() ?? 'user'}`, folderKey(labDir));
}

/**
 * Makes the socket's folder (and, outside the lab, its parent) a real folder of this user's
 * that nobody else can open: created with mode 700, a link refused, another owner refused.
 */
async function prepareSocketDir(paths: EmbeddedPaths): Promise<void> {
  const dir = paths.socketDir;
  if (dir === undefined) {
    return;
  }
  const inLab = path.dirname(dir) === paths.stateDir;
  for (const folder of inLab ? [dir] : [path.dirname(dir), dir]) {
    await fs.mkdir(folder, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await refuseLink(folder, 'folder');
    const info = await fs.lstat(folder);
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) {
      throw new Error(`${folder} belongs to another user (uid ${info.uid}); the embedded server's socket goes only in a folder of yours. Remove it, or ask its owner to.`);
    }
    if ((info.mode & 0o777) !== 0o700) {
      await fs.chmod(folder, 0o700);
    }
  }
}

/** A manifest's `services` entry, as far as the embedded backend cares. */
export interface EmbeddedServiceRequest {
  readonly service: ServiceKind;
  readonly count: number;
  readonly embedded?: boolean;
}

/** A service the embedded backend cannot provide: the lab needs Docker for it. */
export class EmbeddedUnsupportedError extends Error {
  override readonly name = 'EmbeddedUnsupportedError';
  constructor(
    readonly labId: string,
    readonly service: ServiceKind,
    readonly reason: string,
  ) {
    super(`Lab "${labId}" cannot run without Docker: ${reason} Install and start Docker (or Podman with its Docker socket) to run this lab.`);
  }
}

/** The server process did not start, or did not answer in time; the message holds its last log lines. */
export class EmbeddedStartError extends Error {
  override readonly name = 'EmbeddedStartError';
  constructor(
    readonly detail: string,
    readonly logFile: string,
    readonly lastLogLines: readonly string[],
  ) {
    super(
      [
        `The embedded PostgreSQL server did not start: ${detail}`,
        `Its log is ${logFile}. "Reset data" starts it again on an empty database; on a slow machine another try may be enough.`,
        ...(lastLogLines.length > 0 ? ['Last log lines:', ...lastLogLines.map((l) => `  ${l}`)] : []),
      ].join('\n'),
    );
  }
}

/**
 * Throws EmbeddedUnsupportedError unless every service can run embedded: PostgreSQL,
 * once, marked `embedded: true` by the lab's manifest.
 */
export function checkEmbeddedSupport(labId: string, services: readonly EmbeddedServiceRequest[]): void {
  for (const s of services) {
    if (s.service !== 'postgres') {
      throw new EmbeddedUnsupportedError(labId, s.service, `it uses ${serviceDefinition(s.service).displayName}, which has no embedded engine.`);
    }
    if (s.embedded !== true) {
      throw new EmbeddedUnsupportedError(
        labId,
        s.service,
        'its PostgreSQL is not marked "embedded": true in lab.json, because what it teaches needs a real server (concurrent transactions, locks, or faults).',
      );
    }
    if (s.count !== 1) {
      throw new EmbeddedUnsupportedError(labId, s.service, `it uses ${s.count} PostgreSQL servers, and the embedded backend runs one.`);
    }
  }
}

/* ----------------------------------------------------------------------------------
 * The state file.
 * ---------------------------------------------------------------------------------- */

const stateSchema = z.object({
  version: z.literal(1),
  labId: z.string(),
  pid: z.number().check(z.int(), z.positive()),
  port: z.number().check(z.int(), z.positive()),
  /** The folder of the server's Unix socket, when it listens on one (not on 127.0.0.1). */
  socketDir: z.optional(z.string()),
  /** From /proc where there is one; tells the server apart from a later process given its pid. */
  processStartTime: z.optional(z.string()),
  startedAt: z.string(),
  ownerPid: z.optional(z.number().check(z.int(), z.positive())),
  dataDir: z.string(),
  user: z.string(),
  password: z.string(),
  database: z.string(),
});
export type EmbeddedState = z.output<typeof stateSchema>;

type StateRead = { readonly state: EmbeddedState } | { readonly state: undefined; readonly problem?: string };

async function readState(paths: EmbeddedPaths): Promise<StateRead> {
  let text: string | undefined;
  try {
    text = await readLabFile(paths.stateFile);
  } catch (error) {
    return { state: undefined, problem: `The state file ${paths.stateFile} cannot be read (${(error as Error).message}); the embedded server is treated as not running.` };
  }
  if (text === undefined) {
    return { state: undefined };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { state: undefined, problem: `The state file ${paths.stateFile} is not valid JSON (${(error as Error).message}); the embedded server is treated as not running, and the next start replaces the file.` };
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? `field "${first.path.map(String).join('.')}" ` : '';
    return { state: undefined, problem: `The state file ${paths.stateFile} is not one this version wrote (${where}${first?.message ?? 'unknown problem'}); the embedded server is treated as not running, and the next start replaces the file.` };
  }
  return { state: parsed.data };
}

/* ----------------------------------------------------------------------------------
 * Processes.
 * ---------------------------------------------------------------------------------- */

/**
 * What the process the state file names is now:
 * - `gone`: no process has its pid (or a zombie, or a later process given the same pid, where
 *   a start time was recorded);
 * - `ours`: it is this lab folder's embedded server, proven by its command line, which runs
 *   the server program on this folder's data (`--data-dir <dataDir> --port` or `--socket-dir`); where no
 *   command line can be read (Windows), by the recorded port answering as PostgreSQL;
 * - `foreign`: some other process. A state file left stale, or crafted by whoever prepared
 *   the folder, must never make start, stop or reset signal a process of the user's.
 */
type ServerProcess = 'gone' | 'ours' | 'foreign';

async function serverProcess(state: EmbeddedState, paths: EmbeddedPaths): Promise<ServerProcess> {
  if (!isProcessAlive(state.pid, state.processStartTime)) return 'gone';
  const commandLine = processCommandLine(state.pid);
  if (commandLine === undefined) {
    return (await answers(state, PROBE_TIMEOUT_MS)) === undefined ? 'ours' : 'foreign';
  }
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const ownDataDir = real(paths.dataDir);
  if (commandLine.args !== undefined) {
    const at = commandLine.args.indexOf('--data-dir');
    const dataDir = at >= 0 ? commandLine.args[at + 1] : undefined;
    const next = commandLine.args[at + 2];
    return dataDir !== undefined && (next === '--port' || next === '--socket-dir') && (dataDir === paths.dataDir || real(dataDir) === ownDataDir) ? 'ours' : 'foreign';
  }
  // Only the line ps printed: the data folder as this process names it, or its real path.
  const line = `${commandLine.line} `;
  return [paths.dataDir, ownDataDir].some((d) => line.includes(` --data-dir ${d} --port `) || line.includes(` --data-dir ${d} --socket-dir `)) ? 'ours' : 'foreign';
}

/** Warns that the state file names a process that is not the server, which is left alone. */
function foreignProcess(state: EmbeddedState, paths: EmbeddedPaths, logger: RuntimeLogger): string {
  const message = `The state file ${paths.stateFile} names process ${state.pid}, which is not this lab's embedded PostgreSQL (it does not run the server on ${paths.dataDir}); that process is left alone, and the state file is discarded.`;
  logger.warn(message);
  return message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Asks the server to stop (SIGTERM: it closes PGlite, which flushes the data) and waits
 * until it has; after `timeoutMs` it is killed. On Windows there is no SIGTERM: Node ends
 * the process at once there, and PostgreSQL recovers from its WAL on the next start.
 */
async function terminate(state: Pick<EmbeddedState, 'pid' | 'processStartTime'>, timeoutMs: number, logger: RuntimeLogger): Promise<void> {
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(state.pid, name);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(state.pid, state.processStartTime)) {
    if (Date.now() >= deadline) {
      logger.warn(`embedded PostgreSQL (process ${state.pid}) did not stop within ${timeoutMs} ms of SIGTERM; killing it`);
      signal('SIGKILL');
      const killDeadline = Date.now() + 5_000;
      while (isProcessAlive(state.pid, state.processStartTime) && Date.now() < killDeadline) {
        await sleep(50);
      }
      return;
    }
    await sleep(50);
  }
}

async function lastLogLines(logFile: string): Promise<string[]> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.trim() !== '').slice(-LOG_LINES_ON_FAILURE);
}

/* ----------------------------------------------------------------------------------
 * Start, status, stop, reset.
 * ---------------------------------------------------------------------------------- */

export interface StartEmbeddedServicesOptions {
  readonly labId: string;
  /** The lab folder: gets `.env` and `.data-labs/` (state, data, log). */
  readonly labDir: string;
  /** The lab manifest's services; see checkEmbeddedSupport. */
  readonly services: readonly EmbeddedServiceRequest[];
  /** The bundled server (`dist/embedded-postgres.js`); the caller knows where its dist folder is. */
  readonly serverScript: string;
  /** The server ends within about 2 s after this process does (the editor passes its own pid). */
  readonly ownerPid?: number;
  /** Windows only (elsewhere the server listens on a Unix socket): a fixed port on 127.0.0.1; by default the system picks a free one. */
  readonly port?: number;
  /** The Node (or Electron) binary to run the server with; this process's by default. */
  readonly nodePath?: string;
  readonly logger?: RuntimeLogger;
  readonly signal?: AbortSignal;
  /** How long a new server may take to answer `select 1` (a first start creates the database). */
  readonly readinessTimeoutMs?: number;
  /**
   * Where initialised clusters are kept, so a new lab's data folder is copied from one
   * instead of initialised (a first start then takes about as long as a restart).
   */
  readonly templatesDir?: string;
}

export interface EmbeddedServicesResult {
  readonly labId: string;
  readonly pid: number;
  readonly port: number;
  readonly startedAt: string;
  /** True when a server already running for this lab folder was returned instead of a new one. */
  readonly reused: boolean;
  /** One entry: the lab's PostgreSQL, as the Docker backend describes its containers. */
  readonly connections: readonly ServiceConnection[];
  readonly envFile: string;
  readonly stateFile: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly limitations: readonly string[];
}

function credentialsOf(state: EmbeddedState): ServiceCredentials {
  return { user: state.user, password: state.password, database: state.database };
}

/** Where the server listens: its socket's folder (as libpq and `pg` take it for `host`), or 127.0.0.1. */
function addressOf(state: EmbeddedState): { host: string; port: number } {
  return { host: state.socketDir ?? SERVICE_HOST, port: state.port };
}

/** The same, in words for messages. */
function whereOf(state: EmbeddedState): string {
  return `${state.socketDir !== undefined ? 'the Unix socket ' : ''}${addressText(addressOf(state))}`;
}

function connectionOf(state: EmbeddedState): ServiceConnection {
  const definition = serviceDefinition('postgres');
  const credentials = credentialsOf(state);
  const url = definition.connectionUrl(addressOf(state), credentials);
  return {
    service: 'postgres',
    index: 1,
    name: 'postgres',
    // There is no container; the process id names the server in the same place.
    containerId: `embedded-pid-${state.pid}`,
    image: ENGINE_DESCRIPTION,
    ...addressOf(state),
    ...credentials,
    url,
    created: false,
  };
}

async function answers(state: EmbeddedState, timeoutMs: number): Promise<string | undefined> {
  try {
    await serviceDefinition('postgres').checkReady(addressOf(state), credentialsOf(state), timeoutMs);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function finish(state: EmbeddedState, paths: EmbeddedPaths, reused: boolean): Promise<EmbeddedServicesResult> {
  const connection = { ...connectionOf(state), created: !reused };
  // Owner-only: the file holds the password, as the Docker backend's does.
  await writeFileAtomic(paths.envFile, renderEnvFile([connection]), { mode: 0o600, refuseLink: true });
  return {
    labId: state.labId,
    pid: state.pid,
    port: state.port,
    startedAt: state.startedAt,
    reused,
    connections: [connection],
    envFile: paths.envFile,
    stateFile: paths.stateFile,
    dataDir: paths.dataDir,
    logFile: paths.logFile,
    limitations: EMBEDDED_LIMITATIONS,
  };
}

/** Starts within one process are queued per lab folder, so two never race to spawn a server. */
const startsInProgress = new Map<string, Promise<unknown>>();

/**
 * Starts the lab's embedded PostgreSQL and writes its `.env`, or returns the server
 * already running for this lab folder (`reused: true`). A server that runs but no
 * longer answers is stopped and replaced. A reused server keeps the owner (and port)
 * it was started with: it still ends with the process that first started it.
 */
export async function startEmbeddedServices(options: StartEmbeddedServicesOptions): Promise<EmbeddedServicesResult> {
  checkEmbeddedSupport(options.labId, options.services);
  if (!options.services.some((s) => s.service === 'postgres')) {
    throw new Error(`Lab "${options.labId}" asks for no services, so there is no embedded server to start.`);
  }
  const key = path.resolve(options.labDir);
  const previous = startsInProgress.get(key) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => startOrReuse(options));
  startsInProgress.set(key, run);
  try {
    return await run;
  } finally {
    if (startsInProgress.get(key) === run) {
      startsInProgress.delete(key);
    }
  }
}

async function startOrReuse(options: StartEmbeddedServicesOptions): Promise<EmbeddedServicesResult> {
  const logger = options.logger ?? silentLogger;
  const paths = embeddedPaths(options.labDir);
  const read = await readState(paths);
  if (read.state === undefined && 'problem' in read && read.problem !== undefined) {
    logger.warn(read.problem);
  }
  const existing = read.state;
  const running = existing === undefined ? 'gone' : await serverProcess(existing, paths);
  if (existing && running === 'foreign') {
    foreignProcess(existing, paths, logger);
  }
  if (existing && running === 'ours') {
    const problem = await answers(existing, PROBE_TIMEOUT_MS);
    if (problem === undefined) {
      logger.info(`lab ${options.labId}: reusing the embedded PostgreSQL already running (process ${existing.pid}, ${whereOf(existing)})`);
      if (options.port !== undefined && options.port !== existing.port) {
        logger.warn(`lab ${options.labId}: port ${options.port} was asked for, but the running server keeps its port ${existing.port}; stop it first to change the port`);
      }
      return finish(existing, paths, true);
    }
    logger.warn(`lab ${options.labId}: the embedded PostgreSQL (process ${existing.pid}) runs but does not answer (${problem}); replacing it`);
    await terminate(existing, DEFAULT_STOP_TIMEOUT_MS, logger);
  }
  if (existing) {
    await fs.rm(paths.stateFile, { force: true });
  }
  // The password is sent by nothing and checked by nothing (see EMBEDDED_LIMITATIONS), but
  // the .env has the same shape as the Docker backend's, so it carries one.
  const password = existing !== undefined && running !== 'foreign' ? existing.password : randomBytes(18).toString('hex');
  return spawnServer(options, paths, password, logger);
}

interface ReadyLine {
  readonly pid: number;
  readonly port: number;
  readonly socketDir?: string;
  readonly startedAt: string;
}

function parseReadyLine(line: string): ReadyLine | string {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return `it wrote ${JSON.stringify(line.slice(0, 200))} instead of its readiness line`;
  }
  const r = json as { ready?: unknown; port?: unknown; socketDir?: unknown; pid?: unknown; startedAt?: unknown; error?: unknown };
  if (r.ready === true && typeof r.port === 'number' && typeof r.pid === 'number' && typeof r.startedAt === 'string' && (r.socketDir === undefined || typeof r.socketDir === 'string')) {
    return { port: r.port, pid: r.pid, startedAt: r.startedAt, ...(typeof r.socketDir === 'string' ? { socketDir: r.socketDir } : {}) };
  }
  return typeof r.error === 'string' ? r.error : `it wrote an unexpected readiness line ${JSON.stringify(line.slice(0, 200))}`;
}

async function spawnServer(options: StartEmbeddedServicesOptions, paths: EmbeddedPaths, password: string, logger: RuntimeLogger): Promise<EmbeddedServicesResult> {
  const timeoutMs = options.readinessTimeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  try {
    await fs.access(options.serverScript);
  } catch {
    throw new EmbeddedStartError(`its program ${options.serverScript} is missing. Build it with "node esbuild.js" (or reinstall the extension).`, paths.logFile, []);
  }
  // .data-labs must be a real folder of the lab, and its data folder, if any, a real folder in it.
  await realLabDir(path.dirname(paths.stateDir), EMBEDDED_STATE_DIR);
  await refuseLink(paths.dataDir, 'folder');
  await prepareSocketDir(paths);
  // A Unix socket only this user can reach where the platform has them; else 127.0.0.1.
  const listen = paths.socketDir !== undefined ? ['--socket-dir', paths.socketDir] : ['--port', String(options.port ?? 0)];
  const args = [options.serverScript, '--data-dir', paths.dataDir, ...listen, '--max-connections', String(MAX_CONNECTIONS)];
  if (options.ownerPid !== undefined) {
    args.push('--owner-pid', String(options.ownerPid));
  }
  if (options.templatesDir !== undefined) {
    args.push('--templates-dir', options.templatesDir);
  }
  // stderr goes straight to the log file, which stays open in the server after this
  // process exits; stdout is a pipe read only for the one readiness line.
  const log = await openForWriteNoFollow(paths.logFile);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(options.nodePath ?? process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'pipe', log.fd],
      windowsHide: true,
      // In the editor, process.execPath is Electron: this makes it behave as plain Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
  } finally {
    await log.close();
  }
  logger.info(`lab ${options.labId}: starting embedded PostgreSQL (process ${child.pid ?? '?'}, data ${paths.dataDir})`);

  const fail = async (detail: string): Promise<never> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    throw new EmbeddedStartError(detail, paths.logFile, await lastLogLines(paths.logFile));
  };

  const outcome = await new Promise<ReadyLine | string>((resolve) => {
    let buffered = '';
    let settled = false;
    const settle = (value: ReadyLine | string): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(value);
      }
    };
    const onAbort = (): void => settle('the start was cancelled.');
    const timer = setTimeout(() => settle(`it did not report readiness within ${Math.round(timeoutMs / 1000)} s.`), timeoutMs);
    if (options.signal?.aborted) {
      onAbort();
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => settle(`it could not be run with ${options.nodePath ?? process.execPath}: ${error.message}`));
    child.on('exit', (code, signal) => settle(`it exited${code === null ? ` on signal ${signal ?? '?'}` : ` with code ${code}`} before it was ready.`));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        settle(parseReadyLine(buffered.slice(0, end)));
      }
    });
  });
  if (typeof outcome === 'string') {
    return fail(outcome);
  }
  // From here on the server lives on its own: stop reading its stdout and let this
  // process exit without waiting for it.
  child.stdout?.destroy();
  child.unref();

  const state: EmbeddedState = {
    version: 1,
    labId: options.labId,
    pid: outcome.pid,
    port: outcome.port,
    ...(outcome.socketDir !== undefined ? { socketDir: outcome.socketDir } : {}),
    ...(() => {
      const start = processStartTime(outcome.pid);
      return start === undefined ? {} : { processStartTime: start };
    })(),
    startedAt: outcome.startedAt,
    ...(options.ownerPid !== undefined ? { ownerPid: options.ownerPid } : {}),
    dataDir: paths.dataDir,
    user: PGLITE_USER,
    password,
    database: PGLITE_DATABASE,
  };
  // Ready means a real login and query through `pg`, not just a listening port.
  const problem = await answers(state, Math.max(1_000, deadline - Date.now()));
  if (problem !== undefined) {
    return fail(`it listens on ${whereOf(state)} but does not answer a query: ${problem}`);
  }
  await writeFileAtomic(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600, refuseLink: true });
  logger.info(`lab ${options.labId}: embedded PostgreSQL ready on ${whereOf(state)} (process ${state.pid})`);
  return finish(state, paths, false);
}

export type EmbeddedStatus =
  | {
      readonly running: true;
      readonly pid: number;
      /** The socket's folder, or 127.0.0.1. */
      readonly host: string;
      readonly port: number;
      readonly startedAt: string;
      readonly url: string;
      readonly dataDir: string;
      readonly ownerPid?: number;
      /** Undefined when `select 1` succeeded; otherwise why it did not (the server may be hung). */
      readonly problem?: string;
    }
  | {
      readonly running: false;
      /** Why, when it is not simply "never started" or "stopped": a corrupt state file, a vanished process. */
      readonly message?: string;
    };

/** Whether the lab's embedded server runs, read from its state file and checked with `select 1`. */
export async function embeddedServicesStatus(labDir: string): Promise<EmbeddedStatus> {
  const paths = embeddedPaths(labDir);
  const read = await readState(paths);
  if (read.state === undefined) {
    return 'problem' in read && read.problem !== undefined ? { running: false, message: read.problem } : { running: false };
  }
  const state = read.state;
  const running = await serverProcess(state, paths);
  if (running === 'foreign') {
    return { running: false, message: foreignProcess(state, paths, silentLogger) };
  }
  if (running === 'gone') {
    return { running: false, message: `The embedded PostgreSQL (process ${state.pid}) is no longer running; it stopped without removing its state file.` };
  }
  const problem = await answers(state, PROBE_TIMEOUT_MS);
  return {
    running: true,
    pid: state.pid,
    ...addressOf(state),
    startedAt: state.startedAt,
    url: connectionOf(state).url,
    dataDir: state.dataDir,
    ...(state.ownerPid !== undefined ? { ownerPid: state.ownerPid } : {}),
    ...(problem !== undefined ? { problem } : {}),
  };
}

export interface EmbeddedStopResult {
  /** Whether a server was running and has now been stopped. */
  readonly stopped: boolean;
  readonly pid?: number;
  /** Why nothing was stopped, when there was a state file to look at. */
  readonly message?: string;
}

/**
 * Stops the lab's embedded server (cleanly: the data is flushed) and removes its state
 * file. The data folder and `.env` stay, so the next start continues where this left off.
 */
export async function stopEmbeddedServices(labDir: string, options: { readonly timeoutMs?: number; readonly logger?: RuntimeLogger } = {}): Promise<EmbeddedStopResult> {
  const logger = options.logger ?? silentLogger;
  const paths = embeddedPaths(labDir);
  const read = await readState(paths);
  if (read.state === undefined) {
    if ('problem' in read && read.problem !== undefined) {
      await fs.rm(paths.stateFile, { force: true });
      return { stopped: false, message: read.problem };
    }
    return { stopped: false };
  }
  const state = read.state;
  let stopped = false;
  const running = await serverProcess(state, paths);
  if (running === 'foreign') {
    const message = foreignProcess(state, paths, logger);
    await fs.rm(paths.stateFile, { force: true });
    return { stopped: false, message };
  }
  if (running === 'ours') {
    await terminate(state, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, logger);
    stopped = true;
    logger.info(`lab ${state.labId}: embedded PostgreSQL (process ${state.pid}) stopped`);
  }
  await fs.rm(paths.stateFile, { force: true });
  return stopped ? { stopped, pid: state.pid } : { stopped, pid: state.pid, message: `The embedded PostgreSQL (process ${state.pid}) had already stopped.` };
}

/** "Reset data": stops the server and deletes its data folder; the next start creates an empty database. */
export async function resetEmbeddedServices(labDir: string, options: { readonly timeoutMs?: number; readonly logger?: RuntimeLogger } = {}): Promise<EmbeddedStopResult & { readonly dataRemoved: boolean }> {
  const result = await stopEmbeddedServices(labDir, options);
  const paths = embeddedPaths(labDir);
  const existed = await fs.stat(paths.dataDir).then(
    () => true,
    () => false,
  );
  await fs.rm(paths.dataDir, { recursive: true, force: true });
  return { ...result, dataRemoved: existed };
}
