/**
 * The Key-Value grader's services and its hands on them: the lab's Redis (behind the fault
 * injector's proxy, which follows a container that was killed and started again), its
 * Memcached and the grader's products table in a schema of its own in the lab's
 * PostgreSQL. The learner's process reaches Redis only through the proxy; the grader reads
 * and empties the grading database, Memcached and the table directly. Without Docker, a
 * Redis stand-in, a Memcached stand-in and a products table kept in a second Redis
 * stand-in, all in the grader's process, take their place.
 */
import pg from 'pg';
import { FaultInjector } from '../../../src/core/services/faults';
import { InProcessMemcached } from '../../../src/core/services/inProcessMemcached';
import { InProcessRedis } from '../../../src/core/services/inProcessRedis';
import type { ServiceConnection } from '../../../src/core/services/labServices';
import type { LabServicesForGrading } from '../../../src/core/services/labServicesController';
import { MemcacheClient } from '../../../src/core/services/memcache';
import { RespClient, RespError } from '../../../src/core/services/resp';
import type { RuntimeLogger } from '../../../src/core/services/runtime';
import type { KeyTtl } from './history';
import { GRADING_DATABASE } from './limits';
import type { KvAdapterConfig } from './protocol';

const DIRECT_TIMEOUT_MS = 5_000;

/** The services a grading runs on, and the grader's hands on them. */
export interface KvServices {
  /** Where the learner's process reaches the services. */
  adapterConfig(loadDelayMs: number, memcachedTimeoutMs: number): KvAdapterConfig;
  /** Empties the grading database, Memcached and the products table (the start of a scenario). */
  flush(): Promise<void>;
  /** Every key of the grading database with its PTTL. */
  keys(): Promise<KeyTtl[]>;
  /** Writes a product's value in the table directly (the grader's own write). */
  setTruth(id: string, value: string): Promise<void>;
  pause(): Promise<string>;
  kill(): Promise<string>;
  cutOff(): Promise<string>;
  /** Every Redis command from now takes `ms` more (until healed). */
  slow(ms: number): Promise<string>;
  /** Stops and starts Redis, which keeps what it acknowledged; waits until it answers. */
  restart(): Promise<string>;
  healAll(): Promise<void>;
  close(): Promise<void>;
}

async function scanKeys(command: (args: string[]) => Promise<unknown>): Promise<KeyTtl[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = (await command(['SCAN', cursor, 'COUNT', '500'])) as [string, string[]];
    cursor = reply[0];
    keys.push(...reply[1]);
  } while (cursor !== '0');
  const found: KeyTtl[] = [];
  for (const key of keys.sort()) {
    const pttl = Number(await command(['PTTL', key]));
    const type = await command(['TYPE', key]);
    const value = type === 'string' ? await command(['GET', key]) : undefined;
    found.push({ key, pttl, ...(typeof value === 'string' ? { value } : {}) });
  }
  return found.filter((k) => k.pttl !== -2);
}

class DockerKvServices implements KvServices {
  private direct: { client: RespClient; port: number } | undefined;

  private constructor(
    private readonly injector: FaultInjector,
    private readonly redis: ServiceConnection,
    private readonly memcached: ServiceConnection,
    private readonly postgres: ServiceConnection,
    private readonly pool: pg.Pool,
    private readonly memcache: MemcacheClient,
    readonly schema: string,
  ) {}

  static async start(lab: LabServicesForGrading, schema: string, random: () => number, logger: RuntimeLogger): Promise<DockerKvServices> {
    const find = (service: string): ServiceConnection => {
      const found = lab.connections.find((c) => c.service === service);
      if (found === undefined) throw new Error(`The Key-Value lab needs its ${service} container, which is not running. Start the lab's databases again.`);
      return found;
    };
    const redis = find('redis');
    const memcached = find('memcached');
    const postgres = find('postgres');
    const injector = await FaultInjector.create(lab.runtime, {
      services: [redis],
      ...(lab.network !== undefined ? { network: lab.network } : {}),
      ...(lab.journalDir !== undefined ? { journalDir: lab.journalDir } : {}),
      random,
      logger,
      readinessTimeoutMs: 30_000,
    });
    const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
    pool.on('error', () => undefined);
    const memcache = new MemcacheClient(memcached, DIRECT_TIMEOUT_MS, 'memcached');
    const services = new DockerKvServices(injector, redis, memcached, postgres, pool, memcache, schema);
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await pool.query(`CREATE TABLE IF NOT EXISTS "${schema}".products (id text PRIMARY KEY, value text NOT NULL)`);
    } catch (error) {
      await services.close();
      throw error;
    }
    return services;
  }

  /** Where the learner's process reaches the services. */
  adapterConfig(loadDelayMs: number, memcachedTimeoutMs: number): KvAdapterConfig {
    const proxy = this.injector.proxyAddress(this.redis.name);
    return {
      redis: { host: proxy.host, port: proxy.port, password: this.redis.password, database: GRADING_DATABASE },
      memcached: { host: this.memcached.host, port: this.memcached.port },
      products: { kind: 'postgres', url: this.postgres.url, schema: this.schema },
      loadDelayMs,
      memcachedTimeoutMs,
    };
  }

  /** A client of the Redis container's published port as it is now (a restart may change it). */
  private client(): RespClient {
    const target = this.injector.proxy(this.redis.name).currentTarget;
    if (this.direct !== undefined && this.direct.port === target.port) return this.direct.client;
    this.direct?.client.close();
    const client = new RespClient({ host: target.host, port: target.port, password: this.redis.password, database: GRADING_DATABASE }, DIRECT_TIMEOUT_MS, 'redis');
    this.direct = { client, port: target.port };
    return client;
  }

  private async redisCommand(args: string[]): Promise<unknown> {
    const reply = await this.client().command(args);
    if (reply instanceof RespError) throw new Error(`Redis refused ${args[0] ?? ''}: ${reply.message}`);
    return reply;
  }

  async flush(): Promise<void> {
    await this.redisCommand(['FLUSHDB']);
    await this.memcache.flushAll();
    await this.pool.query(`TRUNCATE "${this.schema}".products`);
  }

  keys(): Promise<KeyTtl[]> {
    return scanKeys((args) => this.redisCommand(args));
  }

  async setTruth(id: string, value: string): Promise<void> {
    await this.pool.query(`INSERT INTO "${this.schema}".products (id, value) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value`, [id, value]);
  }

  async pause(): Promise<string> {
    await this.injector.pause(this.redis.name);
    return 'pause Redis (its container is frozen: calls wait)';
  }

  async kill(): Promise<string> {
    await this.injector.kill(this.redis.name);
    return 'kill Redis (SIGKILL: connections reset, new ones refused)';
  }

  async cutOff(): Promise<string> {
    this.injector.drop(this.redis.name);
    return 'cut Redis off (its network drops every packet: calls wait)';
  }

  async slow(ms: number): Promise<string> {
    this.injector.latency(this.redis.name, ms);
    return `slow Redis down (${ms} ms more on every packet to it and back)`;
  }

  async restart(): Promise<string> {
    const fault = await this.injector.restart(this.redis.name);
    await this.injector.undo(fault);
    return 'restart Redis (docker restart: it reloads its append-only file)';
  }

  async healAll(): Promise<void> {
    await this.injector.undoAll();
  }

  async close(): Promise<void> {
    this.direct?.client.close();
    this.memcache.close();
    try {
      await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    } finally {
      await this.pool.end().catch(() => undefined);
      await this.injector.close();
    }
  }
}

