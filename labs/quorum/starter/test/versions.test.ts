import { describe, expect, it } from 'vitest';
import { type Version, compareVersions } from '../src/types';
import { Cluster } from './replicas';
import { clockAt, coordinator, inTime, rejectionOf, show, standingAfter } from './support';

describe('versions and repair', () => {
  it('TODO(4–5) a write gets a newer version than any a quorum holds, even when its clock is behind', async () => {
    const cluster = new Cluster(3);
    // Two machines whose clocks disagree by 49 s. The one behind has the id that loses ties.
    const ahead = coordinator(cluster, { r: 2, w: 2, id: 'client-2', clock: clockAt(50_000) });
    const behind = coordinator(cluster, { r: 2, w: 2, id: 'client-1', clock: clockAt(1_000) });

    const first = await inTime(ahead.put('k', 'first'), "put('k', 'first') by client-2 (clock at 50000)", cluster);
    const second = await inTime(behind.put('k', 'second'), "put('k', 'second') by client-1 (clock at 1000), after it", cluster);
    expect(second.writer).toBe('client-1');
    expect(
      compareVersions(second, first),
      `the later write's version ${show(second)} must be newer than ${show(first)}, which a quorum holds: stamped with the clock alone, the later write loses`,
    ).toBeGreaterThan(0);
    for (const reader of [ahead, behind]) {
      const read = await inTime(reader.get('k'), "get('k')", cluster);
      expect(read.value, `what the replicas hold: ${cluster.describe('k')}`).toBe('second');
    }

    // The clock stands still, yet each write of the same coordinator moves forward.
    const third = await inTime(behind.put('k', 'third'), "put('k', 'third') by client-1", cluster);
    expect(compareVersions(third, second), `${show(third)} after ${show(second)}`).toBeGreaterThan(0);
    expect((await inTime(ahead.get('k'), "get('k')", cluster)).value).toBe('third');
  });

  it('TODO(4–5) five writers with the same clock, all at once: five distinct versions, and one winner on every replica', async () => {
    const cluster = new Cluster(3);
    const ids = ['client-1', 'client-2', 'client-3', 'client-4', 'client-5'];
    const clients = ids.map((id) => coordinator(cluster, { r: 2, w: 2, id, clock: clockAt(1_000) }));

    const versions: Version[] = await inTime(
      Promise.all(clients.map((client, i) => client.put('k', `written by ${ids[i]}`))),
      'five concurrent puts',
      cluster,
    );
    versions.forEach((version, i) => expect(version.writer, `the writer of ${ids[i]}'s version: the tie-break between equal timestamps`).toBe(ids[i]));
    expect(new Set(versions.map(show)).size, `the versions ${versions.map(show).join(', ')}: two writes with one version would be indistinguishable`).toBe(5);

    // Once every write has reached every replica, they all keep the same one: the newest version.
    await cluster.settle();
    const winner = versions.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
    const winnerValue = `written by ${ids[versions.indexOf(winner)]}`;
    for (const replica of cluster.replicas) {
      const held = replica.holds('k');
      expect(held && show(held.version), `${replica.name}'s version (${cluster.describe('k')})`).toBe(show(winner));
      expect(held?.value, `${replica.name}'s value: the one written with the winning version, not a mix`).toBe(winnerValue);
    }
    expect(await inTime(clients[0]!.get('k'), "get('k')", cluster)).toEqual({ value: winnerValue, version: winner });
  });

  it('TODO(5) a write that reached one replica: once a read has returned it, no later read returns the older value', async () => {
    const cluster = new Cluster(3);
    const client = coordinator(cluster, { r: 2, w: 2 });
    await inTime(client.put('k', 'old'), "put('k', 'old')", cluster);
    await cluster.settle();

    // The next write reaches replica-1 only: it fails, but replica-1 keeps it.
    cluster.replica(2).dropNextWrites(1);
    cluster.replica(3).dropNextWrites(1);
    const failed = await rejectionOf(client.put('k', 'new'), "put('k', 'new') with its writes to replica-2 and replica-3 lost", cluster);
    expect(failed.name, `one acknowledgement of the W = 2 needed: put must throw a QuorumError (it threw ${failed.name}: ${failed.message})`).toBe('QuorumError');
    expect(cluster.describe('k'), 'the replicas after the failed write').toMatch(/^replica-1: "new".*replica-2: "old".*replica-3: "old"/);

    // A read through replica-1 and replica-2 finds "new" on replica-1 alone. replica-2 holds its
    // writes back for now: the read must not answer before "new" is on a write quorum.
    cluster.replica(3).down();
    cluster.replica(2).pause(['write']);
    const first = client.get('k');
    const early = await standingAfter(first, 100);
    expect(
      early.state,
      `get found "new" on one replica (fewer than W) and ${early.state === 'resolved' ? `answered ${JSON.stringify(early.value)}` : early.state === 'rejected' ? `threw ${String(early.error)}` : 'waits'} ` +
        'before writing it back to a write quorum: a later read through other replicas could then miss it',
    ).toBe('pending');
    cluster.replica(2).resume();
    expect((await inTime(first, "get('k') through replica-1 and replica-2", cluster)).value, 'the newest value the read quorum holds').toBe('new');

    // A read through the other two replicas must not go back to "old".
    cluster.replica(3).up();
    cluster.replica(1).down();
    const second = await inTime(client.get('k'), "get('k') through replica-2 and replica-3", cluster);
    expect(second.value, `a read after a read that returned "new" (the replicas: ${cluster.describe('k')})`).toBe('new');
  });

  it('TODO(5) a replica that answers late with an older value is brought up to date in the background', async () => {
    const cluster = new Cluster(3);
    const client = coordinator(cluster, { r: 2, w: 2 });
    await inTime(client.put('k', 'v1'), "put('k', 'v1')", cluster);
    await cluster.settle();
    const late = cluster.replica(3);
    late.down();
    await inTime(client.put('k', 'v2'), "put('k', 'v2') with replica-3 down", cluster);
    late.up();
    expect(late.holds('k')?.value, 'replica-3 missed the second write').toBe('v1');

    // replica-3 is slow: replica-1 and replica-2 answer first, both with v2.
    late.pause();
    const read = await inTime(client.get('k'), "get('k') with replica-3 paused", cluster);
    expect(read.value).toBe('v2');
    expect(late.timedOut, 'calls to replica-3 that reached their time limit before get returned: get waited for it').toBe(0);

    // Its answer (v1) comes after get returned; the coordinator writes v2 to it in the background.
    late.resume();
    await cluster.settle();
    expect(late.holds('k')?.value, `replica-3 after its late answer was repaired (calls: ${cluster.lastCalls()})`).toBe('v2');
  });
});
