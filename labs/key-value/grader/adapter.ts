/**
 * The Key-Value lab's adapter, loaded in the learner's process beside their bundle. It makes
 * the learner's sessions, limiter and two caches on the lab's Redis (through the grader's
 * fault proxy, in the grading database), Memcached and the grader's products table in
 * PostgreSQL, runs their operations, and gives the grader its hands inside the process:
 * database calls held at a gate (a load after it read, a save before it wrote), loads
 * counted per product, and a kill (SIGKILL) the moment a given number of Redis replies has
 * come. Bundled on its own into dist/sandbox/adapters/key-value.cjs; it imports nothing of
 * the extension or the grader but the protocol and the two clients.
 */
import { labPg } from '../../../src/core/grading/adapters/pgDb';
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import { MemcacheClient } from '../../../src/core/services/memcache';
import { RespClient, RespError, type RespValue } from '../../../src/core/services/resp';
import type { Gate, KvAdapter, KvAdapterConfig, KvOp, OpResult, ServiceConfig } from './protocol';

const FILE = 'src/service.ts';
/** A real client's own limit, far beyond any the service sets: a paused Redis makes calls wait. */
const REDIS_CLIENT_TIMEOUT_MS = 30_000;

type Reply = string | number | null | Reply[];

/** What a Redis call rejects with, as types.ts describes it (compared by name). */
class RedisError extends Error {
  override readonly name = 'RedisError';
}
class MemcachedError extends Error {
  override readonly name = 'MemcachedError';
}

function reply(value: RespValue, what: string): Reply {
  if (value instanceof RespError) throw new RedisError(`${what}: ${value.message}`);
  if (Array.isArray(value)) return value.map((v) => reply(v, what));
  return value;
}

interface Learner {
  readonly sessions: Record<string, unknown>;
  readonly limiter: Record<string, unknown>;
  readonly caches: Record<'redis' | 'memcached', Record<string, unknown>>;
}

function method(target: Record<string, unknown>, name: string, made: string): (...args: unknown[]) => unknown {
  const fn = target[name];
  if (typeof fn !== 'function') throw new TypeError(`The object ${made} returned has no function ${name}.`);
  return (...args) => (fn as (...a: unknown[]) => unknown).apply(target, args);
}

function checked(op: KvOp, value: unknown): OpResult {
  switch (op.op) {
    case 'login':
      if (typeof value === 'string' && value !== '') return value;
      throw new TypeError(`login must resolve with a session id (a non-empty string); it returned ${JSON.stringify(value)}.`);
    case 'currentUser':
    case 'get':
      if (value === null || typeof value === 'string') return value;
      throw new TypeError(`${op.op === 'get' ? 'get' : 'currentUser'} must resolve with a string or null; it returned ${JSON.stringify(value)}.`);
    case 'allowFixed':
    case 'allowSliding':
      if (typeof value === 'boolean') return value;
      throw new TypeError(`${op.op} must resolve with true or false; it returned ${JSON.stringify(value)}.`);
    default:
      return undefined;
  }
}

