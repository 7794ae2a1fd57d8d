/**
 * The Key-Value grader's checkers: pure functions of a scenario's history (history.ts),
 * one per check of lab.json. Each passes, fails with what happened, a hint for that
 * failure and the events to blame, or is undecided when the scenario did not get far
 * enough to judge.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { Verdict } from '../../../src/core/grading/report';
import { type KvEvent, type Operation, caseAt, configAt, operationsOf, opText } from './history';
import type { CacheKind } from './protocol';

type E = KvEvent;

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Requests that threw while nothing was wrong with Redis: the service must answer them. */
function thrown(ops: readonly Operation[], names: readonly string[]): Operation | undefined {
  return ops.find((o) => names.includes(o.op) && o.outcome === 'fail');
}

function threw(o: Operation, hint: string): Verdict {
  return fail(`${opText(o)} failed while Redis was up: ${o.detail ?? 'no answer'}.`, hint, [o.index, ...(o.completion !== undefined ? [o.completion] : [])]);
}

const cases = (history: readonly E[]): string[] => history.flatMap((e) => (e.type === 'note' && e.op === 'case' ? [e.value.name] : []));

// ─── limit: the fixed window ──────────────────────────────────────────────────────

const FIXED_HINT =
  'Count and decide in one atomic step on Redis: INCR returns the new count to exactly one request each, so the request that gets limit + 1 is the first to refuse (a Lua script with INCR and PEXPIRE, or MULTI / INCR / PEXPIRE / EXEC). Reading the count with GET and writing it back with SET lets every request that read the same count through.';
const FIXED_STINGY_HINT =
  "Admit while the count is at most the limit: with INCR, the request that gets n is the n-th of its window (n <= limit is admitted). Key the counter by the client and the window number, floor(clock.now() / windowMs), read from deps.clock, not Date.now().";

