/**
 * The Multi-Master grader's stores and its hands on them: one Redis per region (the lab's
 * three containers, behind the fault injector's proxies, which follow a container that was
 * killed and started again). The learner's regions reach their store only through its
 * proxy; the grader pauses and kills stores, and empties the grading database directly.
 * Without Docker, a Redis stand-in per region in the grader's process takes their place.
 */
import { FaultInjector } from '../../../src/core/services/faults';
import { InProcessRedis } from '../../../src/core/services/inProcessRedis';
import type { ServiceConnection } from '../../../src/core/services/labServices';
import type { LabServicesForGrading } from '../../../src/core/services/labServicesController';
import { RespClient, RespError } from '../../../src/core/services/resp';
import type { RuntimeLogger } from '../../../src/core/services/runtime';
import { REGIONS } from './history';
import { GRADING_DATABASE } from './limits';
import type { StoreAddress } from './protocol';

export interface RegionStores {
  /** What runs the stores, as the report names it. */
  readonly engine: string;
  /** Where the learner's regions connect: each store's proxy. */
  readonly addresses: readonly StoreAddress[];
  pause(region: string): Promise<string>;
  /** SIGKILL to the store; it keeps what it acknowledged (appendfsync always) and comes back when healed. */
  kill(region: string): Promise<string>;
  /** Undoes every fault on the region's store and waits until it answers. */
  heal(region: string): Promise<void>;
  healAll(): Promise<void>;
  /** Makes every store durable before any fault, and empties the grading database. */
  prepare(): Promise<void>;
  /** Empties the grading database of every store (the start of a scenario). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const INSPECT_TIMEOUT_MS = 5_000;

class DockerStores implements RegionStores {
  readonly engine = 'Redis in Docker, one per region';
  private readonly direct = new Map<string, { client: RespClient; port: number }>();

  private constructor(
    private readonly injector: FaultInjector,
    private readonly services: readonly ServiceConnection[],
  ) {}

  static async start(lab: LabServicesForGrading, random: () => number, logger: RuntimeLogger): Promise<DockerStores> {
    const services = lab.connections.filter((c) => c.service === 'redis').sort((a, b) => a.index - b.index);
    if (services.length < REGIONS.length) throw new Error(`The Multi-Master lab needs ${REGIONS.length} Redis containers; ${services.length} are running. Start the lab's databases again.`);
    const injector = await FaultInjector.create(lab.runtime, {
      services: services.slice(0, REGIONS.length),
      ...(lab.network !== undefined ? { network: lab.network } : {}),
      ...(lab.journalDir !== undefined ? { journalDir: lab.journalDir } : {}),
      random,
      logger,
      readinessTimeoutMs: 30_000,
    });
    return new DockerStores(injector, services.slice(0, REGIONS.length));
  }

  private service(region: string): ServiceConnection {
    const s = this.services[REGIONS.indexOf(region as (typeof REGIONS)[number])];
    if (s === undefined) throw new Error(`There is no region ${region}.`);
    return s;
  }

  /** A client of the container's published port as it is now (it may change after a restart). */
  private client(region: string, database: number): RespClient {
    const s = this.service(region);
    const target = this.injector.proxy(s.name).currentTarget;
    const name = `${region}:${database}`;
    const held = this.direct.get(name);
    if (held !== undefined && held.port === target.port) return held.client;
    held?.client.close();
    const client = new RespClient({ host: target.host, port: target.port, password: s.password, database }, INSPECT_TIMEOUT_MS, `${region}'s store`);
    this.direct.set(name, { client, port: target.port });
    return client;
  }

  get addresses(): StoreAddress[] {
    return REGIONS.map((region) => ({ region, ...this.injector.proxyAddress(this.service(region).name), password: this.service(region).password }));
  }

