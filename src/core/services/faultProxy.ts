/**
 * A TCP proxy in front of one lab service, for grading under faults. It listens on
 * 127.0.0.1 with a port the OS chooses and forwards every connection to the service's
 * published port. The learner's code is handed the proxy's address instead of the
 * service's, so network faults can be switched on and off in this process, without
 * touching Docker:
 *
 * - `latency(ms, jitterMs)`: every chunk, in both directions, is held for `ms` plus a
 *   uniformly random extra in [0, jitterMs] before it is passed on. Order within a
 *   direction is kept: a chunk never overtakes one that arrived before it, so with
 *   jitter a chunk may wait longer than its own draw.
 * - `drop()`: a black hole. Connections that are open stay open and new ones are
 *   accepted (and connected to the service), but no byte passes in either direction:
 *   bytes that arrive are read and discarded (counted in `bytesDropped`), and so are
 *   the bytes that `latency` was still holding. An orderly close (FIN) that arrives
 *   meanwhile is held back and passed on after `heal()`; an abrupt close (RST, or the
 *   peer going away) still tears down the other side at once. After `heal()` new bytes
 *   flow again on every connection, but the discarded bytes are gone for good: a
 *   connection that lost bytes mid-protocol is usually unusable, and the client has to
 *   notice (time out) and reconnect, as it would after a real network partition.
 * - `dropFrom(marker)`: a black hole that starts on its own, as the first request that
 *   contains `marker` (bytes from a client, such as a command's name) arrives: the chunk
 *   that completes the marker and everything after it are dropped, as by `drop()`, while
 *   what came before passed. (A request is usually one chunk on loopback.)
 *   A grader uses it to cut a replica off between two phases of one operation (after it
 *   answered a read, before the write that follows), at a point no timer can hit reliably.
 *   The marker is looked for across chunk boundaries.
 * - `loseReplyTo(marker)`: the first request that contains `marker` (compared without
 *   regard to ASCII case) passes to the service, which does the work; its reply is thrown
 *   away as it comes back and that connection is reset, as when the network fails after a
 *   request arrived. The client sees its connection lost and cannot know whether the
 *   request took effect. One request only; `heal()` disarms it if it has not fired.
 * - `refuseNew()`: new connections are accepted and at once reset (RST), which clients
 *   see as ECONNRESET; open connections carry on.
 * - `reset({ untilHealed })`: every open connection is reset now (RST to the client and
 *   to the service); with `untilHealed`, new connections are reset on arrival too.
 * - `heal()` removes every fault (or only one kind); `close()` stops listening and
 *   closes every connection. Before healing a black hole, `settle()` waits until no byte
 *   has reached it for a quiet spell: what was still on its way when the partition was
 *   healed (a write the learner's process sent to every replica, whose copy to the cut-off
 *   one was still in a socket buffer) is dropped, as the partition meant, instead of
 *   arriving late. Graders heal through it rather than sleeping past those copies.
 *
 * When the service cannot be reached (its container is stopped, say), a connection to
 * the proxy is reset as soon as the connection to the service fails, and counted in
 * `upstreamFailures`. `retarget()` points new connections at the service's new port
 * after a restart gave it another one.
 *
 * Randomness (the jitter) comes only from the `random` option, so a grading run can be
 * replayed; the default is a fixed-seed generator.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../random';
import { type RuntimeLogger, silentLogger } from './runtime';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface FaultProxyOptions {
  /** Where connections are forwarded to: the service's published address. */
  readonly target: ProxyTarget;
  /** A name for log lines (`postgres`, `redis-2`). */
  readonly name?: string;
  /** Numbers in [0, 1), for jitter. Defaults to `seededRandom(1)`. */
  readonly random?: () => number;
  readonly logger?: RuntimeLogger;
}

/** Counters since the proxy started; for graders' reports and for tests. */
export interface FaultProxyStats {
  /** Every connection the proxy accepted, including those it refused or reset on arrival. */
  readonly connectionsAccepted: number;
  /** Connections currently forwarded (or held in a black hole). */
  readonly connectionsOpen: number;
  /** Bytes passed from clients to the service. */
  readonly bytesToService: number;
  /** Bytes passed from the service to clients. */
  readonly bytesToClient: number;
  /** Bytes discarded by `drop()`, both directions together. */
  readonly bytesDropped: number;
  /** Connections reset by `reset()`, now or (with `untilHealed`) on arrival. */
  readonly resets: number;
  /** Connections reset on arrival because of `refuseNew()`. */
  readonly refused: number;
  /** Connections ended because the service could not be reached or failed them. */
  readonly upstreamFailures: number;
}

