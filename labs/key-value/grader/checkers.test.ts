/**
 * The Key-Value checkers on hand-made histories: each checker's pass, its failures with
 * the hint for that failure and the events to blame, and what it leaves undecided.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder } from '../../../src/core/grading/history';
import type { Verdict } from '../../../src/core/grading/report';
import { checkDegrade, checkFixedWindow, checkLimiterCrash, checkMemcachedCache, checkRedisCache, checkSessionRestart, checkSessions, checkSlidingWindow, checkStampede } from './checkers';
import { GRADER, type KvEvent, type OpInput, type OpName } from './history';
import { BASE_CONFIG } from './limits';
import type { CacheKind, ServiceConfig } from './protocol';

interface Request {
  readonly process: string;
  readonly op: OpName;
  readonly input: Omit<OpInput, 't'>;
  readonly t0: number;
  readonly t1?: number;
  readonly result?: string | boolean | null;
  readonly error?: string;
  readonly ms?: number;
}

/** A history written by hand; requests carry the service clock's times they ran at. */
class Run {
  private tick = 0;
  readonly h = new HistoryRecorder<KvEvent>(() => this.tick++);

  /** The times these histories are written for, whatever the grader's own settings. */
  constructor(config: Partial<ServiceConfig> = {}) {
    this.config({ sessionTtlMs: 800, redisTimeoutMs: 200, ...config });
  }

  config(config: Partial<ServiceConfig>): this {
    this.h.record({ process: GRADER, type: 'note', op: 'config', value: { ...BASE_CONFIG, ...config } });
    return this;
  }

  case(name: string): this {
    this.h.record({ process: GRADER, type: 'note', op: 'case', value: { name } });
    return this;
  }

  /** Requests at once: every invocation, then every completion. */
  at(...requests: Request[]): this {
    for (const r of requests) this.h.record({ process: r.process, type: 'invoke', op: r.op, value: { ...r.input, t: r.t0 } });
    for (const r of requests) {
      const end = { t: r.t1 ?? r.t0 + 5, ms: r.ms ?? 5 };
      if (r.error !== undefined) this.h.record({ process: r.process, type: 'fail', op: r.op, value: end, detail: r.error });
      else this.h.record({ process: r.process, type: 'ok', op: r.op, value: { ...end, result: r.result ?? null } });
    }
    return this;
  }

  one(r: Request): this {
    return this.at(r);
  }

  note(event: Parameters<HistoryRecorder<KvEvent>['record']>[0]): this {
    this.h.record(event);
    return this;
  }

  truth(id: string, value: string): this {
    return this.note({ process: GRADER, type: 'note', op: 'truth', value: { id, value } });
  }

  get events(): readonly KvEvent[] {
    return this.h.events;
  }
}

const allow = (op: 'allowFixed' | 'allowSliding', client: string, t0: number, result: boolean, i: number): Request => ({ process: `c${i}`, op, input: { client }, t0, result });
const burst = (op: 'allowFixed' | 'allowSliding', client: string, t0: number, admitted: number, refused: number): Request[] => [
  ...Array.from({ length: admitted }, (_, i) => allow(op, client, t0, true, i)),
  ...Array.from({ length: refused }, (_, i) => allow(op, client, t0, false, admitted + i)),
];

function expectFail(verdict: Verdict, actual: RegExp, hint: RegExp): void {
  expect(verdict.status).toBe('fail');
  expect(verdict.actual).toMatch(actual);
  expect(verdict.hint).toMatch(hint);
  expect(verdict.culprits?.length ?? 0).toBeGreaterThan(0);
}

describe('limit (the fixed window)', () => {
  it('passes exactly the limit per window, and fails one more, one less, and an open session', () => {
    const ok = new Run().at(...burst('allowFixed', 'alice', 4_020, 10, 40)).at(...burst('allowFixed', 'alice', 6_020, 5, 0));
    expect(checkFixedWindow(ok.events).status).toBe('pass');
    expectFail(checkFixedWindow(new Run().at(...burst('allowFixed', 'alice', 4_020, 11, 39)).events), /11 admitted, the limit is 10/, /INCR/);
    expectFail(checkFixedWindow(new Run().at(...burst('allowFixed', 'alice', 4_020, 9, 41)).events), /only 9 admitted and 41 refused/, /at most the limit/);
    const open = new Run().at(...burst('allowFixed', 'alice', 4_020, 10, 2)).note({ process: GRADER, type: 'note', op: 'sessions-open', value: { count: 2 } });
    expectFail(checkFixedWindow(open.events), /2 Redis sessions/, /session.close/);
  });

  it('counts each client and window apart, and leaves a request that straddled two windows unjudged', () => {
    const apart = new Run().at(...burst('allowFixed', 'alice', 4_020, 10, 1), ...burst('allowFixed', 'bob', 4_020, 10, 1)).at(...burst('allowFixed', 'alice', 6_020, 10, 0));
    expect(checkFixedWindow(apart.events).status).toBe('pass');
    const straddling = new Run().at(...burst('allowFixed', 'alice', 4_020, 10, 0), { process: 'late', op: 'allowFixed', input: { client: 'alice' }, t0: 5_990, t1: 6_010, result: true });
    expect(checkFixedWindow(straddling.events).status).toBe('pass');
    expect(checkFixedWindow(new Run().events).status).toBe('unknown');
  });
});