  async prepare(): Promise<void> {
    await Promise.all(REGIONS.map(async (region) => {
      const c = this.client(region, 0);
      for (const args of [['CONFIG', 'SET', 'appendonly', 'yes'], ['CONFIG', 'SET', 'appendfsync', 'always']]) {
        const reply = await c.command(args);
        if (reply instanceof RespError) throw new Error(`${region}'s store refused ${args.join(' ')}: ${reply.message}`);
      }
    }));
    await this.flush();
  }

  async flush(): Promise<void> {
    await Promise.all(REGIONS.map(async (region) => {
      const reply = await this.client(region, GRADING_DATABASE).command(['FLUSHDB']);
      if (reply instanceof RespError) throw new Error(`${region}'s store refused FLUSHDB: ${reply.message}`);
    }));
  }

  async pause(region: string): Promise<string> {
    await this.injector.pause(this.service(region).name);
    return `pause ${region}'s store (its container is frozen)`;
  }

  async kill(region: string): Promise<string> {
    await this.injector.kill(this.service(region).name);
    return `kill ${region}'s store (SIGKILL to its Redis)`;
  }

  async heal(region: string): Promise<void> {
    const name = this.service(region).name;
    for (const fault of [...this.injector.outstanding].reverse()) {
      if (fault.service === name) await this.injector.undo(fault);
    }
  }

  async healAll(): Promise<void> {
    await this.injector.undoAll();
  }

  async close(): Promise<void> {
    for (const { client } of this.direct.values()) client.close();
    await this.injector.close();
  }
}

export function startDockerStores(lab: LabServicesForGrading, random: () => number, logger: RuntimeLogger): Promise<RegionStores> {
  return DockerStores.start(lab, random, logger);
}

/** Without Docker: a Redis stand-in per region in the grader's process (src/core/services/inProcessRedis.ts). */
class InProcessStores implements RegionStores {
  readonly engine = 'in-process Redis stand-ins (no Docker), one per region';
  private readonly direct: RespClient[];

  private constructor(private readonly servers: readonly InProcessRedis[]) {
    this.direct = servers.map((s) => new RespClient({ host: s.host, port: s.port, password: s.password, database: GRADING_DATABASE }, INSPECT_TIMEOUT_MS, s.name));
  }

  static async start(password: string): Promise<InProcessStores> {
    const servers: InProcessRedis[] = [];
    try {
      for (const region of REGIONS) servers.push(await InProcessRedis.start(`${region}'s store`, password));
    } catch (error) {
      await Promise.all(servers.map((s) => s.close()));
      throw error;
    }
    return new InProcessStores(servers);
  }

  private server(region: string): InProcessRedis {
    const s = this.servers[REGIONS.indexOf(region as (typeof REGIONS)[number])];
    if (s === undefined) throw new Error(`There is no region ${region}.`);
    return s;
  }

  get addresses(): StoreAddress[] {
    return REGIONS.map((region) => ({ region, host: this.server(region).host, port: this.server(region).port, password: this.server(region).password }));
  }

  async prepare(): Promise<void> {
    await this.flush();
  }

  async flush(): Promise<void> {
    await Promise.all(this.direct.map((c) => c.command(['FLUSHDB'])));
  }

  async pause(region: string): Promise<string> {
    this.server(region).pause();
    return `pause ${region}'s store (it stops answering)`;
  }

  async kill(region: string): Promise<string> {
    await this.server(region).kill();
    return `kill ${region}'s store (its connections are reset and new ones refused; it keeps its data)`;
  }

  async heal(region: string): Promise<void> {
    const server = this.server(region);
    await server.restart();
    server.resume();
  }

  async healAll(): Promise<void> {
    for (const region of REGIONS) await this.heal(region);
  }

  async close(): Promise<void> {
    for (const c of this.direct) c.close();
    await Promise.all(this.servers.map((s) => s.close()));
  }
}

export function startInProcessStores(password: string): Promise<RegionStores> {
  return InProcessStores.start(password);
}
