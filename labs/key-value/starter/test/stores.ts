/**
 * The tests' stores: the lab's Redis, Memcached and PostgreSQL, whose addresses the
 * extension writes to .env when it starts the lab's databases. Each test empties what it
 * uses: Redis database 1 (the grader uses another), Memcached, and a products table of
 * its own. Without .env the tests that need the servers are skipped, saying why.
 *
 * Small clients are here so that the lab needs no Redis or Memcached library: `Redis` and
 * `Memcached` as src/types.ts describes them. You do not need to change this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type CasItem, type Config, type Deps, type Memcached, type ProductsDb, type Redis, RedisError, type Reply } from '../src/types';

const DATABASE = 1;

function readEnv(): Record<string, string> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '.env');
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1] as string] = match[2] as string;
  }
  return env;
}

const env = readEnv();
const REDIS_URL = env['REDIS_URL'];
const MEMCACHED_URL = env['MEMCACHED_URL'];
const DATABASE_URL = env['DATABASE_URL'];
/** Why the tests that need the servers are skipped, or undefined when they run. */
export const NO_SERVERS =
  REDIS_URL !== undefined && MEMCACHED_URL !== undefined && DATABASE_URL !== undefined
    ? undefined
    : "the lab's Redis, Memcached and PostgreSQL are not running (no .env with REDIS_URL, MEMCACHED_URL and DATABASE_URL): start the lab's databases, which needs Docker";

/** The configuration the tests use: short times, so that they run in seconds. */
export const TEST_CONFIG: Config = { limit: 10, windowMs: 1_000, sessionTtlMs: 300, cacheTtlMs: 10_000, redisTimeoutMs: 1_000, failOpen: true };

// ─── Redis (RESP) ─────────────────────────────────────────────────────────────────

/** Reads one RESP reply from `buffer` at `at`; returns it and where it ends, or undefined if incomplete. */
function parse(buffer: Buffer, at: number): { value: Reply | RedisError; end: number } | undefined {
  const line = buffer.indexOf('\r\n', at);
  if (line < 0) return undefined;
  const kind = String.fromCharCode(buffer[at] as number);
  const text = buffer.toString('utf8', at + 1, line);
  switch (kind) {
    case '+':
      return { value: text, end: line + 2 };
    case '-':
      return { value: new RedisError(text), end: line + 2 };
    case ':':
      return { value: Number(text), end: line + 2 };
    case '$': {
      const length = Number(text);
      if (length < 0) return { value: null, end: line + 2 };
      if (buffer.length < line + 2 + length + 2) return undefined;
      return { value: buffer.toString('utf8', line + 2, line + 2 + length), end: line + 2 + length + 2 };
    }
    case '*': {
      const count = Number(text);
      if (count < 0) return { value: null, end: line + 2 };
      const items: Reply[] = [];
      let end = line + 2;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, end);
        if (item === undefined) return undefined;
        if (item.value instanceof RedisError) throw item.value;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new RedisError(`Not a RESP reply: ${JSON.stringify(text)}`);
  }
}

/** One connection; commands are pipelined and answered in order. */
class RespConnection {
  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];

  constructor(url: string) {
    const u = new URL(url);
    this.socket = net.createConnection({ host: u.hostname, port: Number(u.port) });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(new RedisError(error.message)));
    this.socket.on('close', () => this.fail(new RedisError('the connection closed')));
    const password = decodeURIComponent(u.password);
    if (password !== '') void this.command(['AUTH', password]).catch(() => undefined);
    void this.command(['SELECT', String(DATABASE)]).catch(() => undefined);
  }

  command(args: readonly (string | number)[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      const parts = args.map(String);
      this.socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      let parsed: ReturnType<typeof parse>;
      try {
        parsed = parse(this.buffer, 0);
      } catch (error) {
        parsed = { value: error as RedisError, end: this.buffer.length };
      }
      if (parsed === undefined) return;
      this.buffer = this.buffer.subarray(parsed.end);
      const waiter = this.waiting.shift();
      if (parsed.value instanceof RedisError) waiter?.reject(parsed.value);
      else waiter?.resolve(parsed.value);
    }
  }

  private fail(error: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  close(): void {
    this.socket.destroy();
  }
}

function openRedis(url: string): Redis & { close(): void } {
  const connections: RespConnection[] = [];
  const connect = (): RespConnection => {
    const c = new RespConnection(url);
    connections.push(c);
    return c;
  };
  const shared = connect();
  return {
    command: (...args) => shared.command(args),
    eval: (script, keys, args) => shared.command(['EVAL', script, keys.length, ...keys, ...args]),
    session() {
      const own = connect();
      return { command: (...args) => own.command(args), close: () => own.close() };
    },
    close: () => {
      for (const c of connections) c.close();
    },
  };
}

// ─── Memcached (text protocol) ────────────────────────────────────────────────────

class MemcachedError extends Error {
  override readonly name = 'MemcachedError';
}

