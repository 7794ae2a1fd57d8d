/**
 * A RESP server in this process, on 127.0.0.1, for the stand-ins that graders run without
 * Docker (a lab's replica, a Redis): it accepts connections, decodes commands and answers
 * each connection's commands in order through the handler its subclass makes per
 * connection. It also has the container faults' in-process equivalents:
 *
 * - pause: it stops reading commands (a frozen process: connections stay open, nothing
 *   answers) until resumed, then answers what waited;
 * - kill: every connection is reset and new ones are refused; the data (the subclass's)
 *   stays, as a Redis with `appendfsync always` keeps what it acknowledged;
 * - restart: it listens again on the same port.
 */
import * as net from 'node:net';
import { RespDecoder, RespError, encodeReply } from './resp';

/** Answers one connection's commands, each an array of strings, one at a time. */
export type CommandHandler = (command: string[]) => Buffer;

export abstract class InProcessRespServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private paused = false;
  private latencyMs = 0;
  private readonly waiting: (() => void)[] = [];
  private portNumber = 0;

  protected constructor(
    readonly name: string,
    readonly password: string,
  ) {}

  /** The handler of a new connection (its own state: authentication, database, transaction). */
  protected abstract connection(): CommandHandler;

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

  /** Every command from now waits `ms` before it runs, as over a slow network (0: none). */
  setLatency(ms: number): void {
    this.latencyMs = ms;
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
   * process exits can leave Node spinning in its exit clean-up.
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
    if (this.server === undefined) await this.listen(this.portNumber);
  }

  protected listen(port: number): Promise<void> {
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
    const handle = this.connection();
    // Commands of one connection are answered in order, each after the pause (if any) ends.
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
        for (let value = decoder.next(); value !== undefined; value = decoder.next()) {
          const args = value;
          queue = queue.then(async () => {
            if (this.paused) await new Promise<void>((resolve) => this.waiting.push(resolve));
            if (this.latencyMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, this.latencyMs));
            if (socket.destroyed) return;
            if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string')) {
              socket.write(encodeReply(new RespError('ERR Protocol error: expected an array of bulk strings')));
              return;
            }
            socket.write(handle(args as string[]));
          });
        }
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
