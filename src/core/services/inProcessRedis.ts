/**
 * A Redis stand-in in this process, for graders that run without Docker: a server on
 * 127.0.0.1 that speaks RESP and keeps strings, hashes, sets and lists in numbered
 * databases, with the commands labs use on them, WATCH / MULTI / EXEC, and Lua scripts
 * (EVAL, EVALSHA, SCRIPT LOAD; redisLua.ts). Commands are run one at a time, a script or
 * a transaction with nothing in between, as in Redis. It is not Redis: no expiry, no
 * persistence settings (it keeps everything, as a Redis with `appendfsync always` keeps
 * what it acknowledged), no pub/sub, no cluster; an unknown command is refused by name.
 *
 * Its server and its faults (pause, kill, restart) are respServer.ts's.
 */
import { LuaScripts, RespStatus, type CommandResult } from './redisLua';
import { RespError, encodeReply, encodeStatus } from './resp';
import { type CommandHandler, InProcessRespServer } from './respServer';

type Entry = { type: 'string'; value: string } | { type: 'hash'; value: Map<string, string> } | { type: 'set'; value: Set<string> } | { type: 'list'; value: string[] };

const WRONGTYPE = new RespError('WRONGTYPE Operation against a key holding the wrong kind of value');
const NOT_INTEGER = new RespError('ERR value is not an integer or out of range');
const OK = new RespStatus('OK');
const arity = (name: string): RespError => new RespError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);