/** The faults in force; all off after `heal()`. */
export interface ProxyFaultState {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly dropping: boolean;
  readonly refusingNew: boolean;
  readonly resettingNew: boolean;
}

export type ProxyFaultKind = 'latency' | 'drop' | 'refuse' | 'reset';

export const PROXY_HOST = '127.0.0.1';

/**
 * How long a black hole must have swallowed nothing before `settle` calls it quiet, and the
 * longest `settle` waits. The learner's process writes a request's copies to every replica
 * in one go, so on loopback the last of them arrives within a few milliseconds; the quiet
 * spell is ten times that, and a loaded machine only makes it wait longer.
 */
const DEFAULT_QUIET_MS = 40;
const DEFAULT_SETTLE_MAX_MS = 1_000;

/** Above this many bytes held back by latency, the sending side stops being read. */
const HELD_BYTES_HIGH_WATER = 1024 * 1024;

type Counter = 'bytesToService' | 'bytesToClient';

/**
 * One direction of one connection: reads from `from`, holds chunks as long as the
 * latency says, writes them to `to` in arrival order, and passes on the end.
 */
class Direction {
  private readonly held: { chunk: Buffer; due: number }[] = [];
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastDue = 0;
  private sourceEnded = false;
  private endPassed = false;

  constructor(
    private readonly proxy: FaultProxy,
    readonly from: net.Socket,
    readonly to: net.Socket,
    private readonly counter: Counter,
  ) {
    from.on('data', (chunk: Buffer) => this.onData(chunk));
    from.on('end', () => this.onEnd());
    to.on('drain', () => this.maybeResume());
  }

  private onData(chunk: Buffer): void {
    if (this.counter === 'bytesToService') {
      this.proxy.watchRequest(this, chunk);
    } else if (this.proxy.takeLostReply(this.from)) {
      this.proxy.countDropped(chunk.length);
      resetSocket(this.from);
      resetSocket(this.to);
      return;
    }
    if (this.proxy.state.dropping) {
      this.proxy.countDropped(chunk.length);
      return;
    }
    const delay = this.proxy.drawDelayMs();
    if (delay <= 0 && this.held.length === 0) {
      this.write(chunk);
      return;
    }
    const due = Math.max(performance.now() + delay, this.lastDue);
    this.lastDue = due;
    this.held.push({ chunk, due });
    this.heldBytes += chunk.length;
    if (this.heldBytes > HELD_BYTES_HIGH_WATER) {
      this.from.pause();
    }
    this.schedule();
  }

  private onEnd(): void {
    this.sourceEnded = true;
    this.passEndIfDone();
  }

  private write(chunk: Buffer): void {
    if (this.to.destroyed) {
      return;
    }
    this.proxy.count(this.counter, chunk.length);
    if (!this.to.write(chunk)) {
      this.from.pause();
    }
  }

  private schedule(): void {
    const head = this.held[0];
    if (this.timer !== undefined || head === undefined) {
      return;
    }
    this.timer = setTimeout(() => this.flush(), Math.max(0, Math.ceil(head.due - performance.now())));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    // A timer may fire a little early by the monotonic clock; then it is armed again,
    // so a chunk is never passed on before its time.
    for (let head = this.held[0]; head !== undefined && head.due <= now; head = this.held[0]) {
      this.held.shift();
      this.heldBytes -= head.chunk.length;
      this.write(head.chunk);
    }
    this.schedule();
    this.maybeResume();
    this.passEndIfDone();
  }

  private maybeResume(): void {
    if (this.from.isPaused() && !this.to.writableNeedDrain && this.heldBytes <= HELD_BYTES_HIGH_WATER && !this.from.destroyed) {
      this.from.resume();
    }
  }

  /** Passes the end on once everything before it is written, unless a black hole holds it. */
  passEndIfDone(): void {
    if (this.sourceEnded && !this.endPassed && this.held.length === 0 && !this.proxy.state.dropping && !this.to.destroyed) {
      this.endPassed = true;
      this.to.end();
    }
  }