/** One connection, one request at a time. */
function openMemcached(url: string): Memcached & { flush(): Promise<void>; close(): void } {
  const u = new URL(url);
  const socket = net.createConnection({ host: u.hostname, port: Number(u.port) });
  let buffer = Buffer.alloc(0);
  let waiter: { done: (b: Buffer) => number | undefined; resolve: (lines: string[]) => void; reject: (e: Error) => void } | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    const end = waiter?.done(buffer);
    if (waiter !== undefined && end !== undefined) {
      const text = buffer.subarray(0, end).toString('utf8');
      buffer = buffer.subarray(end);
      const w = waiter;
      waiter = undefined;
      w.resolve(text.split('\r\n').slice(0, -1));
    }
  });
  socket.on('error', (error) => waiter?.reject(new MemcachedError(error.message)));
  const untilEnd = (b: Buffer): number | undefined => (b.toString('latin1').endsWith('END\r\n') ? b.length : undefined);
  const oneLine = (b: Buffer): number | undefined => {
    const i = b.indexOf('\r\n');
    return i < 0 ? undefined : i + 2;
  };
  const request = (text: string, done: (b: Buffer) => number | undefined): Promise<string[]> => {
    const run = queue.then(
      () =>
        new Promise<string[]>((resolve, reject) => {
          waiter = { done, resolve, reject };
          socket.write(text);
        }),
    );
    queue = run.catch(() => undefined);
    return run;
  };
  const retrieve = async (verb: string, key: string): Promise<CasItem | null> => {
    const lines = await request(`${verb} ${key}\r\n`, untilEnd);
    const head = lines[0] ?? '';
    if (!head.startsWith('VALUE ')) return null;
    return { value: lines[1] ?? '', cas: head.split(' ')[4] ?? '' };
  };
  const store = async (verb: string, key: string, value: string, ttl: number, cas = ''): Promise<string> => {
    const [line = ''] = await request(`${verb} ${key} 0 ${ttl} ${Buffer.byteLength(value)}${cas ? ` ${cas}` : ''}\r\n${value}\r\n`, oneLine);
    if (line.includes('ERROR')) throw new MemcachedError(line);
    return line;
  };
  return {
    get: async (key) => (await retrieve('get', key))?.value ?? null,
    gets: (key) => retrieve('gets', key),
    set: async (key, value, ttl) => void (await store('set', key, value, ttl)),
    add: async (key, value, ttl) => (await store('add', key, value, ttl)) === 'STORED',
    cas: async (key, value, ttl, cas) => {
      const line = await store('cas', key, value, ttl, cas);
      return line === 'STORED' ? 'stored' : line === 'EXISTS' ? 'exists' : 'not-found';
    },
    delete: async (key) => (await request(`delete ${key}\r\n`, oneLine))[0] === 'DELETED',
    flush: async () => void (await request('flush_all\r\n', oneLine)),
    close: () => socket.destroy(),
  };
}

// ─── The products table, and the test's world ─────────────────────────────────────

export interface TestWorld {
  readonly deps: Deps;
  /** The service's clock: moves only when a test moves it. */
  readonly clock: { now(): number; set(ms: number): void };
  /** How many times each product was loaded. */
  readonly loads: Map<string, number>;
  /** The next load of `id` waits after reading until `release()` (to force a race). */
  holdLoad(id: string): { reached: Promise<void>; release(): void };
  /** Writes a product directly in the database. */
  seed(id: string, value: string): Promise<void>;
  /** Redis in database 1, for looking at what your code left there. */
  readonly redis: Redis;
  readonly memcached: Memcached;
  close(): Promise<void>;
}

/** The service's stores, emptied: Redis database 1, Memcached, and a products table. */
export async function makeWorld(config: Partial<Config> = {}): Promise<TestWorld> {
  if (REDIS_URL === undefined || MEMCACHED_URL === undefined || DATABASE_URL === undefined) throw new Error(NO_SERVERS);
  const redis = openRedis(REDIS_URL);
  const memcached = openMemcached(MEMCACHED_URL);
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  await redis.command('FLUSHDB');
  await memcached.flush();
  await pool.query('CREATE TABLE IF NOT EXISTS products (id text PRIMARY KEY, value text NOT NULL)');
  await pool.query('TRUNCATE products');
  const loads = new Map<string, number>();
  let held: { id: string; arrived: () => void; go: Promise<void> } | undefined;
  const db: ProductsDb = {
    async load(id) {
      loads.set(id, (loads.get(id) ?? 0) + 1);
      const { rows } = await pool.query<{ value: string }>('SELECT value FROM products WHERE id = $1', [id]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (held?.id === id) {
        const h = held;
        held = undefined;
        h.arrived();
        await h.go;
      }
      return rows[0]?.value ?? null;
    },
    async save(id, value) {
      await pool.query('INSERT INTO products (id, value) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value', [id, value]);
    },
  };
  let now = 1_000_000;
  const clock = { now: () => now, set: (ms: number) => void (now = ms) };
  return {
    deps: { redis, memcached, db, clock, config: { ...TEST_CONFIG, ...config } },
    clock,
    loads,
    holdLoad(id) {
      let arrived: () => void = () => undefined;
      let release: () => void = () => undefined;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      const go = new Promise<void>((resolve) => (release = resolve));
      held = { id, arrived, go };
      return { reached, release };
    },
    seed: (id, value) => db.save(id, value),
    redis,
    memcached,
    async close() {
      redis.close();
      memcached.close();
      await pool.end();
    },
  };
}
