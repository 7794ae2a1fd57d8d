/**
 * The Quorum grader's replicas and its hands on them: the lab's five Redis containers
 * behind the fault injector's proxies, or, without Docker, five in-process replicas
 * behind the same proxies. Either way the learner's coordinators reach each replica only
 * through its proxy, and the grader can pause, kill, cut off, slow down and heal each
 * one, and read what each holds directly (not through the proxy).
 */
import { FaultProxy } from '../../../src/core/services/faultProxy';
import { FaultInjector } from '../../../src/core/services/faults';
import type { ServiceConnection } from '../../../src/core/services/labServices';
import type { LabServicesForGrading } from '../../../src/core/services/labServicesController';
import { RespClient } from '../../../src/core/services/resp';
import type { RuntimeLogger } from '../../../src/core/services/runtime';
import { InProcessReplica } from './inProcessReplica';
import type { ReplicaAddress } from './protocol';
import { type Stored, WRITE_COMMAND, readRecord, writeRecord } from './replicaStore';

export type { LabServicesForGrading } from '../../../src/core/services/labServicesController';

export type ReplicaFault = 'pause' | 'kill' | 'partition' | 'latency' | 'reset';

export interface ReplicaCluster {
  /** What runs the replicas, as the report names it. */
  readonly engine: string;
  /** Where the learner's coordinators connect: each replica's proxy. */
  readonly addresses: readonly ReplicaAddress[];
  readonly size: number;
  /** Applies a fault to replica i (0-based); returns its description for the history. */
  fault(i: number, kind: 'pause' | 'kill' | 'partition' | 'reset'): Promise<string>;
  latency(i: number, ms: number, jitterMs: number): string;
  /**
   * Cuts replica i off from the moment the next write (a conditional write, from any
   * coordinator) reaches it: what it was sent before, reads included, passes and is
   * answered. Returns the fault's description.
   */
  partitionAtWrite(i: number): string;
  /** Whether a write has reached replica i since partitionAtWrite(i) (its partition began), until it is healed. */
  writeArrived(i: number): boolean;
  /** Undoes every fault on replica i and waits until it answers again. */
  heal(i: number): Promise<void>;
  healAll(): Promise<void>;
  /** What each replica holds for the key, read directly; undefined for a replica that did not answer. */
  inspect(key: string): Promise<(Stored | null | undefined)[]>;
  /** Writes a record to replica i directly (the conditional write), as a coordinator would. */
  plant(i: number, key: string, record: Stored): Promise<boolean>;
  /** Makes the replicas durable before any fault (a killed Redis keeps what it acknowledged). */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

const INSPECT_TIMEOUT_MS = 2_000;

function inspectors(targets: readonly { host: string; port: number; password: string; name: string }[]): RespClient[] {
  return targets.map((t) => new RespClient({ host: t.host, port: t.port, password: t.password }, INSPECT_TIMEOUT_MS, t.name));
}

async function inspectAll(clients: readonly RespClient[], key: string): Promise<(Stored | null | undefined)[]> {
  return Promise.all(clients.map((c) => readRecord(c, key).catch(() => undefined)));
}

const replicaName = (i: number): string => `replica-${i + 1}`;

/** What a conditional write carries on the wire, and a read does not: the command's name (replicaStore.ts). */
const WRITE_MARKER = `\r\n${WRITE_COMMAND}\r\n`;
const atWrite = (i: number): string => `partition ${replicaName(i)} from the first write that reaches it (what came before, reads included, passed)`;

/** The lab's Redis containers (redis, redis-2, ... redis-5), behind the fault injector. */
class DockerReplicas implements ReplicaCluster {
  readonly engine = 'Redis replicas in Docker';
  /** Direct clients, each with the port it was made for: a killed container may come back on another. */
  private readonly directClients: { client: RespClient; port: number }[] = [];

  private constructor(
    private readonly injector: FaultInjector,
    private readonly services: readonly ServiceConnection[],
  ) {}

