/**
 * A small client of Memcached's text protocol: get, gets, set, add, cas, delete, touch,
 * incr, flush_all and stats, each on a connection of a pool that carries one request at a
 * time (so a late answer can never be taken for the next request's). A request that gets
 * no complete answer within its time limit rejects and its connection is dropped.
 *
 * Keys are 1–250 bytes without spaces or control characters, as the protocol requires;
 * values are UTF-8 text. The expiry is memcached's `exptime`: seconds from now (up to 30
 * days), 0 for none.
 */
import * as net from 'node:net';

export interface MemcacheAddress {
  readonly host: string;
  readonly port: number;
}

/** A value with its CAS unique, as `gets` answers it. */
export interface MemcacheItem {
  readonly value: string;
  readonly cas: string;
}

/** What `cas` answers: stored, someone changed the item since your `gets`, or it is gone. */
export type CasResult = 'stored' | 'exists' | 'not-found';

/** The server answered a request with an error (ERROR, CLIENT_ERROR, SERVER_ERROR). */
export class MemcacheError extends Error {
  override readonly name = 'MemcacheError';
}

/** No answer in time, or the connection failed: the request may or may not have taken effect. */
export class MemcacheUnavailableError extends Error {
  override readonly name = 'MemcacheUnavailableError';
}

/** One parsed answer: the lines up to the terminating one, and the data blocks of VALUE lines. */
interface Answer {
  readonly lines: string[];
  readonly values: { key: string; flags: number; cas?: string; data: Buffer }[];
}

const KEY = /^[\x21-\x7e]{1,250}$/;

export function checkMemcacheKey(key: string): void {
  if (!KEY.test(key) || Buffer.byteLength(key) > 250) {
    throw new MemcacheError(`"${key}" is not a valid memcached key (1–250 characters, no spaces or control characters)`);
  }
}

function checkExpiry(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 30 * 24 * 3600) {
    throw new MemcacheError(`an expiry of ${seconds} is not a whole number of seconds from 0 to 2592000 (30 days)`);
  }
}

/**
 * Reads one complete answer from the start of `buffer`, or undefined if more is needed.
 * `multi`: a retrieval answer (VALUE blocks until END) or a stats answer (STAT lines until END).
 */
export function parseAnswer(buffer: Buffer, multi: boolean): { answer: Answer; used: number } | undefined {
  const lines: string[] = [];
  const values: Answer['values'] = [];
  let at = 0;
  for (;;) {
    const end = buffer.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const line = buffer.subarray(at, end).toString('utf8');
    at = end + 2;
    if (line === 'ERROR' || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR')) {
      return { answer: { lines: [line], values: [] }, used: at };
    }
    if (!multi) return { answer: { lines: [line], values }, used: at };
    if (line === 'END') return { answer: { lines, values }, used: at };
    if (line.startsWith('VALUE ')) {
      const [, key = '', flags = '0', bytes = '0', cas] = line.split(' ');
      const size = Number(bytes);
      if (buffer.length < at + size + 2) return undefined;
      values.push({ key, flags: Number(flags), ...(cas !== undefined ? { cas } : {}), data: buffer.subarray(at, at + size) });
      at += size + 2;
    } else {
      lines.push(line);
    }
  }
}

class Connection {
  private buffer = Buffer.alloc(0);
  private pending: { multi: boolean; resolve: (a: Answer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  ended = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly name: string,
    private readonly onEnd: (c: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.deliver();
    });
    socket.on('error', (error) => this.end(`${this.name}: ${error.message}`));
    socket.on('close', () => this.end(`${this.name}: the connection was closed`));
  }

  send(request: Buffer, multi: boolean, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(new MemcacheUnavailableError(`${this.name}: the connection was closed`));
        return;
      }
      const timer = setTimeout(() => this.end(`${this.name}: no answer within ${timeoutMs} ms`), timeoutMs);
      this.pending = { multi, resolve, reject, timer };
      this.socket.write(request);
    });
  }

  private deliver(): void {
    const waiting = this.pending;
    if (waiting === undefined) return;
    const parsed = parseAnswer(this.buffer, waiting.multi);
    if (parsed === undefined) return;
    this.buffer = this.buffer.subarray(parsed.used);
    this.pending = undefined;
    clearTimeout(waiting.timer);
    waiting.resolve(parsed.answer);
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.destroy();
    this.onEnd(this);
    const waiting = this.pending;
    this.pending = undefined;
    if (waiting !== undefined) {
      clearTimeout(waiting.timer);
      waiting.reject(new MemcacheUnavailableError(reason));
    }
  }
}

