/**
 * Redis's wire protocol (RESP 2): an encoder, an incremental decoder, and a small client.
 * The lab services' readiness check encodes its AUTH and PING with it; the Quorum lab's
 * adapter uses the client in the learner's process (dist/sandbox/adapters/quorum.cjs, so this file
 * imports nothing but Node), the grader reads the replicas directly with it, and the
 * in-process replicas that stand in for Redis without Docker decode commands with it.
 *
 * The client is built for faults: a connection carries one command at a time, every
 * command has a time limit, and a command that misses it ends its connection, so a reply
 * that comes late (or was lost in a partition) is never taken for a later command's.
 */
import * as net from 'node:net';

export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply (`-ERR ...`). */
export class RespError {
  constructor(readonly message: string) {}
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Encodes a reply, as a server sends it. */
export function encodeReply(value: RespValue): Buffer {
  if (value === null) return Buffer.from('$-1\r\n');
  if (value instanceof RespError) return Buffer.from(`-${value.message.replace(/\r?\n/g, ' ')}\r\n`);
  if (typeof value === 'number') return Buffer.from(`:${Math.trunc(value)}\r\n`);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);
  }
  return Buffer.concat([Buffer.from(`*${value.length}\r\n`), ...value.map(encodeReply)]);
}

/** The simple `+OK`-style status reply. */
export function encodeStatus(text: string): Buffer {
  return Buffer.from(`+${text}\r\n`);
}

/** Thrown by the decoder for bytes that are not RESP. */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
}

/**
 * Decodes values from a byte stream as they complete: `push` the bytes received, then
 * `next()` until it returns undefined (the next value is not complete yet).
 */
export class RespDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;

  push(chunk: Buffer): void {
    this.buffer = this.offset < this.buffer.length ? Buffer.concat([this.buffer.subarray(this.offset), chunk]) : chunk;
    this.offset = 0;
  }

  /** The next complete value, or undefined. Status replies come back as strings. */
  next(): RespValue | undefined {
    const parsed = this.parse(this.offset);
    if (parsed === undefined) return undefined;
    this.offset = parsed.end;
    return parsed.value;
  }

  private line(from: number): { text: string; end: number } | undefined {
    const at = this.buffer.indexOf('\r\n', from);
    return at < 0 ? undefined : { text: this.buffer.toString('utf8', from, at), end: at + 2 };
  }

  private parse(from: number): { value: RespValue; end: number } | undefined {
    if (from >= this.buffer.length) return undefined;
    const kind = String.fromCharCode(this.buffer[from] as number);
    const head = this.line(from + 1);
    if (head === undefined) return undefined;
    switch (kind) {
      case '+':
        return { value: head.text, end: head.end };
      case '-':
        return { value: new RespError(head.text), end: head.end };
      case ':':
        return { value: Number(head.text), end: head.end };
      case '$': {
        const length = Number(head.text);
        if (length < 0) return { value: null, end: head.end };
        if (head.end + length + 2 > this.buffer.length) return undefined;
        return { value: this.buffer.toString('utf8', head.end, head.end + length), end: head.end + length + 2 };
      }
      case '*': {
        const count = Number(head.text);
        if (count < 0) return { value: null, end: head.end };
        const items: RespValue[] = [];
        let end = head.end;
        for (let i = 0; i < count; i++) {
          const item = this.parse(end);
          if (item === undefined) return undefined;
          items.push(item.value);
          end = item.end;
        }
        return { value: items, end };
      }
      default:
        throw new RespProtocolError(`not a RESP reply: it starts with ${JSON.stringify(kind)}`);
    }
  }
}

export interface RespAddress {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  /** The numbered database every connection selects (SELECT) before its first command; 0 if absent. */
  readonly database?: number;
}

/** Why a command got no reply; the message names the server. */
export class RespUnavailableError extends Error {
  override readonly name = 'RespUnavailableError';
}

/** One connection with at most one command on it at a time. */
class Connection {
  private readonly decoder = new RespDecoder();
  private waiting: { resolve: (value: RespValue) => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout>; replies: number } | undefined;
  /** The first error among the prelude's replies, if any, with the command it answered. */
  private preludeError: { readonly command: string; readonly error: RespError } | undefined;
  /** The names of the prelude's commands still to be answered, in order. */
  private preludeNames: string[] = [];
  private dead = false;