  /** A client of each container's published port as it is now (the proxy follows it after a restart). */
  private get direct(): RespClient[] {
    return this.services.map((s, i) => {
      const target = this.injector.proxy(s.name).currentTarget;
      const held = this.directClients[i];
      if (held !== undefined && held.port === target.port) return held.client;
      held?.client.close();
      const client = inspectors([{ host: target.host, port: target.port, password: s.password, name: replicaName(i) }])[0] as RespClient;
      this.directClients[i] = { client, port: target.port };
      return client;
    });
  }

  static async start(lab: LabServicesForGrading, random: () => number, logger: RuntimeLogger): Promise<DockerReplicas> {
    const services = lab.connections.filter((c) => c.service === 'redis').sort((a, b) => a.index - b.index);
    const injector = await FaultInjector.create(lab.runtime, {
      services,
      ...(lab.network !== undefined ? { network: lab.network } : {}),
      ...(lab.journalDir !== undefined ? { journalDir: lab.journalDir } : {}),
      random,
      logger,
      readinessTimeoutMs: 30_000,
    });
    return new DockerReplicas(injector, services);
  }

  get size(): number {
    return this.services.length;
  }

  get addresses(): ReplicaAddress[] {
    return this.services.map((s, i) => ({ name: replicaName(i), ...this.injector.proxyAddress(s.name), password: s.password }));
  }

  private service(i: number): ServiceConnection {
    const s = this.services[i];
    if (s === undefined) throw new Error(`There is no replica ${i + 1}.`);
    return s;
  }

  async prepare(): Promise<void> {
    // Redis acknowledges a write before it is on disk; with every write appended and synced
    // before the reply, a killed replica comes back with everything it acknowledged.
    await Promise.all(this.direct.map(async (c) => {
      // Keys are the run's own (a namespace), so other runs' data is left alone.
      for (const args of [['CONFIG', 'SET', 'appendonly', 'yes'], ['CONFIG', 'SET', 'appendfsync', 'always']]) {
        await c.command(args);
      }
    }));
  }

  async fault(i: number, kind: 'pause' | 'kill' | 'partition' | 'reset'): Promise<string> {
    const name = this.service(i).name;
    switch (kind) {
      case 'pause':
        await this.injector.pause(name);
        return `pause ${replicaName(i)} (its container is frozen)`;
      case 'kill':
        await this.injector.kill(name);
        return `kill ${replicaName(i)} (SIGKILL to its Redis)`;
      case 'partition':
        this.injector.drop(name);
        return `partition ${replicaName(i)} (no byte passes either way)`;
      case 'reset':
        this.injector.resetConnections(name);
        return `reset every connection to ${replicaName(i)}`;
    }
  }

  latency(i: number, ms: number, jitterMs: number): string {
    this.injector.latency(this.service(i).name, ms, jitterMs);
    return `latency ${ms} ms (+0..${jitterMs}) on ${replicaName(i)}`;
  }

  partitionAtWrite(i: number): string {
    this.injector.dropFrom(this.service(i).name, WRITE_MARKER);
    return atWrite(i);
  }

  writeArrived(i: number): boolean {
    return this.injector.proxy(this.service(i).name).state.dropping;
  }

  async heal(i: number): Promise<void> {
    const name = this.service(i).name;
    for (const fault of [...this.injector.outstanding].reverse()) {
      if (fault.service === name) await this.injector.undo(fault);
    }
  }

  async healAll(): Promise<void> {
    await this.injector.undoAll();
  }

  inspect(key: string): Promise<(Stored | null | undefined)[]> {
    return inspectAll(this.direct, key);
  }

  plant(i: number, key: string, record: Stored): Promise<boolean> {
    const client = this.direct[i];
    if (client === undefined) throw new Error(`There is no replica ${i + 1}.`);
    return writeRecord(client, key, record);
  }

  async close(): Promise<void> {
    for (const c of this.directClients) c.client.close();
    await this.injector.close();
  }
}

/** Replicas in this process (as many as the lab's Redis containers), each behind its own fault proxy. */
class InProcessCluster implements ReplicaCluster {
  readonly engine = 'in-process replicas (no Docker)';
  private readonly direct: RespClient[];

