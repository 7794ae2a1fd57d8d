/**
 * The embedded PostgreSQL server: PGlite (PostgreSQL compiled to WebAssembly) served
 * over the PostgreSQL wire protocol by pglite-socket, so a lab's code connects with
 * the ordinary `pg` client and a normal connection string, without Docker.
 *
 * Bundled on its own as `dist/embedded-postgres.js` and run as a separate, detached
 * Node process by src/core/services/embedded.ts:
 *
 *   node embedded-postgres.js --data-dir <dir> [--port N | --socket-dir <dir>]
 *                             [--owner-pid P] [--max-connections N] [--assets-dir <dir>]
 *
 * Protocol with the parent: exactly one JSON line on stdout, either
 * `{"ready":true,"port":N,"socketDir":"<dir>","pid":P,"startedAt":"<ISO time>"}` (socketDir
 * only with --socket-dir) once the server accepts
 * connections, or `{"ready":false,"error":"..."}` before exiting with code 1. Nothing
 * else is ever written to stdout (the parent stops reading after that line); diagnostics
 * go to stderr, which the parent points at a log file.
 *
 * Authentication: pglite-socket has no authentication at all. PGlite answers every
 * startup message with "authentication ok" and ignores the user, password and database
 * the client names: every session is user `postgres` in database `postgres`. So a
 * password in the connection string is sent by nothing and checked by nothing, and any
 * local process that finds the port can connect. The server therefore never listens on
 * the network: with --socket-dir (Linux, macOS) only on a Unix socket in a folder only this
 * user can open, so other users of the computer cannot connect; without it (Windows) on
 * 127.0.0.1, where any local user can.
 *
 * Concurrency: PGlite is one PostgreSQL backend. pglite-socket multiplexes several
 * client connections onto it, but runs one statement at a time and, while a client has
 * a transaction open, runs only that client's statements: other sessions wait until it
 * commits or rolls back. Races, lock waits and deadlocks between sessions cannot happen.
 */
import { promises as fs, writeSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { isProcessAlive } from '../core/services/sessions';

/** The files PGlite 0.5 loads at start-up; esbuild.js copies them into `dist/pglite/`. */
const PGLITE_ASSET_FILES = ['pglite.wasm', 'initdb.wasm', 'pglite.data'] as const;

const HOST = '127.0.0.1';
const DEFAULT_MAX_CONNECTIONS = 10;
const OWNER_POLL_MS = 2_000;
/** After this long a shutdown gives up waiting for PGlite and exits anyway. */
const SHUTDOWN_LIMIT_MS = 15_000;
const STDERR_LINES_KEPT = 50;

/** The port number a Unix socket's name carries (`.s.PGSQL.5432`), as PostgreSQL's clients expect. */
const SOCKET_PORT = 5432;

interface ServerArgs {
  readonly dataDir: string;
  readonly port: number;
  /** A folder only this user can open, where the server listens on a Unix socket instead of TCP. */
  readonly socketDir: string | undefined;
  readonly ownerPid: number | undefined;
  readonly maxConnections: number;
  readonly assetsDir: string;
  /** Where initialised clusters are kept to copy into new data folders; none: initialise each. */
  readonly templatesDir: string | undefined;
}

class UsageError extends Error {}

function positiveInteger(name: string, text: string | undefined, fallback: number | undefined, allowZero = false): number | undefined {
  if (text === undefined) {
    return fallback;
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 0xffff_ffff) {
    throw new UsageError(`--${name} must be a whole number${allowZero ? '' : ' above 0'}, not "${text}".`);
  }
  return value;
}

function readArgs(argv: readonly string[]): ServerArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      'socket-dir': { type: 'string' },
      'owner-pid': { type: 'string' },
      'max-connections': { type: 'string' },
      'assets-dir': { type: 'string' },
      'templates-dir': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const dataDir = values['data-dir'];
  if (dataDir === undefined || dataDir === '') {
    throw new UsageError('--data-dir <folder> is required: the folder that keeps the database between starts.');
  }
  const port = positiveInteger('port', values.port, 0, true) ?? 0;
  if (port > 65_535) {
    throw new UsageError(`--port must be 0 (any free port) or at most 65535, not ${port}.`);
  }
  const socketDir = values['socket-dir'];
  if (socketDir !== undefined && (socketDir === '' || process.platform === 'win32')) {
    throw new UsageError('--socket-dir <folder> needs a folder, and a platform with Unix sockets.');
  }
  return {
    dataDir: path.resolve(dataDir),
    port,
    socketDir: socketDir === undefined ? undefined : path.resolve(socketDir),
    ownerPid: positiveInteger('owner-pid', values['owner-pid'], undefined),
    maxConnections: positiveInteger('max-connections', values['max-connections'], DEFAULT_MAX_CONNECTIONS) ?? DEFAULT_MAX_CONNECTIONS,
    // In the bundle, __dirname is dist/, and esbuild.js puts the assets in dist/pglite/.
    assetsDir: path.resolve(values['assets-dir'] ?? path.join(__dirname, 'pglite')),
    templatesDir: values['templates-dir'] ? path.resolve(values['templates-dir']) : undefined,
  };
}