  /** Discards what latency was holding: `drop()` started. */
  discardHeld(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.proxy.countDropped(this.heldBytes);
    this.held.length = 0;
    this.heldBytes = 0;
    this.maybeResume();
  }

  /** Whether the source closed without an end: it went away abruptly. */
  get sourceEndedCleanly(): boolean {
    return this.sourceEnded;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.length = 0;
    this.heldBytes = 0;
  }
}

class ProxiedConnection {
  readonly up: Direction;
  readonly down: Direction;

  constructor(
    proxy: FaultProxy,
    readonly client: net.Socket,
    readonly service: net.Socket,
  ) {
    this.up = new Direction(proxy, client, service, 'bytesToService');
    this.down = new Direction(proxy, service, client, 'bytesToClient');
  }

  reset(): void {
    resetSocket(this.client);
    resetSocket(this.service);
  }

  destroy(): void {
    this.up.dispose();
    this.down.dispose();
    this.client.destroy();
    this.service.destroy();
  }
}

/** Sends RST and destroys; a socket already gone is left alone. */
function resetSocket(socket: net.Socket): void {
  if (!socket.destroyed) {
    socket.resetAndDestroy();
  }
}

const NO_FAULTS: ProxyFaultState = { latencyMs: 0, jitterMs: 0, dropping: false, refusingNew: false, resettingNew: false };

export class FaultProxy {
  private faults: ProxyFaultState = NO_FAULTS;
  private target: ProxyTarget;
  private readonly connections = new Set<ProxiedConnection>();
  private readonly random: () => number;
  private readonly logger: RuntimeLogger;
  private readonly name: string;
  private closed = false;
  private listeningPort = 0;
  /** When the black hole started, and when it last swallowed a byte (see `settle`). */
  private droppingSince = 0;
  private lastDroppedAt = 0;
  /** The marker of `dropFrom`, and each connection's last bytes, for a marker split across chunks. */
  private dropMarker: Buffer | undefined;
  /** The marker of `loseReplyTo` (lower case), and the service sockets whose next reply is lost. */
  private loseMarker: string | undefined;
  private readonly losingReply = new WeakSet<net.Socket>();
  private readonly requestTails = new WeakMap<object, Buffer>();
  private readonly requestTexts = new WeakMap<object, { readonly key: string; readonly text: string }>();
  private counters = {
    connectionsAccepted: 0,
    bytesToService: 0,
    bytesToClient: 0,
    bytesDropped: 0,
    resets: 0,
    refused: 0,
    upstreamFailures: 0,
  };

