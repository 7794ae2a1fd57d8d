import { describe, expect, it } from 'vitest';
import { Cluster } from './replicas';
import { type Settings, clockAt, coordinator, inTime, thrownBy } from './support';

/** Settings written the way the tests read them: "N = 3, R = 2, W = 2". */
function named(s: Settings, cluster: Cluster): string {
  return `N = ${s.n ?? cluster.replicas.length} (with ${cluster.replicas.length} replicas), R = ${s.r}, W = ${s.w}${s.allowEventual === undefined ? '' : `, allowEventual: ${s.allowEventual}`}`;
}

describe('the configuration', () => {
  it('TODO(1) refuses settings no cluster can honour: not whole numbers, less than 1, R or W above N, N not the number of replicas', () => {
    const cluster = new Cluster(3);
    const refused: Settings[] = [
      { r: 0, w: 3 },
      { r: 2, w: -1 },
      { r: 2, w: 1.5 },
      { r: Number.NaN, w: 2 },
      { n: 0, r: 1, w: 1, allowEventual: true },
      { r: 4, w: 2 },
      { r: 2, w: 4 },
      { n: 4, r: 3, w: 2 },
      { n: 2, r: 2, w: 1 },
    ];
    for (const settings of refused) {
      const error = thrownBy(() => coordinator(cluster, settings));
      expect(error?.name, `${named(settings, cluster)}: createCoordinator must throw a ConfigError (threw: ${error?.message ?? 'nothing'})`).toBe('ConfigError');
      expect(error?.message.length, 'the ConfigError says what is wrong').toBeGreaterThan(0);
    }
    expect(cluster.calls, 'calls made to the replicas: creating a coordinator asks them nothing').toEqual([]);
  });

  it('TODO(1) R + W > N is strict; R + W ≤ N is refused unless allowEventual, and then eventual', () => {
    const cluster = new Cluster(3);
    for (const settings of [{ r: 2, w: 2 }, { r: 1, w: 3 }, { r: 3, w: 1 }, { r: 3, w: 3 }, { r: 2, w: 2, allowEventual: true }] as Settings[]) {
      const made = coordinator(cluster, settings);
      expect(made.mode, `${named(settings, cluster)}: R + W > N, so every read quorum meets every write quorum`).toBe('strict');
      expect(made.conflictPolicy).toBe('last-write-wins');
    }
    for (const settings of [{ r: 1, w: 1 }, { r: 1, w: 2 }, { r: 2, w: 1 }, { r: 1, w: 2, allowEventual: false }] as Settings[]) {
      const error = thrownBy(() => coordinator(cluster, settings));
      expect(error?.name, `${named(settings, cluster)}: R + W ≤ N without allowEventual must throw a ConfigError (threw: ${error?.message ?? 'nothing'})`).toBe('ConfigError');
    }
    for (const settings of [{ r: 1, w: 1, allowEventual: true }, { r: 2, w: 1, allowEventual: true }] as Settings[]) {
      expect(coordinator(cluster, settings).mode, `${named(settings, cluster)}: accepted, and flagged as eventual`).toBe('eventual');
    }
  });

  it('TODO(2–5) eventual mode, R = W = 1: answers from one replica, and can return a stale value', async () => {
    const cluster = new Cluster(3);
    const client = coordinator(cluster, { r: 1, w: 1, allowEventual: true });
    await inTime(client.put('k', 'v1'), "put('k', 'v1')", cluster);
    await cluster.settle();
    for (const replica of cluster.replicas) {
      expect(replica.holds('k')?.value, `${replica.name}: a write is sent to every replica, even when one acknowledgement is enough`).toBe('v1');
    }

    // replica-2 and replica-3 miss the next write; W = 1 lets it succeed on replica-1 alone.
    cluster.replica(2).down();
    cluster.replica(3).down();
    await inTime(client.put('k', 'v2'), "put('k', 'v2') with replica-2 and replica-3 down (W = 1)", cluster);
    expect(cluster.replica(1).holds('k')?.value).toBe('v2');

    // Now only replica-2 and replica-3 answer: R = 1 reads one of them, which never saw v2.
    cluster.replica(2).up();
    cluster.replica(3).up();
    cluster.replica(1).down();
    const read = await inTime(client.get('k'), "get('k') with replica-1 down (R = 1)", cluster);
    expect(read.value, 'R + W ≤ N: the read quorum (one replica) missed the write quorum (another one), so the read is stale').toBe('v1');
  });

  it('TODO(2–5) N = 5 with R = W = 3: accepted, and reads and writes with two of five replicas down', async () => {
    const cluster = new Cluster(5);
    const error = thrownBy(() => coordinator(cluster, { r: 2, w: 3 }));
    expect(error?.name, 'N = 5, R = 2, W = 3: R + W = 5 is not more than N, so it must throw a ConfigError').toBe('ConfigError');

    const client = coordinator(cluster, { r: 3, w: 3, clock: clockAt(5000) });
    expect(client.mode).toBe('strict');
    cluster.replica(1).down();
    cluster.replica(3).down();
    await inTime(client.put('k', 'five'), "put('k', 'five') with replica-1 and replica-3 down", cluster);

    // Another two are down now: of the three that answer, only replica-4 saw the write.
    cluster.replica(1).up();
    cluster.replica(3).up();
    cluster.replica(2).down();
    cluster.replica(5).down();
    const read = await inTime(client.get('k'), "get('k') with replica-2 and replica-5 down", cluster);
    expect(read.value, `any 3 replicas of 5 include one of the 3 that acknowledged the write (${cluster.describe('k')})`).toBe('five');
  });
});