/** The one line the parent reads; written synchronously so it is out before any exit. */
function report(message: Record<string, unknown>): void {
  try {
    writeSync(1, `${JSON.stringify(message)}\n`);
  } catch {
    // The parent stopped listening (it was killed, or gave up waiting): nobody to tell.
  }
}

function log(message: string): void {
  try {
    writeSync(2, `${new Date().toISOString()} embedded-postgres[${process.pid}] ${message}\n`);
  } catch {
    // No stderr to write to; the server keeps running regardless.
  }
}

/**
 * The socket's path in `dir`, once `dir` is proven a real folder of this user's that nobody
 * else can open (the parent made it so; a folder changed since is refused, not repaired).
 * A socket file left by a server that was killed is removed: this server holds the data
 * folder's lock, so no other server of this lab can be listening on it.
 */
async function socketPath(dir: string): Promise<string> {
  const info = await fs.lstat(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw new Error(`The socket folder ${dir} must be a folder of this user that only this user can open (mode 700); it is not, so the server does not listen there.`);
  }
  const socket = path.join(dir, `.s.PGSQL.${SOCKET_PORT}`);
  const existing = await fs.lstat(socket).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isSocket()) {
      throw new Error(`${socket} exists and is not a socket; it is left alone, so the server does not listen there.`);
    }
    await fs.rm(socket);
  }
  return socket;
}

/**
 * Takes `<dataDir>.lock`, so that two servers never open one data folder at once (that
 * would corrupt it). A lock left by a process that no longer exists is taken over.
 */
async function takeLock(dataDir: string): Promise<string> {
  const lockFile = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
    const holder = Number.parseInt(await fs.readFile(lockFile, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isProcessAlive(holder, undefined)) {
      throw new Error(
        `The data folder ${dataDir} is in use by another embedded PostgreSQL server (process ${holder}). ` +
          `Stop that server first; if no such server runs, delete ${lockFile}.`,
      );
    }
    log(`taking over the lock ${lockFile} left by process ${Number.isNaN(holder) ? '(unreadable)' : holder}, which no longer runs`);
    await fs.rm(lockFile, { force: true });
  }
  throw new Error(`Could not take the lock ${lockFile}: another server keeps creating it. Try again.`);
}

/** Node's WebAssembly global; the project's type libraries (ES2022, no DOM) declare only its types. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly;

async function loadAssets(assetsDir: string): Promise<{ pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module; fsBundle: Blob }> {
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await fs.readFile(path.join(assetsDir, name));
    } catch (error) {
      throw new Error(
        `PGlite's file ${name} is missing from ${assetsDir} (${(error as Error).message}). ` +
          'Rebuild with `node esbuild.js`, which copies it there, or pass --assets-dir.',
      );
    }
  };
  const [pgliteWasm, initdbWasm, data] = await Promise.all(PGLITE_ASSET_FILES.map(read));
  // Given explicitly, PGlite does not look for these files next to its own module,
  // a lookup that depends on where the bundle was built from.
  const [pgliteWasmModule, initdbWasmModule] = await Promise.all([wasm.compile(pgliteWasm as Buffer), wasm.compile(initdbWasm as Buffer)]);
  return { pgliteWasmModule, initdbWasmModule, fsBundle: new Blob([data as Buffer]) };
}

type Assets = Awaited<ReturnType<typeof loadAssets>>;

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Fills an empty data folder from a template: a cluster initialised once and shut down
 * cleanly, kept per PGlite build (its files' sizes name it). Initialising a cluster is
 * most of a first start (initdb, in WebAssembly); copying one takes a fraction of that.
 * The first start on a machine makes the template, in a folder of its own that is renamed
 * into place only when complete, so a reader never copies half a template.
 */
async function fillFromTemplate(dataDir: string, templatesDir: string, assetsDir: string, assets: Assets): Promise<void> {
  if (await exists(path.join(dataDir, 'PG_VERSION'))) {
    return;
  }
  const sizes = await Promise.all(PGLITE_ASSET_FILES.map(async (name) => (await fs.stat(path.join(assetsDir, name))).size));
  const template = path.join(templatesDir, `pglite-${sizes.join('-')}`);
  if (!(await exists(path.join(template, 'PG_VERSION')))) {
    const started = Date.now();
    await fs.mkdir(templatesDir, { recursive: true });
    const building = await fs.mkdtemp(`${template}.building-`);
    try {
      const db = await PGlite.create({ dataDir: building, ...assets });
      await db.close();
      await fs.rename(building, template);
      log(`made the template cluster ${template} in ${Date.now() - started} ms`);
    } catch (error) {
      // Another server may have put its template in place first: then that one is used.
      await fs.rm(building, { recursive: true, force: true });
      if (!(await exists(path.join(template, 'PG_VERSION')))) {
        throw error;
      }
    }
  }
  const started = Date.now();
  await fs.cp(template, dataDir, { recursive: true });
  log(`copied the template cluster into ${dataDir} in ${Date.now() - started} ms`);
}

