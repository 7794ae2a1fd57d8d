/**
 * Fault injection for one grading run: a grader breaks a lab's running services on
 * purpose while the learner's code runs, then heals them.
 *
 * Two layers of faults:
 * - Container faults, through the ContainerRuntime: pause, stop, kill, restart, and
 *   disconnect from the lab network. Each is journalled before it is applied (journal.ts),
 *   so that a grading process that dies does not leave them applied.
 * - Proxy faults, through a FaultProxy per service (latency, black hole, refused or
 *   reset connections). The learner's code connects through the proxy
 *   (`proxyAddress`, `proxiedConnection`). These need no journal: the proxy lives in
 *   this process and its faults die with it.
 *
 * Every fault is recorded; `undoAll()` undoes the outstanding ones in reverse order and
 * then waits until every service answers its readiness check again, directly and
 * through its proxy. Undoing is idempotent: undoing a stop on a container that runs
 * already does nothing, and a container that no longer exists is logged and skipped.
 *
 * Apply faults one after another, or in parallel on different services; do not call
 * `undoAll()` while faults are still being applied.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../atomicFile';
import { seededRandom } from '../../random';
import { FaultProxy, type ProxyTarget } from '../faultProxy';
import { SERVICE_HOST, type ServiceConnection, waitUntilReady } from '../labServices';
import { type ContainerRuntime, type RuntimeLogger, silentLogger } from '../runtime';
import { serviceDefinition } from '../serviceCatalog';
import { processStartTime } from '../sessions';
import { type FaultJournal, JOURNAL_VERSION, type JournalFault, isNotFound, short, undoContainerFault } from './journal';

export type ContainerFaultKind = 'pause' | 'stop' | 'kill' | 'restart' | 'disconnect';
export type ProxyFault = 'latency' | 'drop' | 'refuse' | 'reset';

export interface AppliedFault {
  /** Increasing within one run, from 1. */
  readonly id: number;
  readonly layer: 'container' | 'proxy';
  readonly kind: ContainerFaultKind | ProxyFault;
  /** The service's name in the lab (`postgres`, `redis-2`). */
  readonly service: string;
  readonly containerId: string;
  readonly appliedAt: Date;
  /** For logs and reports: `pause postgres`, `latency 200 ms (+0..50) on redis`. */
  readonly description: string;
}

export interface FaultInjectorOptions {
  /** The lab's running services, as `startLabServices` returned them. */
  readonly services: readonly ServiceConnection[];
  /** The lab network, when the lab has one; needed for `disconnect`. */
  readonly network?: string;
  /**
   * Where this run's journal of container faults goes (one file per run). Without it
   * container faults are not crash-safe: a crash leaves them applied.
   */
  readonly journalDir?: string;
  readonly logger?: RuntimeLogger;
  /** Numbers in [0, 1) for the proxies' jitter; defaults to a fixed seed per service. */
  readonly random?: () => number;
  /** Whether to put a FaultProxy in front of each service (default true). */
  readonly proxies?: boolean;
  /** How long each service may take to answer again after an undo (default 60 s). */
  readonly readinessTimeoutMs?: number;
}

interface Entry {
  readonly fault: AppliedFault;
  /** Container faults that change the engine's state; these are journaled. */
  readonly journal?: JournalFault;
  /** Proxy latency undoes to what was in force before it. */
  readonly previousLatency?: { readonly ms: number; readonly jitterMs: number };
}

const DEFAULT_READINESS_TIMEOUT_MS = 60_000;
const PROXY_CHECK_TIMEOUT_MS = 2_000;