describe('sliding', () => {
  it('passes the window moving on, and fails too many in a window or a refusal below the limit', () => {
    const ok = new Run()
      .at(...burst('allowSliding', 'alice', 0, 10, 40))
      .at(...burst('allowSliding', 'alice', 1_000, 0, 20))
      .at(...burst('allowSliding', 'alice', 2_300, 10, 10));
    expect(checkSlidingWindow(ok.events).status).toBe('pass');
    expectFail(checkSlidingWindow(new Run().at(...burst('allowSliding', 'alice', 0, 12, 38)).events), /12 requests .* admitted within 2000 ms/, /one atomic step/);
    const countsRefused = new Run()
      .at(...burst('allowSliding', 'alice', 0, 10, 40))
      .at(...burst('allowSliding', 'alice', 1_000, 0, 20))
      .at(...burst('allowSliding', 'alice', 2_300, 0, 20));
    expectFail(checkSlidingWindow(countsRefused.events), /was refused .* only 0 of its requests were admitted .* 20 refused requests came/, /Refused requests|refused request that is counted/);
  });

  it('does not count admissions that may lie outside the window', () => {
    // Ten at 0, ten at 2 010: the windows of the second burst start after 10.
    const edge = new Run().at(...burst('allowSliding', 'bob', 0, 10, 0)).at(...burst('allowSliding', 'bob', 2_010, 10, 0));
    expect(checkSlidingWindow(edge.events).status).toBe('pass');
  });
});

describe('limiter-crash', () => {
  const killed = (run: Run, point: number): Run => run.note({ process: 'service', type: 'crash', op: 'killed', detail: `just after Redis reply ${point} of 2 of allowFixed("a")` });
  it('passes keys with expiries and a client served again, and fails a key without one or a client locked out', () => {
    const ok = killed(new Run(), 1).note({ process: GRADER, type: 'note', op: 'keys', value: { keys: [{ key: 'rate:a:1', pttl: 1_500 }] } }).case('served-again-after-kill').one(allow('allowFixed', 'a', 9_000, true, 1));
    expect(checkLimiterCrash(ok.events).status).toBe('pass');
    const forever = killed(new Run(), 1).note({ process: GRADER, type: 'note', op: 'keys', value: { keys: [{ key: 'rate:a:1', pttl: -1 }] } });
    expectFail(checkLimiterCrash(forever.events), /rate:a:1 with no expiry/, /one atomic step|same atomic step/);
    const locked = killed(new Run(), 2).note({ process: GRADER, type: 'note', op: 'keys', value: { keys: [] } }).case('served-again-after-kill').one(allow('allowFixed', 'a', 9_000, false, 1));
    expectFail(checkLimiterCrash(locked.events), /locked out/, /expiry/);
    expect(checkLimiterCrash(new Run().events).status).toBe('unknown');
  });
});