async function main(): Promise<void> {
  let args: ServerArgs;
  try {
    args = readArgs(process.argv.slice(2));
  } catch (error) {
    report({ ready: false, error: (error as Error).message });
    process.exit(2);
  }
  const startedAt = new Date();
  let lockFile: string | undefined;
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  let stopping: Promise<void> | undefined;
  let ownerTimer: NodeJS.Timeout | undefined;
  const stderrLines: string[] = [];

  const shutdown = (reason: string, exitCode = 0): Promise<void> => {
    stopping ??= (async () => {
      log(`stopping: ${reason}`);
      if (ownerTimer) {
        clearInterval(ownerTimer);
      }
      // Should PGlite hang on close, the process still ends; unref keeps the timer from holding it open.
      setTimeout(() => {
        log(`PGlite did not close within ${SHUTDOWN_LIMIT_MS} ms; exiting without it`);
        process.exit(1);
      }, SHUTDOWN_LIMIT_MS).unref();
      try {
        await server?.stop();
      } catch (error) {
        log(`closing the socket server failed: ${(error as Error).message}`);
      }
      try {
        // Closing PGlite shuts PostgreSQL down cleanly, so everything is on disk.
        await db?.close();
      } catch (error) {
        log(`closing PGlite failed: ${(error as Error).message}`);
        exitCode = 1;
      }
      if (lockFile !== undefined) {
        await fs.rm(lockFile, { force: true }).catch(() => {});
      }
      log('stopped');
      process.exit(exitCode);
    })();
    return stopping;
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // Windows has no SIGTERM; closing the console (or Ctrl+Break) arrives as SIGHUP/SIGBREAK.
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  process.on('uncaughtException', (error) => {
    log(`unexpected error: ${error.stack ?? error.message}`);
    void shutdown('unexpected error', 1);
  });
  process.on('unhandledRejection', (reason) => {
    // pglite-socket can reject when a client vanishes mid-statement; that ends one
    // connection, not the server, so it is logged and the server goes on.
    log(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });

  try {
    if (args.ownerPid !== undefined) {
      if (!isProcessAlive(args.ownerPid, undefined)) {
        throw new Error(`The owner process ${args.ownerPid} does not exist, so the server would stop at once; not starting.`);
      }
      const owner = args.ownerPid;
      ownerTimer = setInterval(() => {
        if (!isProcessAlive(owner, undefined)) {
          void shutdown(`the owner process ${owner} has ended`);
        }
      }, OWNER_POLL_MS);
    }
    await fs.mkdir(args.dataDir, { recursive: true });
    lockFile = await takeLock(args.dataDir);
    const assets = await loadAssets(args.assetsDir);
    if (args.templatesDir !== undefined) {
      await fillFromTemplate(args.dataDir, args.templatesDir, args.assetsDir, assets).catch((error: unknown) => {
        // Without a template the data folder is initialised in place, as PGlite does anyway.
        log(`no template cluster (${(error as Error).message}); initialising the data folder itself`);
      });
    }
    log(`opening ${args.dataDir}`);
    db = await PGlite.create({
      dataDir: args.dataDir,
      ...assets,
      onStderr: (text: string) => {
        stderrLines.push(text);
        if (stderrLines.length > STDERR_LINES_KEPT) {
          stderrLines.shift();
        }
        return false;
      },
    });
    let port: number;
    let where: string;
    if (args.socketDir !== undefined) {
      const socket = await socketPath(args.socketDir);
      server = new PGLiteSocketServer({ db, path: socket, maxConnections: args.maxConnections });
      await server.start();
      // The folder already keeps other users out; the socket itself is the owner's only too.
      await fs.chmod(socket, 0o600);
      port = SOCKET_PORT;
      where = `the Unix socket ${socket}`;
    } else {
      server = new PGLiteSocketServer({ db, host: HOST, port: args.port, maxConnections: args.maxConnections });
      await server.start();
      const address = server.getServerConn();
      port = Number(address.slice(address.lastIndexOf(':') + 1));
      where = `${HOST}:${port}`;
    }
    log(`ready on ${where} (data ${args.dataDir}, at most ${args.maxConnections} connections${args.ownerPid === undefined ? '' : `, ends with process ${args.ownerPid}`})`);
    report({ ready: true, port, ...(args.socketDir !== undefined ? { socketDir: args.socketDir } : {}), pid: process.pid, startedAt: startedAt.toISOString() });
  } catch (error) {
    const message = (error as Error).message;
    log(`could not start: ${(error as Error).stack ?? message}`);
    if (stderrLines.length > 0) {
      log(`PostgreSQL said:\n${stderrLines.join('\n')}`);
    }
    report({ ready: false, error: message });
    await shutdown('start-up failed', 1);
  }
}

void main();