  private constructor(
    private readonly server: net.Server,
    options: FaultProxyOptions,
  ) {
    this.target = options.target;
    this.random = options.random ?? seededRandom(1);
    this.logger = options.logger ?? silentLogger;
    this.name = options.name ?? `${options.target.host}:${options.target.port}`;
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Starts a proxy listening on 127.0.0.1 with a port the OS chooses. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    // Half-open sockets, so an end in one direction is passed on without closing the other.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
    const proxy = new FaultProxy(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, PROXY_HOST, () => {
        server.off('error', reject);
        proxy.listeningPort = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
    server.on('error', (error) => proxy.logger.error(`fault proxy ${proxy.name}: ${error.message}`));
    proxy.logger.info(`fault proxy ${proxy.name}: listening on ${PROXY_HOST}:${proxy.port}, forwarding to ${options.target.host}:${options.target.port}`);
    return proxy;
  }

  get host(): string {
    return PROXY_HOST;
  }

  /** The port the proxy listens on (kept after close, for messages). */
  get port(): number {
    return this.listeningPort;
  }

  /** What to hand to learner code instead of the service's own address. */
  get address(): ProxyTarget {
    return { host: PROXY_HOST, port: this.port };
  }

  get currentTarget(): ProxyTarget {
    return this.target;
  }

  get state(): ProxyFaultState {
    return this.faults;
  }

  stats(): FaultProxyStats {
    return { ...this.counters, connectionsOpen: this.connections.size };
  }

  /** New connections go to `target` from now on; open ones stay where they are. */
  retarget(target: ProxyTarget): void {
    if (target.host !== this.target.host || target.port !== this.target.port) {
      this.logger.info(`fault proxy ${this.name}: now forwarding to ${target.host}:${target.port} (was ${this.target.host}:${this.target.port})`);
      this.target = target;
    }
  }

  /** Holds every chunk `ms` plus up to `jitterMs` (uniform) before passing it on. */
  latency(ms: number, jitterMs = 0): void {
    if (!(Number.isFinite(ms) && ms >= 0 && Number.isFinite(jitterMs) && jitterMs >= 0)) {
      throw new RangeError(`Latency must be a finite number of milliseconds, 0 or more (got ${ms} ms, jitter ${jitterMs} ms).`);
    }
    this.faults = { ...this.faults, latencyMs: ms, jitterMs };
  }

  /** A black hole: see the file's comment for what happens to bytes and closes. */
  drop(): void {
    if (!this.faults.dropping) {
      this.droppingSince = performance.now();
    }
    this.faults = { ...this.faults, dropping: true };
    for (const c of this.connections) {
      c.up.discardHeld();
      c.down.discardHeld();
    }
  }

  /**
   * Arms a black hole that starts when a client sends a request containing `marker`
   * (that request is the first dropped); until then traffic flows. `heal()` or `heal('drop')`
   * disarms it, whether or not it fired.
   */
  dropFrom(marker: string | Buffer): void {
    const bytes = typeof marker === 'string' ? Buffer.from(marker) : marker;
    if (bytes.length === 0) {
      throw new RangeError('dropFrom needs a marker of at least one byte.');
    }
    this.dropMarker = bytes;
  }

  /** Whether a `dropFrom` marker is armed and has not been seen yet. */
  get dropArmed(): boolean {
    return this.dropMarker !== undefined;
  }

  /** Arms the loss of the reply to the next request containing `marker` (see the file's comment). */
  loseReplyTo(marker: string): void {
    if (marker.length === 0) {
      throw new RangeError('loseReplyTo needs a marker of at least one character.');
    }
    this.loseMarker = marker.toLowerCase();
  }

  /** Whether a `loseReplyTo` marker is armed and has not been seen yet. */
  get loseReplyArmed(): boolean {
    return this.loseMarker !== undefined;
  }

  /** @internal Whether the reply coming from this service socket is to be lost (once). */
  takeLostReply(service: net.Socket): boolean {
    if (!this.losingReply.has(service)) {
      return false;
    }
    this.losingReply.delete(service);
    this.counters.resets++;
    this.logger.info(`fault proxy ${this.name}: the reply to the marked request is lost; the connection is reset`);
    return true;
  }

  /** @internal Looks for the markers in a client's bytes: the `dropFrom` one starts the black hole, the `loseReplyTo` one dooms the reply. */
  watchRequest(direction: Direction, chunk: Buffer): void {
    const lose = this.loseMarker;
    if (lose !== undefined) {
      const key = `lose:${lose}`;
      const tail = this.requestTexts.get(direction);
      const seen = (tail?.key === key ? tail.text : '') + chunk.toString('latin1').toLowerCase();
      if (seen.includes(lose)) {
        this.loseMarker = undefined;
        this.requestTexts.delete(direction);
        this.losingReply.add(direction.to);
      } else {
        this.requestTexts.set(direction, { key, text: seen.slice(Math.max(0, seen.length - (lose.length - 1))) });
      }
    }
    const marker = this.dropMarker;
    if (marker === undefined) {
      return;
    }
    const tail = this.requestTails.get(direction);
    const seen = tail === undefined ? chunk : Buffer.concat([tail, chunk]);
    if (seen.includes(marker)) {
      this.dropMarker = undefined;
      this.logger.info(`fault proxy ${this.name}: a request carried the marker; dropping from here on`);
      this.drop();
      return;
    }
    this.requestTails.set(direction, seen.subarray(Math.max(0, seen.length - (marker.length - 1))));
  }

  /** New connections are accepted and reset at once; open ones carry on. */
  refuseNew(): void {
    this.faults = { ...this.faults, refusingNew: true };
  }

  /** Resets every open connection now; with `untilHealed`, new ones on arrival too. Returns how many were reset now. */
  reset(options: { readonly untilHealed?: boolean } = {}): number {
    let count = 0;
    for (const c of [...this.connections]) {
      c.reset();
      this.connections.delete(c);
      c.destroy();
      count++;
    }
    this.counters.resets += count;
    if (options.untilHealed === true) {
      this.faults = { ...this.faults, resettingNew: true };
    }
    return count;
  }

  /** Removes every fault, or only those of one kind. */
  heal(kind?: ProxyFaultKind): void {
    const before = this.faults;
    switch (kind) {
      case undefined:
        this.faults = NO_FAULTS;
        this.dropMarker = undefined;
        this.loseMarker = undefined;
        break;
      case 'latency':
        this.faults = { ...this.faults, latencyMs: 0, jitterMs: 0 };
        break;
      case 'drop':
        this.faults = { ...this.faults, dropping: false };
        this.dropMarker = undefined;
        break;
      case 'refuse':
        this.faults = { ...this.faults, refusingNew: false };
        break;
      case 'reset':
        this.faults = { ...this.faults, resettingNew: false };
        break;
    }
    if (before.dropping && !this.faults.dropping) {
      // Ends held back by the black hole are passed on now.
      for (const c of this.connections) {
        c.up.passEndIfDone();
        c.down.passEndIfDone();
      }
    }
  }

  /** Stops listening and closes every connection; resolves once the port is free. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) {
      c.destroy();
    }
    this.connections.clear();
    await stopped;
    this.logger.info(`fault proxy ${this.name}: closed (port ${PROXY_HOST}:${this.port} released)`);
  }

  /** @internal */
  drawDelayMs(): number {
    const { latencyMs, jitterMs } = this.faults;
    return jitterMs > 0 ? latencyMs + this.random() * jitterMs : latencyMs;
  }

  /** @internal */
  count(counter: Counter, bytes: number): void {
    this.counters[counter] += bytes;
  }

  /** @internal */
  countDropped(bytes: number): void {
    this.counters.bytesDropped += bytes;
    this.lastDroppedAt = performance.now();
  }

  /**
   * While the proxy drops, resolves once no byte has reached it for `quietMs` (at most
   * `maxMs` after the call); at once when it is not dropping. Returns how long it waited.
   */
  async settle(quietMs = DEFAULT_QUIET_MS, maxMs = DEFAULT_SETTLE_MAX_MS): Promise<number> {
    const started = performance.now();
    for (;;) {
      const now = performance.now();
      if (!this.faults.dropping || this.closed || now - started >= maxMs) {
        return Math.round(now - started);
      }
      const quietSince = Math.max(this.droppingSince, this.lastDroppedAt);
      const wait = quietSince + quietMs - now;
      if (wait <= 0) {
        return Math.round(now - started);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(Math.min(wait, started + maxMs - now))));
    }
  }

  private accept(client: net.Socket): void {
    this.counters.connectionsAccepted++;
    client.on('error', () => {});
    if (this.closed) {
      client.destroy();
      return;
    }
    if (this.faults.refusingNew || this.faults.resettingNew) {
      if (this.faults.refusingNew) {
        this.counters.refused++;
      } else {
        this.counters.resets++;
      }
      client.resetAndDestroy();
      return;
    }
    const service = net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    const connection = new ProxiedConnection(this, client, service);
    this.connections.add(connection);
    let failedUpstream = false;
    service.on('error', (error: NodeJS.ErrnoException) => {
      failedUpstream = true;
      this.counters.upstreamFailures++;
      this.logger.warn(`fault proxy ${this.name}: the service at ${this.target.host}:${this.target.port} failed a connection (${error.code ?? error.message}); resetting the client's`);
      resetSocket(client);
    });
    client.on('error', () => resetSocket(service));
    const closed = (socket: net.Socket, other: net.Socket, direction: Direction) => (hadError: boolean): void => {
      if (!other.destroyed) {
        if (hadError) {
          resetSocket(other);
        } else if (!direction.sourceEndedCleanly) {
          // Gone without an end (destroyed): nothing more will come, so let the other side go too.
          other.destroy();
        }
      }
      if (socket.destroyed && other.destroyed) {
        connection.destroy();
        this.connections.delete(connection);
      }
    };
    client.on('close', closed(client, service, connection.up));
    service.on('close', (hadError) => {
      if (failedUpstream) {
        resetSocket(client);
      }
      closed(service, client, connection.down)(hadError);
    });
  }
}