const KNOWN =
  'PING ECHO SELECT FLUSHDB FLUSHALL CONFIG DBSIZE DEL EXISTS TYPE KEYS GET SET SETNX MGET MSET INCR INCRBY DECR DECRBY HGET HSET HSETNX HMSET HMGET HGETALL HKEYS HVALS HDEL HEXISTS HLEN HINCRBY SADD SREM SMEMBERS SISMEMBER SCARD LPUSH RPUSH LPOP RPOP LRANGE LLEN EVAL EVALSHA SCRIPT WATCH UNWATCH MULTI EXEC DISCARD';

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,18}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function glob(pattern: string): RegExp {
  let out = '';
  for (const ch of pattern) out += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${out}$`, 's');
}

/** Per connection: its database, its transaction, the keys it watches. */
interface Session {
  db: number;
  authenticated: boolean;
  queued: string[][] | undefined;
  queueError: boolean;
  watched: Map<string, number>;
}

/** The data of every database, and the commands on it (scripts run them too). */
class RedisData {
  private readonly dbs = new Map<number, Map<string, Entry>>();
  /** Each key's version (db:key), bumped on every change: what WATCH compares. */
  private readonly versions = new Map<string, number>();
  private clock = 0;
  readonly scripts = new LuaScripts();

  private db(n: number): Map<string, Entry> {
    let db = this.dbs.get(n);
    if (db === undefined) {
      db = new Map();
      this.dbs.set(n, db);
    }
    return db;
  }

  version(db: number, key: string): number {
    return this.versions.get(`${db}:${key}`) ?? 0;
  }

  private touch(db: number, key: string): void {
    this.versions.set(`${db}:${key}`, ++this.clock);
  }

  private typed<T extends Entry['type']>(db: number, key: string, type: T): Extract<Entry, { type: T }> | undefined | RespError {
    const entry = this.db(db).get(key);
    if (entry === undefined) return undefined;
    return entry.type === type ? (entry as Extract<Entry, { type: T }>) : WRONGTYPE;
  }

  /** The entry of `type` at key, made if missing. */
  private make<T extends Entry['type']>(db: number, key: string, type: T): Extract<Entry, { type: T }> | RespError {
    const found = this.typed(db, key, type);
    if (found !== undefined) return found;
    const made = (type === 'string' ? { type, value: '' } : type === 'hash' ? { type, value: new Map() } : type === 'set' ? { type, value: new Set() } : { type, value: [] }) as Extract<Entry, { type: T }>;
    this.db(db).set(key, made);
    return made;
  }

  /** A key whose container lost members: its version bumped, and dropped if now empty. */
  private changed(db: number, key: string): void {
    this.touch(db, key);
    this.tidy(db, key);
  }

  /** Drops a container that became empty, as Redis does. */
  private tidy(db: number, key: string): void {
    const entry = this.db(db).get(key);
    if (entry === undefined || entry.type === 'string') return;
    const size = entry.type === 'list' ? entry.value.length : entry.value.size;
    if (size === 0) this.db(db).delete(key);
  }

  flush(db: number | undefined): void {
    for (const [n, data] of this.dbs) {
      if (db !== undefined && n !== db) continue;
      for (const key of data.keys()) this.touch(n, key);
      data.clear();
    }
  }

  private incrBy(db: number, key: string, by: number | undefined): CommandResult {
    if (by === undefined) return NOT_INTEGER;
    const entry = this.typed(db, key, 'string');
    if (entry instanceof RespError) return entry;
    const held = entry === undefined ? 0 : integer(entry.value);
    if (held === undefined) return NOT_INTEGER;
    const next = held + by;
    this.db(db).set(key, { type: 'string', value: String(next) });
    this.touch(db, key);
    return next;
  }

  /** Runs one data command (no connection state) in database `db`. */
  run(db: number, args: readonly string[], inScript = false): CommandResult {
    const name = (args[0] ?? '').toUpperCase();
    const a = args.slice(1);
    const data = this.db(db);
    const key = a[0] ?? '';
    const need = (min: number): RespError | undefined => (a.length < min ? arity(name) : undefined);
    switch (name) {
      case 'PING':
        return a.length > 0 ? (a[0] as string) : new RespStatus('PONG');
      case 'ECHO':
        return need(1) ?? key;
      case 'DBSIZE':
        return data.size;
      case 'DEL': {
        let n = 0;
        for (const k of a) {
          if (data.delete(k)) {
            n++;
            this.touch(db, k);
          }
        }
        return need(1) ?? n;
      }
      case 'EXISTS':
        return need(1) ?? a.filter((k) => data.has(k)).length;
      case 'TYPE':
        return need(1) ?? new RespStatus(data.get(key)?.type ?? 'none');
      case 'KEYS': {
        if (need(1)) return arity(name);
        const re = glob(key);
        return [...data.keys()].filter((k) => re.test(k));
      }
      case 'GET': {
        const e = this.typed(db, key, 'string');
        return need(1) ?? (e instanceof RespError ? e : (e?.value ?? null));
      }
      case 'SET': {
        if (need(2)) return arity(name);
        const flags = a.slice(2).map((f) => f.toUpperCase());
        if (flags.some((f) => f !== 'NX' && f !== 'XX')) return new RespError(`ERR the in-process Redis stand-in knows SET key value [NX|XX] only (not ${a.slice(2).join(' ')})`);
        if (flags.includes('NX') && data.has(key)) return null;
        if (flags.includes('XX') && !data.has(key)) return null;
        data.set(key, { type: 'string', value: a[1] as string });
        this.touch(db, key);
        return OK;
      }
      case 'SETNX': {
        if (need(2)) return arity(name);
        if (data.has(key)) return 0;
        data.set(key, { type: 'string', value: a[1] as string });
        this.touch(db, key);
        return 1;
      }
      case 'MGET':
        return need(1) ?? a.map((k) => {
          const e = data.get(k);
          return e?.type === 'string' ? e.value : null;
        });
      case 'MSET': {
        if (a.length === 0 || a.length % 2 !== 0) return arity(name);
        for (let i = 0; i < a.length; i += 2) {
          data.set(a[i] as string, { type: 'string', value: a[i + 1] as string });
          this.touch(db, a[i] as string);
        }
        return OK;
      }
      case 'INCR':
        return need(1) ?? this.incrBy(db, key, 1);
      case 'DECR':
        return need(1) ?? this.incrBy(db, key, -1);
      case 'INCRBY':
        return need(2) ?? this.incrBy(db, key, integer(a[1]));
      case 'DECRBY': {
        const by = integer(a[1]);
        return need(2) ?? this.incrBy(db, key, by === undefined ? undefined : -by);
      }
      case 'HGET': {
        const e = this.typed(db, key, 'hash');
        return need(2) ?? (e instanceof RespError ? e : (e?.value.get(a[1] as string) ?? null));
      }
      case 'HSET':
      case 'HMSET': {
        if (a.length < 3 || (a.length - 1) % 2 !== 0) return arity(name);
        const e = this.make(db, key, 'hash');
        if (e instanceof RespError) return e;
        let added = 0;
        for (let i = 1; i < a.length; i += 2) {
          if (!e.value.has(a[i] as string)) added++;
          e.value.set(a[i] as string, a[i + 1] as string);
        }
        this.touch(db, key);
        return name === 'HMSET' ? OK : added;
      }
      case 'HSETNX': {
        if (need(3)) return arity(name);
        const e = this.make(db, key, 'hash');
        if (e instanceof RespError) return e;
        if (e.value.has(a[1] as string)) return 0;
        e.value.set(a[1] as string, a[2] as string);
        this.touch(db, key);
        return 1;
      }
      case 'HMGET': {
        const e = this.typed(db, key, 'hash');
        if (need(2)) return arity(name);
        return e instanceof RespError ? e : a.slice(1).map((f) => e?.value.get(f) ?? null);
      }
      case 'HGETALL':
      case 'HKEYS':
      case 'HVALS':
      case 'HLEN': {
        const e = this.typed(db, key, 'hash');
        if (need(1)) return arity(name);
        if (e instanceof RespError) return e;
        const entries = [...(e?.value ?? new Map<string, string>())];
        return name === 'HGETALL' ? entries.flat() : name === 'HKEYS' ? entries.map(([k]) => k) : name === 'HVALS' ? entries.map(([, v]) => v) : entries.length;
      }
      case 'HDEL': {
        const e = this.typed(db, key, 'hash');
        if (need(2)) return arity(name);
        if (e instanceof RespError) return e;
        let n = 0;
        for (const f of a.slice(1)) if (e?.value.delete(f)) n++;
        if (n > 0) this.changed(db, key);
        return n;
      }
      case 'HEXISTS': {
        const e = this.typed(db, key, 'hash');
        return need(2) ?? (e instanceof RespError ? e : e?.value.has(a[1] as string) ? 1 : 0);
      }
      case 'HINCRBY': {
        if (need(3)) return arity(name);
        const by = integer(a[2]);
        if (by === undefined) return NOT_INTEGER;
        const e = this.make(db, key, 'hash');
        if (e instanceof RespError) return e;
        const held = integer(e.value.get(a[1] as string) ?? '0');
        if (held === undefined) return new RespError('ERR hash value is not an integer');
        e.value.set(a[1] as string, String(held + by));
        this.touch(db, key);
        return held + by;
      }
      case 'SADD': {
        if (need(2)) return arity(name);
        const e = this.make(db, key, 'set');
        if (e instanceof RespError) return e;
        let n = 0;
        for (const m of a.slice(1)) {
          if (!e.value.has(m)) {
            e.value.add(m);
            n++;
          }
        }
        this.touch(db, key);
        return n;
      }
      case 'SREM': {
        const e = this.typed(db, key, 'set');
        if (need(2)) return arity(name);
        if (e instanceof RespError) return e;
        let n = 0;
        for (const m of a.slice(1)) if (e?.value.delete(m)) n++;
        if (n > 0) this.changed(db, key);
        return n;
      }
      case 'SMEMBERS':
      case 'SCARD': {
        const e = this.typed(db, key, 'set');
        if (need(1)) return arity(name);
        if (e instanceof RespError) return e;
        return name === 'SCARD' ? (e?.value.size ?? 0) : [...(e?.value ?? [])];
      }
      case 'SISMEMBER': {
        const e = this.typed(db, key, 'set');
        return need(2) ?? (e instanceof RespError ? e : e?.value.has(a[1] as string) ? 1 : 0);
      }
      case 'LPUSH':
      case 'RPUSH': {
        if (need(2)) return arity(name);
        const e = this.make(db, key, 'list');
        if (e instanceof RespError) return e;
        for (const v of a.slice(1)) if (name === 'LPUSH') e.value.unshift(v);
        else e.value.push(v);
        this.touch(db, key);
        return e.value.length;
      }
      case 'LPOP':
      case 'RPOP': {
        const e = this.typed(db, key, 'list');
        if (need(1)) return arity(name);
        if (e instanceof RespError) return e;
        if (e === undefined) return null;
        const v = name === 'LPOP' ? e.value.shift() : e.value.pop();
        this.touch(db, key);
        this.tidy(db, key);
        return v ?? null;
      }
      case 'LLEN': {
        const e = this.typed(db, key, 'list');
        return need(1) ?? (e instanceof RespError ? e : (e?.value.length ?? 0));
      }
      case 'LRANGE': {
        const e = this.typed(db, key, 'list');
        if (need(3)) return arity(name);
        if (e instanceof RespError) return e;
        const list = e?.value ?? [];
        let start = integer(a[1]);
        let stop = integer(a[2]);
        if (start === undefined || stop === undefined) return NOT_INTEGER;
        if (start < 0) start = Math.max(0, list.length + start);
        if (stop < 0) stop = list.length + stop;
        return list.slice(start, stop + 1);
      }
      case 'EVAL':
      case 'EVALSHA': {
        if (inScript) return new RespError('ERR This Redis command is not allowed from script');
        if (need(2)) return arity(name);
        const count = integer(a[1]);
        if (count === undefined || count < 0) return new RespError("ERR Number of keys can't be negative");
        if (count > a.length - 2) return new RespError("ERR Number of keys can't be greater than number of args");
        const sha = name === 'EVAL' ? this.scripts.load(key) : key.toLowerCase();
        if (sha instanceof RespError) return sha;
        return this.scripts.call(sha, a.slice(2, 2 + count), a.slice(2 + count), (inner) => {
          const innerName = (inner[0] ?? '').toUpperCase();
          if (['MULTI', 'EXEC', 'WATCH', 'SELECT', 'SCRIPT', 'EVAL', 'EVALSHA', 'FLUSHALL', 'FLUSHDB'].includes(innerName)) return new RespError('ERR This Redis command is not allowed from script');
          return this.run(db, inner, true);
        });
      }
      case 'SCRIPT': {
        const sub = key.toUpperCase();
        if (sub === 'LOAD' && a.length === 2) return this.scripts.load(a[1] as string);
        if (sub === 'EXISTS') return a.slice(1).map((sha) => (this.scripts.has(sha.toLowerCase()) ? 1 : 0));
        return new RespError('ERR the in-process Redis stand-in knows SCRIPT LOAD and SCRIPT EXISTS');
      }
      default:
        return new RespError(`ERR unknown command '${args[0] ?? ''}' (the in-process Redis stand-in knows ${KNOWN})`);
    }
  }
}

function reply(value: CommandResult): Buffer {
  if (value instanceof RespStatus) return encodeStatus(value.text);
  return encodeReply(value);
}

export class InProcessRedis extends InProcessRespServer {
  private readonly data = new RedisData();

  static async start(name: string, password: string): Promise<InProcessRedis> {
    const redis = new InProcessRedis(name, password);
    await redis.listen(0);
    return redis;
  }

  protected connection(): CommandHandler {
    const session: Session = { db: 0, authenticated: false, queued: undefined, queueError: false, watched: new Map() };
    return (command) => reply(this.command(session, command));
  }

  override async close(): Promise<void> {
    await super.close();
    this.data.scripts.close();
  }

  /** One command of a connection: its session's commands here, the data's in RedisData. */
  private command(session: Session, args: string[]): CommandResult {
    const name = (args[0] ?? '').toUpperCase();
    if (name === 'AUTH') {
      session.authenticated = args[args.length - 1] === this.password;
      return session.authenticated ? OK : new RespError('WRONGPASS invalid username-password pair or user is disabled.');
    }
    if (!session.authenticated) return new RespError('NOAUTH Authentication required.');
    if (session.queued !== undefined && !['EXEC', 'DISCARD', 'MULTI', 'WATCH'].includes(name)) {
      if (!KNOWN.split(' ').includes(name)) {
        session.queueError = true;
        return new RespError(`ERR unknown command '${args[0] ?? ''}'`);
      }
      session.queued.push(args);
      return new RespStatus('QUEUED');
    }
    switch (name) {
      case 'SELECT': {
        const db = integer(args[1]);
        if (db === undefined || db < 0 || db > 15) return new RespError('ERR DB index is out of range');
        session.db = db;
        return OK;
      }
      case 'CONFIG':
        return OK;
      case 'FLUSHDB':
        this.data.flush(session.db);
        return OK;
      case 'FLUSHALL':
        this.data.flush(undefined);
        return OK;
      case 'WATCH':
        if (session.queued !== undefined) return new RespError('ERR WATCH inside MULTI is not allowed');
        if (args.length < 2) return arity(name);
        for (const key of args.slice(1)) session.watched.set(key, this.data.version(session.db, key));
        return OK;
      case 'UNWATCH':
        session.watched.clear();
        return OK;
      case 'MULTI':
        if (session.queued !== undefined) return new RespError('ERR MULTI calls can not be nested');
        session.queued = [];
        session.queueError = false;
        return OK;
      case 'DISCARD':
        if (session.queued === undefined) return new RespError('ERR DISCARD without MULTI');
        session.queued = undefined;
        session.watched.clear();
        return OK;
      case 'EXEC': {
        const queued = session.queued;
        if (queued === undefined) return new RespError('ERR EXEC without MULTI');
        session.queued = undefined;
        const changed = [...session.watched].some(([key, version]) => this.data.version(session.db, key) !== version);
        session.watched.clear();
        if (session.queueError) return new RespError('EXECABORT Transaction discarded because of previous errors.');
        if (changed) return null;
        return queued.map((command) => {
          const result = this.command(session, command);
          return result instanceof RespStatus ? result.text : result;
        });
      }
      default:
        return this.data.run(session.db, args);
    }
  }
}

