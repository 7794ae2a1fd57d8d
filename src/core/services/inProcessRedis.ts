/**
 * A Redis stand-in in this process, for graders that run without Docker: a server on
 * 127.0.0.1 that speaks RESP and keeps strings, hashes, sets and lists in numbered
 * databases, with the commands labs use on them, sorted sets, expiry in milliseconds
 * (SET … PX, PEXPIRE, GETEX, PTTL; a key is gone once its time has passed, as Redis
 * answers), WATCH / MULTI / EXEC, and Lua scripts (EVAL, EVALSHA, SCRIPT LOAD;
 * redisLua.ts). Commands are run one at a time, a script or a transaction with nothing in
 * between, as in Redis. It is not Redis: no persistence settings (it keeps everything, as
 * a Redis with `appendfsync always` keeps what it acknowledged), no eviction, no pub/sub,
 * no cluster; an unknown command is refused by name.
 *
 * Its server and its faults (pause, kill, restart) are respServer.ts's.
 */
import { LuaScripts, RespStatus, type CommandResult } from './redisLua';
import { RespError, encodeReply, encodeStatus } from './resp';
import { type CommandHandler, InProcessRespServer } from './respServer';

type Entry =
  | { type: 'string'; value: string }
  | { type: 'hash'; value: Map<string, string> }
  | { type: 'set'; value: Set<string> }
  | { type: 'list'; value: string[] }
  | { type: 'zset'; value: Map<string, number> };

const WRONGTYPE = new RespError('WRONGTYPE Operation against a key holding the wrong kind of value');
const NOT_INTEGER = new RespError('ERR value is not an integer or out of range');
const NOT_FLOAT = new RespError('ERR min or max is not a float');
const SYNTAX = new RespError('ERR syntax error');
const OK = new RespStatus('OK');
const arity = (name: string): RespError => new RespError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);

const KNOWN =
  'PING ECHO SELECT FLUSHDB FLUSHALL CONFIG DBSIZE DEL UNLINK EXISTS TYPE KEYS SCAN GET GETEX SET SETNX MGET MSET INCR INCRBY DECR DECRBY EXPIRE PEXPIRE TTL PTTL PERSIST HGET HSET HSETNX HMSET HMGET HGETALL HKEYS HVALS HDEL HEXISTS HLEN HINCRBY SADD SREM SMEMBERS SISMEMBER SCARD LPUSH RPUSH LPOP RPOP LRANGE LLEN ZADD ZREM ZCARD ZCOUNT ZSCORE ZRANGE ZREMRANGEBYSCORE EVAL EVALSHA SCRIPT WATCH UNWATCH MULTI EXEC DISCARD';

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,18}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A score bound of ZCOUNT / ZREMRANGEBYSCORE: `5`, `(5` (exclusive), `-inf`, `+inf`. */
function scoreBound(text: string | undefined): { value: number; open: boolean } | undefined {
  if (text === undefined) return undefined;
  const open = text.startsWith('(');
  const body = open ? text.slice(1) : text;
  const value = /^[-+]?inf$/i.test(body) ? (body.startsWith('-') ? -Infinity : Infinity) : Number(body);
  return body === '' || Number.isNaN(value) ? undefined : { value, open };
}