/** limit: per client and fixed window, at most `limit` admitted, and no request refused while fewer were. */
export function checkFixedWindow(history: readonly E[]): Verdict {
  const ops = operationsOf(history).filter((o) => o.op === 'allowFixed');
  if (ops.length === 0) return undecided('The scenario made no request of the limiter.');
  const failed = thrown(ops, ['allowFixed']);
  if (failed) return threw(failed, 'allowFixed must answer true or false while Redis is up; an error from Redis there is a bug in the command or script (see the detail).');
  const groups = new Map<string, Operation[]>();
  for (const o of ops) {
    const config = configAt(history, o.index);
    if (config === undefined || o.end === undefined) continue;
    const first = Math.floor(o.input.t / config.windowMs);
    const last = Math.floor(o.end.t / config.windowMs);
    // A request that straddled a window's end may belong to either: judged only when its window is sure.
    if (first !== last) continue;
    const key = `${o.input.client}|${first}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  for (const [key, group] of groups) {
    const [client] = key.split('|');
    const limit = configAt(history, group[0]?.index ?? 0)?.limit ?? 0;
    const admitted = group.filter((o) => o.end?.result === true);
    if (admitted.length > limit) {
      return fail(
        `${plural(group.length, 'request')} of ${JSON.stringify(client)} in one window (${cases(history).length > 0 ? caseAt(history, group[0]?.index ?? 0) : 'one burst'}): ${admitted.length} admitted, the limit is ${limit}.`,
        FIXED_HINT,
        admitted.slice(limit).map((o) => o.completion ?? o.index),
      );
    }
    const refused = group.filter((o) => o.end?.result === false);
    if (refused.length > 0 && admitted.length < limit) {
      return fail(`${plural(group.length, 'request')} of ${JSON.stringify(client)} in one window: only ${admitted.length} admitted and ${refused.length} refused, with a limit of ${limit}.`, FIXED_STINGY_HINT, refused.map((o) => o.completion ?? o.index));
    }
  }
  const open = history.find((e) => e.type === 'note' && e.op === 'sessions-open' && e.value.count > 0);
  if (open?.type === 'note' && open.op === 'sessions-open') {
    return fail(`Once the requests were answered, ${plural(open.value.count, 'Redis session')} (redis.session()) were still open.`, 'Close every session you open (session.close()), in a finally block, whatever EXEC answered.', [history.indexOf(open)]);
  }
  return pass(`${plural(ops.length, 'request')} in ${plural(groups.size, 'window')}, up to ${Math.max(...[...groups.values()].map((g) => g.length))} at once: never more than the limit admitted in a window, and none refused below it.`);
}

// ─── sliding: the sliding window ─────────────────────────────────────────────────

const SLIDING_OVER_HINT =
  'The count and the add must be one atomic step: a Lua script that drops entries older than now - windowMs (ZREMRANGEBYSCORE), counts (ZCARD) and adds (ZADD) only if the count is below the limit. Counting in one command and adding in another lets concurrent requests all see the same count.';
const SLIDING_UNDER_HINT =
  'A request is refused only if `limit` requests were admitted in (t - windowMs, t]. Add a request to the window only when it is admitted: a refused request that is counted keeps a busy client refused for ever. Drop entries whose time is <= now - windowMs, and key the log by client.';

/** sliding: at most `limit` admitted in any window of windowMs; a refusal only when `limit` were admitted in its window. */
export function checkSlidingWindow(history: readonly E[]): Verdict {
  const ops = operationsOf(history).filter((o) => o.op === 'allowSliding');
  if (ops.length === 0) return undecided('The scenario made no request of the sliding limiter.');
  const failed = thrown(ops, ['allowSliding']);
  if (failed) return threw(failed, 'allowSliding must answer true or false while Redis is up; an error from Redis there is a bug in the command or script (see the detail).');
  const done = ops.filter((o) => o.end !== undefined);
  for (const o of done) {
    const config = configAt(history, o.index);
    const end = o.end;
    if (config === undefined || end === undefined) continue;
    const W = config.windowMs;
    const same = done.filter((q) => q.input.client === o.input.client && q.end?.result === true);
    if (end.result === true) {
      // The span (end - W, end]: the admitted requests that ran entirely inside it are surely in one window.
      const certain = same.filter((q) => (q.end?.t ?? Infinity) <= end.t && q.input.t > end.t - W);
      if (certain.length > config.limit) {
        return fail(
          `${plural(certain.length, 'request')} of ${JSON.stringify(o.input.client)} were admitted within ${W} ms (${caseAt(history, o.index) ?? 'one burst'}); the limit is ${config.limit} in any window.`,
          SLIDING_OVER_HINT,
          certain.map((q) => q.completion ?? q.index),
        );
      }
    } else if (end.result === false) {
      // Admitted requests that may be in its window (t - W, t] for some instant t of this request.
      const possible = same.filter((q) => q.end !== undefined && q.input.t <= end.t && q.end.t > o.input.t - W);
      if (possible.length < config.limit) {
        const earlier = done.filter((q) => q.input.client === o.input.client && q.end?.result === false && q.index < o.index && q.input.t > o.input.t - W);
        return fail(
          `${opText(o)} was refused (${caseAt(history, o.index)}), but only ${possible.length} of its requests were admitted in the ${W} ms before it (limit ${config.limit})${earlier.length > 0 ? `; ${plural(earlier.length, 'refused request')} came in that time` : ''}.`,
          SLIDING_UNDER_HINT,
          [o.completion ?? o.index],
        );
      }
    }
  }
  return pass(`${plural(ops.length, 'request')} over ${plural(cases(history).length, 'step')} of the clock: never more than the limit admitted within a window, and a refusal only when the limit was reached.`);
}

// ─── limiter-crash: killed between commands ──────────────────────────────────────

const NO_TTL_HINT =
  'Give a counter its expiry in the same atomic step that creates it: a Lua script (INCR, then PEXPIRE when it returned 1), MULTI / INCR / PEXPIRE / EXEC, or SET key 0 NX PX windowMs before INCR. INCR then PEXPIRE as two commands leaves a counter with no expiry when the process dies in between, and its client locked out for good.';

/** limiter-crash: after the process is killed at every reply of a request, no key is left without an expiry and the client is served again. */
export function checkLimiterCrash(history: readonly E[]): Verdict {
  const crashes = history.filter((e) => e.type === 'crash' && e.op === 'killed').length;
  if (crashes === 0) return undecided('The scenario killed no process (the limiter made no Redis call?).');
  for (const [index, e] of history.entries()) {
    if (e.type !== 'note' || e.op !== 'keys') continue;
    const forever = e.value.keys.filter((k) => k.pttl === -1);
    if (forever.length > 0) {
      const killed = history.slice(0, index).reverse().find((x) => x.type === 'crash');
      return fail(`After the process was killed ${killed?.detail ?? 'mid-request'}, Redis holds ${forever.map((k) => k.key).join(', ')} with no expiry: it never goes away.`, NO_TTL_HINT, [index, ...(killed ? [history.indexOf(killed)] : [])]);
    }
  }
  const ops = operationsOf(history).filter((o) => (o.op === 'allowFixed' || o.op === 'allowSliding') && caseAt(history, o.index) === 'served-again-after-kill');
  const refused = ops.find((o) => o.outcome === 'ok' && o.end?.result === false);
  if (refused) {
    return fail(`Once the process was restarted and a window had passed, ${opText(refused)} was refused: the client is locked out (${caseAt(history, refused.index)}).`, NO_TTL_HINT, [refused.index, refused.completion ?? refused.index]);
  }
  const failed = ops.find((o) => o.outcome === 'fail');
  if (failed) return threw(failed, 'A restarted process must serve the limiter again from what Redis holds.');
  return pass(`Killed at each of ${plural(crashes, 'point')} (just after each Redis reply of a request): every key kept its expiry, and each client was served again a window later.`);
}

// ─── caches: stale reads ──────────────────────────────────────────────────────────

const STALE_HINTS: Readonly<Record<CacheKind, string>> = {
  redis:
    'On a write: update the database first, then delete the cached value (setting it instead lets an older value win a race). A load that began before the write must not cache what it read: take a lease before loading (SET lease token NX PX), have update delete the lease with the value, and cache the loaded value only if the lease is still yours (a Lua script comparing it).',
  memcached:
    'On a write: update the database first, then delete the key. A load that began before the write must not cache what it read: on a miss, add a lease under the key (add only succeeds on an empty key), gets it for its CAS unique, load, then store the value with cas: it fails if an update deleted the lease meanwhile. A plain set after the load overwrites the newer state.',
};

/**
 * Stale reads of one cache: writes of a product never overlap, so each read is owed at least
 * the value of the last update that had resolved before it began, or a newer one that had begun.
 */
export function staleRead(history: readonly E[], cache: CacheKind): Verdict | undefined {
  const ops = operationsOf(history).filter((o) => o.input.cache === cache && (o.op === 'get' || o.op === 'update'));
  const truths = new Map<string, { value: string; index: number }[]>();
  history.forEach((e, index) => {
    if (e.type === 'note' && e.op === 'truth') truths.set(e.value.id, [...(truths.get(e.value.id) ?? []), { value: e.value.value, index }]);
  });
  for (const o of ops) {
    if (o.outcome === 'fail') return threw(o, `${cache === 'redis' ? 'Redis' : 'Memcached'} was up: get and update must not fail (see the detail).`);
  }
  for (const read of ops.filter((o) => o.op === 'get' && o.outcome === 'ok')) {
    const id = read.input.id ?? '';
    const writes = ops.filter((w) => w.op === 'update' && w.input.id === id);
    // The database's values of this product in order: the grader's own writes (truth notes) and the updates.
    const versions = [
      ...(truths.get(id) ?? []).map((t) => ({ value: t.value, begun: t.index, done: t.index, op: undefined as Operation | undefined })),
      ...writes.map((w) => ({ value: w.input.value ?? '', begun: w.index, done: w.completion ?? Infinity, op: w as Operation | undefined })),
    ].sort((a, b) => a.begun - b.begun);
    let floor = -1;
    versions.forEach((v, i) => {
      if (v.done < read.index) floor = i;
    });
    const allowed = versions.filter((v, i) => i >= floor && v.begun < (read.completion ?? Infinity));
    const got = read.end?.result;
    if (floor >= 0 && !allowed.some((v) => v.value === got)) {
      const owed = versions[floor];
      const older = versions.findIndex((v) => v.value === got);
      // The reads that ran across that update and answered the same old value: the loads that may have cached it.
      const racing = owed?.op === undefined ? [] : ops.filter((o) => o.op === 'get' && o.input.id === id && o.end?.result === got && o.index < (owed.op?.completion ?? 0) && (o.completion ?? Infinity) > (owed.op?.index ?? 0));
      return fail(
        `${opText(read)} answered ${JSON.stringify(got)}${older >= 0 && older < floor ? ', an older value' : ''}, after ${owed?.op ? `${opText(owed.op)} had resolved` : `the database held ${JSON.stringify(owed?.value)}`} (${caseAt(history, read.index) ?? 'a read'}).`,
        STALE_HINTS[cache],
        [read.index, read.completion ?? read.index, ...(owed?.op ? [owed.op.index, owed.op.completion ?? owed.op.index] : []), ...racing.flatMap((o) => [o.index, o.completion ?? o.index])],
      );
    }
  }
  return undefined;
}

const LEASE_LEFT_HINT = 'When the database has no such product, the loader gives its lease up (a Lua script that deletes it if it is still its own) and caches nothing: a lease left behind makes every read wait for it to expire.';

/** missing-product: a product that does not exist answers null; once created, it is read at once, not after a lease left behind expired. */
function missingProduct(history: readonly E[], cache: CacheKind): Verdict | undefined {
  const ops = operationsOf(history).filter((o) => o.op === 'get' && o.input.cache === cache && caseAt(history, o.index) === 'missing-product');
  const [before, after] = ops;
  if (before?.outcome === 'ok' && before.end?.result !== null) return fail(`${opText(before)} answered ${JSON.stringify(before.end?.result)}; the database had no such product.`, 'A product the database does not have is null: answer what the load returned.', [before.index, before.completion ?? before.index]);
  if (after?.end !== undefined && after.end.ms > 500) {
    return fail(`${opText(after)}, once the product existed, took ${Math.round(after.end.ms)} ms: it waited for the lease the read before it left behind.`, LEASE_LEFT_HINT, [before?.index ?? after.index, after.index, after.completion ?? after.index]);
  }
  return undefined;
}

const CACHE_TTL_HINT = 'Cache a value with an expiry (SET key value PX cacheTtlMs): a value that missed an invalidation is then wrong for a while, not for ever, and the cache does not fill up with products nobody reads.';

/** cache-stale: no stale read from the Redis cache, and every cached value expires. */
export function checkRedisCache(history: readonly E[]): Verdict {
  const reads = operationsOf(history).filter((o) => o.op === 'get' && o.input.cache === 'redis');
  if (reads.length === 0) return undecided('The scenario read no product.');
  const stale = staleRead(history, 'redis') ?? missingProduct(history, 'redis');
  if (stale) return stale;
  for (const [index, e] of history.entries()) {
    if (e.type === 'note' && e.op === 'keys') {
      const forever = e.value.keys.filter((k) => k.pttl === -1);
      if (forever.length > 0) return fail(`Redis holds ${forever.map((k) => k.key).join(', ')} with no expiry.`, CACHE_TTL_HINT, [index]);
      const ttl = configAt(history, index)?.cacheTtlMs ?? Infinity;
      // Cached values (a key whose value holds a product's value, `p1@v2`), not the design's own keys (a generation may outlive them).
      const long = e.value.keys.filter((k) => k.pttl > ttl + 1_000 && /@v\d/.test(k.value ?? ''));
      if (long.length > 0) return fail(`Redis holds ${long.map((k) => `${k.key} for ${Math.round(k.pttl / 1000)} s more`).join(', ')}, longer than cacheTtlMs (${ttl} ms).`, CACHE_TTL_HINT, [index]);
    }
  }
  return pass(`${plural(reads.length, 'read')} around updates, with loads racing them: none answered a value older than an update that had resolved, and every cached value expires.`);
}

/** memcached-cache: no stale read from the Memcached cache. */
export function checkMemcachedCache(history: readonly E[]): Verdict {
  const reads = operationsOf(history).filter((o) => o.op === 'get' && o.input.cache === 'memcached');
  if (reads.length === 0) return undecided('The scenario read no product.');
  const problem = staleRead(history, 'memcached') ?? missingProduct(history, 'memcached');
  if (problem) return problem;
  for (const [index, e] of history.entries()) {
    if (e.type === 'note' && e.op === 'loads' && e.value.count > 1) {
      return fail(`Product ${JSON.stringify(e.value.id)}, cached and read again a little over a second later, was loaded ${plural(e.value.count, 'time')}: it did not stay cached for cacheTtlMs.`, 'Memcached takes expiries in whole seconds: store the value for Math.ceil(cacheTtlMs / 1000) seconds (60 here), never fewer than asked.', [index]);
    }
  }
  return pass(`${plural(reads.length, 'read')} on Memcached around updates, with loads racing them: none answered a value older than an update that had resolved.`);
}

// ─── stampede ─────────────────────────────────────────────────────────────────────

const STAMPEDE_HINT: Readonly<Record<CacheKind, string>> = {
  redis: 'One loader per product: on a miss, take a lease (SET product:id:lease token NX PX ms), in the same Lua script as the look in the cache: a request that missed just before the loader cached the value, and then took the lease it had given up, loads a second time. The request that got the lease loads and caches; the others wait a little and look again.',
  memcached: 'One loader per product: on a miss, add a lease under the key (add succeeds for one request only); that request loads and stores the value with cas; the others see the lease, wait a little and read again.',
};

/** stampede: N requests at once for an uncached product load it from the database once, and all answer its value. */
export function checkStampede(history: readonly E[]): Verdict {
  const notes = history.flatMap((e, index) => (e.type === 'note' && e.op === 'loads' ? [{ ...e.value, index }] : []));
  if (notes.length === 0) return undecided('The scenario did not get as far as counting loads.');
  const ops = operationsOf(history).filter((o) => o.op === 'get');
  const failed = ops.find((o) => o.outcome === 'fail');
  if (failed) return threw(failed, 'get must not fail while the cache and the database are up (see the detail).');
  const stale = staleRead(history, 'redis') ?? staleRead(history, 'memcached');
  if (stale) return stale;
  for (const n of notes) {
    if (n.count !== 1) {
      return fail(`${plural(n.readers, 'request')} at once for uncached product ${JSON.stringify(n.id)} on ${n.cache === 'redis' ? 'Redis' : 'Memcached'} loaded it from the database ${plural(n.count, 'time')}.`, STAMPEDE_HINT[n.cache], [n.index]);
    }
  }
  return pass(`${notes.map((n) => `${n.readers} at once on ${n.cache === 'redis' ? 'Redis' : 'Memcached'}`).join(', ')}: each burst loaded its product once, and every request answered its value.`);
}

// ─── sessions ─────────────────────────────────────────────────────────────────────

const SLIDE_HINT = 'Using a session must renew its expiry: read it and set PX sessionTtlMs again in one step (GETEX key PX ms), so a session ends sessionTtlMs after its last use, not after its login.';
const EXPIRE_HINT = 'Store the session with an expiry of sessionTtlMs in milliseconds (SET session:id user PX ms; EXPIRE takes seconds), and renew it on each use: then an unused session is gone on time.';
const LOGOUT_HINT = 'logout deletes that session\'s key (DEL session:id) and only that one: the next currentUser of it answers null, and the user\'s other sessions stay.';
const ID_HINT = 'Make each session id new and unguessable: 16 or more random bytes (crypto.randomBytes), never derived from the user name or a counter.';
/** How far from its expiry a session's state is judged (requests take time; Redis expires on the millisecond). */
const MARGIN_MS = 100;

/** sessions: alive within sessionTtlMs of its last use, gone after, logout at once, ids distinct. */
export function checkSessions(history: readonly E[]): Verdict {
  const ops = operationsOf(history);
  const logins = ops.filter((o) => o.op === 'login');
  if (logins.length === 0) return undecided('The scenario did not log in.');
  const failed = ops.find((o) => o.outcome === 'fail');
  if (failed) return threw(failed, 'Sessions must work while Redis is up (see the detail).');
  const ids = logins.map((o) => o.end?.result);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) return fail(`Two logins answered the same session id ${JSON.stringify(dup)}.`, ID_HINT, logins.filter((o) => o.end?.result === dup).map((o) => o.completion ?? o.index));
  const short = logins.find((o) => typeof o.end?.result === 'string' && o.end.result.length < 16);
  if (short) return fail(`login answered the session id ${JSON.stringify(short.end?.result)}: too short to be unguessable.`, ID_HINT, [short.completion ?? short.index]);
  const issued = new Set(ids);
  const stranger = ops.find((o) => o.op === 'currentUser' && !issued.has(o.input.session) && o.end?.result !== null);
  if (stranger) return fail(`${opText(stranger)}, a session id no login gave, answered ${JSON.stringify(stranger.end?.result)}.`, ID_HINT, [stranger.index, stranger.completion ?? stranger.index]);
  for (const login of logins) {
    const session = login.end?.result;
    const user = login.input.user;
    if (typeof session !== 'string' || login.end === undefined) continue;
    const config = configAt(history, login.index);
    if (config === undefined) continue;
    const ttl = config.sessionTtlMs;
    // The last use so far: when it began (the earliest it renewed) and ended (the latest).
    let used = { from: login.input.t, to: login.end.t };
    let loggedOut: Operation | undefined;
    for (const o of ops.filter((x) => x.index > login.index && x.input.session === session && x.end !== undefined)) {
      const end = o.end as NonNullable<Operation['end']>;
      if (o.op === 'logout') {
        loggedOut = o;
        continue;
      }
      if (o.op !== 'currentUser') continue;
      const alive = end.result === user;
      if (loggedOut !== undefined && (loggedOut.completion ?? Infinity) < o.index) {
        if (end.result !== null) return fail(`${opText(o)} answered ${JSON.stringify(end.result)} after ${opText(loggedOut)} had resolved.`, LOGOUT_HINT, [loggedOut.index, o.index, o.completion ?? o.index]);
        continue;
      }
      if (end.result !== null && end.result !== user) return fail(`${opText(o)} answered ${JSON.stringify(end.result)}; the session is ${JSON.stringify(user)}'s.`, LOGOUT_HINT, [login.index, o.completion ?? o.index]);
      const since = o.input.t - used.to;
      if (!alive && o.end !== undefined && end.t <= used.from + ttl - MARGIN_MS) {
        if (caseAt(history, o.index) === 'another-session-stays') {
          return fail(`${opText(o)} answered null ${Math.round(o.input.t - used.from)} ms after its last use, right after another session of ${JSON.stringify(user)} logged out: the logout ended this one too.`, LOGOUT_HINT, [o.index, o.completion ?? o.index]);
        }
        return fail(`${opText(o)} answered null ${Math.round(o.input.t - used.from)} ms after the session was last used; it lasts ${ttl} ms from its last use.`, o.index > login.index && used.from !== login.input.t ? SLIDE_HINT : EXPIRE_HINT, [login.index, o.index, o.completion ?? o.index]);
      }
      if (alive && since >= ttl + MARGIN_MS) {
        return fail(`${opText(o)} still answered ${JSON.stringify(user)} ${Math.round(since)} ms after the session's last use; it must end ${ttl} ms after it.`, EXPIRE_HINT, [login.index, o.index, o.completion ?? o.index]);
      }
      if (alive) used = { from: o.input.t, to: end.t };
    }
  }
  return pass(`${plural(logins.length, 'session')}: each alive within ${configAt(history, logins[0]?.index ?? 0)?.sessionTtlMs ?? '?'} ms of its last use and gone after, logout at once, the other sessions untouched.`);
}

