/**
 * Fault injection on real containers: each container fault observed for real and
 * undone until the service answers again, the proxy faults seen by the real `pg`
 * client, undoAll after many faults, and crash safety: a child process applies faults
 * with a journal and dies by SIGKILL, and recoverAbandonedFaults heals what it left.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppliedFault, FaultInjector, parseFaultJournal, recoverAbandonedFaults, undoContainerFault } from '../../src/core/services/faults';
import { type LabServicesResult, type ServiceConnection, labNetworkName, startLabServices } from '../../src/core/services/labServices';
import { containerShellCommand } from '../../src/core/services/serviceCatalog';
import { LOCAL_IMAGES, newRuntime, pgQuery, redisCommands, runtimeLog, tempLabDir, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
const sessionId = `session-${randomBytes(4).toString('hex')}`;
const REPO_ROOT = path.resolve(__dirname, '..', '..');

function only(result: LabServicesResult, name: string): ServiceConnection {
  const found = result.connections.find((c) => c.name === name);
  if (!found) {
    throw new Error(`no ${name} in ${result.connections.map((c) => c.name).join(', ')}`);
  }
  return found;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** The host port a service's container is published on now; a restart may change it. */
async function currentPort(connection: ServiceConnection): Promise<number | undefined> {
  return (await runtime.inspectContainer(connection.containerId)).ports[0]?.hostPort;
}

/** Runs redis-cli inside one container against another by its name on the lab network. */
function pingFrom(from: ServiceConnection, host: string, password: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      ['exec', from.containerId, 'timeout', '5', 'redis-cli', '-h', host, '-a', password, '--no-auth-warning', 'PING'],
      { timeout: 15_000 },
      (_error, stdout, stderr) => resolve(`${stdout}${stderr}`.trim()),
    );
  });
}

/** A connected `pg` client through the given URL; errors are collected instead of thrown. */
async function pgClient(url: string, timeoutMs: number): Promise<{ client: pg.Client; errors: Error[] }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  const errors: Error[] = [];
  client.on('error', (error) => errors.push(error));
  await client.connect();
  return { client, errors };
}