export const createAdapter: AdapterFactory<KvAdapter> = (learnerModule) => {
  let config: KvAdapterConfig | undefined;
  let table: ReturnType<typeof tableOf> | undefined;
  let learner: Learner | undefined;
  let offsetMs = 0;
  const clients = new Set<RespClient>();
  const sessions = new Set<RespClient>();
  let memcache: MemcacheClient | undefined;
  let loads: Record<string, number> = {};
  let counted = 0;
  let crashAfter: number | null = null;
  /** The calls held at a gate (one per product and kind), until `release`. */
  let gates: (Gate & { go: Promise<void>; open: () => void; reached: boolean })[] = [];
  let arrivedWaiters: (() => void)[] = [];
  const allReached = (): boolean => gates.length > 0 && gates.every((g) => g.reached);

  const counting = async (pending: Promise<RespValue>, what: string): Promise<Reply> => {
    let value: RespValue;
    try {
      value = await pending;
    } catch (error) {
      throw new RedisError(error instanceof Error ? error.message : String(error));
    }
    counted += 1;
    if (crashAfter !== null && counted >= crashAfter) {
      // What a power cut does: no cleanup, connections just drop.
      process.kill(process.pid, 'SIGKILL');
    }
    return reply(value, what);
  };

  const redisOf = (c: KvAdapterConfig): unknown => {
    const connect = (): RespClient => {
      const client = new RespClient({ host: c.redis.host, port: c.redis.port, password: c.redis.password, database: c.redis.database }, REDIS_CLIENT_TIMEOUT_MS, 'Redis');
      clients.add(client);
      return client;
    };
    const shared = connect();
    return Object.freeze({
      command: (...args: (string | number)[]) => counting(shared.command(args.map(String)), String(args[0] ?? '')),
      eval: (script: string, keys: readonly string[], args: readonly (string | number)[]) => counting(shared.command(['EVAL', script, String(keys.length), ...keys, ...args.map(String)]), 'EVAL'),
      session: () => {
        const own = connect();
        sessions.add(own);
        return Object.freeze({
          command: (...args: (string | number)[]) => counting(own.command(args.map(String)), String(args[0] ?? '')),
          close: () => {
            own.close();
            clients.delete(own);
            sessions.delete(own);
          },
        });
      },
    });
  };

  const memcachedOf = (client: MemcacheClient): unknown => {
    const call = async <T>(work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (error) {
        throw new MemcachedError(error instanceof Error ? error.message : String(error));
      }
    };
    return Object.freeze({
      get: (key: string) => call(() => client.get(String(key))),
      gets: (key: string) => call(() => client.gets(String(key))),
      set: (key: string, value: string, ttl: number) => call(() => client.set(String(key), String(value), ttl)),
      add: (key: string, value: string, ttl: number) => call(() => client.add(String(key), String(value), ttl)),
      cas: (key: string, value: string, ttl: number, cas: string) => call(() => client.cas(String(key), String(value), ttl, String(cas))),
      delete: (key: string) => call(() => client.delete(String(key))),
    });
  };

  /** Waits at the gate if this call is the one held. */
  const atGate = async (kind: Gate['kind'], id: string): Promise<void> => {
    const g = gates.find((x) => !x.reached && x.kind === kind && x.id === id);
    if (g === undefined) return;
    g.reached = true;
    if (allReached()) for (const w of arrivedWaiters.splice(0)) w();
    await g.go;
  };

  /** The table's two statements, on PostgreSQL or on the stand-in's hash. */
  const tableOf = (c: KvAdapterConfig): { read(id: string): Promise<string | null>; write(id: string, value: string): Promise<void>; close(): Promise<void> } => {
    const products = c.products;
    if (products.kind === 'postgres') {
      const pool = new (labPg().Pool)({ connectionString: products.url, max: 8 });
      pool.on('error', () => undefined);
      const table = `"${products.schema.replaceAll('"', '""')}".products`;
      return {
        read: async (id) => (await pool.query<{ value: string }>(`SELECT value FROM ${table} WHERE id = $1`, [id])).rows[0]?.value ?? null,
        write: async (id, value) => void (await pool.query(`INSERT INTO ${table} (id, value) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value`, [id, value])),
        close: () => pool.end(),
      };
    }
    const client = new RespClient({ host: products.host, port: products.port, password: products.password }, 10_000, 'products');
    const ok = (value: RespValue): RespValue => {
      if (value instanceof RespError) throw new Error(`the products table: ${value.message}`);
      return value;
    };
    return {
      read: async (id) => {
        const value = ok(await client.command(['HGET', 'products', id]));
        return typeof value === 'string' ? value : null;
      },
      write: async (id, value) => void ok(await client.command(['HSET', 'products', id, value])),
      close: async () => client.close(),
    };
  };

  const dbOf = (c: KvAdapterConfig, t: ReturnType<typeof tableOf>): unknown =>
    Object.freeze({
      load: async (id: string): Promise<string | null> => {
        const key = String(id);
        loads[key] = (loads[key] ?? 0) + 1;
        const value = await t.read(key);
        await new Promise((resolve) => setTimeout(resolve, c.loadDelayMs));
        await atGate('load', key);
        return value;
      },
      save: async (id: string, value: string): Promise<void> => {
        const key = String(id);
        await atGate('save', key);
        await t.write(key, String(value));
      },
    });

  const closeClients = (): void => {
    for (const c of clients) c.close();
    clients.clear();
    sessions.clear();
  };

  return {
    async configure(next: KvAdapterConfig): Promise<void> {
      config = next;
      table = tableOf(next);
      memcache = new MemcacheClient(next.memcached, next.memcachedTimeoutMs, 'Memcached');
      await table.read('');
    },

    open(service: ServiceConfig, offset: number): void {
      if (config === undefined || table === undefined || memcache === undefined) throw new Error('The grader did not configure the adapter.');
      closeClients();
      offsetMs = offset;
      const deps = Object.freeze({
        redis: redisOf(config),
        memcached: memcachedOf(memcache),
        db: dbOf(config, table),
        clock: Object.freeze({ now: () => Date.now() + offsetMs }),
        config: Object.freeze({ ...service }),
      });
      const make = (name: string): Record<string, unknown> => {
        const factory = learnerModule[name];
        if (typeof factory !== 'function') throw new TypeError(`${FILE} does not export a function ${name}(deps).`);
        const made = (factory as (d: unknown) => unknown)(deps);
        if (typeof made !== 'object' || made === null) throw new TypeError(`${name} must return an object; it returned ${JSON.stringify(made)}.`);
        return made as Record<string, unknown>;
      };
      learner = {
        sessions: make('createSessions'),
        limiter: make('createLimiter'),
        caches: { redis: make('createRedisCache'), memcached: make('createMemcachedCache') },
      };
    },

    setClock(offset: number): void {
      offsetMs = offset;
    },

    async run(op: KvOp): Promise<OpResult> {
      const l = learner;
      if (l === undefined) throw new Error('The grader has not opened the service.');
      switch (op.op) {
        case 'login':
          return checked(op, await method(l.sessions, 'login', 'createSessions')(op.user));
        case 'currentUser':
          return checked(op, await method(l.sessions, 'currentUser', 'createSessions')(op.session));
        case 'logout':
          return checked(op, await method(l.sessions, 'logout', 'createSessions')(op.session));
        case 'allowFixed':
          return checked(op, await method(l.limiter, 'allowFixed', 'createLimiter')(op.client));
        case 'allowSliding':
          return checked(op, await method(l.limiter, 'allowSliding', 'createLimiter')(op.client));
        case 'get':
          return checked(op, await method(l.caches[op.cache], 'get', op.cache === 'redis' ? 'createRedisCache' : 'createMemcachedCache')(op.id));
        case 'update':
          return checked(op, await method(l.caches[op.cache], 'update', op.cache === 'redis' ? 'createRedisCache' : 'createMemcachedCache')(op.id, op.value));
      }
    },

    hold(next: Gate): void {
      let open: () => void = () => undefined;
      const go = new Promise<void>((resolve) => {
        open = resolve;
      });
      gates.push({ ...next, go, open, reached: false });
    },

    waitHeld(timeoutMs: number): Promise<boolean> {
      if (allReached()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        arrivedWaiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },

    release(): void {
      const held = gates;
      gates = [];
      arrivedWaiters = [];
      for (const g of held) g.open();
    },

    takeLoads(): Record<string, number> {
      const taken = loads;
      loads = {};
      return taken;
    },

    arm(after: number | null): void {
      counted = 0;
      crashAfter = after;
    },

    replies(): number {
      return counted;
    },

    openSessions(): number {
      return sessions.size;
    },

    async finish(): Promise<void> {
      learner = undefined;
      closeClients();
      for (const g of gates) g.open();
      gates = [];
      loads = {};
      crashAfter = null;
      await Promise.resolve();
    },
  };
};