/** A score as Redis writes it: the shortest decimal, inf as "inf". */
const scoreText = (n: number): string => (n === Infinity ? 'inf' : n === -Infinity ? '-inf' : String(n));

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
  /** When each key (db:key) expires, in ms since the epoch. */
  private readonly expires = new Map<string, number>();
  readonly scripts = new LuaScripts();

  constructor(private readonly now: () => number = Date.now) {}

  /** Drops the keys of `db` whose time has passed (a command sees them gone, as in Redis). */
  private expire(db: number): void {
    const now = this.now();
    const prefix = `${db}:`;
    for (const [name, at] of this.expires) {
      if (at <= now && name.startsWith(prefix)) {
        const key = name.slice(prefix.length);
        this.expires.delete(name);
        this.db(db).delete(key);
        this.touch(db, key);
      }
    }
  }

  private setExpiry(db: number, key: string, at: number | undefined): void {
    if (at === undefined) this.expires.delete(`${db}:${key}`);
    else this.expires.set(`${db}:${key}`, at);
  }

  private expiryOf(db: number, key: string): number | undefined {
    return this.expires.get(`${db}:${key}`);
  }

  /** Removes a key and its expiry; true if it was there. */
  private remove(db: number, key: string): boolean {
    this.setExpiry(db, key, undefined);
    if (!this.db(db).delete(key)) return false;
    this.touch(db, key);
    return true;
  }

  /** PEXPIRE's options: NX (no expiry yet), XX (one already), GT / LT (than the one it has). */
  private pexpire(db: number, key: string, ms: number | undefined, options: readonly string[]): CommandResult {
    if (ms === undefined) return NOT_INTEGER;
    if (!this.db(db).has(key)) return 0;
    const held = this.expiryOf(db, key);
    const at = this.now() + ms;
    for (const o of options.map((x) => x.toUpperCase())) {
      if (o === 'NX' && held !== undefined) return 0;
      if (o === 'XX' && held === undefined) return 0;
      if (o === 'GT' && (held === undefined || at <= held)) return 0;
      if (o === 'LT' && held !== undefined && at >= held) return 0;
      if (!['NX', 'XX', 'GT', 'LT'].includes(o)) return new RespError(`ERR Unsupported option ${o}`);
    }
    if (ms <= 0) {
      this.remove(db, key);
      return 1;
    }
    this.setExpiry(db, key, at);
    this.touch(db, key);
    return 1;
  }

  /** PTTL: ms left, -1 for no expiry, -2 for no key. */
  private pttl(db: number, key: string): number {
    if (!this.db(db).has(key)) return -2;
    const at = this.expiryOf(db, key);
    return at === undefined ? -1 : Math.max(0, at - this.now());
  }

  /** SET's options after the value: NX, XX, EX s, PX ms, KEEPTTL, GET. */
  private set(db: number, key: string, value: string, options: readonly string[]): CommandResult {
    let nx = false;
    let xx = false;
    let keep = false;
    let get = false;
    let at: number | undefined;
    for (let i = 0; i < options.length; i++) {
      const o = (options[i] ?? '').toUpperCase();
      if (o === 'NX') nx = true;
      else if (o === 'XX') xx = true;
      else if (o === 'KEEPTTL') keep = true;
      else if (o === 'GET') get = true;
      else if (o === 'EX' || o === 'PX') {
        const n = integer(options[++i]);
        if (n === undefined) return NOT_INTEGER;
        if (n <= 0) return new RespError("ERR invalid expire time in 'set' command");
        at = this.now() + (o === 'EX' ? n * 1000 : n);
      } else return SYNTAX;
    }
    if ((nx && xx) || (keep && at !== undefined)) return SYNTAX;
    const held = this.db(db).get(key);
    if (get && held !== undefined && held.type !== 'string') return WRONGTYPE;
    const previous = held?.type === 'string' ? held.value : null;
    if ((nx && held !== undefined) || (xx && held === undefined)) return get ? previous : null;
    this.db(db).set(key, { type: 'string', value });
    if (!keep) this.setExpiry(db, key, at);
    this.touch(db, key);
    return get ? previous : OK;
  }

  /** ZADD key [NX|XX] score member ...: how many members were added. */
  private zadd(db: number, key: string, rest: readonly string[]): CommandResult {
    let i = 0;
    let nx = false;
    let xx = false;
    while (i < rest.length && ['NX', 'XX'].includes((rest[i] ?? '').toUpperCase())) {
      if ((rest[i] ?? '').toUpperCase() === 'NX') nx = true;
      else xx = true;
      i++;
    }
    const pairs = rest.slice(i);
    if (pairs.length === 0 || pairs.length % 2 !== 0) return SYNTAX;
    const scores: [number, string][] = [];
    for (let j = 0; j < pairs.length; j += 2) {
      const score = Number(pairs[j]);
      if (pairs[j] === '' || Number.isNaN(score)) return new RespError('ERR value is not a valid float');
      scores.push([score, pairs[j + 1] as string]);
    }
    const e = this.make(db, key, 'zset');
    if (e instanceof RespError) return e;
    let added = 0;
    for (const [score, member] of scores) {
      const has = e.value.has(member);
      if ((nx && has) || (xx && !has)) continue;
      if (!has) added++;
      e.value.set(member, score);
    }
    this.touch(db, key);
    this.tidy(db, key);
    return added;
  }

  /** The members of a sorted set in Redis's order: by score, then by member. */
  private sorted(e: { value: Map<string, number> } | undefined): [string, number][] {
    return [...(e?.value ?? new Map<string, number>())].sort(([ma, sa], [mb, sb]) => sa - sb || (ma < mb ? -1 : ma > mb ? 1 : 0));
  }

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
    const made = (type === 'string' ? { type, value: '' } : type === 'hash' || type === 'zset' ? { type, value: new Map() } : type === 'set' ? { type, value: new Set() } : { type, value: [] }) as Extract<Entry, { type: T }>;
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
    if (size === 0) {
      this.db(db).delete(key);
      this.setExpiry(db, key, undefined);
    }
  }

  flush(db: number | undefined): void {
    for (const [n, data] of this.dbs) {
      if (db !== undefined && n !== db) continue;
      for (const key of data.keys()) {
        this.touch(n, key);
        this.setExpiry(n, key, undefined);
      }
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
    // INCR keeps the key's expiry.
    if (entry !== undefined) entry.value = String(next);
    else this.db(db).set(key, { type: 'string', value: String(next) });
    this.touch(db, key);
    return next;
  }

  /** Runs one data command (no connection state) in database `db`. */
  run(db: number, args: readonly string[], inScript = false): CommandResult {
    // A script sees the time stand still, as in Redis: keys expire between commands, not inside one.
    if (!inScript) this.expire(db);
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
      case 'DEL':
      case 'UNLINK':
        return need(1) ?? a.filter((k) => this.remove(db, k)).length;
      case 'SCAN': {
        // One pass: every matching key at once, and cursor 0.
        if (need(1)) return arity(name);
        let match: RegExp | undefined;
        for (let i = 1; i < a.length; i += 2) {
          const o = (a[i] ?? '').toUpperCase();
          if (o === 'MATCH') match = glob(a[i + 1] ?? '*');
          else if (o !== 'COUNT' && o !== 'TYPE') return SYNTAX;
        }
        return ['0', [...data.keys()].filter((k) => match === undefined || match.test(k))];
      }
      case 'EXPIRE':
      case 'PEXPIRE': {
        if (need(2)) return arity(name);
        const n = integer(a[1]);
        return this.pexpire(db, key, n === undefined ? undefined : name === 'EXPIRE' ? n * 1000 : n, a.slice(2));
      }
      case 'PTTL':
      case 'TTL': {
        if (need(1)) return arity(name);
        const ms = this.pttl(db, key);
        return name === 'PTTL' || ms < 0 ? ms : Math.round(ms / 1000);
      }
      case 'PERSIST': {
        if (need(1)) return arity(name);
        if (!data.has(key) || this.expiryOf(db, key) === undefined) return 0;
        this.setExpiry(db, key, undefined);
        this.touch(db, key);
        return 1;
      }
      case 'GETEX': {
        if (need(1)) return arity(name);
        const e = this.typed(db, key, 'string');
        if (e instanceof RespError) return e;
        if (e === undefined) return null;
        const o = (a[1] ?? '').toUpperCase();
        if (o === 'PERSIST') this.setExpiry(db, key, undefined);
        else if (o === 'EX' || o === 'PX' || o === 'EXAT' || o === 'PXAT') {
          const n = integer(a[2]);
          if (n === undefined) return NOT_INTEGER;
          this.setExpiry(db, key, o === 'EX' ? this.now() + n * 1000 : o === 'PX' ? this.now() + n : o === 'EXAT' ? n * 1000 : n);
        } else if (o !== '') return SYNTAX;
        return e.value;
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
      case 'SET':
        return need(2) ?? this.set(db, key, a[1] as string, a.slice(2));
      case 'SETNX': {
        if (need(2)) return arity(name);
        if (data.has(key)) return 0;
        data.set(key, { type: 'string', value: a[1] as string });
        this.setExpiry(db, key, undefined);
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
          this.setExpiry(db, a[i] as string, undefined);
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
      case 'HDEL':
      case 'ZREM': {
        // Fields of a hash, members of a sorted set: both kept as maps.
        const e = this.typed(db, key, name === 'HDEL' ? 'hash' : 'zset');
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
      case 'ZADD':
        return need(3) ?? this.zadd(db, key, a.slice(1));
      case 'ZCARD': {
        const e = this.typed(db, key, 'zset');
        return need(1) ?? (e instanceof RespError ? e : (e?.value.size ?? 0));
      }
      case 'ZSCORE': {
        const e = this.typed(db, key, 'zset');
        if (need(2)) return arity(name);
        if (e instanceof RespError) return e;
        const score = e?.value.get(a[1] as string);
        return score === undefined ? null : scoreText(score);
      }
      case 'ZCOUNT':
      case 'ZREMRANGEBYSCORE': {
        const e = this.typed(db, key, 'zset');
        if (need(3)) return arity(name);
        if (e instanceof RespError) return e;
        const min = scoreBound(a[1]);
        const max = scoreBound(a[2]);
        if (min === undefined || max === undefined) return NOT_FLOAT;
        const inside = (score: number): boolean => (min.open ? score > min.value : score >= min.value) && (max.open ? score < max.value : score <= max.value);
        const members = [...(e?.value ?? new Map<string, number>())].filter(([, score]) => inside(score)).map(([m]) => m);
        if (name === 'ZCOUNT' || e === undefined) return members.length;
        for (const m of members) e.value.delete(m);
        if (members.length > 0) this.changed(db, key);
        return members.length;
      }
      case 'ZRANGE': {
        const e = this.typed(db, key, 'zset');
        if (need(3)) return arity(name);
        if (e instanceof RespError) return e;
        const options = a.slice(3).map((o) => o.toUpperCase());
        if (options.some((o) => o !== 'WITHSCORES')) return new RespError('ERR the in-process Redis stand-in knows ZRANGE key start stop [WITHSCORES] only');
        const list = this.sorted(e);
        let start = integer(a[1]);
        let stop = integer(a[2]);
        if (start === undefined || stop === undefined) return NOT_INTEGER;
        if (start < 0) start = Math.max(0, list.length + start);
        if (stop < 0) stop = list.length + stop;
        const picked = list.slice(start, stop + 1);
        return options.includes('WITHSCORES') ? picked.flatMap(([m, score]) => [m, scoreText(score)]) : picked.map(([m]) => m);
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
  private readonly data: RedisData;

  private constructor(name: string, password: string, now: () => number) {
    super(name, password);
    this.data = new RedisData(now);
  }

  /** `now` is the server's clock for expiries (the machine's by default). */
  static async start(name: string, password: string, now: () => number = Date.now): Promise<InProcessRedis> {
    const redis = new InProcessRedis(name, password, now);
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

