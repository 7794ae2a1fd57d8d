import { describe, expect, it } from 'vitest';
import { Cluster } from './replicas';
import { coordinator, inTime, rejectionOf } from './support';

describe('quorums: answering without waiting for every replica, and refusing when too few answer', () => {
  it('TODO(2–5) with one of three replicas down, R = W = 2 still writes and reads', async () => {
    const cluster = new Cluster(3);
    const client = coordinator(cluster, { r: 2, w: 2 });
    cluster.replica(2).down();

    const version = await inTime(client.put('k', 'hello'), "put('k', 'hello') with replica-2 down", cluster);
    expect(version.writer, 'the version put returns carries this coordinator as its writer').toBe('client-1');
    expect(await inTime(client.get('k'), "get('k') with replica-2 down", cluster), 'what get returned').toEqual({ value: 'hello', version });
    expect(await inTime(client.get('never-written'), "get('never-written')", cluster), 'a key no replica holds').toEqual({ value: null, version: null });

    // replica-2 is back, and replica-1 goes down: replica-3 still holds the write.
    cluster.replica(2).up();
    cluster.replica(1).down();
    const read = await inTime(client.get('k'), "get('k') with replica-1 down", cluster);
    expect(read.value, `what the replicas hold: ${cluster.describe('k')}`).toBe('hello');
  });

  it('TODO(2–5) with two of three replicas down, put and get throw a QuorumError instead of answering', async () => {
    const cluster = new Cluster(3);
    const client = coordinator(cluster, { r: 2, w: 2 });
    await inTime(client.put('k', 'before'), "put('k', 'before')", cluster);
    await cluster.settle();
    cluster.replica(2).down();
    cluster.replica(3).down();

    const putError = await rejectionOf(client.put('k', 'after'), "put('k', 'after') with two replicas down", cluster);
    expect(putError.name, `put with one replica of the W = 2 it needs must throw a QuorumError (it threw ${putError.name}: ${putError.message})`).toBe('QuorumError');
    // replica-1 alone holds a value, but one answer is not a read quorum.
    const getError = await rejectionOf(client.get('k'), "get('k') with two replicas down", cluster);
    expect(getError.name, `get with one replica of the R = 2 it needs must throw a QuorumError (it threw ${getError.name}: ${getError.message})`).toBe('QuorumError');
  });

  it('TODO(2–5) with two replicas paused, put and get fail with a QuorumError once their time limit passes', async () => {
    // A paused replica does not refuse: it says nothing, and its calls fail at its time limit (200 ms here).
    const cluster = new Cluster(3, { timeLimitMs: 200 });
    const client = coordinator(cluster, { r: 2, w: 2 });
    await inTime(client.put('k', 'before'), "put('k', 'before')", cluster);
    await cluster.settle();
    cluster.replica(1).pause();
    cluster.replica(3).pause();

    const putError = await rejectionOf(client.put('k', 'after'), "put('k', 'after') with two replicas paused", cluster);
    expect(putError.name, `put must throw a QuorumError (it threw ${putError.name}: ${putError.message})`).toBe('QuorumError');
    const getError = await rejectionOf(client.get('k'), "get('k') with two replicas paused", cluster);
    expect(getError.name, `get must throw a QuorumError, not answer from replica-2 alone (it threw ${getError.name}: ${getError.message})`).toBe('QuorumError');
    cluster.replica(1).resume();
    cluster.replica(3).resume();
  });

  it('TODO(2–5) a paused replica is not waited for: put and get answer once two have, and the write still reaches it', async () => {
    const cluster = new Cluster(3);
    const client = coordinator(cluster, { r: 2, w: 2 });
    await inTime(client.put('k', 'v1'), "put('k', 'v1')", cluster);
    await cluster.settle();
    const paused = cluster.replica(3);
    paused.pause();

    await inTime(client.put('k', 'v2'), "put('k', 'v2') with replica-3 paused", cluster);
    expect(paused.timedOut, 'calls to replica-3 that reached their time limit before put returned: put waited for it, but two answers were enough').toBe(0);
    const read = await inTime(client.get('k'), "get('k') with replica-3 paused", cluster);
    expect(read.value).toBe('v2');
    expect(paused.timedOut, 'calls to replica-3 that reached their time limit before get returned').toBe(0);
    expect(paused.heldCalls, 'calls waiting at replica-3: put and get send to every replica, and answer with the first quorum').toBeGreaterThan(0);

    // The replica comes back, and the write that was waiting there takes effect.
    paused.resume();
    await cluster.settle();
    expect(paused.holds('k')?.value, 'replica-3 once its held calls were delivered').toBe('v2');
  });
});
