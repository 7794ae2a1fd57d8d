/**
 * A Memcached stand-in in this process, for graders that run without Docker: a server on
 * 127.0.0.1 that speaks Memcached's text protocol — get, gets, set, add, replace, cas,
 * delete, touch, incr, decr, flush_all, version, stats, quit — with expiries in seconds
 * (0 for none, up to 30 days relative, beyond that a Unix time, negative for already
 * expired) and a CAS unique that changes on every store. It is not Memcached: no memory
 * limit and so no eviction, no binary or meta protocol, no SASL; an unknown command is
 * answered ERROR, as Memcached does.
 */
import * as net from 'node:net';

interface Item {
  readonly value: Buffer;
  readonly flags: number;
  /** When it expires, in ms since the epoch; undefined for never. */
  expiresAt: number | undefined;
  cas: number;
}

const THIRTY_DAYS = 30 * 24 * 3600;
const KEY = /^[\x21-\x7e]{1,250}$/;

export class InProcessMemcached {
  private readonly items = new Map<string, Item>();
  private readonly sockets = new Set<net.Socket>();
  private nextCas = 1;

  private constructor(
    private readonly server: net.Server,
    readonly name: string,
    private readonly now: () => number,
  ) {}

  /** `now` is the server's clock for expiries (the machine's by default). */
  static async start(name: string, now: () => number = Date.now): Promise<InProcessMemcached> {
    const server = net.createServer();
    const memcached = new InProcessMemcached(server, name, now);
    server.on('connection', (socket) => memcached.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return memcached;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private expiry(exptime: number): number | undefined {
    if (exptime === 0) return undefined;
    if (exptime < 0) return this.now() - 1;
    return exptime > THIRTY_DAYS ? exptime * 1000 : this.now() + exptime * 1000;
  }

  private live(key: string): Item | undefined {
    const item = this.items.get(key);
    if (item !== undefined && item.expiresAt !== undefined && item.expiresAt <= this.now()) {
      this.items.delete(key);
      return undefined;
    }
    return item;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n');
        if (end < 0) return;
        const line = buffer.subarray(0, end).toString('utf8');
        const parts = line.split(' ').filter((p) => p !== '');
        const verb = (parts[0] ?? '').toLowerCase();
        if (['set', 'add', 'replace', 'cas'].includes(verb)) {
          const bytes = Number(parts[4]);
          if (!Number.isInteger(bytes) || bytes < 0) {
            buffer = buffer.subarray(end + 2);
            socket.write('CLIENT_ERROR bad command line format\r\n');
            continue;
          }
          if (buffer.length < end + 2 + bytes + 2) return;
          const data = buffer.subarray(end + 2, end + 2 + bytes);
          const terminated = buffer.subarray(end + 2 + bytes, end + 2 + bytes + 2).toString('latin1') === '\r\n';
          buffer = buffer.subarray(end + 2 + bytes + 2);
          const answer = terminated ? this.store(verb, parts, Buffer.from(data)) : 'CLIENT_ERROR bad data chunk';
          if (parts[parts.length - 1] !== 'noreply') socket.write(`${answer}\r\n`);
          continue;
        }
        buffer = buffer.subarray(end + 2);
        if (verb === 'quit') {
          socket.end();
          return;
        }
        const answer = this.command(verb, parts.slice(1));
        if (parts[parts.length - 1] !== 'noreply') socket.write(answer);
      }
    });
  }

  private store(verb: string, parts: readonly string[], data: Buffer): string {
    const [, key = '', flagsText = '', exptimeText = ''] = parts;
    const flags = Number(flagsText);
    const exptime = Number(exptimeText);
    if (!KEY.test(key) || !Number.isInteger(flags) || !Number.isInteger(exptime)) return 'CLIENT_ERROR bad command line format';
    const held = this.live(key);
    if (verb === 'add' && held !== undefined) return 'NOT_STORED';
    if (verb === 'replace' && held === undefined) return 'NOT_STORED';
    if (verb === 'cas') {
      const unique = parts[5];
      if (unique === undefined || !/^\d+$/.test(unique)) return 'CLIENT_ERROR bad command line format';
      if (held === undefined) return 'NOT_FOUND';
      if (String(held.cas) !== unique) return 'EXISTS';
    }
    this.items.set(key, { value: data, flags, expiresAt: this.expiry(exptime), cas: this.nextCas++ });
    return 'STORED';
  }

  private command(verb: string, args: readonly string[]): string | Buffer {
    switch (verb) {
      case 'get':
      case 'gets': {
        if (args.length === 0) return 'ERROR\r\n';
        const out: Buffer[] = [];
        for (const key of args) {
          const item = this.live(key);
          if (item === undefined) continue;
          out.push(Buffer.from(`VALUE ${key} ${item.flags} ${item.value.length}${verb === 'gets' ? ` ${item.cas}` : ''}\r\n`), item.value, Buffer.from('\r\n'));
        }
        return Buffer.concat([...out, Buffer.from('END\r\n')]);
      }
      case 'delete': {
        const key = args[0];
        if (key === undefined) return 'ERROR\r\n';
        return this.live(key) !== undefined && this.items.delete(key) ? 'DELETED\r\n' : 'NOT_FOUND\r\n';
      }
      case 'touch': {
        const [key, exptimeText] = args;
        const exptime = Number(exptimeText);
        if (key === undefined || !Number.isInteger(exptime)) return 'ERROR\r\n';
        const item = this.live(key);
        if (item === undefined) return 'NOT_FOUND\r\n';
        item.expiresAt = this.expiry(exptime);
        return 'TOUCHED\r\n';
      }
      case 'incr':
      case 'decr': {
        const [key, byText] = args;
        if (key === undefined || byText === undefined || !/^\d+$/.test(byText)) return 'CLIENT_ERROR invalid numeric delta argument\r\n';
        const item = this.live(key);
        if (item === undefined) return 'NOT_FOUND\r\n';
        const text = item.value.toString('latin1');
        if (!/^\d+$/.test(text)) return 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n';
        const held = BigInt(text);
        const by = BigInt(byText);
        const next = verb === 'incr' ? (held + by) % 2n ** 64n : held > by ? held - by : 0n;
        this.items.set(key, { ...item, value: Buffer.from(String(next)), cas: this.nextCas++ });
        return `${next}\r\n`;
      }
      case 'flush_all':
        this.items.clear();
        return 'OK\r\n';
      case 'version':
        return 'VERSION 1.6.18 (in-process stand-in)\r\n';
      case 'stats':
        return `STAT curr_items ${[...this.items.keys()].filter((k) => this.live(k) !== undefined).length}\r\nSTAT limit_maxbytes 0\r\nEND\r\n`;
      default:
        return 'ERROR\r\n';
    }
  }
}