export class MemcacheClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private closed = false;

  constructor(
    private readonly address: MemcacheAddress,
    /** How long each request may wait for its answer. */
    private readonly timeoutMs: number,
    /** A name for messages (`memcached`). */
    private readonly name: string,
  ) {}

  async get(key: string): Promise<string | null> {
    checkMemcacheKey(key);
    const answer = await this.request(`get ${key}\r\n`, true);
    const found = answer.values.find((v) => v.key === key);
    return found === undefined ? null : found.data.toString('utf8');
  }

  async gets(key: string): Promise<MemcacheItem | null> {
    checkMemcacheKey(key);
    const answer = await this.request(`gets ${key}\r\n`, true);
    const found = answer.values.find((v) => v.key === key);
    return found === undefined ? null : { value: found.data.toString('utf8'), cas: found.cas ?? '' };
  }

  /** Stores the value whatever is there. */
  async set(key: string, value: string, expirySeconds: number): Promise<void> {
    const line = await this.store('set', key, value, expirySeconds);
    if (line !== 'STORED') throw new MemcacheError(`${this.name}: set answered ${line}`);
  }

  /** Stores the value only if the key holds nothing; true if it did. */
  async add(key: string, value: string, expirySeconds: number): Promise<boolean> {
    const line = await this.store('add', key, value, expirySeconds);
    if (line === 'STORED') return true;
    if (line === 'NOT_STORED') return false;
    throw new MemcacheError(`${this.name}: add answered ${line}`);
  }

  /** Stores the value only if the item is unchanged since the `gets` that gave `cas`. */
  async cas(key: string, value: string, expirySeconds: number, cas: string): Promise<CasResult> {
    if (!/^\d+$/.test(cas)) throw new MemcacheError(`"${cas}" is not a CAS unique (gets gives one)`);
    const line = await this.store('cas', key, value, expirySeconds, cas);
    if (line === 'STORED') return 'stored';
    if (line === 'EXISTS') return 'exists';
    if (line === 'NOT_FOUND') return 'not-found';
    throw new MemcacheError(`${this.name}: cas answered ${line}`);
  }

  /** True if there was an item to delete. */
  async delete(key: string): Promise<boolean> {
    checkMemcacheKey(key);
    const [line = ''] = (await this.request(`delete ${key}\r\n`, false)).lines;
    if (line === 'DELETED') return true;
    if (line === 'NOT_FOUND') return false;
    throw new MemcacheError(`${this.name}: delete answered ${line}`);
  }

  /** Gives an item a new expiry; true if there was one. */
  async touch(key: string, expirySeconds: number): Promise<boolean> {
    checkMemcacheKey(key);
    checkExpiry(expirySeconds);
    const [line = ''] = (await this.request(`touch ${key} ${expirySeconds}\r\n`, false)).lines;
    if (line === 'TOUCHED') return true;
    if (line === 'NOT_FOUND') return false;
    throw new MemcacheError(`${this.name}: touch answered ${line}`);
  }

  /** Adds to a number stored as decimal text; null if there is no item. */
  async incr(key: string, by = 1): Promise<number | null> {
    checkMemcacheKey(key);
    const [line = ''] = (await this.request(`incr ${key} ${by}\r\n`, false)).lines;
    if (line === 'NOT_FOUND') return null;
    if (/^\d+$/.test(line)) return Number(line);
    throw new MemcacheError(`${this.name}: incr answered ${line}`);
  }

  /** The server's answer to `version` (`VERSION 1.6.18`), whatever it is. */
  async version(): Promise<string> {
    return (await this.request('version\r\n', false)).lines[0] ?? '';
  }

  async flushAll(): Promise<void> {
    const [line = ''] = (await this.request('flush_all\r\n', false)).lines;
    if (line !== 'OK') throw new MemcacheError(`${this.name}: flush_all answered ${line}`);
  }

  async stats(): Promise<Record<string, string>> {
    const answer = await this.request('stats\r\n', true);
    return Object.fromEntries(answer.lines.filter((l) => l.startsWith('STAT ')).map((l) => {
      const [, name = '', ...rest] = l.split(' ');
      return [name, rest.join(' ')];
    }));
  }

  /** Closes every connection; requests still waiting are failed. */
  close(): void {
    this.closed = true;
    for (const c of [...this.all]) c.end(`${this.name}: the client was closed`);
  }

  private async store(verb: 'set' | 'add' | 'cas', key: string, value: string, expirySeconds: number, cas?: string): Promise<string> {
    checkMemcacheKey(key);
    checkExpiry(expirySeconds);
    const data = Buffer.from(value, 'utf8');
    const head = `${verb} ${key} 0 ${expirySeconds} ${data.length}${cas !== undefined ? ` ${cas}` : ''}\r\n`;
    const [line = ''] = (await this.request(Buffer.concat([Buffer.from(head), data, Buffer.from('\r\n')]), false)).lines;
    return line;
  }

  private async request(request: string | Buffer, multi: boolean): Promise<Answer> {
    if (this.closed) throw new MemcacheUnavailableError(`${this.name}: the client is closed`);
    const connection = this.idle.pop() ?? this.connect();
    const answer = await connection.send(typeof request === 'string' ? Buffer.from(request) : request, multi, this.timeoutMs);
    if (!this.closed && !connection.ended) this.idle.push(connection);
    const [first] = answer.lines;
    if (first !== undefined && (first === 'ERROR' || first.startsWith('CLIENT_ERROR') || first.startsWith('SERVER_ERROR'))) {
      throw new MemcacheError(`${this.name}: ${first}`);
    }
    return answer;
  }

  private connect(): Connection {
    const socket = net.createConnection({ host: this.address.host, port: this.address.port });
    const connection = new Connection(socket, this.name, (ended) => {
      this.all.delete(ended);
      const at = this.idle.indexOf(ended);
      if (at >= 0) this.idle.splice(at, 1);
    });
    this.all.add(connection);
    return connection;
  }
}
