/**
 * The Quorum lab's replicas on real Redis containers (data-labs-local/redis:7, three of
 * them, as the lab runs them): the write script gives the same results and leaves the
 * same records on Redis as the in-process stand-in; a replica killed right after an
 * acknowledged write still holds it when it is back (prepare() turned on appendfsync
 * always); a paused replica reads as unreachable and comes back; a partition through
 * the fault proxy makes a client time out until healed.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/core/random';
import { type LabServicesResult, type ServiceConnection, startLabServices } from '../../../src/core/services/labServices';
import { RespClient, RespUnavailableError } from '../../../src/core/services/resp';
import { LOCAL_IMAGES, newRuntime, tempLabDir, testLogger, uniqueId, useLabCleanup } from '../../../test/docker/helpers';
import { InProcessReplica } from './inProcessReplica';
import { type ReplicaCluster, startDockerReplicas } from './replicas';
import { type Stored, readRecord, writeRecord } from './replicaStore';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
const sessionId = `session-${randomBytes(4).toString('hex')}`;
/** Every key of this file starts with this, so nothing meets another run's keys. */
const NS = `qrt-${randomBytes(3).toString('hex')}`;

const record = (value: string, ts: number, writer: string): Stored => ({ value, version: { ts, writer } });

/** Writes the sequence, reads every key after; the same on any replica that keeps the lab's protocol. */
async function play(client: RespClient, writes: readonly { key: string; record: Stored }[]): Promise<{ results: boolean[]; final: Record<string, Stored | null> }> {
  const results: boolean[] = [];
  for (const w of writes) results.push(await writeRecord(client, w.key, w.record));
  const final: Record<string, Stored | null> = {};
  for (const key of [...new Set(writes.map((w) => w.key))].sort()) final[key] = await readRecord(client, key);
  return { results, final };
}