// ─── session-restart ──────────────────────────────────────────────────────────────

const RESTART_HINT = 'Keep sessions in Redis, not in your process: the lab\'s Redis writes every change to its append-only file (appendfsync always), so they outlive a restart of Redis and of your service. A Map in memory is gone with the process.';

/** session-restart: a session outlives a restart (and a kill) of Redis and of the service's process. */
export function checkSessionRestart(history: readonly E[]): Verdict {
  const ops = operationsOf(history);
  const checks = ops.filter((o) => o.op === 'currentUser' && caseAt(history, o.index)?.startsWith('after-') === true);
  if (checks.length === 0) return undecided('The scenario did not get as far as the restarts.');
  for (const c of checks) {
    const login = ops.find((o) => o.op === 'login' && o.end?.result === c.input.session);
    if (c.outcome !== 'ok' || c.end?.result !== login?.input.user) {
      return fail(`${(caseAt(history, c.index) ?? '').replaceAll('-', ' ')}: ${opText(c)} answered ${c.outcome === 'ok' ? JSON.stringify(c.end?.result) : `an error (${c.detail ?? ''})`}, not ${JSON.stringify(login?.input.user)}.`, RESTART_HINT, [c.index, c.completion ?? c.index]);
    }
  }
  return pass(`${plural(checks.length, 'session')} outlived ${cases(history).filter((c) => c.startsWith('after-')).map((c) => (c === 'after-kill' ? 'a kill of Redis' : 'a restart of Redis and of the service')).join(' and ')}.`);
}