describe('the caches', () => {
  const get = (cache: CacheKind, id: string, result: string, process = 'reader'): Request => ({ process, op: 'get', input: { cache, id }, t0: 0, result });
  const update = (cache: CacheKind, id: string, value: string): Request => ({ process: 'writer', op: 'update', input: { cache, id, value }, t0: 0 });

  it('passes reads of the last resolved update, a racing read of either value, and fails an older one', () => {
    const ok = new Run().truth('p', 'p@v1').one(get('redis', 'p', 'p@v1')).one(update('redis', 'p', 'p@v2')).one(get('redis', 'p', 'p@v2'));
    expect(checkRedisCache(ok.events).status).toBe('pass');
    // A read concurrent with the update may answer either.
    const racing = new Run().truth('p', 'p@v1').at(get('redis', 'p', 'p@v1'), update('redis', 'p', 'p@v2')).one(get('redis', 'p', 'p@v2'));
    expect(checkRedisCache(racing.events).status).toBe('pass');
    const stale = new Run().truth('p', 'p@v1').one(update('redis', 'p', 'p@v2')).case('load-racing-update').one(get('redis', 'p', 'p@v1'));
    expectFail(checkRedisCache(stale.events), /answered "p@v1", an older value, after redis update\("p", "p@v2"\) had resolved \(load-racing-update\)/, /lease/);
    const staleMc = new Run().truth('p', 'p@v1').one(update('memcached', 'p', 'p@v2')).one(get('memcached', 'p', 'p@v1'));
    expectFail(checkMemcachedCache(staleMc.events), /an older value/, /cas/);
    expect(checkMemcachedCache(ok.events).status).toBe('unknown');
  });

  it('fails a cached value with no expiry, and a get that threw while the cache was up', () => {
    const forever = new Run().truth('p', 'p@v1').one(get('redis', 'p', 'p@v1')).note({ process: GRADER, type: 'note', op: 'keys', value: { keys: [{ key: 'product:p', pttl: -1 }] } });
    expectFail(checkRedisCache(forever.events), /product:p with no expiry/, /PX cacheTtlMs/);
    const long = (key: string, value: string): Run => new Run().truth('p', 'p@v1').one(get('redis', 'p', 'p@v1')).note({ process: GRADER, type: 'note', op: 'keys', value: { keys: [{ key, pttl: 3_600_000, value }] } });
    expectFail(checkRedisCache(long('product:p', 'p@v1').events), /product:p for 3600 s more, longer than cacheTtlMs/, /PX cacheTtlMs/);
    // A key of the design's own (a generation counter) may outlive the values.
    expect(checkRedisCache(long('product:p:generation', '4').events).status).toBe('pass');
    const threw = new Run().truth('p', 'p@v1').one({ process: 'reader', op: 'get', input: { cache: 'redis', id: 'p' }, t0: 0, error: 'RedisError: WRONGTYPE' });
    expectFail(checkRedisCache(threw.events), /failed while Redis was up: RedisError: WRONGTYPE/, /must not fail/);
  });

  it('stampede: passes one load per burst, and fails several', () => {
    const loads = (count: number): Run => new Run().truth('hot', 'hot@v1').at(get('redis', 'hot', 'hot@v1', 'r1'), get('redis', 'hot', 'hot@v1', 'r2')).note({ process: GRADER, type: 'note', op: 'loads', value: { cache: 'redis', id: 'hot', count, readers: 2 } });
    expect(checkStampede(loads(1).events).status).toBe('pass');
    expectFail(checkStampede(loads(2).events), /2 requests at once for uncached product "hot" on Redis loaded it from the database 2 times/, /lease/);
    expect(checkStampede(new Run().events).status).toBe('unknown');
  });
});

describe('sessions', () => {
  const login = (process: string, user: string, id: string, t0: number): Request => ({ process, op: 'login', input: { user }, t0, result: id });
  const who = (process: string, session: string, t0: number, result: string | null): Request => ({ process, op: 'currentUser', input: { session }, t0, result });
  const ID1 = 'a'.repeat(24);
  const ID2 = 'b'.repeat(24);

  it('passes a session that slides and ends on time, and fails one that does not slide or lives on', () => {
    const ok = new Run().one(login('u', 'alice', ID1, 0)).one(who('u', ID1, 500, 'alice')).one(who('u', ID1, 1_000, 'alice')).one(who('u', ID1, 2_000, null));
    expect(checkSessions(ok.events).status).toBe('pass');
    expectFail(checkSessions(new Run().one(login('u', 'alice', ID1, 0)).one(who('u', ID1, 500, 'alice')).one(who('u', ID1, 1_000, null)).events), /answered null 500 ms after the session was last used/, /GETEX/);
    expectFail(checkSessions(new Run().one(login('u', 'alice', ID1, 0)).one(who('u', ID1, 1_100, 'alice')).events), /still answered "alice" 1095 ms after/, /PX/);
  });

  it('fails logout that does not end the session or ends the others, repeated or short ids, and a stranger let in', () => {
    const notEnded = new Run().one(login('u', 'alice', ID1, 0)).one({ process: 'u', op: 'logout', input: { session: ID1 }, t0: 10 }).one(who('u', ID1, 20, 'alice'));
    expectFail(checkSessions(notEnded.events), /after logout/, /DEL/);
    const both = new Run().one(login('u1', 'alice', ID1, 0)).one(login('u2', 'alice', ID2, 0)).one({ process: 'u2', op: 'logout', input: { session: ID2 }, t0: 10 }).case('another-session-stays').one(who('u1', ID1, 20, null));
    expectFail(checkSessions(both.events), /the logout ended this one too/, /only that one/);
    expectFail(checkSessions(new Run().one(login('u1', 'alice', ID1, 0)).one(login('u2', 'bob', ID1, 0)).events), /same session id/, /unguessable/);
    expectFail(checkSessions(new Run().one(login('u1', 'alice', 'alice-1', 0)).events), /too short/, /random bytes/);
    expectFail(checkSessions(new Run().one(login('u1', 'alice', ID1, 0)).one(who('m', 'forged-id', 5, 'alice')).events), /no login gave, answered "alice"/, /unguessable/);
  });

  it('session-restart: passes the user found after the restarts, and fails a session lost', () => {
    const run = (result: string | null): Run => new Run().one(login('u', 'alice', ID1, 0)).note({ process: 'nemesis', type: 'fault', op: 'restart', detail: 'restart Redis' }).case('after-restart').one(who('u', ID1, 10, result));
    expect(checkSessionRestart(run('alice').events).status).toBe('pass');
    expectFail(checkSessionRestart(run(null).events), /after restart: currentUser\("aaaaaaaa…"\) answered null, not "alice"/, /append-only/);
    expect(checkSessionRestart(new Run().events).status).toBe('unknown');
  });
});

