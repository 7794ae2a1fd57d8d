/**
 * The Quorum lab's replicas without Docker: small servers in the grader's process that
 * speak the part of Redis's protocol the lab's replicas use (AUTH, PING, HMGET, the write
 * script of replicaStore.ts, FLUSHALL) with the same semantics, on 127.0.0.1. They stand
 * in for the Redis containers honestly for what the lab grades — a replica that keeps
 * the newest version of each key — and the fault proxy in front of each one works the
 * same. The container faults have in-process equivalents:
 *
 * - pause: the server stops reading commands (a frozen process: connections stay open,
 *   nothing answers) until resumed, then answers what waited.
 * - kill: every connection is reset and new ones are refused; the data is kept, as a
 *   Redis with `appendfsync always` keeps what it acknowledged. restart listens again on
 *   the same port.
 */
import * as net from 'node:net';
import { RespDecoder, RespError, type RespValue, encodeReply, encodeStatus } from '../../../src/core/services/resp';
import { WRITE_SCRIPT, isNewer } from './replicaStore';

interface Record {
  readonly ts: string;
  readonly writer: string;
  readonly value: string;
}

export class InProcessReplica {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly data = new Map<string, Record>();
  private paused = false;
  private readonly waiting: (() => void)[] = [];
  private portNumber = 0;

  private constructor(
    readonly name: string,
    readonly password: string,
  ) {}

  static async start(name: string, password: string): Promise<InProcessReplica> {
    const replica = new InProcessReplica(name, password);
    await replica.listen(0);
    return replica;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get port(): number {
    return this.portNumber;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const go of this.waiting.splice(0)) go();
  }

  /** Resets every connection and stops listening; the data stays. */
  kill(): Promise<void> {
    return this.stop((socket) => socket.resetAndDestroy());
  }

  /**
   * Stops for good. Connections are closed, not reset: a reset still under way when the
   * process exits can leave Node spinning in its exit clean-up (seen about once in ten
   * gradings before this was changed).
   */
  close(): Promise<void> {
    return this.stop((socket) => socket.destroy());
  }

  private async stop(end: (socket: net.Socket) => void): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.paused = false;
    // Commands held by a pause end with their connections (their queues see the sockets destroyed).
    for (const socket of this.sockets) end(socket);
    for (const go of this.waiting.splice(0)) go();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    if (this.server === undefined) {
      await this.listen(this.portNumber);
    }
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.portNumber = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new RespDecoder();
    let authenticated = false;
    // Commands of one connection are answered in order, each after the pause (if any) ends.
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
        for (let value = decoder.next(); value !== undefined; value = decoder.next()) {
          const args = value;
          queue = queue.then(async () => {
            if (this.paused) await new Promise<void>((resolve) => this.waiting.push(resolve));
            if (socket.destroyed) return;
            if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
              socket.write(encodeReply(new RespError('ERR Protocol error: expected an array of bulk strings')));
              return;
            }
            const command = args as string[];
            if ((command[0] ?? '').toUpperCase() === 'AUTH') {
              authenticated = command[command.length - 1] === this.password;
              socket.write(authenticated ? encodeStatus('OK') : encodeReply(new RespError('WRONGPASS invalid username-password pair or user is disabled.')));
              return;
            }
            socket.write(authenticated ? this.run(command) : encodeReply(new RespError('NOAUTH Authentication required.')));
          });
        }
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private run(command: readonly string[]): Buffer {
    const name = (command[0] ?? '').toUpperCase();
    switch (name) {
      case 'PING':
        return encodeStatus('PONG');
      case 'FLUSHALL':
      case 'FLUSHDB':
        this.data.clear();
        return encodeStatus('OK');
      case 'CONFIG':
        return encodeStatus('OK');
      case 'HMGET': {
        const held = this.data.get(command[1] ?? '');
        return encodeReply(command.slice(2).map((field): RespValue => (held === undefined ? null : field === 'ts' ? held.ts : field === 'writer' ? held.writer : field === 'value' ? held.value : null)));
      }
      case 'EVAL': {
        if (command[1] !== WRITE_SCRIPT || command[2] !== '1' || command.length !== 7) {
          return encodeReply(new RespError('ERR the in-process replica runs only the Quorum lab\'s write script'));
        }
        const [key, ts, writer, value] = command.slice(3) as [string, string, string, string];
        const held = this.data.get(key);
        if (held !== undefined && !isNewer({ ts: Number(ts), writer }, { ts: Number(held.ts), writer: held.writer })) {
          return encodeReply(0);
        }
        this.data.set(key, { ts, writer, value });
        return encodeReply(1);
      }
      default:
        return encodeReply(new RespError(`ERR unknown command '${name}' (the in-process replica knows AUTH, PING, HMGET, EVAL, FLUSHALL)`));
    }
  }
}
