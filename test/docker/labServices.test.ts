/**
 * A lab's services on the real engine: start and readiness, reuse after a stop, reset,
 * the fault handles (pause, stop, kill, restart, network), and the sweep.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LABEL_EXTENSION,
  LABEL_LAB,
  LABEL_SESSION,
  type LabServicesResult,
  type ServiceConnection,
  labNetworkName,
  resetLabServices,
  startLabServices,
  stopLabServices,
  sweepOrphans,
  waitUntilReady,
} from '../../src/core/services/labServices';
import { SERVICE_CATALOG } from '../../src/core/services/serviceCatalog';
import { snapshotImageName } from '../../src/core/services/snapshots';
import { LOCAL_IMAGES, leftoverContainers, newRuntime, pgQuery, redisCommands, runtimeLog, tempLabDir, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
const sessionId = `session-${randomBytes(4).toString('hex')}`;

function only(result: LabServicesResult, name: string): ServiceConnection {
  const found = result.connections.find((c) => c.name === name);
  if (!found) {
    throw new Error(`no ${name} in ${result.connections.map((c) => c.name).join(', ')}`);
  }
  return found;
}

describe('a lab with PostgreSQL and Redis', () => {
  const labId = registerLab(uniqueId('polyglot'));
  const services = [
    { service: 'postgres' as const, count: 1 },
    { service: 'redis' as const, count: 1 },
  ];
  let labDir: string;
  let first: LabServicesResult;

  beforeAll(async () => {
    labDir = await tempLabDir();
  });
  afterAll(async () => {
    await fs.rm(labDir, { recursive: true, force: true });
  });

  it('starts both, ready to answer, on 127.0.0.1 only, with the connection details in .env', async () => {
    const started = Date.now();
    first = await startLabServices(runtime, services, { labId, sessionId, labDir, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger });
    const elapsed = Date.now() - started;
    const postgres = only(first, 'postgres');
    const redis = only(first, 'redis');
    expect(postgres.created && redis.created).toBe(true);
    expect(postgres.host).toBe('127.0.0.1');
    expect(postgres.password).toMatch(/^[0-9a-f]{36}$/);
    expect(postgres.password).not.toBe(redis.password);

    // The test talks to them itself, with the same clients a lab would use.
    expect((await pgQuery(postgres.url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(await redisCommands(redis.port, [['AUTH', redis.password], ['PING']])).toEqual(['+OK', '+PONG']);
    expect(await redisCommands(redis.port, [['AUTH', 'wrong'], ['PING']])).toEqual([expect.stringMatching(/^-WRONGPASS|^-ERR/), expect.stringMatching(/^-NOAUTH/)]);

    // Published on loopback with an engine-chosen port, and labelled for the sweep.
    const info = await runtime.inspectContainer(postgres.containerId);
    expect(info.ports).toEqual([{ containerPort: '5432/tcp', hostIp: '127.0.0.1', hostPort: postgres.port }]);
    expect(info.labels).toMatchObject({ [LABEL_EXTENSION]: '1', [LABEL_LAB]: labId, [LABEL_SESSION]: sessionId });
    // It runs from the local snapshot of the mapped image (snapshots.ts), and says which image it stands for.
    const source = await runtime.inspectImage(LOCAL_IMAGES.postgres);
    expect(info.image).toBe(snapshotImageName('postgres', source!.id).image);
    expect(postgres.image).toBe(LOCAL_IMAGES.postgres);

    // Two containers make a lab network, where each answers to its service name.
    expect(first.network).toBe(labNetworkName(labId, labDir));
    expect(info.networks).toEqual([labNetworkName(labId, labDir)]);

    const env = await fs.readFile(path.join(labDir, '.env'), 'utf8');
    expect(env).toContain(`POSTGRES_PORT=${postgres.port}\n`);
    expect(env).toContain(`DATABASE_URL=${postgres.url}\n`);
    expect(env).toContain(`REDIS_PASSWORD=${redis.password}\n`);
    expect((await fs.stat(path.join(labDir, '.env'))).mode & 0o777).toBe(0o600);
    expect(runtimeLog.some((line) => line.includes(postgres.containerId.slice(0, 12)))).toBe(true);
    console.log(`cold start of postgres + redis: ${elapsed} ms`);
  });

  it('reuses the same containers after a stop, with their data', async () => {
    const postgres = only(first, 'postgres');
    await pgQuery(postgres.url, 'create table kept (v text); insert into kept values (\'still here\')');
    const stopped = await stopLabServices(runtime, labId, { labDir });
    expect(stopped).toHaveLength(2);
    expect((await runtime.inspectContainer(postgres.containerId)).status).toBe('exited');

    const started = Date.now();
    const again = await startLabServices(runtime, services, { labId, sessionId, labDir, images: LOCAL_IMAGES });
    console.log(`warm start of postgres + redis: ${Date.now() - started} ms`);
    const reused = only(again, 'postgres');
    expect(reused.created).toBe(false);
    expect(reused.containerId).toBe(postgres.containerId);
    expect(reused.password).toBe(postgres.password);
    expect(only(again, 'redis').containerId).toBe(only(first, 'redis').containerId);
    expect((await pgQuery(reused.url, 'select v from kept')).rows).toEqual([{ v: 'still here' }]);
    // The port may change across a restart; .env always has the current one.
    expect(await fs.readFile(path.join(labDir, '.env'), 'utf8')).toContain(`POSTGRES_PORT=${reused.port}\n`);
    first = again;
  });

  it('pauses and unpauses: a paused database does not answer, then answers again', async () => {
    const postgres = only(first, 'postgres');
    await runtime.pauseContainer(postgres.containerId);
    expect((await runtime.inspectContainer(postgres.containerId)).status).toBe('paused');
    await expect(pgQuery(postgres.url, 'select 1', 800)).rejects.toThrow();
    await runtime.unpauseContainer(postgres.containerId);
    expect((await pgQuery(postgres.url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('disconnects from and reconnects to the lab network', async () => {
    const redis = only(first, 'redis');
    const network = labNetworkName(labId, labDir);
    await runtime.disconnectNetwork(network, redis.containerId);
    expect((await runtime.inspectContainer(redis.containerId)).networks).not.toContain(network);
    await runtime.connectNetwork(network, redis.containerId, ['redis']);
    expect((await runtime.inspectContainer(redis.containerId)).networks).toContain(network);
  });

  it('kills and restarts: the service comes back ready', async () => {
    const redis = only(first, 'redis');
    await runtime.killContainer(redis.containerId);
    expect((await runtime.inspectContainer(redis.containerId)).status).toBe('exited');
    await runtime.restartContainer(redis.containerId, 2);
    const { port } = await waitUntilReady(runtime, SERVICE_CATALOG.redis, redis.containerId, redis, 20_000);
    expect(await redisCommands(port, [['AUTH', redis.password], ['PING']])).toEqual(['+OK', '+PONG']);
    await runtime.stopContainer(redis.containerId, 2);
    expect((await runtime.inspectContainer(redis.containerId)).status).toBe('exited');
  });

  it('resets: new, empty containers with new credentials', async () => {
    const before = only(first, 'postgres');
    const reset = await resetLabServices(runtime, services, { labId, sessionId, labDir, images: LOCAL_IMAGES });
    const after = only(reset, 'postgres');
    expect(after.created).toBe(true);
    expect(after.containerId).not.toBe(before.containerId);
    expect(after.password).not.toBe(before.password);
    await expect(pgQuery(after.url, 'select v from kept')).rejects.toThrow(/relation "kept" does not exist/);
    expect(await leftoverContainers(runtime, labId)).toBe(2);
    await expect(runtime.inspectContainer(before.containerId)).rejects.toThrow(/No such container/i);
  });
});

describe('two folders of one lab', () => {
  it('each has its own containers, password, network and .env; stopping one leaves the other running', async () => {
    const labId = registerLab(uniqueId('folders'));
    const [mine, theirs] = [await tempLabDir(), await tempLabDir()];
    const link = `${mine}-link`;
    await fs.symlink(mine, link);
    try {
      const services = [{ service: 'redis' as const, count: 2 }];
      const a = await startLabServices(runtime, services, { labId, sessionId, labDir: mine, images: LOCAL_IMAGES });
      const b = await startLabServices(runtime, services, { labId, sessionId, labDir: theirs, images: LOCAL_IMAGES });
      expect(b.connections.every((c) => c.created)).toBe(true);
      const ids = (r: LabServicesResult): string[] => r.connections.map((c) => c.containerId);
      expect(ids(b).filter((id) => ids(a).includes(id))).toEqual([]);
      expect(b.connections.map((c) => c.password).filter((p) => a.connections.some((c) => c.password === p))).toEqual([]);
      const envA = await fs.readFile(path.join(mine, '.env'), 'utf8');
      const envB = await fs.readFile(path.join(theirs, '.env'), 'utf8');
      expect(envB).not.toContain(only(a, 'redis').password);
      expect(envA).not.toContain(only(b, 'redis').password);
      expect(a.network).not.toBe(b.network);
      expect((await runtime.inspectContainer(only(b, 'redis').containerId)).networks).toEqual([b.network]);

      // The same folder through a symlink is the same place: its containers are reused.
      const again = await startLabServices(runtime, services, { labId, sessionId, labDir: link, images: LOCAL_IMAGES });
      expect(ids(again)).toEqual(ids(a));

      const stopped = await stopLabServices(runtime, labId, { labDir: mine });
      expect(stopped.map((c) => c.id).sort()).toEqual(ids(a).sort());
      for (const id of ids(b)) {
        expect((await runtime.inspectContainer(id)).status).toBe('running');
      }
    } finally {
      await fs.rm(link, { force: true });
      await Promise.all([mine, theirs].map((d) => fs.rm(d, { recursive: true, force: true })));
    }
  });
});

describe('several instances of one service', () => {
  it('starts three Redis in parallel, each with its own port and password', async () => {
    const labId = registerLab(uniqueId('replicas'));
    const result = await startLabServices(runtime, [{ service: 'redis', count: 3 }], { labId, sessionId, images: LOCAL_IMAGES });
    expect(result.connections.map((c) => c.name)).toEqual(['redis', 'redis-2', 'redis-3']);
    expect(new Set(result.connections.map((c) => c.port)).size).toBe(3);
    expect(new Set(result.connections.map((c) => c.password)).size).toBe(3);
    for (const c of result.connections) {
      expect(await redisCommands(c.port, [['AUTH', c.password], ['PING']])).toEqual(['+OK', '+PONG']);
    }
  });
});

describe('PostgreSQL server settings (lab.json "settings")', () => {
  it('start each container with them; a container made with other settings is made again', async () => {
    const labId = registerLab(uniqueId('settings'));
    const plain = await startLabServices(runtime, [{ service: 'postgres', count: 1 }], { labId, sessionId, images: LOCAL_IMAGES });
    expect((await pgQuery(plain.connections[0]!.url, 'SHOW max_prepared_transactions')).rows).toEqual([{ max_prepared_transactions: '0' }]);
    const settings = { max_prepared_transactions: '64', lock_timeout: '5s' };
    const result = await startLabServices(runtime, [{ service: 'postgres', count: 2, settings }], { labId, sessionId, images: LOCAL_IMAGES });
    expect(result.connections[0]!.containerId).not.toBe(plain.connections[0]!.containerId);
    for (const c of result.connections) {
      expect((await pgQuery(c.url, 'SHOW max_prepared_transactions')).rows).toEqual([{ max_prepared_transactions: '64' }]);
      expect((await pgQuery(c.url, 'SHOW lock_timeout')).rows).toEqual([{ lock_timeout: '5s' }]);
    }
    // Started again with the same settings: the same containers.
    const again = await startLabServices(runtime, [{ service: 'postgres', count: 2, settings }], { labId, sessionId, images: LOCAL_IMAGES });
    expect(again.connections.map((c) => c.containerId)).toEqual(result.connections.map((c) => c.containerId));
  });
});

describe('One user and password for every container of a service (lab.json "sameCredentials")', () => {
  it('gives both containers one set, keeps it when they start again, and makes again a container that has another', async () => {
    const labId = registerLab(uniqueId('same-credentials'));
    const separate = await startLabServices(runtime, [{ service: 'postgres', count: 2 }], { labId, sessionId, images: LOCAL_IMAGES });
    expect(separate.connections[0]!.password).not.toBe(separate.connections[1]!.password);
    const shared = await startLabServices(runtime, [{ service: 'postgres', count: 2, sameCredentials: true }], { labId, sessionId, images: LOCAL_IMAGES });
    // The first container's set is the lab's; the second, made with its own, is made again with it.
    expect(shared.connections.map((c) => c.password)).toEqual([separate.connections[0]!.password, separate.connections[0]!.password]);
    expect(shared.connections[0]!.containerId).toBe(separate.connections[0]!.containerId);
    expect(shared.connections[1]!.containerId).not.toBe(separate.connections[1]!.containerId);
    for (const c of shared.connections) {
      expect((await pgQuery(c.url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    }
    const again = await startLabServices(runtime, [{ service: 'postgres', count: 2, sameCredentials: true }], { labId, sessionId, images: LOCAL_IMAGES });
    expect(again.connections.map((c) => c.containerId)).toEqual(shared.connections.map((c) => c.containerId));
  });
});

describe('execInContainer (docker exec)', () => {
  it('runs a command as the user asked, with its environment, and returns its exit code and both outputs', async () => {
    const labId = registerLab(uniqueId('exec'));
    const { connections } = await startLabServices(runtime, [{ service: 'postgres', count: 1 }], { labId, sessionId, images: LOCAL_IMAGES });
    const id = connections[0]!.containerId;
    const result = await runtime.execInContainer(id, ['sh', '-c', 'echo "out $(id -un) $GREETING"; echo err >&2; exit 3'], { user: 'postgres', env: { GREETING: 'hello' } });
    expect(result).toEqual({ exitCode: 3, stdout: 'out postgres hello\n', stderr: 'err\n' });
    // A large output arrives whole.
    const big = await runtime.execInContainer(id, ['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" x']);
    expect(big.stdout).toHaveLength(300_000);
    expect(big.exitCode).toBe(0);
  });
});

describe('sweepOrphans', () => {
  it("removes the containers and network of a session that is gone, and keeps a live session's", async () => {
    const deadLab = registerLab(uniqueId('orphan'));
    const liveLab = registerLab(uniqueId('alive'));
    const deadSession = `dead-${randomBytes(4).toString('hex')}`;
    await startLabServices(runtime, [{ service: 'redis', count: 2 }], { labId: deadLab, sessionId: deadSession, images: LOCAL_IMAGES });
    await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId: liveLab, sessionId, images: LOCAL_IMAGES });

    // Only the sessions of this test are judged, so other test runs on the engine are safe.
    const result = await sweepOrphans(runtime, (s) => s !== deadSession, undefined, () => false);
    expect(result.removedContainers).toHaveLength(2);
    expect(result.removedNetworks).toEqual([labNetworkName(deadLab)]);
    expect(await leftoverContainers(runtime, deadLab)).toBe(0);
    expect(await leftoverContainers(runtime, liveLab)).toBe(1);
    expect(await runtime.listNetworks({ [LABEL_LAB]: deadLab })).toEqual([]);
  });
});