// ─── degrade ──────────────────────────────────────────────────────────────────────

const SLOW_HINT =
  'Give every Redis call a time limit (withTimeout(call, config.redisTimeoutMs)): a paused Redis or a network that drops packets answers nothing, and a call without a limit waits as long. Once a call timed out, answer without Redis for that request.';
const DEGRADE_HINTS: Readonly<Record<string, string>> = {
  allowFixed: 'When Redis cannot answer in time, the limiter answers config.failOpen: true lets the request through, false refuses it. Catch the timeout or error and return that.',
  allowSliding: 'When Redis cannot answer in time, the limiter answers config.failOpen: true lets the request through, false refuses it. Catch the timeout or error and return that.',
  get: 'When the cache cannot answer in time, read the database and answer its value (without caching it): the cache is an optimisation, not the truth.',
  currentUser: 'When Redis cannot answer in time, currentUser answers null (the user logs in again later): never an error, never a guess.',
  login: 'Once Redis answers again, the service must work again: a client that gave up on Redis must not stay broken.',
};

const REJECT_HINT = 'login, logout and update cannot do their job without Redis (a session nobody can read, a cached value nobody deleted): let the timeout or error through, so that the caller knows. Answering as if it worked hands out a session that does not exist.';

/** The longest a request may take while Redis is down: two of its time limits, a product load and some slack. */
export const degradedBudgetMs = (redisTimeoutMs: number, loadDelayMs: number): number => 2 * redisTimeoutMs + loadDelayMs + 400;