export class FaultInjector {
  private readonly entries: Entry[] = [];
  private nextId = 1;
  private readonly runId = randomBytes(4).toString('hex');
  private journalQueue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly runtime: ContainerRuntime,
    private readonly options: FaultInjectorOptions,
    private readonly proxies: ReadonlyMap<string, FaultProxy>,
    private readonly ownStartTime: string | undefined,
    private readonly logger: RuntimeLogger,
  ) {}

  /** Starts the proxies (unless `proxies: false`) for a lab's running services. */
  static async create(runtime: ContainerRuntime, options: FaultInjectorOptions): Promise<FaultInjector> {
    const logger = options.logger ?? silentLogger;
    const names = new Set<string>();
    for (const s of options.services) {
      if (names.has(s.name)) {
        throw new Error(`Two services are both called "${s.name}"; each service of a lab needs its own name.`);
      }
      names.add(s.name);
    }
    const proxies = new Map<string, FaultProxy>();
    if (options.proxies !== false) {
      try {
        for (const [i, s] of options.services.entries()) {
          const proxy = await FaultProxy.start({ target: { host: s.host, port: s.port }, name: s.name, random: options.random ?? seededRandom(i + 1), logger });
          proxies.set(s.name, proxy);
        }
      } catch (error) {
        await Promise.all([...proxies.values()].map((p) => p.close()));
        throw error;
      }
    }
    return new FaultInjector(runtime, options, proxies, processStartTime(process.pid), logger);
  }

  /** This run's journal file, when a journal folder was given. */
  get journalFile(): string | undefined {
    return this.options.journalDir === undefined ? undefined : path.join(this.options.journalDir, `faults-${process.pid}-${this.runId}.json`);
  }

  /** The faults applied and not yet undone, oldest first. */
  get outstanding(): readonly AppliedFault[] {
    return this.entries.map((e) => e.fault);
  }

  /** The proxy in front of a service, for its counters or a fault this class has no method for. */
  proxy(service: string): FaultProxy {
    const proxy = this.proxies.get(service);
    if (!proxy) {
      throw new Error(
        this.options.proxies === false
          ? `This fault injector was created without proxies; create it with "proxies: true" to use proxy faults on ${service}.`
          : `No service called "${service}" in this lab; it has ${this.serviceNames()}.`,
      );
    }
    return proxy;
  }

  /** Where the learner's code should connect to reach a service through its proxy. */
  proxyAddress(service: string): ProxyTarget {
    return this.proxy(service).address;
  }

  /** The service's connection details with the proxy's host, port and URL in place of its own. */
  proxiedConnection(service: string): ServiceConnection {
    const connection = this.connection(service);
    const address = this.proxyAddress(service);
    const url = serviceDefinition(connection.service).connectionUrl(address, connection);
    return { ...connection, host: address.host, port: address.port, url };
  }

  /* Container faults ----------------------------------------------------------- */

  /** Freezes the container's processes: connections stay open, nothing answers. */
  pause(service: string): Promise<AppliedFault> {
    return this.applyContainerFault(service, 'pause', `pause ${service}`, (id) => this.runtime.pauseContainer(id));
  }

  /** Stops the container (SIGTERM or the image's stop signal, then SIGKILL after `timeoutSeconds`). */
  stop(service: string, timeoutSeconds = 5): Promise<AppliedFault> {
    return this.applyContainerFault(service, 'stop', `stop ${service}`, (id) => this.runtime.stopContainer(id, timeoutSeconds));
  }

  /** Kills the container's main process (SIGKILL unless told otherwise): a crash. */
  kill(service: string, signal = 'SIGKILL'): Promise<AppliedFault> {
    return this.applyContainerFault(service, 'kill', `kill ${service} with ${signal}`, (id) => this.runtime.killContainer(id, signal));
  }

  /**
   * Restarts the container; the fault is over when it is back, so its undo only waits
   * until the service answers. Its proxy follows the port the restart may have changed.
   */
  restart(service: string, timeoutSeconds = 5): Promise<AppliedFault> {
    return this.applyContainerFault(service, 'restart', `restart ${service}`, async (id) => {
      await this.runtime.restartContainer(id, timeoutSeconds);
      await this.followPort(service);
    });
  }

  /** Takes the container off the lab network: the other services cannot reach it by name. */
  disconnect(service: string): Promise<AppliedFault> {
    const network = this.options.network;
    if (network === undefined) {
      return Promise.reject(
        new Error(`Cannot disconnect ${service}: this lab has no network (a lab with one container has none). Use a proxy fault such as drop() to cut it off instead.`),
      );
    }
    return this.applyContainerFault(service, 'disconnect', `disconnect ${service} from ${network}`, (id) => this.runtime.disconnectNetwork(network, id), {
      network,
      aliases: [service],
    });
  }

  /* Proxy faults --------------------------------------------------------------- */

  latency(service: string, ms: number, jitterMs = 0): AppliedFault {
    const proxy = this.proxy(service);
    const previousLatency = { ms: proxy.state.latencyMs, jitterMs: proxy.state.jitterMs };
    proxy.latency(ms, jitterMs);
    return this.recordProxyFault(service, 'latency', `latency ${ms} ms${jitterMs > 0 ? ` (+0..${jitterMs})` : ''} on ${service}`, previousLatency);
  }

  drop(service: string): AppliedFault {
    this.proxy(service).drop();
    return this.recordProxyFault(service, 'drop', `drop all traffic of ${service}`);
  }

  /** A black hole on the service that starts when a client's request contains `marker` (FaultProxy.dropFrom). */
  dropFrom(service: string, marker: string): AppliedFault {
    this.proxy(service).dropFrom(marker);
    return this.recordProxyFault(service, 'drop', `drop all traffic of ${service} from the first request containing ${JSON.stringify(marker)}`);
  }

  refuseNew(service: string): AppliedFault {
    this.proxy(service).refuseNew();
    return this.recordProxyFault(service, 'refuse', `refuse new connections to ${service}`);
  }

  /** Resets every open connection to the service now; with `untilHealed`, new ones too until undone. */
  resetConnections(service: string, options: { readonly untilHealed?: boolean } = {}): AppliedFault {
    const count = this.proxy(service).reset(options);
    return this.recordProxyFault(service, 'reset', `reset ${count} open connection(s) to ${service}${options.untilHealed === true ? ', and new ones until healed' : ''}`);
  }

  /* Undo ----------------------------------------------------------------------- */

  /** Undoes one outstanding fault and waits until its service answers again. */
  async undo(fault: AppliedFault): Promise<void> {
    const entry = this.entries.find((e) => e.fault.id === fault.id);
    if (!entry) {
      this.logger.info(`fault ${fault.id} (${fault.description}) is not outstanding; nothing to undo`);
      return;
    }
    await this.undoEntry(entry);
    await this.waitForService(this.connection(fault.service));
  }

  /**
   * Undoes every outstanding fault, newest first, then waits until every service answers
   * its readiness check again. A failure does not stop the others from being undone;
   * the failures are reported together at the end, and failed container faults stay in
   * the journal for `recoverAbandonedFaults`.
   */
  async undoAll(): Promise<void> {
    const problems: string[] = [];
    for (const entry of [...this.entries].reverse()) {
      try {
        await this.undoEntry(entry);
      } catch (error) {
        problems.push(`undoing fault ${entry.fault.id} (${entry.fault.description}): ${(error as Error).message}`);
      }
    }
    const waits = await Promise.allSettled(this.options.services.map((s) => this.waitForService(s)));
    for (const [i, w] of waits.entries()) {
      if (w.status === 'rejected') {
        problems.push(`${this.options.services[i]?.name ?? '?'} did not answer again: ${(w.reason as Error).message}`);
      }
    }
    await this.journalQueue;
    if (problems.length > 0) {
      throw new Error(`Healing the lab after the grading run failed:\n${problems.map((p) => `- ${p}`).join('\n')}\nStart the lab again to restore its services.`);
    }
  }

  /** Undoes everything (see `undoAll`) and closes the proxies. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    try {
      await this.undoAll();
    } finally {
      this.closed = true;
      await Promise.all([...this.proxies.values()].map((p) => p.close()));
    }
  }

  /* Internals ------------------------------------------------------------------ */

  private serviceNames(): string {
    return this.options.services.map((s) => s.name).join(', ') || 'no services';
  }

  private connection(service: string): ServiceConnection {
    const found = this.options.services.find((s) => s.name === service);
    if (!found) {
      throw new Error(`No service called "${service}" in this lab; it has ${this.serviceNames()}.`);
    }
    return found;
  }

  private newFault(service: string, layer: AppliedFault['layer'], kind: AppliedFault['kind'], description: string): AppliedFault {
    if (this.closed) {
      throw new Error('This fault injector is closed; create a new one for another grading run.');
    }
    const connection = this.connection(service);
    return { id: this.nextId++, layer, kind, service, containerId: connection.containerId, appliedAt: new Date(), description };
  }

  private async applyContainerFault(
    service: string,
    kind: ContainerFaultKind,
    description: string,
    apply: (containerId: string) => Promise<void>,
    networkPart: { network: string; aliases: string[] } | undefined = undefined,
  ): Promise<AppliedFault> {
    const fault = this.newFault(service, 'container', kind, description);
    // A restart leaves nothing to undo in the engine once it returns, so it needs no journal.
    const journal: JournalFault | undefined =
      kind === 'restart' ? undefined : { id: fault.id, kind, service, containerId: fault.containerId, appliedAt: fault.appliedAt.toISOString(), ...(networkPart ?? {}) };
    const entry: Entry = { fault, ...(journal ? { journal } : {}) };
    this.entries.push(entry);
    if (journal) {
      // Journaled before it is applied: a crash in between leaves an undo that does nothing.
      try {
        await this.syncJournal();
      } catch (error) {
        this.entries.splice(this.entries.indexOf(entry), 1);
        throw new Error(`Could not write the fault journal ${this.journalFile ?? ''}, so "${description}" was not applied: ${(error as Error).message}. Check that the folder is writable.`, {
          cause: error,
        });
      }
    }
    this.logger.info(`fault ${fault.id}: ${description} (container ${short(fault.containerId)})`);
    try {
      await apply(fault.containerId);
    } catch (error) {
      this.logger.error(`fault ${fault.id}: ${description} (container ${short(fault.containerId)}) failed: ${(error as Error).message}`);
      this.entries.splice(this.entries.indexOf(entry), 1);
      if (journal) {
        await this.syncJournal();
      }
      throw error;
    }
    return fault;
  }

  private recordProxyFault(service: string, kind: ProxyFault, description: string, previousLatency?: Entry['previousLatency']): AppliedFault {
    const fault = this.newFault(service, 'proxy', kind, description);
    this.entries.push({ fault, ...(previousLatency ? { previousLatency } : {}) });
    this.logger.info(`fault ${fault.id}: ${description} (proxy ${this.proxyAddress(service).port} in front of container ${short(fault.containerId)})`);
    return fault;
  }

  private async undoEntry(entry: Entry): Promise<void> {
    const { fault } = entry;
    if (fault.layer === 'proxy') {
      const proxy = this.proxy(fault.service);
      if (fault.kind === 'latency') {
        proxy.latency(entry.previousLatency?.ms ?? 0, entry.previousLatency?.jitterMs ?? 0);
      } else {
        // What was on its way into the black hole is dropped before it opens (see FaultProxy.settle).
        const waited = fault.kind === 'drop' ? await proxy.settle() : 0;
        proxy.heal(fault.kind as ProxyFault);
        if (waited > 0) {
          this.logger.info(`undo fault ${fault.id}: the black hole settled after ${waited} ms`);
        }
      }
      this.logger.info(`undo fault ${fault.id} (${fault.description}, container ${short(fault.containerId)}): healed in the proxy`);
    } else if (entry.journal) {
      await undoContainerFault(this.runtime, entry.journal, this.logger);
    } else {
      this.logger.info(`undo fault ${fault.id} (${fault.description}, container ${short(fault.containerId)}): over once the service answers`);
    }
    this.entries.splice(this.entries.indexOf(entry), 1);
    if (entry.journal) {
      await this.syncJournal();
    }
  }

  /** Points the service's proxy at the port the container is published on now. */
  private async followPort(service: string): Promise<void> {
    const proxy = this.proxies.get(service);
    if (!proxy) {
      return;
    }
    const connection = this.connection(service);
    const info = await this.runtime.inspectContainer(connection.containerId);
    const wanted = `${serviceDefinition(connection.service).containerPort}/tcp`;
    const binding = info.ports.find((p) => p.containerPort === wanted && p.hostIp === SERVICE_HOST) ?? info.ports.find((p) => p.containerPort === wanted);
    if (binding) {
      proxy.retarget({ host: SERVICE_HOST, port: binding.hostPort });
    }
  }

  /** Waits until the service answers directly, points its proxy at it, and checks it answers through the proxy too. */
  private async waitForService(connection: ServiceConnection): Promise<void> {
    const definition = serviceDefinition(connection.service);
    const timeoutMs = this.options.readinessTimeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
    let port: number;
    try {
      ({ port } = await waitUntilReady(this.runtime, definition, connection.containerId, connection, timeoutMs));
    } catch (error) {
      if (isNotFound(error)) {
        this.logger.warn(`${connection.name} (container ${short(connection.containerId)}) no longer exists; not waiting for it`);
        return;
      }
      throw error;
    }
    const proxy = this.proxies.get(connection.name);
    if (proxy) {
      proxy.retarget({ host: SERVICE_HOST, port });
      await definition.checkReady(proxy.address, connection, PROXY_CHECK_TIMEOUT_MS).catch((error: unknown) => {
        throw new Error(`${connection.name} answers on ${SERVICE_HOST}:${port} but not through its fault proxy on port ${proxy.port}: ${(error as Error).message}`);
      });
    }
  }

  /** Writes the journal as the entries are now (or deletes it when none is left), one write at a time. */
  private syncJournal(): Promise<void> {
    const file = this.journalFile;
    if (file === undefined) {
      return Promise.resolve();
    }
    const write = async (): Promise<void> => {
      const faults = this.entries.flatMap((e) => (e.journal ? [e.journal] : []));
      if (faults.length === 0) {
        await fs.rm(file, { force: true });
        return;
      }
      const journal: FaultJournal = {
        version: JOURNAL_VERSION,
        pid: process.pid,
        ...(this.ownStartTime !== undefined ? { processStartTime: this.ownStartTime } : {}),
        runId: this.runId,
        createdAt: faults[0]?.appliedAt ?? new Date().toISOString(),
        faults,
      };
      await writeFileAtomic(file, `${JSON.stringify(journal, null, 2)}\n`);
    };
    const next = this.journalQueue.catch(() => {}).then(write);
    this.journalQueue = next.catch(() => {});
    return next;
  }
}
