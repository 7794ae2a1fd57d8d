/**
 * The tests' stores: the lab's three Redis servers, one per region, whose addresses the
 * extension writes to .env when it starts the lab's databases (REDIS_URL, REDIS_2_URL,
 * REDIS_3_URL). Each test empties database 1 of each and works there (the grader uses
 * another). Without .env the tests that need the servers are skipped, saying why.
 *
 * A small Redis client is here so that the lab needs no Redis library: `Store` and
 * `Session` as src/types.ts describes them. You do not need to change this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Reply, type Session, type Store, StoreError } from '../src/types';

const DATABASE = 1;
const TIMEOUT_MS = 2_000;

function readEnv(): Record<string, string> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '.env');
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1] as string] = match[2] as string;
  }
  return env;
}

const env = readEnv();
/** The servers' URLs, one per region, or none when the lab's databases are not running. */
export const SERVER_URLS = ['REDIS_URL', 'REDIS_2_URL', 'REDIS_3_URL'].map((name) => env[name]).filter((u): u is string => u !== undefined);
/** Why the tests that need the servers are skipped, or undefined when they run. */
export const NO_SERVERS =
  SERVER_URLS.length === 3 ? undefined : "the lab's three Redis servers are not running (no .env with REDIS_URL, REDIS_2_URL and REDIS_3_URL): start the lab's databases, which needs Docker";

/** Reads one RESP reply from `buffer` at `at`; returns it and where it ends, or undefined if incomplete. */
function parse(buffer: Buffer, at: number): { value: Reply | StoreError; end: number } | undefined {
  const line = buffer.indexOf('\r\n', at);
  if (line < 0) return undefined;
  const kind = String.fromCharCode(buffer[at] as number);
  const text = buffer.toString('utf8', at + 1, line);
  switch (kind) {
    case '+':
      return { value: text, end: line + 2 };
    case '-':
      return { value: new StoreError(text), end: line + 2 };
    case ':':
      return { value: Number(text), end: line + 2 };
    case '$': {
      const length = Number(text);
      if (length < 0) return { value: null, end: line + 2 };
      if (buffer.length < line + 2 + length + 2) return undefined;
      return { value: buffer.toString('utf8', line + 2, line + 2 + length), end: line + 2 + length + 2 };
    }
    case '*': {
      const count = Number(text);
      if (count < 0) return { value: null, end: line + 2 };
      const items: Reply[] = [];
      let end = line + 2;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, end);
        if (item === undefined) return undefined;
        if (item.value instanceof StoreError) throw item.value;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new StoreError(`Not a RESP reply: ${JSON.stringify(text)}`);
  }
}

/** One connection, one command at a time. */
class Connection {
  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(url: string) {
    const u = new URL(url);
    this.socket = net.createConnection({ host: u.hostname, port: Number(u.port) });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(new StoreError(error.message)));
    this.socket.on('close', () => this.fail(new StoreError('the connection closed')));
    const password = decodeURIComponent(u.password);
    if (password !== '') void this.command(['AUTH', password]).catch(() => undefined);
    void this.command(['SELECT', String(DATABASE)]).catch(() => undefined);
  }

  command(args: readonly (string | number)[]): Promise<Reply> {
    const run = this.queue.then(
      () =>
        new Promise<Reply>((resolve, reject) => {
          const timer = setTimeout(() => reject(new StoreError(`no answer to ${String(args[0])} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
          this.waiting.push({ resolve: (r) => (clearTimeout(timer), resolve(r)), reject: (e) => (clearTimeout(timer), reject(e)) });
          const parts = args.map(String);
          this.socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
        }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      let parsed: ReturnType<typeof parse>;
      try {
        parsed = parse(this.buffer, 0);
      } catch (error) {
        parsed = { value: error as StoreError, end: this.buffer.length };
      }
      if (parsed === undefined) return;
      this.buffer = this.buffer.subarray(parsed.end);
      const waiter = this.waiting.shift();
      if (parsed.value instanceof StoreError) waiter?.reject(parsed.value);
      else waiter?.resolve(parsed.value);
    }
  }

  private fail(error: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A region's store on one of the servers; `close()` ends its connections. */
export function openStore(url: string): Store & { close(): void } {
  const connections: Connection[] = [];
  const connect = (): Connection => {
    const c = new Connection(url);
    connections.push(c);
    return c;
  };
  // Commands of different operations interleave on a pool, as on the grader's stores.
  const pool = [connect(), connect(), connect(), connect()];
  let next = 0;
  const shared = (args: readonly (string | number)[]): Promise<Reply> => (pool[next++ % pool.length] as Connection).command(args);
  return {
    command: (...args) => shared(args),
    eval: (script, keys, args) => shared(['EVAL', script, keys.length, ...keys, ...args]),
    session(): Session {
      const own = connect();
      return { command: (...args) => own.command(args), close: () => own.close() };
    },
    close: () => {
      for (const c of connections) c.close();
    },
  };
}