export function startDockerKvServices(lab: LabServicesForGrading, schema: string, random: () => number, logger: RuntimeLogger): Promise<KvServices> {
  return DockerKvServices.start(lab, schema, random, logger);
}

/** Without Docker: stand-ins in the grader's process (src/core/services/inProcessRedis.ts, inProcessMemcached.ts). */
class InProcessKvServices implements KvServices {
  private readonly direct: RespClient;
  private readonly table: RespClient;
  private readonly memcache: MemcacheClient;

  private constructor(
    private readonly redis: InProcessRedis,
    private readonly memcached: InProcessMemcached,
    private readonly products: InProcessRedis,
  ) {
    this.direct = new RespClient({ host: redis.host, port: redis.port, password: redis.password, database: GRADING_DATABASE }, DIRECT_TIMEOUT_MS, 'redis');
    this.table = new RespClient({ host: products.host, port: products.port, password: products.password }, DIRECT_TIMEOUT_MS, 'products');
    this.memcache = new MemcacheClient(memcached, DIRECT_TIMEOUT_MS, 'memcached');
  }

  static async start(password: string): Promise<InProcessKvServices> {
    const redis = await InProcessRedis.start('redis', password);
    const memcached = await InProcessMemcached.start('memcached');
    const products = await InProcessRedis.start('products', password);
    return new InProcessKvServices(redis, memcached, products);
  }

  adapterConfig(loadDelayMs: number, memcachedTimeoutMs: number): KvAdapterConfig {
    return {
      redis: { host: this.redis.host, port: this.redis.port, password: this.redis.password, database: GRADING_DATABASE },
      memcached: { host: this.memcached.host, port: this.memcached.port },
      products: { kind: 'hash', host: this.products.host, port: this.products.port, password: this.products.password },
      loadDelayMs,
      memcachedTimeoutMs,
    };
  }

  async flush(): Promise<void> {
    await this.direct.command(['FLUSHDB']);
    await this.memcache.flushAll();
    await this.table.command(['FLUSHDB']);
  }

  keys(): Promise<KeyTtl[]> {
    return scanKeys((args) => this.direct.command(args));
  }

  async setTruth(id: string, value: string): Promise<void> {
    await this.table.command(['HSET', 'products', id, value]);
  }

  async pause(): Promise<string> {
    this.redis.pause();
    return 'pause Redis (the stand-in stops answering: calls wait)';
  }

  async kill(): Promise<string> {
    await this.redis.kill();
    return 'kill Redis (the stand-in resets its connections and refuses new ones; it keeps its data)';
  }

  async cutOff(): Promise<string> {
    this.redis.pause();
    return 'cut Redis off (the stand-in answers nothing: calls wait)';
  }

  async slow(ms: number): Promise<string> {
    this.redis.setLatency(ms);
    return `slow Redis down (the stand-in waits ${ms} ms before each command)`;
  }

  async restart(): Promise<string> {
    await this.redis.kill();
    await this.redis.restart();
    return 'restart Redis (the stand-in, which keeps what it acknowledged, as an append-only file does)';
  }

  async healAll(): Promise<void> {
    if (!this.redis.running) await this.redis.restart();
    this.redis.resume();
    this.redis.setLatency(0);
  }

  async close(): Promise<void> {
    this.direct.close();
    this.table.close();
    this.memcache.close();
    await Promise.all([this.redis.close(), this.memcached.close(), this.products.close()]);
  }
}

export function startInProcessKvServices(password: string): Promise<KvServices> {
  return InProcessKvServices.start(password);
}