/** degrade: while Redis is paused, killed or cut off, every request answers in time as configured; after, the service works again. */
export function checkDegrade(history: readonly E[], loadDelayMs: number): Verdict {
  const ops = operationsOf(history);
  const died = history.findIndex((e) => e.type === 'crash' && e.op === 'died');
  if (died >= 0) return fail(`The service's process ended while Redis was down: ${history[died]?.detail ?? ''}.`, 'An error of a Redis call that nobody awaits or catches (an unhandled rejection) ends the process. Catch what a Redis call can throw in every request.', [died]);
  const during = ops.filter((o) => caseAt(history, o.index)?.startsWith('during-') === true);
  if (during.length === 0) return undecided('The scenario did not get as far as a fault.');
  for (const o of ops) {
    const config = configAt(history, o.index);
    const phase = caseAt(history, o.index) ?? '';
    if (config === undefined) continue;
    if (phase.startsWith('during-')) {
      const budget = degradedBudgetMs(config.redisTimeoutMs, loadDelayMs);
      if (o.op === 'login' || o.op === 'logout' || o.op === 'update') {
        // They cannot do their job without Redis: they must reject, and in time.
        if (o.outcome === 'ok') return fail(`${phase.replaceAll('-', ' ')}: ${opText(o)} resolved${o.op === 'login' ? ` with ${JSON.stringify(o.end?.result)}` : ''}, though Redis could not store it.`, REJECT_HINT, [o.index, o.completion ?? o.index]);
        if (o.end === undefined || o.end.ms > budget || o.detail?.includes('did not finish within') === true) return fail(`${phase.replaceAll('-', ' ')}: ${opText(o)} took ${o.end === undefined ? 'for ever' : `${Math.round(o.end.ms)} ms`} to reject (with redisTimeoutMs = ${config.redisTimeoutMs}, at most ${budget} ms).`, SLOW_HINT, [o.index, o.completion ?? o.index]);
        continue;
      }
      if (o.outcome !== 'ok' || o.end === undefined) {
        return fail(`${phase.replaceAll('-', ' ')}: ${opText(o)} ${o.outcome === 'pending' ? 'never answered' : `failed: ${o.detail ?? ''}`}.`, o.detail?.includes('within') === true ? SLOW_HINT : (DEGRADE_HINTS[o.op] ?? SLOW_HINT), [o.index, o.completion ?? o.index]);
      }
      if (o.end.ms > budget) return fail(`${phase.replaceAll('-', ' ')}: ${opText(o)} took ${Math.round(o.end.ms)} ms (with redisTimeoutMs = ${config.redisTimeoutMs}, at most ${budget} ms).`, SLOW_HINT, [o.index, o.completion ?? o.index]);
      const expected = o.op === 'allowFixed' || o.op === 'allowSliding' ? config.failOpen : o.op === 'currentUser' ? null : o.op === 'get' ? truthBefore(history, o.input.id ?? '', o.index) : undefined;
      if (expected !== undefined && o.end.result !== expected) {
        return fail(`${phase.replaceAll('-', ' ')}: ${opText(o)} answered ${JSON.stringify(o.end.result)}; ${o.op.startsWith('allow') ? `with failOpen = ${String(config.failOpen)}` : 'while Redis was down'} it must answer ${JSON.stringify(expected)}.`, DEGRADE_HINTS[o.op] ?? SLOW_HINT, [o.index, o.completion ?? o.index]);
      }
    } else if (phase.startsWith('after-')) {
      const expected = o.op === 'allowFixed' || o.op === 'allowSliding' ? true : o.op === 'get' ? truthBefore(history, o.input.id ?? '', o.index) : undefined;
      if (o.outcome !== 'ok' || (expected !== undefined && o.end?.result !== expected) || (o.op === 'currentUser' && o.end?.result === null)) {
        return fail(`${phase.replaceAll('-', ' ')}: ${opText(o)} ${o.outcome === 'ok' ? `answered ${JSON.stringify(o.end?.result)}` : `failed: ${o.detail ?? 'no answer'}`}, though Redis answered again.`, DEGRADE_HINTS['login'] ?? SLOW_HINT, [o.index, o.completion ?? o.index]);
      }
    }
  }
  const faults = cases(history).filter((c) => c.startsWith('during-')).length;
  return pass(`${plural(during.length, 'request')} during ${plural(faults, 'fault')} of Redis (paused, killed, cut off), failing open and closed: each answered in time as configured, and the service worked again after each.`);
}

function truthBefore(history: readonly E[], id: string, index: number): string | null {
  for (let i = index; i >= 0; i--) {
    const e = history[i];
    if (e?.type === 'note' && e.op === 'truth' && e.value.id === id) return e.value.value;
  }
  return null;
}