describe('Quorum replicas on real Redis', () => {
  const labId = registerLab(uniqueId('qreplicas'));
  let lab: LabServicesResult;
  let journalDir: string;

  beforeAll(async () => {
    journalDir = await tempLabDir();
    lab = await startLabServices(runtime, [{ service: 'redis', count: 3 }], { labId, sessionId, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger });
  });
  afterAll(async () => {
    await fs.rm(journalDir, { recursive: true, force: true });
  });

  const redis = (index: number): ServiceConnection => {
    const found = lab.connections.find((c) => c.service === 'redis' && c.index === index);
    if (!found) throw new Error(`no redis ${index} in ${lab.connections.map((c) => c.name).join(', ')}`);
    return found;
  };

  describe('the write script: Redis and the in-process replica agree', () => {
    let real: RespClient;
    let standIn: InProcessReplica;
    let fake: RespClient;
    beforeAll(async () => {
      const r = redis(1);
      real = new RespClient({ host: r.host, port: r.port, password: r.password }, 5_000, 'redis-1');
      standIn = await InProcessReplica.start('in-process', 'pw');
      fake = new RespClient({ host: standIn.host, port: standIn.port, password: 'pw' }, 5_000, 'in-process');
    });
    afterAll(async () => {
      real?.close();
      fake?.close();
      await standIn?.close();
    });

    it('gives the same results and final records for hand-picked cases (equal ts, equal versions, older after newer)', async () => {
      const k = (name: string): string => `${NS}:parity:${name}`;
      const writes = [
        { key: k('a'), record: record('first', 10, 'client-2') },
        { key: k('a'), record: record('older after newer', 9, 'client-9') },
        { key: k('a'), record: record('equal version, other value', 10, 'client-2') },
        { key: k('a'), record: record('equal ts, lower writer', 10, 'client-1') },
        { key: k('a'), record: record('equal ts, higher writer', 10, 'client-3') },
        { key: k('a'), record: record('client-10 sorts before client-3', 10, 'client-10') },
        { key: k('b'), record: record('lower case', 5, 'a') },
        { key: k('b'), record: record('upper case sorts first as bytes', 5, 'B') },
        { key: k('b'), record: record('empty writer, newer ts', 6, '') },
        { key: k('b'), record: record('any writer beats the empty one', 6, ' ') },
        { key: k('c'), record: record('0.1 + 0.2', 0.1 + 0.2, 'w') },
        { key: k('c'), record: record('0.3 is smaller', 0.3, 'z') },
        { key: k('c'), record: record('', 1e21, 'w') },
        { key: k('c'), record: record('1e21 again', 1e21, 'w') },
        { key: k('d'), record: record('negative', -5, 'w') },
        { key: k('d'), record: record('more negative', -6, 'z') },
        { key: k('d'), record: record('zero, ünïcødé\r\nand a line break', 0, 'w') },
      ];
      const expected = {
        results: [true, false, false, false, true, false, true, false, true, true, true, false, true, false, true, false, true],
        final: {
          [k('a')]: record('equal ts, higher writer', 10, 'client-3'),
          [k('b')]: record('any writer beats the empty one', 6, ' '),
          [k('c')]: record('', 1e21, 'w'),
          [k('d')]: record('zero, ünïcødé\r\nand a line break', 0, 'w'),
        },
      };
      expect(await play(real, writes)).toEqual(expected);
      expect(await play(fake, writes)).toEqual(expected);
    });

    it('gives the same results and final records for 300 random writes over 5 keys with many ties', async () => {
      const random = seededRandom(6);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const writers = ['a', 'B', 'b', 'client-1', 'client-10', 'client-2', ''];
      const writes = Array.from({ length: 300 }, (_, n) => ({
        key: `${NS}:random:${pick(['k1', 'k2', 'k3', 'k4', 'k5'])}`,
        record: record(`v${n}`, pick([0, 1, 2, 2.5, 3, 4]), pick(writers)),
      }));
      const onRedis = await play(real, writes);
      const inProcess = await play(fake, writes);
      expect(inProcess).toEqual(onRedis);
      // Not a trivial agreement: both stored and refused writes happened.
      expect(onRedis.results.filter((r) => r).length).toBeGreaterThan(5);
      expect(onRedis.results.filter((r) => !r).length).toBeGreaterThan(100);
    });
  });

  describe('startDockerReplicas', () => {
    let cluster: ReplicaCluster;
    beforeAll(async () => {
      cluster = await startDockerReplicas({ connections: lab.connections, ...(lab.network !== undefined ? { network: lab.network } : {}), runtime, journalDir }, seededRandom(1), testLogger);
      await cluster.prepare();
    });
    afterAll(async () => {
      await cluster?.close();
    });

    it('hands out proxy addresses, one per replica, that reach the replicas', async () => {
      expect(cluster.size).toBe(3);
      expect(cluster.addresses.map((a) => a.name)).toEqual(['replica-1', 'replica-2', 'replica-3']);
      const key = `${NS}:through-proxy`;
      for (const [i, address] of cluster.addresses.entries()) {
        expect(address.port).not.toBe(redis(i + 1).port);
        const c = new RespClient(address, 5_000, address.name);
        try {
          expect(await writeRecord(c, key, record(`via proxy ${i}`, i, 'w'))).toBe(true);
        } finally {
          c.close();
        }
      }
      expect(await cluster.inspect(key)).toEqual([record('via proxy 0', 0, 'w'), record('via proxy 1', 1, 'w'), record('via proxy 2', 2, 'w')]);
    });

    it('kill right after an acknowledged write: once healed, the replica still holds it', async () => {
      const key = `${NS}:durable`;
      const before = (await runtime.inspectContainer(redis(2).containerId)).ports[0]?.hostPort;
      expect(await cluster.plant(1, key, record('acknowledged', 7, 'client-1'))).toBe(true);
      expect(await cluster.fault(1, 'kill')).toMatch(/^kill replica-2/);
      const whileDead = await cluster.inspect(key);
      expect(whileDead).toEqual([null, undefined, null]);
      await cluster.heal(1);
      const after = (await runtime.inspectContainer(redis(2).containerId)).ports[0]?.hostPort;
      testLogger.info(`replica-2 was on port ${before}, is on ${after} after its restart`);
      expect(await cluster.inspect(key)).toEqual([null, record('acknowledged', 7, 'client-1'), null]);
    });

    it('a second kill of the same replica, after its restart, keeps an acknowledged write too', async () => {
      const key = `${NS}:durable-2`;
      expect(await cluster.plant(1, key, record('second', 8, 'client-2'))).toBe(true);
      await cluster.fault(1, 'kill');
      await cluster.heal(1);
      expect(await cluster.inspect(key)).toEqual([null, record('second', 8, 'client-2'), null]);
      // And what was written before the first kill is still there.
      expect((await cluster.inspect(`${NS}:durable`))[1]).toEqual(record('acknowledged', 7, 'client-1'));
    });

    it('pause: inspect reads that replica as unreachable within its time limit; heal: it answers again', async () => {
      const key = `${NS}:pause`;
      for (let i = 0; i < 3; i++) await cluster.plant(i, key, record('held', 1, `w${i}`));
      expect(await cluster.fault(2, 'pause')).toMatch(/^pause replica-3/);
      const started = performance.now();
      const whilePaused = await cluster.inspect(key);
      const elapsed = performance.now() - started;
      expect(whilePaused).toEqual([record('held', 1, 'w0'), record('held', 1, 'w1'), undefined]);
      // inspect waits 2 s for each replica; a loose bound only catches a wait without a limit.
      expect(elapsed).toBeGreaterThanOrEqual(1_900);
      expect(elapsed).toBeLessThan(15_000);
      await cluster.heal(2);
      expect(await cluster.inspect(key)).toEqual([record('held', 1, 'w0'), record('held', 1, 'w1'), record('held', 1, 'w2')]);
    });

    it('partition: a client of the proxy times out while inspect still reads the replica directly; heal: the client works again', async () => {
      const key = `${NS}:partition`;
      const address = cluster.addresses[0];
      if (!address) throw new Error('no replica-1');
      const c = new RespClient(address, 500, address.name);
      try {
        expect(await writeRecord(c, key, record('before', 1, 'w'))).toBe(true);
        expect(await cluster.fault(0, 'partition')).toMatch(/^partition replica-1/);
        // On the idle connection made before the partition, and on a new one.
        for (let attempt = 0; attempt < 2; attempt++) {
          const failure = writeRecord(c, key, record('during', 2, 'w'));
          await expect(failure).rejects.toBeInstanceOf(RespUnavailableError);
          await expect(failure).rejects.toThrow('replica-1 did not answer within 500 ms');
        }
        // The grader's own reads go around the proxy.
        expect((await cluster.inspect(key))[0]).toEqual(record('before', 1, 'w'));
        await cluster.heal(0);
        expect(await readRecord(c, key)).toEqual(record('before', 1, 'w'));
        expect(await writeRecord(c, key, record('after', 3, 'w'))).toBe(true);
        expect((await cluster.inspect(key))[0]).toEqual(record('after', 3, 'w'));
      } finally {
        c.close();
      }
    });

    it('partitionAtWrite: reads through the proxy pass until a write reaches it; that write and what follows are lost; heal: it works again', async () => {
      const key = `${NS}:at-write`;
      const address = cluster.addresses[1];
      if (!address) throw new Error('no replica-2');
      const c = new RespClient(address, 500, address.name);
      try {
        expect(await writeRecord(c, key, record('before', 1, 'w'))).toBe(true);
        expect(cluster.partitionAtWrite(1)).toMatch(/^partition replica-2 from the first write/);
        // Reads pass and are answered, on the same connection, as often as they come.
        expect(await readRecord(c, key)).toEqual(record('before', 1, 'w'));
        expect(await readRecord(c, key)).toEqual(record('before', 1, 'w'));
        // The write is the first thing dropped, and so is the read after it.
        await expect(writeRecord(c, key, record('cut', 2, 'w'))).rejects.toBeInstanceOf(RespUnavailableError);
        await expect(readRecord(c, key)).rejects.toBeInstanceOf(RespUnavailableError);
        expect((await cluster.inspect(key))[1]).toEqual(record('before', 1, 'w'));
        await cluster.heal(1);
        expect(await writeRecord(c, key, record('after', 3, 'w'))).toBe(true);
        expect((await cluster.inspect(key))[1]).toEqual(record('after', 3, 'w'));
      } finally {
        c.close();
      }
    });
  });
});