  private constructor(
    private readonly replicas: readonly InProcessReplica[],
    private readonly proxies: readonly FaultProxy[],
  ) {
    this.direct = inspectors(replicas.map((r, i) => ({ host: r.host, port: r.port, password: r.password, name: replicaName(i) })));
  }

  static async start(size: number, password: string, random: () => number, logger: RuntimeLogger): Promise<InProcessCluster> {
    const replicas: InProcessReplica[] = [];
    const proxies: FaultProxy[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const replica = await InProcessReplica.start(replicaName(i), password);
        replicas.push(replica);
        proxies.push(await FaultProxy.start({ target: { host: replica.host, port: replica.port }, name: replicaName(i), random, logger }));
      }
    } catch (error) {
      await Promise.all([...proxies.map((p) => p.close()), ...replicas.map((r) => r.close())]);
      throw error;
    }
    return new InProcessCluster(replicas, proxies);
  }

  get size(): number {
    return this.replicas.length;
  }

  get addresses(): ReplicaAddress[] {
    return this.replicas.map((r, i) => ({ name: replicaName(i), host: (this.proxies[i] as FaultProxy).host, port: (this.proxies[i] as FaultProxy).port, password: r.password }));
  }

  private replica(i: number): InProcessReplica {
    const r = this.replicas[i];
    if (r === undefined) throw new Error(`There is no replica ${i + 1}.`);
    return r;
  }

  async prepare(): Promise<void> {
    await Promise.all(this.direct.map((c) => c.command(['FLUSHALL'])));
  }

  async fault(i: number, kind: 'pause' | 'kill' | 'partition' | 'reset'): Promise<string> {
    const proxy = this.proxies[i] as FaultProxy;
    switch (kind) {
      case 'pause':
        this.replica(i).pause();
        return `pause ${replicaName(i)} (it stops answering)`;
      case 'kill':
        await this.replica(i).kill();
        return `kill ${replicaName(i)} (its connections are reset and new ones refused)`;
      case 'partition':
        proxy.drop();
        return `partition ${replicaName(i)} (no byte passes either way)`;
      case 'reset':
        proxy.reset();
        return `reset every connection to ${replicaName(i)}`;
    }
  }

  latency(i: number, ms: number, jitterMs: number): string {
    (this.proxies[i] as FaultProxy).latency(ms, jitterMs);
    return `latency ${ms} ms (+0..${jitterMs}) on ${replicaName(i)}`;
  }

  partitionAtWrite(i: number): string {
    (this.proxies[i] as FaultProxy).dropFrom(WRITE_MARKER);
    return atWrite(i);
  }

  writeArrived(i: number): boolean {
    return (this.proxies[i] as FaultProxy).state.dropping;
  }

  async heal(i: number): Promise<void> {
    const replica = this.replica(i);
    await replica.restart();
    replica.resume();
    const proxy = this.proxies[i] as FaultProxy;
    // What was on its way to a cut-off replica is dropped, as the partition meant, before it heals.
    await proxy.settle();
    proxy.heal();
  }

  async healAll(): Promise<void> {
    for (let i = 0; i < this.replicas.length; i++) await this.heal(i);
  }

  inspect(key: string): Promise<(Stored | null | undefined)[]> {
    return inspectAll(this.direct, key);
  }

  plant(i: number, key: string, record: Stored): Promise<boolean> {
    const client = this.direct[i];
    if (client === undefined) throw new Error(`There is no replica ${i + 1}.`);
    return writeRecord(client, key, record);
  }

  async close(): Promise<void> {
    for (const c of this.direct) c.close();
    await Promise.all([...this.proxies.map((p) => p.close()), ...this.replicas.map((r) => r.close())]);
  }
}

export function startDockerReplicas(lab: LabServicesForGrading, random: () => number, logger: RuntimeLogger): Promise<ReplicaCluster> {
  return DockerReplicas.start(lab, random, logger);
}

export function startInProcessReplicas(size: number, password: string, random: () => number, logger: RuntimeLogger): Promise<ReplicaCluster> {
  return InProcessCluster.start(size, password, random, logger);
}
