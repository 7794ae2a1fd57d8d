/**
 * Shared by the Docker tests: a runtime on the real engine, the local images mapped
 * over the official ones (as the `dataLabs.images` setting would), unique lab and
 * session ids per test, and clean-up by label so a failed test leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { DockerodeRuntime } from '../../src/core/services/dockerodeRuntime';
import { LABEL_EXTENSION, LABEL_LAB } from '../../src/core/services/labServices';
import type { RuntimeLogger } from '../../src/core/services/runtime';
import { respExchange } from '../../src/core/services/serviceCatalog';

export const LOCAL_IMAGES = {
  postgres: 'data-labs-local/postgres:15',
  redis: 'data-labs-local/redis:7',
  memcached: 'data-labs-local/memcached:1.6',
} as const;

/** Every lab id made here starts with this, so a final sweep can find strays of this run. */
export const TEST_LAB_PREFIX = 'dtest';

/** Log lines of the runtime, kept so a failing test can show what the engine did. */
export const runtimeLog: string[] = [];
export const testLogger: RuntimeLogger = {
  info: (m) => runtimeLog.push(`info ${m}`),
  warn: (m) => runtimeLog.push(`warn ${m}`),
  error: (m) => runtimeLog.push(`error ${m}`),
};

export function newRuntime(): DockerodeRuntime {
  return new DockerodeRuntime({ logger: testLogger });
}

export function uniqueId(what: string): string {
  return `${TEST_LAB_PREFIX}-${what}-${randomBytes(3).toString('hex')}`;
}

/** Removes, after the file's tests, every lab this file registered, whatever happened. */
export function useLabCleanup(runtime: DockerodeRuntime): (labId: string) => string {
  const labs: string[] = [];
  afterAll(async () => {
    for (const labId of labs) {
      await removeEveryFolder(runtime, labId);
    }
  });
  return (labId) => {
    labs.push(labId);
    return labId;
  };
}

/** Removes every container and network of a lab, of whichever folder. */
export async function removeEveryFolder(runtime: DockerodeRuntime, labId: string): Promise<void> {
  const labels = { [LABEL_EXTENSION]: '1', [LABEL_LAB]: labId };
  await Promise.all((await runtime.listContainers(labels)).map((c) => runtime.removeContainer(c.id)));
  await Promise.all((await runtime.listNetworks(labels)).map((n) => runtime.removeNetwork(n.id)));
}

export async function leftoverContainers(runtime: DockerodeRuntime, labId: string): Promise<number> {
  return (await runtime.listContainers({ [LABEL_EXTENSION]: '1', [LABEL_LAB]: labId })).length;
}

export async function tempLabDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'ddl-docker-'));
}

/** Runs one query with the `pg` client learners use, and closes the connection. */
export async function pgQuery(url: string, sql: string, timeoutMs = 5_000): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

export function redisCommands(port: number, commands: string[][], timeoutMs = 3_000): Promise<string[]> {
  return respExchange({ host: '127.0.0.1', port }, commands, timeoutMs);
}

/** Listens on a free port of 127.0.0.1 and returns it with a way to let go. */
export async function occupyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