  constructor(
    readonly socket: net.Socket,
    private readonly name: string,
    private readonly onEnd: (connection: Connection) => void,
    /** Commands sent with the first command (AUTH, SELECT), whose replies are read before its own. */
    private prelude: readonly (readonly string[])[],
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.end(`${this.name}: ${error.message}`));
    socket.on('close', () => this.end(`${this.name} closed the connection`));
  }

  send(args: readonly string[], timeoutMs: number): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.end(`${this.name} did not answer within ${timeoutMs} ms`), timeoutMs);
      const prelude = this.prelude;
      this.prelude = [];
      this.preludeNames = prelude.map((command) => command[0] ?? '');
      this.waiting = { resolve, reject, timer, replies: prelude.length + 1 };
      this.socket.write(Buffer.concat([...prelude.map((command) => encodeCommand(command)), encodeCommand(args)]));
    });
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
      for (let value = this.decoder.next(); value !== undefined; value = this.decoder.next()) {
        const waiting = this.waiting;
        if (waiting === undefined) {
          // A reply nobody asked for: the stream is out of step; never hand it to a later command.
          this.end(`${this.name} sent a reply no command was waiting for`);
          return;
        }
        if (waiting.replies > 1) {
          waiting.replies -= 1;
          const command = this.preludeNames.shift() ?? '';
          if (value instanceof RespError && this.preludeError === undefined) this.preludeError = { command, error: value };
          continue;
        }
        this.waiting = undefined;
        clearTimeout(waiting.timer);
        if (this.preludeError !== undefined) {
          const { command, error } = this.preludeError;
          waiting.reject(new RespUnavailableError(command === 'AUTH' ? `${this.name} refused the password: ${error.message}` : `${this.name} refused ${command}: ${error.message}`));
          this.end(command === 'AUTH' ? 'the password was refused' : `${command} was refused`);
          return;
        }
        waiting.resolve(value);
      }
    } catch (error) {
      this.end(`${this.name} sent bytes that are not RESP (${(error as Error).message})`);
    }
  }

  /** Destroys the connection and fails the command on it, if any. */
  end(message: string): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new RespUnavailableError(message));
    }
    this.onEnd(this);
  }
}

/**
 * A client of one Redis (or the in-process stand-in) that sends each command on a
 * connection of its own at that moment: a connection carries one command at a time and
 * goes back to the idle list when its reply came. A command whose reply does not come in
 * time ends its connection, so a reply that was lost (a partition drops bytes) or comes
 * late can never be taken for the reply of a later command.
 */
export class RespClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private closed = false;

  constructor(
    private readonly address: RespAddress,
    /** How long each command may wait for its reply. */
    private readonly timeoutMs: number,
    /** A name for messages (`replica-2`). */
    private readonly name: string,
  ) {}

  /** Sends a command; resolves with its reply (an error reply included), rejects when none came in time. */
  async command(args: readonly string[]): Promise<RespValue> {
    if (this.closed) {
      throw new RespUnavailableError(`${this.name}: the client is closed`);
    }
    const connection = this.idle.pop() ?? this.connect();
    const reply = await connection.send(args, this.timeoutMs);
    if (!this.closed && this.all.has(connection)) {
      this.idle.push(connection);
    }
    return reply;
  }

  /** Closes every connection; commands still waiting are failed. */
  close(): void {
    this.closed = true;
    for (const connection of [...this.all]) connection.end(`${this.name}: the client was closed`);
  }

  private connect(): Connection {
    const socket = net.createConnection({ host: this.address.host, port: this.address.port });
    const connection = new Connection(
      socket,
      this.name,
      (ended) => {
        this.all.delete(ended);
        const at = this.idle.indexOf(ended);
        if (at >= 0) this.idle.splice(at, 1);
      },
      [...(this.address.password !== undefined ? [['AUTH', this.address.password]] : []), ...(this.address.database !== undefined && this.address.database !== 0 ? [['SELECT', String(this.address.database)]] : [])],
    );
    this.all.add(connection);
    return connection;
  }
}