describe('faults on a lab with PostgreSQL and Redis', () => {
  const labId = registerLab(uniqueId('faults'));
  let lab: LabServicesResult;
  let injector: FaultInjector;
  let journalDir: string;

  beforeAll(async () => {
    journalDir = await tempLabDir();
    lab = await startLabServices(
      runtime,
      [
        { service: 'postgres', count: 1 },
        { service: 'redis', count: 1 },
      ],
      { labId, sessionId, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger },
    );
    injector = await FaultInjector.create(runtime, {
      services: lab.connections,
      ...(lab.network !== undefined ? { network: lab.network } : {}),
      journalDir,
      logger: testLogger,
      readinessTimeoutMs: 30_000,
    });
  });
  afterAll(async () => {
    await injector?.close();
    await fs.rm(journalDir, { recursive: true, force: true });
  });

  const proxied = (name: string): ServiceConnection => injector.proxiedConnection(name);
  const redisThroughProxy = (): Promise<string[]> => {
    const redis = proxied('redis');
    return redisCommands(redis.port, [['AUTH', redis.password], ['PING']]);
  };

  it('hands out proxy addresses that reach the real services', async () => {
    const postgres = proxied('postgres');
    expect(postgres.host).toBe('127.0.0.1');
    expect(postgres.port).not.toBe(only(lab, 'postgres').port);
    expect(postgres.url).toContain(`@127.0.0.1:${postgres.port}/`);
    expect((await pgQuery(postgres.url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(await redisThroughProxy()).toEqual(['+OK', '+PONG']);
    expect(injector.proxy('postgres').stats().connectionsAccepted).toBeGreaterThanOrEqual(1);
  });

  it('the Containers view\'s redis-cli shell authenticates through REDISCLI_AUTH, with no password on the command line', async () => {
    const redis = only(lab, 'redis');
    const { args, env } = containerShellCommand('redis', redis.containerId, redis.url);
    expect(args.join(' ')).not.toContain(redis.password);
    // The shell's own command, without the terminal (-it), asked one command.
    const run = (extra: Record<string, string>): Promise<string> =>
      new Promise((resolve) => {
        execFile('docker', [...args.filter((a) => a !== '-it'), 'PING'], { timeout: 15_000, env: { ...process.env, ...extra } }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`.trim()));
      });
    expect(await run({ ...env })).toBe('PONG');
    expect(await run({})).toMatch(/NOAUTH/);
  });

  it('pause: queries time out while it is journaled; undo: it answers again and the journal is gone', async () => {
    const postgres = only(lab, 'postgres');
    const fault = await injector.pause('postgres');
    expect((await runtime.inspectContainer(postgres.containerId)).status).toBe('paused');
    await expect(pgQuery(postgres.url, 'select 1', 800)).rejects.toThrow();
    await expect(pgQuery(proxied('postgres').url, 'select 1', 800)).rejects.toThrow();

    const journalFile = injector.journalFile ?? '';
    expect(path.basename(journalFile)).toMatch(new RegExp(`^faults-${process.pid}-[0-9a-f]+\\.json$`));
    const parsed = parseFaultJournal(await fs.readFile(journalFile, 'utf8'));
    expect(parsed.ok && parsed.journal.faults).toEqual([expect.objectContaining({ kind: 'pause', service: 'postgres', containerId: postgres.containerId })]);
    expect(runtimeLog.some((l) => l.includes(`pause postgres (container ${postgres.containerId.slice(0, 12)})`))).toBe(true);

    await injector.undo(fault);
    expect((await runtime.inspectContainer(postgres.containerId)).status).toBe('running');
    expect((await pgQuery(proxied('postgres').url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(await exists(journalFile)).toBe(false);
    expect(injector.outstanding).toEqual([]);
    // Undoing again is harmless.
    await injector.undo(fault);
  });

  it('stop and kill: the container exits; undo starts it, and the proxy follows its new port', async () => {
    const redis = only(lab, 'redis');
    const stop = await injector.stop('redis', 2);
    expect((await runtime.inspectContainer(redis.containerId)).status).toBe('exited');
    await expect(redisThroughProxy()).rejects.toThrow();
    await injector.undo(stop);
    expect(await redisThroughProxy()).toEqual(['+OK', '+PONG']);

    const postgres = only(lab, 'postgres');
    const kill = await injector.kill('postgres');
    const killed = await runtime.inspectContainer(postgres.containerId);
    expect(killed.status).toBe('exited');
    expect(killed.exitCode).toBe(137);
    await expect(pgQuery(proxied('postgres').url, 'select 1', 2_000)).rejects.toThrow();
    await injector.undo(kill);
    expect((await pgQuery(proxied('postgres').url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(injector.proxy('postgres').currentTarget.port).toBe(await currentPort(postgres));
  });

  it('restart: the service comes back and answers through its proxy', async () => {
    const redis = only(lab, 'redis');
    const startedBefore = (await runtime.inspectContainer(redis.containerId)).status;
    expect(startedBefore).toBe('running');
    const fault = await injector.restart('redis', 2);
    expect(fault.layer).toBe('container');
    // The proxy already points at the port the restarted container is published on.
    expect(injector.proxy('redis').currentTarget.port).toBe(await currentPort(redis));
    await injector.undo(fault);
    expect(await redisThroughProxy()).toEqual(['+OK', '+PONG']);
    expect(runtimeLog.some((l) => l.includes(`restart redis (container ${redis.containerId.slice(0, 12)})`))).toBe(true);
  });

  it('proxy latency: a pg query through the proxy takes at least two delays', async () => {
    const { client } = await pgClient(proxied('postgres').url, 10_000);
    try {
      const fault = injector.latency('postgres', 150);
      for (let i = 0; i < 2; i++) {
        const started = performance.now();
        expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
        expect(performance.now() - started).toBeGreaterThanOrEqual(300);
      }
      await injector.undo(fault);
      expect(injector.proxy('postgres').state.latencyMs).toBe(0);
      expect((await client.query('select 2 as two')).rows).toEqual([{ two: 2 }]);
    } finally {
      await client.end().catch(() => {});
    }
  });

  it('proxy drop: a pg client times out; after undo a new client works', async () => {
    const fault = injector.drop('postgres');
    await expect(pgQuery(proxied('postgres').url, 'select 1', 1_000)).rejects.toThrow(/timeout/i);
    expect(injector.proxy('postgres').stats().bytesDropped).toBeGreaterThan(0);
    await injector.undo(fault);
    expect((await pgQuery(proxied('postgres').url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('proxy reset: a running pg query fails with a connection error', async () => {
    const { client, errors } = await pgClient(proxied('postgres').url, 20_000);
    try {
      const sentBefore = injector.proxy('postgres').stats().bytesToService;
      const running = client.query('select pg_sleep(15)');
      running.catch(() => {});
      // Reset only once the proxy has passed the query on to the server.
      while (injector.proxy('postgres').stats().bytesToService === sentBefore) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const resetsBefore = injector.proxy('postgres').stats().resets;
      const fault = injector.resetConnections('postgres');
      await expect(running).rejects.toThrow(/ECONNRESET|Connection terminated/);
      expect(errors.map((e) => e.message).join(' ')).toMatch(/ECONNRESET|Connection terminated/);
      expect(injector.proxy('postgres').stats().resets).toBe(resetsBefore + 1);
      await injector.undo(fault);
      expect((await pgQuery(proxied('postgres').url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end().catch(() => {});
    }
  });

  it('undoAll after many faults of both layers leaves every service healthy', async () => {
    const postgres = only(lab, 'postgres');
    const redis = only(lab, 'redis');
    const applied: AppliedFault[] = [];
    applied.push(injector.latency('postgres', 50, 20));
    applied.push(await injector.pause('postgres'));
    applied.push(injector.refuseNew('redis'));
    applied.push(await injector.stop('redis', 2));
    applied.push(await injector.disconnect('redis'));
    applied.push(injector.drop('postgres'));
    applied.push(injector.resetConnections('redis', { untilHealed: true }));
    expect(injector.outstanding.map((f) => f.id)).toEqual(applied.map((f) => f.id));
    const journal = parseFaultJournal(await fs.readFile(injector.journalFile ?? '', 'utf8'));
    expect(journal.ok && journal.journal.faults.map((f) => f.kind)).toEqual(['pause', 'stop', 'disconnect']);

    await injector.undoAll();

    expect(injector.outstanding).toEqual([]);
    expect(await exists(injector.journalFile ?? '')).toBe(false);
    expect((await runtime.inspectContainer(postgres.containerId)).status).toBe('running');
    const redisInfo = await runtime.inspectContainer(redis.containerId);
    expect(redisInfo.status).toBe('running');
    expect(redisInfo.networks).toContain(labNetworkName(labId));
    expect(injector.proxy('postgres').state).toEqual({ latencyMs: 0, jitterMs: 0, dropping: false, refusingNew: false, resettingNew: false });
    expect(injector.proxy('redis').state).toEqual({ latencyMs: 0, jitterMs: 0, dropping: false, refusingNew: false, resettingNew: false });
    expect((await pgQuery(proxied('postgres').url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    // Directly too, on the port the container has now (a stop and start may change it).
    const directUrl = postgres.url.replace(`:${postgres.port}/`, `:${await currentPort(postgres)}/`);
    expect((await pgQuery(directUrl, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(await redisThroughProxy()).toEqual(['+OK', '+PONG']);
    // Undo was logged for every fault, with the container.
    for (const f of applied) {
      expect(runtimeLog.some((l) => l.includes(`undo fault ${f.id} (`) && l.includes(`container ${f.containerId.slice(0, 12)}`))).toBe(true);
    }
  });
});

describe('faults on a lab with three Redis on a network', () => {
  const labId = registerLab(uniqueId('faults3'));
  let lab: LabServicesResult;
  let journalDir: string;

  beforeAll(async () => {
    journalDir = await tempLabDir();
    lab = await startLabServices(runtime, [{ service: 'redis', count: 3 }], { labId, sessionId, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger });
  });
  afterAll(async () => {
    await fs.rm(journalDir, { recursive: true, force: true });
  });

  it('disconnect: the others cannot reach it by its name; undo: they can again', async () => {
    const injector = await FaultInjector.create(runtime, { services: lab.connections, network: labNetworkName(labId), journalDir, logger: testLogger, proxies: false });
    try {
      const [first, second] = [only(lab, 'redis'), only(lab, 'redis-2')];
      expect(await pingFrom(second, 'redis', first.password)).toBe('PONG');

      const fault = await injector.disconnect('redis');
      expect((await runtime.inspectContainer(first.containerId)).networks).not.toContain(labNetworkName(labId));
      expect(await pingFrom(second, 'redis', first.password)).not.toContain('PONG');

      await injector.undo(fault);
      expect((await runtime.inspectContainer(first.containerId)).networks).toEqual([labNetworkName(labId)]);
      expect(await pingFrom(second, 'redis', first.password)).toBe('PONG');
      expect(() => injector.proxyAddress('redis')).toThrow(/without proxies/);
    } finally {
      await injector.close();
    }
  });

  it('a grading run killed by SIGKILL leaves a journal; recoverAbandonedFaults undoes its faults and deletes it', async () => {
    const buildDir = await tempLabDir();
    try {
      const childFile = path.join(buildDir, 'crashChild.cjs');
      await esbuild.build({
        entryPoints: [path.join(REPO_ROOT, 'test/docker/fixtures/faults/crashChild.ts')],
        outfile: childFile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        logLevel: 'silent',
        // As in esbuild.js: optional native add-ons stay out of the bundle.
        external: ['cpu-features', '*.node', 'pg-native'],
      });
      const network = labNetworkName(labId);
      const input = { services: lab.connections, network, journalDir, pause: 'redis-2', disconnect: 'redis-3' };
      const child = spawn(process.execPath, [childFile], { env: { ...process.env, DDL_FAULT_CHILD_INPUT: JSON.stringify(input) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      expect({ exit, stderr }).toEqual({ exit: { code: null, signal: 'SIGKILL' }, stderr: '' });
      const said = JSON.parse(stdout.trim()) as { pid: number; journal: string; faults: number };
      expect(said.faults).toBe(2);

      // What the dead run left: a paused container, a disconnected one, and its journal.
      const [first, second, third] = [only(lab, 'redis'), only(lab, 'redis-2'), only(lab, 'redis-3')];
      expect((await runtime.inspectContainer(second.containerId)).status).toBe('paused');
      expect((await runtime.inspectContainer(third.containerId)).networks).not.toContain(network);
      expect(path.dirname(said.journal)).toBe(journalDir);
      expect(path.basename(said.journal)).toMatch(new RegExp(`^faults-${said.pid}-`));
      const journal = parseFaultJournal(await fs.readFile(said.journal, 'utf8'));
      expect(journal.ok && journal.journal.faults.map((f) => [f.kind, f.service])).toEqual([
        ['pause', 'redis-2'],
        ['disconnect', 'redis-3'],
      ]);

      // Another dead run's journal names a container that is gone by now: logged and skipped.
      const goneId = 'f'.repeat(64);
      const goneJournal = path.join(journalDir, `faults-${said.pid}-00000000.json`);
      await fs.writeFile(
        goneJournal,
        JSON.stringify({ version: 1, pid: said.pid, runId: '00000000', createdAt: new Date().toISOString(), faults: [{ id: 1, kind: 'stop', service: 'redis', containerId: goneId, appliedAt: new Date().toISOString() }] }),
      );

      const report = await recoverAbandonedFaults(runtime, journalDir, testLogger);
      expect(report.recovered.map((r) => [r.file, r.outcomes]).sort()).toEqual([
        [goneJournal, ['container-gone']],
        [said.journal, ['undone', 'undone']],
      ].sort());
      expect(runtimeLog.some((l) => l.includes(`container ${goneId.slice(0, 12)}`) && l.includes('no longer exists'))).toBe(true);
      expect(report.failed).toEqual([]);
      expect(await fs.readdir(journalDir)).toEqual([]);

      expect((await runtime.inspectContainer(second.containerId)).status).toBe('running');
      expect(await redisCommands(second.port, [['AUTH', second.password], ['PING']])).toEqual(['+OK', '+PONG']);
      expect((await runtime.inspectContainer(third.containerId)).networks).toEqual([network]);
      expect(await pingFrom(first, 'redis-3', third.password)).toBe('PONG');

      // Undo judges by the container's state now: undoing a stop of a running one does nothing.
      expect(await undoContainerFault(runtime, { id: 9, kind: 'stop', service: 'redis-2', containerId: second.containerId, appliedAt: new Date().toISOString() }, testLogger)).toBe(
        'nothing-to-undo',
      );

      // A second recovery finds nothing to do.
      const again = await recoverAbandonedFaults(runtime, journalDir, testLogger);
      expect(again.recovered).toEqual([]);
    } finally {
      await fs.rm(buildDir, { recursive: true, force: true });
    }
  });
});
