/**
 * The embedded PostgreSQL backend, end to end and for real: the server is bundled here
 * with the same esbuild options as dist/embedded-postgres.js (into a temp folder, so
 * this file needs no prior build), started as a detached process, and used through
 * the `pg` client with the URL from the lab's `.env`.
 *
 * A first start creates the database (PGlite's initdb: about 3 s, more on a busy
 * machine); a later start on the same data folder takes well under a second. The tests
 * share one lab folder and run in order to keep the number of first starts at two.
 *
 * DATA_LABS_BENCH=1 adds a test that measures start-to-ready times and prints medians.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildOptions } from 'esbuild';
import {
  EMBEDDED_LIMITATIONS,
  EmbeddedUnsupportedError,
  embeddedPaths,
  embeddedServicesStatus,
  resetEmbeddedServices,
  startEmbeddedServices,
  stopEmbeddedServices,
} from '../../src/core/services/embedded';
import { UnsafeLabPathError } from '../../src/core/labFiles';
import { renderEnvFile } from '../../src/core/services/labServices';
import { processStartTime } from '../../src/core/services/sessions';
import { REPO_ROOT, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-embedded-');
const START_TIMEOUT = 120_000;
const POSTGRES = [{ service: 'postgres', count: 1, embedded: true }] as const;

let serverScript = '';
/** A tiny program that starts a lab's server with startEmbeddedServices and exits, as the CLI does. */
let starterScript = '';
let labDir = '';
/** Every lab folder a test started a server in, stopped again after the file. */
const labDirs = new Set<string>();
const owners: ChildProcess[] = [];

interface EsbuildConfig {
  embeddedServerOptions(outdir: string): BuildOptions;
}