describe('degrade', () => {
  const during = (run: Run, requests: Request[]): Run => run.case('during-pause').at(...requests);
  const base = (failOpen: boolean): Run => new Run({ failOpen }).truth('p', 'p@v1');

  it('passes answers in time as configured, and fails a slow, wrong or missing answer', () => {
    const fine = (failOpen: boolean): Request[] => [
      { process: 'c1', op: 'allowFixed', input: { client: 'd' }, t0: 0, result: failOpen, ms: 210 },
      { process: 'reader', op: 'get', input: { cache: 'redis', id: 'p' }, t0: 0, result: 'p@v1', ms: 320 },
      { process: 'user', op: 'currentUser', input: { session: 's' }, t0: 0, result: null, ms: 205 },
      { process: 'newcomer', op: 'login', input: { user: 'x' }, t0: 0, error: 'TimeoutError', ms: 205 },
    ];
    expect(checkDegrade(during(base(false), fine(false)).events, 100).status).toBe('pass');
    expect(checkDegrade(during(base(true), fine(true)).events, 100).status).toBe('pass');
    expectFail(checkDegrade(during(base(false), [{ process: 'c1', op: 'allowFixed', input: { client: 'd' }, t0: 0, result: true, ms: 205 }]).events, 100), /answered true; with failOpen = false it must answer false/, /failOpen/);
    expectFail(checkDegrade(during(base(true), [{ process: 'c1', op: 'allowFixed', input: { client: 'd' }, t0: 0, result: true, ms: 2_400 }]).events, 100), /took 2400 ms/, /withTimeout/);
    expectFail(checkDegrade(during(base(true), [{ process: 'c1', op: 'allowFixed', input: { client: 'd' }, t0: 0, error: 'run did not finish within 2500 ms', ms: 2_500 }]).events, 100), /did not finish/, /withTimeout/);
    expectFail(checkDegrade(during(base(true), [{ process: 'r', op: 'get', input: { cache: 'redis', id: 'p' }, t0: 0, result: null, ms: 210 }]).events, 100), /must answer "p@v1"/, /database/);
    expectFail(checkDegrade(during(base(true), [{ process: 'n', op: 'login', input: { user: 'x' }, t0: 0, result: 'sid', ms: 5 }]).events, 100), /resolved with "sid", though Redis could not store it/, /let the timeout or error through/);
  });

  it('fails a process that died, and a service still broken once Redis is back', () => {
    const died = during(base(true), []).note({ process: 'service', type: 'crash', op: 'died', detail: 'unhandledRejection' });
    expectFail(checkDegrade(died.events, 100), /ended while Redis was down/, /unhandled rejection/);
    const broken = during(base(true), [{ process: 'c1', op: 'allowFixed', input: { client: 'd' }, t0: 0, result: true, ms: 5 }]).case('after-pause').one({ process: 'c1', op: 'allowFixed', input: { client: 'e' }, t0: 10, result: false });
    expectFail(checkDegrade(broken.events, 100), /after pause: allowFixed\("e"\) answered false, though Redis answered again/, /work again/);
    expect(checkDegrade(new Run().events, 100).status).toBe('unknown');
  });
});