beforeAll(async () => {
  const out = await tempDir();
  const load = createRequire(path.join(REPO_ROOT, 'esbuild.js'));
  const config = load('./esbuild.js') as EsbuildConfig;
  const esbuild = load('esbuild') as typeof import('esbuild');
  await esbuild.build(config.embeddedServerOptions(out));
  serverScript = path.join(out, 'embedded-postgres.js');
  const starterSource = path.join(out, 'starter.ts');
  await fs.writeFile(
    starterSource,
    [
      `import { startEmbeddedServices } from ${JSON.stringify(path.join(REPO_ROOT, 'src', 'core', 'services', 'embedded.ts'))};`,
      'const [labDir, serverScript] = process.argv.slice(2) as [string, string];',
      "startEmbeddedServices({ labId: 'embedded-test', labDir, serverScript, services: [{ service: 'postgres', count: 1, embedded: true }] })",
      '  .then((r) => console.log(JSON.stringify({ pid: r.pid, port: r.port })))',
      '  .catch((e: unknown) => { console.error(e); process.exitCode = 1; });',
    ].join('\n'),
  );
  starterScript = path.join(out, 'starter.js');
  await esbuild.build({ entryPoints: [starterSource], outfile: starterScript, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' });
  labDir = await tempDir();
});

afterAll(async () => {
  for (const dir of labDirs) {
    await stopEmbeddedServices(dir).catch(() => {});
  }
  for (const owner of owners) {
    owner.kill('SIGKILL');
  }
});

function start(dir: string, extra: { ownerPid?: number } = {}): ReturnType<typeof startEmbeddedServices> {
  labDirs.add(dir);
  return startEmbeddedServices({ labId: 'embedded-test', labDir: dir, services: POSTGRES, serverScript, readinessTimeoutMs: START_TIMEOUT, ...extra });
}

async function readEnv(dir: string): Promise<Record<string, string>> {
  const text = await fs.readFile(path.join(dir, '.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('=') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (up to a generous bound, never asserting speed) until a process is gone. */
async function waitUntilGone(pid: number, boundMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (!processExists(pid)) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return !processExists(pid);
}

describe('embedded PostgreSQL', () => {
  it('refuses services it cannot provide, naming them and Docker, before starting anything', async () => {
    const dir = await tempDir();
    const attempt = (services: Parameters<typeof startEmbeddedServices>[0]['services']): Promise<unknown> =>
      startEmbeddedServices({ labId: 'needs-docker', labDir: dir, services, serverScript });
    await expect(attempt([{ service: 'redis', count: 1, embedded: true }])).rejects.toThrow(EmbeddedUnsupportedError);
    await expect(attempt([{ service: 'redis', count: 1 }])).rejects.toThrow(/Redis.*Docker/s);
    await expect(attempt([{ service: 'postgres', count: 1, embedded: false }])).rejects.toThrow(/not marked "embedded": true.*Docker/s);
    await expect(attempt([{ service: 'postgres', count: 2, embedded: true }])).rejects.toThrow(/2 PostgreSQL servers/);
    const error = await attempt([POSTGRES[0], { service: 'redis', count: 1 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedUnsupportedError);
    expect((error as EmbeddedUnsupportedError).service).toBe('redis');
    expect(await fs.readdir(dir)).toEqual([]);
    expect(EMBEDDED_LIMITATIONS.join(' ')).toMatch(/one at a time.*deadlocks.*cannot happen/s);
    // Where embedded is chosen (the CLI's services up, the Containers view), it says who can reach it.
    expect(EMBEDDED_LIMITATIONS.join(' ')).toMatch(
      process.platform === 'win32'
        ? /No password is checked: while the server runs, any program or user of this computer can connect to it on 127\.0\.0\.1 \(no other machine can\)/
        : /No password is checked, so the server listens only on a Unix socket in a folder only you can open .*: other users of this computer cannot connect, and no other machine can; any program you run can/,
    );
  });

  it('starts a server that the pg client reaches with the URL from .env: DDL, DML, a rolled-back transaction', { timeout: START_TIMEOUT }, async () => {
    const result = await start(labDir);
    expect(result.reused).toBe(false);
    expect(result.connections).toHaveLength(1);
    expect(processExists(result.pid)).toBe(true);
    // The same .env format as the Docker backend's.
    expect(await fs.readFile(result.envFile, 'utf8')).toBe(renderEnvFile(result.connections));
    const env = await readEnv(labDir);
    if (process.platform === 'win32') {
      expect(env.POSTGRES_HOST).toBe('127.0.0.1');
      expect(env.POSTGRES_URL).toBe(`postgresql://postgres:${env.POSTGRES_PASSWORD}@127.0.0.1:${result.port}/postgres`);
    } else {
      // A Unix socket in the lab's .data-labs/run, named as libpq, psql and pg take it.
      const socketDir = path.join(labDir, '.data-labs', 'run');
      expect(env.POSTGRES_HOST).toBe(socketDir);
      expect(result.port).toBe(5432);
      expect(env.POSTGRES_URL).toBe(`postgresql://postgres:${env.POSTGRES_PASSWORD}@localhost:5432/postgres?host=${encodeURIComponent(socketDir)}`);
    }
    expect(env.POSTGRES_PORT).toBe(String(result.port));
    expect(env.DATABASE_URL).toBe(env.POSTGRES_URL);
    const state = JSON.parse(await fs.readFile(embeddedPaths(labDir).stateFile, 'utf8')) as Record<string, unknown>;
    expect(state).toMatchObject({ pid: result.pid, port: result.port, startedAt: result.startedAt });

    await withClient(env.DATABASE_URL ?? '', async (client) => {
      const who = await client.query<{ user: string; db: string }>('select current_user as user, current_database() as db');
      expect(who.rows[0]).toEqual({ user: 'postgres', db: 'postgres' });
      await client.query('create table notes (id serial primary key, body text not null check (body <> \'\'))');
      await client.query('insert into notes (body) values ($1), ($2)', ['kept', 'also kept']);
      await expect(client.query('insert into notes (body) values ($1)', [''])).rejects.toMatchObject({ code: '23514' });
      await client.query('begin');
      await client.query('insert into notes (body) values ($1)', ['rolled back']);
      expect((await client.query('select count(*)::int as n from notes')).rows[0]).toEqual({ n: 3 });
      await client.query('rollback');
      const rows = await client.query<{ body: string }>('select body from notes order by id');
      expect(rows.rows.map((r) => r.body)).toEqual(['kept', 'also kept']);
    });
  });

  it('serves two pool clients at once, running their transactions one after the other', async () => {
    const env = await readEnv(labDir);
    const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
    try {
      const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
      try {
        const pids = await Promise.all([a.query('select 1 as one'), b.query('select 2 as two')]);
        expect(pids.map((r) => r.rows[0])).toEqual([{ one: 1 }, { two: 2 }]);
        await a.query('begin');
        await a.query('insert into notes (body) values ($1)', ['from a']);
        // On a real server b would read at once and not see a's uncommitted row. Here
        // b's statement waits until a's transaction ends, so it sees the row: the
        // limitation EMBEDDED_LIMITATIONS describes, shown deterministically.
        const seenByB = b.query<{ n: number }>("select count(*)::int as n from notes where body = 'from a'");
        await a.query('commit');
        expect((await seenByB).rows[0]).toEqual({ n: 1 });
      } finally {
        a.release();
        b.release();
      }
    } finally {
      await pool.end();
    }
  });

  it.skipIf(process.platform !== 'linux')('listens on no TCP port, only on its socket: the folder is mode 700 and the socket 600', async () => {
    const status = await embeddedServicesStatus(labDir);
    expect(status.running).toBe(true);
    if (!status.running) return;
    const socketDir = path.join(labDir, '.data-labs', 'run');
    expect(status.host).toBe(socketDir);
    expect((await fs.stat(socketDir)).mode & 0o777).toBe(0o700);
    const socket = await fs.lstat(path.join(socketDir, '.s.PGSQL.5432'));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    // The server's sockets, by inode, against every TCP socket in LISTEN state (st 0A).
    const inodes = new Set<string>();
    for (const fd of await fs.readdir(`/proc/${status.pid}/fd`)) {
      const target = await fs.readlink(`/proc/${status.pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined) inodes.add(inode);
    }
    expect(inodes.size).toBeGreaterThan(0);
    const listening = (await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => fs.readFile(f, 'utf8').catch(() => ''))))
      .join('\n')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[3] === '0A')
      .map((cols) => cols[9] ?? '');
    expect(listening.filter((inode) => inodes.has(inode))).toEqual([]);
    const unix = (await fs.readFile('/proc/net/unix', 'utf8')).split('\n').filter((line) => line.trim().split(/\s+/)[6] !== undefined && inodes.has(line.trim().split(/\s+/)[6] ?? ''));
    expect(unix.some((line) => line.endsWith(path.join(socketDir, '.s.PGSQL.5432')))).toBe(true);
  });

  it.skipIf(process.platform !== 'linux' || process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv'))(
    "another user of the computer cannot connect (run as root: the test connects as user nobody; with the folder opened up, nobody can, so the refusal is the folder's)",
    async () => {
      const status = await embeddedServicesStatus(labDir);
      expect(status.running).toBe(true);
      if (!status.running) return;
      const socketDir = path.join(labDir, '.data-labs', 'run');
      const socket = path.join(socketDir, '.s.PGSQL.5432');
      const asNobody = (): string => {
        const run = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e', `require('net').connect(${JSON.stringify(socket)}).on('connect', function () { console.log('connected'); this.destroy(); }).on('error', (e) => console.log(e.code))`], { encoding: 'utf8', timeout: 20_000 });
        return run.stdout.trim();
      };
      // Everything above the run folder lets others through, as a home folder often does.
      for (let dir = labDir; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (((await fs.stat(dir)).mode & 0o005) !== 0o005) await fs.chmod(dir, 0o755);
      }
      await fs.chmod(path.join(labDir, '.data-labs'), 0o755);
      expect(asNobody()).toBe('EACCES');
      await fs.chmod(socketDir, 0o755);
      await fs.chmod(socket, 0o666);
      try {
        expect(asNobody()).toBe('connected');
      } finally {
        await fs.chmod(socket, 0o600);
        await fs.chmod(socketDir, 0o700);
      }
    },
  );

  it('reuses the live server on a second start (same pid and port) and reports it running', async () => {
    const status = await embeddedServicesStatus(labDir);
    expect(status.running).toBe(true);
    if (!status.running) return;
    expect(status.problem).toBeUndefined();
    const again = await start(labDir);
    expect(again.reused).toBe(true);
    expect(again.pid).toBe(status.pid);
    expect(again.port).toBe(status.port);
  });

  it('refuses a second server on a data folder already in use', { timeout: START_TIMEOUT }, async () => {
    const status = await embeddedServicesStatus(labDir);
    expect(status.running).toBe(true);
    const child = spawn(process.execPath, [serverScript, '--data-dir', embeddedPaths(labDir).dataDir], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(JSON.parse(out.split('\n')[0] ?? '')).toMatchObject({ ready: false, error: expect.stringMatching(/in use by another embedded PostgreSQL server \(process \d+\)/) });
  });

  it('stops: the process ends, status says stopped, and the data survives the next start', { timeout: START_TIMEOUT }, async () => {
    const before = await embeddedServicesStatus(labDir);
    if (!before.running) throw new Error('expected a running server');
    const stopped = await stopEmbeddedServices(labDir);
    expect(stopped).toEqual({ stopped: true, pid: before.pid });
    // Stopped means exited; this test process, its parent, may take a moment to reap it.
    expect(await waitUntilGone(before.pid)).toBe(true);
    expect(await embeddedServicesStatus(labDir)).toEqual({ running: false });
    expect(await stopEmbeddedServices(labDir)).toEqual({ stopped: false });

    const restarted = await start(labDir);
    expect(restarted.reused).toBe(false);
    expect(restarted.pid).not.toBe(before.pid);
    const rows = await withClient((await readEnv(labDir)).DATABASE_URL ?? '', (c) => c.query<{ body: string }>('select body from notes order by id'));
    expect(rows.rows.map((r) => r.body)).toEqual(['kept', 'also kept', 'from a']);
  });

  it('treats a corrupt state file as not running, says so, and starts anew over it', { timeout: START_TIMEOUT }, async () => {
    await stopEmbeddedServices(labDir);
    const { stateFile } = embeddedPaths(labDir);
    await fs.writeFile(stateFile, '{"version": 1, "pid": ');
    const status = await embeddedServicesStatus(labDir);
    expect(status.running).toBe(false);
    expect(status.running === false && status.message).toMatch(/embedded\.json is not valid JSON.*treated as not running/s);

    await fs.writeFile(stateFile, JSON.stringify({ version: 1, pid: 'twelve' }));
    const wrongShape = await embeddedServicesStatus(labDir);
    expect(wrongShape.running === false && wrongShape.message).toMatch(/not one this version wrote/);

    const warnings: string[] = [];
    const result = await startEmbeddedServices({
      labId: 'embedded-test',
      labDir,
      services: POSTGRES,
      serverScript,
      readinessTimeoutMs: START_TIMEOUT,
      logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    expect(result.reused).toBe(false);
    expect(warnings.join('\n')).toMatch(/not one this version wrote/);
    expect((await embeddedServicesStatus(labDir)).running).toBe(true);
  });

  it('notices a server that died without cleaning up (SIGKILL) and starts a new one', { timeout: START_TIMEOUT }, async () => {
    const before = await embeddedServicesStatus(labDir);
    if (!before.running) throw new Error('expected a running server');
    process.kill(before.pid, 'SIGKILL');
    expect(await waitUntilGone(before.pid)).toBe(true);
    const status = await embeddedServicesStatus(labDir);
    expect(status.running === false && status.message).toMatch(/no longer running/);
    // Its lock file is left behind; the new server takes it over, and PostgreSQL recovers the data.
    const result = await start(labDir);
    expect(result.reused).toBe(false);
    const rows = await withClient((await readEnv(labDir)).DATABASE_URL ?? '', (c) => c.query<{ n: number }>('select count(*)::int as n from notes'));
    expect(rows.rows[0]).toEqual({ n: 3 });
  });

  it('ends by itself when its owner process dies', { timeout: START_TIMEOUT }, async () => {
    await stopEmbeddedServices(labDir);
    // A throwaway process stands in for the editor.
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    owners.push(owner);
    const ownerPid = owner.pid;
    if (ownerPid === undefined) throw new Error('could not start sleep');
    const result = await start(labDir, { ownerPid });
    expect(JSON.parse(await fs.readFile(embeddedPaths(labDir).stateFile, 'utf8'))).toMatchObject({ ownerPid });
    owner.kill('SIGKILL');
    expect(await waitUntilGone(result.pid)).toBe(true);
    expect((await embeddedServicesStatus(labDir)).running).toBe(false);
    // It shut down cleanly: its lock file is gone.
    await expect(fs.access(`${embeddedPaths(labDir).dataDir}.lock`)).rejects.toThrow();
  });

  it('reset stops the server and empties the database', { timeout: START_TIMEOUT }, async () => {
    await start(labDir);
    const reset = await resetEmbeddedServices(labDir);
    expect(reset).toMatchObject({ stopped: true, dataRemoved: true });
    await expect(fs.access(embeddedPaths(labDir).dataDir)).rejects.toThrow();
    expect((await embeddedServicesStatus(labDir)).running).toBe(false);
    await start(labDir);
    const tables = await withClient((await readEnv(labDir)).DATABASE_URL ?? '', (c) => c.query("select count(*)::int as n from information_schema.tables where table_name = 'notes'"));
    expect(tables.rows[0]).toEqual({ n: 0 });
  });

  it('outlives the process that started it, which exits without waiting for the server', { timeout: START_TIMEOUT }, async () => {
    await stopEmbeddedServices(labDir);
    const starter = spawn(process.execPath, [starterScript, labDir, serverScript], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    starter.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    starter.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    // It exits on its own: neither the server's stdout pipe nor the child handle keeps it alive.
    const code = await new Promise<number | null>((resolve) => starter.on('exit', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    const started = JSON.parse(out) as { pid: number; port: number };
    const status = await embeddedServicesStatus(labDir);
    expect(status).toMatchObject({ running: true, pid: started.pid, port: started.port });
    expect(status.running && status.problem).toBeUndefined();
  });

  it('fills a new lab\'s data folder from a template cluster, made once and shared, each lab with its own data', { timeout: START_TIMEOUT * 2 }, async () => {
    const templatesDir = await tempDir();
    const [first, second] = [await tempDir(), await tempDir()];
    labDirs.add(first);
    labDirs.add(second);
    const options = { labId: 'embedded-test', services: POSTGRES, serverScript, readinessTimeoutMs: START_TIMEOUT, templatesDir };
    const a = await startEmbeddedServices({ ...options, labDir: first });
    expect(await fs.readFile(a.logFile, 'utf8')).toMatch(/made the template cluster .*\n.*copied the template cluster into/);
    const templates = await fs.readdir(templatesDir);
    expect(templates).toHaveLength(1);
    expect(templates[0]).toMatch(/^pglite-\d+-\d+-\d+$/);
    await withClient(a.connections[0]!.url, (c) => c.query('CREATE TABLE only_in_first (n int)'));

    const b = await startEmbeddedServices({ ...options, labDir: second });
    const log = await fs.readFile(b.logFile, 'utf8');
    expect(log).toContain('copied the template cluster into');
    expect(log).not.toContain('made the template cluster');
    const tables = await withClient(b.connections[0]!.url, (c) => c.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_first'"));
    expect(tables.rows[0]).toEqual({ n: 0 });
    await stopEmbeddedServices(first);
    await stopEmbeddedServices(second);
  });

  it.runIf(process.env.DATA_LABS_BENCH === '1')('benchmark: start-to-ready, cold (empty data folder) and warm', { timeout: 600_000 }, async () => {
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const cold: number[] = [];
    const warm: number[] = [];
    const dir = await tempDir();
    for (let i = 0; i < 3; i++) {
      await resetEmbeddedServices(dir);
      let t = performance.now();
      await start(dir);
      cold.push(performance.now() - t);
      await stopEmbeddedServices(dir);
      t = performance.now();
      await start(dir);
      warm.push(performance.now() - t);
      await stopEmbeddedServices(dir);
    }
    // A new data folder filled from the template cluster (made by the first of these starts).
    const fromTemplate: number[] = [];
    const templatesDir = await tempDir();
    for (let i = 0; i < 4; i++) {
      const fresh = await tempDir();
      labDirs.add(fresh);
      const t = performance.now();
      await startEmbeddedServices({ labId: 'embedded-bench', labDir: fresh, services: POSTGRES, serverScript, readinessTimeoutMs: START_TIMEOUT, templatesDir });
      if (i > 0) fromTemplate.push(performance.now() - t);
      await stopEmbeddedServices(fresh);
    }
    const fmt = (xs: number[]): string => xs.map((x) => Math.round(x)).join(', ');
    console.log(
      `embedded start-to-ready: cold median ${Math.round(median(cold))} ms [${fmt(cold)}], cold from the template cluster median ${Math.round(median(fromTemplate))} ms [${fmt(fromTemplate)}], warm median ${Math.round(median(warm))} ms [${fmt(warm)}]`,
    );
  });
});

describe('embedded PostgreSQL in a folder someone else prepared', () => {
  /** A state file naming `pid` (with its real start time, as a crafted one can have), in a new lab folder. */
  async function labNaming(pid: number): Promise<string> {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, '.data-labs'));
    const state = {
      version: 1,
      labId: 'saga',
      pid,
      port: 1,
      ...(processStartTime(pid) !== undefined ? { processStartTime: processStartTime(pid) } : {}),
      startedAt: new Date().toISOString(),
      dataDir: path.join(dir, '.data-labs', 'pgdata'),
      user: 'postgres',
      password: 'x',
      database: 'postgres',
    };
    await fs.writeFile(embeddedPaths(dir).stateFile, JSON.stringify(state));
    return dir;
  }

  it('never signals a process that is not its server, whatever embedded.json says: stop, status and start leave it running', { timeout: START_TIMEOUT }, async () => {
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      const pid = bystander.pid ?? 0;
      const stopDir = await labNaming(pid);
      const stop = await stopEmbeddedServices(stopDir, { timeoutMs: 1_000 });
      expect(stop.stopped).toBe(false);
      expect(stop.message).toMatch(new RegExp(`names process ${pid}, which is not this lab's embedded PostgreSQL .*left alone`));
      expect(await fs.stat(embeddedPaths(stopDir).stateFile).catch(() => undefined)).toBeUndefined();

      const statusDir = await labNaming(pid);
      const status = await embeddedServicesStatus(statusDir);
      expect(status).toMatchObject({ running: false, message: expect.stringMatching(/not this lab's embedded PostgreSQL/) as unknown });

      // A start over it: the crafted state is discarded (its password too), and a new server would be started.
      const startDir = await labNaming(pid);
      await expect(startEmbeddedServices({ labId: 'saga', labDir: startDir, services: POSTGRES, serverScript: path.join(startDir, 'no-such-server.js') })).rejects.toThrow(/did not start/);
      await new Promise((r) => setTimeout(r, 300));
      expect(processExists(pid)).toBe(true);
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('refuses a .data-labs that is a link out of the lab folder, and writes nothing where it points', async () => {
    const dir = await tempDir();
    const elsewhere = await tempDir();
    await fs.symlink(elsewhere, path.join(dir, '.data-labs'));
    const start = startEmbeddedServices({ labId: 'saga', labDir: dir, services: POSTGRES, serverScript });
    await expect(start).rejects.toThrow(UnsafeLabPathError);
    await expect(start).rejects.toThrow(/\.data-labs is a symbolic link, where Data Labs keeps a folder of its own.*nothing was written/);
    expect(await fs.readdir(elsewhere)).toEqual([]);
    expect(await fs.stat(path.join(dir, '.env')).catch(() => undefined)).toBeUndefined();
  });

  it('refuses an embedded.log (or a pgdata) that is a link, leaving the file it points to as it was', async () => {
    const dir = await tempDir();
    const victim = path.join(await tempDir(), 'bashrc');
    await fs.writeFile(victim, 'export PATH=$HOME/bin:$PATH\n');
    await fs.mkdir(path.join(dir, '.data-labs'));
    await fs.symlink(victim, embeddedPaths(dir).logFile);
    await expect(startEmbeddedServices({ labId: 'saga', labDir: dir, services: POSTGRES, serverScript })).rejects.toThrow(/embedded\.log is a symbolic link/);
    expect(await fs.readFile(victim, 'utf8')).toBe('export PATH=$HOME/bin:$PATH\n');

    await fs.rm(embeddedPaths(dir).logFile);
    const outside = await tempDir();
    await fs.symlink(outside, embeddedPaths(dir).dataDir);
    await expect(startEmbeddedServices({ labId: 'saga', labDir: dir, services: POSTGRES, serverScript })).rejects.toThrow(/pgdata is a symbolic link/);
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')('refuses a socket folder that is a link, and closes one others can open before the server listens in it', { timeout: START_TIMEOUT }, async () => {
    const dir = await tempDir();
    const outside = await tempDir();
    await fs.mkdir(path.join(dir, '.data-labs'));
    await fs.symlink(outside, path.join(dir, '.data-labs', 'run'));
    await expect(startEmbeddedServices({ labId: 'saga', labDir: dir, services: POSTGRES, serverScript })).rejects.toThrow(/run is a symbolic link/);
    expect(await fs.readdir(outside)).toEqual([]);

    await fs.rm(path.join(dir, '.data-labs', 'run'));
    await fs.mkdir(path.join(dir, '.data-labs', 'run'), { mode: 0o777 });
    await fs.chmod(path.join(dir, '.data-labs', 'run'), 0o777);
    const started = await start(dir);
    expect(started.connections[0]?.host).toBe(path.join(dir, '.data-labs', 'run'));
    expect((await fs.stat(path.join(dir, '.data-labs', 'run'))).mode & 0o777).toBe(0o700);
    await stopEmbeddedServices(dir);
  });

  it.skipIf(process.platform === 'win32')('puts the socket in a folder of its own under the temporary folder when the lab path is too long for a socket', { timeout: START_TIMEOUT }, async () => {
    const deep = path.join(await tempDir(), 'a-lab-folder-with-a-rather-long-name', 'and-another-level-below-it-too');
    await fs.mkdir(deep, { recursive: true });
    const started = await start(deep);
    const host = started.connections[0]?.host ?? '';
    expect(host.startsWith(path.join(os.tmpdir(), `data-labs-${process.getuid?.() ?? ''}`))).toBe(true);
    expect(Buffer.byteLength(path.join(host, '.s.PGSQL.5432'))).toBeLessThanOrEqual(100);
    expect((await fs.stat(host)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.dirname(host))).mode & 0o777).toBe(0o700);
    const env = await readEnv(deep);
    await withClient(env.DATABASE_URL ?? '', async (client) => {
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    });
    await stopEmbeddedServices(deep);
  });
});
