/**
 * The Key-Value grader's scenarios, as data: each drives the learner's service against the
 * lab's Redis, Memcached and PostgreSQL (many requests at once, the clock moved, database
 * calls held at a gate to force a race, the process killed between Redis commands, Redis
 * paused, killed, cut off and restarted) and names the pure checker (checkers.ts) that
 * judges what it recorded. Ids and order are lab.json's checks.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { HistoryRecorder } from '../../../src/core/grading/history';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Rng } from '../../../src/core/random';
import {
  checkDegrade,
  checkFixedWindow,
  checkLimiterCrash,
  checkMemcachedCache,
  checkRedisCache,
  checkSessionRestart,
  checkSessions,
  checkSlidingWindow,
  checkStampede,
} from './checkers';
import { GRADER, type KvEvent } from './history';
import type { KvHarness } from './harness';
import { BASE_CONFIG, LOAD_DELAY_MS } from './limits';
import type { CacheKind, KvOp, ServiceConfig } from './protocol';

type Spec = ScenarioSpec<KvHarness, KvEvent>;
type History = HistoryRecorder<KvEvent>;
type H = KvHarness;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A scenario that starts with empty stores and the service made on `config`, and ends with every fault healed. */
function kvScenario(spec: Omit<Spec, 'run'> & { config?: Partial<ServiceConfig>; run(h: H, ctx: ScenarioContext<KvEvent>): Promise<void> }): Spec {
  return {
    id: spec.id,
    check: spec.check,
    ...(spec.budgetMs !== undefined ? { budgetMs: spec.budgetMs } : {}),
    ...(spec.cases !== undefined ? { cases: spec.cases } : {}),
    async run(h, ctx) {
      try {
        await h.begin(ctx.history, spec.config);
        await spec.run(h, ctx);
      } finally {
        await h.endScenario();
      }
    },
  };
}

const CLIENTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'] as const;

/** `n` requests of the limiter at once, spread over `clients`, each on its own lane. */
function limiterBurst(h: H, history: History, op: 'allowFixed' | 'allowSliding', clients: readonly string[], n: number, rng: Rng): Promise<unknown> {
  const requests = Array.from({ length: n }, (_, i) => ({ process: `c${i + 1}`, op: { op, client: clients.length === 1 ? (clients[0] as string) : rng.pick(clients) } as KvOp }));
  return h.burst(history, requests);
}

// ─── limit ────────────────────────────────────────────────────────────────────────

const limit = kvScenario({
  id: 'limit',
  check: checkFixedWindow,
  cases: ['fifty-at-once', 'several-clients', 'next-window', 'window-in-steps'],
  async run(h, { history, rng }) {
    const { windowMs, limit: max } = BASE_CONFIG;
    await h.toWindowStart(history, windowMs);
    h.case(history, 'fifty-at-once');
    const client = rng.pick(CLIENTS);
    await limiterBurst(h, history, 'allowFixed', [client], rng.int(50, 60), rng);
    await h.noteOpenSessions(history);
    h.case(history, 'several-clients');
    await limiterBurst(h, history, 'allowFixed', rng.shuffle(CLIENTS.filter((c) => c !== client)).slice(0, 3), 50, rng);
    h.case(history, 'next-window');
    await h.toWindowStart(history, windowMs);
    await limiterBurst(h, history, 'allowFixed', [client], max + rng.int(3, 8), rng);
    h.case(history, 'window-in-steps');
    await h.toWindowStart(history, windowMs);
    for (let step = 0; step < 4; step++) await limiterBurst(h, history, 'allowFixed', [client], rng.int(2, 5), rng);
    await h.noteOpenSessions(history);
  },
});

// ─── sliding ──────────────────────────────────────────────────────────────────────

const sliding = kvScenario({
  id: 'sliding',
  check: checkSlidingWindow,
  cases: ['fifty-at-once', 'half-window-later', 'window-later', 'half-limit-twice'],
  async run(h, { history, rng }) {
    const { windowMs, limit: max } = BASE_CONFIG;
    const client = rng.pick(CLIENTS);
    h.case(history, 'fifty-at-once');
    await limiterBurst(h, history, 'allowSliding', [client], rng.int(50, 60), rng);
    h.case(history, 'half-window-later');
    await h.jump(history, windowMs / 2);
    await limiterBurst(h, history, 'allowSliding', [client], 20, rng);
    h.case(history, 'window-later');
    await h.jump(history, windowMs / 2 + 300);
    await limiterBurst(h, history, 'allowSliding', [client], 20, rng);
    h.case(history, 'half-limit-twice');
    const other = rng.pick(CLIENTS.filter((c) => c !== client));
    await limiterBurst(h, history, 'allowSliding', [other], max / 2, rng);
    await h.jump(history, windowMs / 2);
    await limiterBurst(h, history, 'allowSliding', [other], max / 2, rng);
    await h.jump(history, windowMs / 2 + 300);
    // The first half left the window: exactly half the limit is admitted now.
    await limiterBurst(h, history, 'allowSliding', [other], max, rng);
  },
});

// ─── limiter-crash ────────────────────────────────────────────────────────────────

const limiterCrash = kvScenario({
  id: 'limiter-crash',
  check: checkLimiterCrash,
  budgetMs: 45_000,
  cases: ['kill-after-each-reply-fixed', 'kill-after-each-reply-sliding', 'served-again-after-kill'],
  async run(h, { history, rng, signal }) {
    const { windowMs } = BASE_CONFIG;
    for (const op of ['allowFixed', 'allowSliding'] as const) {
      // A clean request first: how many Redis replies one request takes.
      await h.arm(null);
      await h.must(history, 'service', { op, client: 'probe' });
      const points = await h.replies();
      for (let point = 1; point <= points && !signal.aborted; point++) {
        const client = `${rng.pick(CLIENTS)}-${op === 'allowFixed' ? 'f' : 's'}${point}`;
        h.case(history, `kill-after-each-reply-${op === 'allowFixed' ? 'fixed' : 'sliding'}`);
        await h.arm(point);
        await h.op(history, 'service', { op, client }, 10_000);
        history.record({ process: 'service', type: 'crash', op: 'killed', detail: `just after Redis reply ${point} of ${points} of ${op}(${JSON.stringify(client)})` });
        await h.restartLearner();
        await h.arm(null);
        await h.probeKeys(history);
        h.case(history, 'served-again-after-kill');
        await h.toWindowStart(history, windowMs, 20, windowMs);
        await h.op(history, 'service', { op, client });
      }
    }
  },
});

// ─── caches ───────────────────────────────────────────────────────────────────────

/** Each product's values in the order they are written: `p1@v1`, `p1@v2`... */
function valueMaker(): (id: string) => string {
  const written = new Map<string, number>();
  return (id) => {
    const n = (written.get(id) ?? 0) + 1;
    written.set(id, n);
    return `${id}@v${n}`;
  };
}

/**
 * The races of cache-aside, on one cache: a load that read before an update and caches
 * after it; a read while an update waits to write the database; reads and updates with
 * seeded timing. Writes of one product never overlap.
 */
async function cacheRaces(h: H, history: History, rng: Rng, cache: CacheKind): Promise<void> {
  const nextValue = valueMaker();
  const get = (id: string): KvOp => ({ op: 'get', cache, id });
  const update = (id: string): KvOp => ({ op: 'update', cache, id, value: nextValue(id) });
  const ids = ['p1', 'p2', 'p3'];
  for (const id of ids) await h.setTruth(history, id, nextValue(id));

  h.case(history, 'read-your-write');
  await h.must(history, 'reader', get('p1'));
  await h.must(history, 'reader', get('p1'));
  await h.must(history, 'writer', update('p1'));
  await h.must(history, 'reader', get('p1'));

  h.case(history, 'missing-product');
  // No such product: null; then it is created (by another service, straight in the table) and read again.
  await h.op(history, 'reader', get('p-new'));
  await h.setTruth(history, 'p-new', nextValue('p-new'));
  await h.op(history, 'reader', get('p-new'));

  h.case(history, 'load-racing-update');
  await h.hold({ kind: 'load', id: 'p2' });
  const racing = h.op(history, 'loader', get('p2'));
  if (!(await h.waitHeld())) {
    await h.release();
    await racing;
    throw new Error('get(p2) of an uncached product did not load it from the database.');
  }
  await h.op(history, 'writer', update('p2'));
  await h.release();
  await racing;
  await h.op(history, 'reader', get('p2'));
  await sleep(50);
  await h.op(history, 'reader', get('p2'));

  h.case(history, 'read-while-update-writes');
  await h.must(history, 'reader', get('p3'));
  await h.hold({ kind: 'save', id: 'p3' });
  const writing = h.op(history, 'writer', update('p3'));
  if (await h.waitHeld()) {
    await h.op(history, 'reader', get('p3'));
  }
  await h.release();
  await writing;
  await h.op(history, 'reader', get('p3'));

  h.case(history, 'seeded-reads-and-updates');
  for (let round = 0; round < 4; round++) {
    const id = rng.pick(ids);
    const readers = rng.int(1, 4);
    const racing = rng.chance(0.5);
    if (racing) {
      // Uncached by an update, then several readers, one of them loading (held), and an update meanwhile.
      await h.op(history, 'writer', update(id));
      await h.hold({ kind: 'load', id });
    }
    const reads = Array.from({ length: readers }, (_, i) => h.op(history, `reader${i + 2}`, get(id)));
    if (racing) await h.waitHeld(1_000);
    await sleep(rng.int(0, 40));
    const write = h.op(history, 'writer', update(id));
    await sleep(rng.int(0, 40));
    await h.release();
    await Promise.all([...reads, write]);
    await h.op(history, 'reader', get(id));
  }
}

const cacheStale = kvScenario({
  id: 'cache-stale',
  check: checkRedisCache,
  cases: ['read-your-write', 'missing-product', 'load-racing-update', 'read-while-update-writes', 'seeded-reads-and-updates'],
  async run(h, { history, rng }) {
    await cacheRaces(h, history, rng, 'redis');
    await h.probeKeys(history);
  },
});

// ─── stampede ─────────────────────────────────────────────────────────────────────

/** How much slower Redis answers during the Redis bursts (a reader's two commands are that far apart). */
const STAMPEDE_LATENCY_MS = 40;
/** How long the slow load takes: within the reference's lease (1 s on Redis; Memcached's 2 s, which may end after 1), so nobody may load meanwhile. */
const SLOW_LOAD_MS = 600;

const stampede = kvScenario({
  id: 'stampede',
  check: checkStampede,
  cases: ['misses-at-once-redis', 'misses-as-the-loader-caches', 'misses-after-update-redis', 'misses-at-once-memcached', 'a-slow-load'],
  async run(h, { history, rng }) {
    const nextValue = valueMaker();
    const gets = (cache: CacheKind, id: string, n: number, lane: string): { process: string; op: KvOp }[] => Array.from({ length: n }, (_, i) => ({ process: `${lane}${i + 1}`, op: { op: 'get', cache, id } }));
    const loads = async (cache: CacheKind, id: string, readers: number): Promise<void> => {
      history.record({ process: GRADER, type: 'note', op: 'loads', value: { cache, id, count: (await h.takeLoads())[id] ?? 0, readers } });
    };

    // Redis, on a slow network: a request's two commands are far enough apart for the loader to finish in between.
    const id = 'hot-redis';
    await h.setTruth(history, id, nextValue(id));
    await h.fault(history, () => h.services.slow(STAMPEDE_LATENCY_MS));
    await h.takeLoads();
    h.case(history, 'misses-at-once-redis');
    const first = rng.int(15, 25);
    await h.hold({ kind: 'load', id });
    const waiting = h.burst(history, gets('redis', id, first, 'r'));
    const held = await h.waitHeld();
    // A second wave misses just before the loader caches: what it does next must not be a second load.
    h.case(history, 'misses-as-the-loader-caches');
    const second = rng.int(5, 10);
    const late = h.burst(history, gets('redis', id, second, 'w'));
    await sleep(held ? STAMPEDE_LATENCY_MS * 0.75 : 0);
    await h.release();
    await Promise.all([waiting, late]);
    await loads('redis', id, first + second);

    h.case(history, 'misses-after-update-redis');
    await h.must(history, 'writer', { op: 'update', cache: 'redis', id, value: nextValue(id) });
    await h.takeLoads();
    await h.burst(history, gets('redis', id, first, 'r'));
    await loads('redis', id, first);
    await h.healAll(history);

    const mc = 'hot-memcached';
    await h.setTruth(history, mc, nextValue(mc));
    await h.takeLoads();
    h.case(history, 'misses-at-once-memcached');
    await h.burst(history, gets('memcached', mc, first, 'r'));
    await loads('memcached', mc, first);

    // A load that takes most of a lease's time, on both caches at once: the others keep waiting for it.
    h.case(history, 'a-slow-load');
    const slow = ['slow-redis', 'slow-memcached'];
    for (const s of slow) await h.setTruth(history, s, nextValue(s));
    for (const s of slow) await h.hold({ kind: 'load', id: s });
    const started = Date.now();
    const waitingSlow = Promise.all([h.burst(history, gets('redis', 'slow-redis', 8, 'r')), h.burst(history, gets('memcached', 'slow-memcached', 8, 'm'))]);
    await h.waitHeld();
    await sleep(Math.max(0, SLOW_LOAD_MS - (Date.now() - started)));
    await h.release();
    await waitingSlow;
    const counted = await h.takeLoads();
    for (const [cache, s] of [['redis', 'slow-redis'], ['memcached', 'slow-memcached']] as const) history.record({ process: GRADER, type: 'note', op: 'loads', value: { cache, id: s, count: counted[s] ?? 0, readers: 8 } });
  },
});

// ─── memcached-cache ──────────────────────────────────────────────────────────────

const memcachedCache = kvScenario({
  id: 'memcached-cache',
  check: checkMemcachedCache,
  cases: ['read-your-write', 'missing-product', 'load-racing-update', 'read-while-update-writes', 'seeded-reads-and-updates', 'cached-for-its-time'],
  async run(h, { history, rng }) {
    const started = Date.now();
    await h.setTruth(history, 'p-kept', 'p-kept@v1');
    await h.takeLoads();
    await h.op(history, 'reader', { op: 'get', cache: 'memcached', id: 'p-kept' });
    await cacheRaces(h, history, rng, 'memcached');
    // More than a second later (Memcached counts whole seconds): still cached, as cacheTtlMs says.
    h.case(history, 'cached-for-its-time');
    await sleep(Math.max(0, 1_050 - (Date.now() - started)));
    await h.op(history, 'reader', { op: 'get', cache: 'memcached', id: 'p-kept' });
    history.record({ process: GRADER, type: 'note', op: 'loads', value: { cache: 'memcached', id: 'p-kept', count: (await h.takeLoads())['p-kept'] ?? 0, readers: 2 } });
  },
});

// ─── sessions ─────────────────────────────────────────────────────────────────────

const sessions = kvScenario({
  id: 'sessions',
  check: checkSessions,
  cases: ['used-session-lives', 'unused-session-ends', 'logout-at-once', 'another-session-stays', 'unknown-session'],
  async run(h, { history, rng }) {
    const ttl = BASE_CONFIG.sessionTtlMs;
    const [user, other] = rng.shuffle(CLIENTS);
    const s1 = String(await h.must(history, 'alice-1', { op: 'login', user: user as string }));
    const s2 = String(await h.must(history, 'alice-2', { op: 'login', user: user as string }));
    const s3 = String(await h.must(history, 'bob', { op: 'login', user: other as string }));
    h.case(history, 'used-session-lives');
    await h.op(history, 'alice-1', { op: 'currentUser', session: s1 });
    await h.op(history, 'alice-2', { op: 'currentUser', session: s2 });
    for (let use = 0; use < 2; use++) {
      await sleep(ttl * 0.45);
      await h.op(history, 'alice-1', { op: 'currentUser', session: s1 });
      await h.op(history, 'alice-2', { op: 'currentUser', session: s2 });
    }
    await sleep(ttl * 0.45);
    // 1.35 × ttl after the login: alive only if the uses above renewed it.
    await h.op(history, 'alice-1', { op: 'currentUser', session: s1 });
    h.case(history, 'unused-session-ends');
    await h.op(history, 'bob', { op: 'currentUser', session: s3 });
    h.case(history, 'logout-at-once');
    // Still alive (used 0.6 of its time ago), then logged out.
    await h.op(history, 'alice-2', { op: 'currentUser', session: s2 });
    await h.must(history, 'alice-2', { op: 'logout', session: s2 });
    await h.op(history, 'alice-2', { op: 'currentUser', session: s2 });
    h.case(history, 'another-session-stays');
    await h.op(history, 'alice-1', { op: 'currentUser', session: s1 });
    h.case(history, 'unknown-session');
    await h.op(history, 'mallory', { op: 'currentUser', session: `${s1.slice(0, -2)}xx` });
    h.case(history, 'unused-session-ends');
    await sleep(ttl + 300);
    await h.op(history, 'alice-1', { op: 'currentUser', session: s1 });
    await h.probeKeys(history);
  },
});

// ─── session-restart ──────────────────────────────────────────────────────────────

const sessionRestart = kvScenario({
  id: 'session-restart',
  check: checkSessionRestart,
  config: { sessionTtlMs: 60_000 },
  cases: ['after-restart', 'after-kill'],
  async run(h, { history, rng }) {
    const [a, b] = rng.shuffle(CLIENTS);
    const s1 = String(await h.must(history, 'user-1', { op: 'login', user: a as string }));
    await h.fault(history, () => h.services.restart());
    await h.restartLearner();
    h.case(history, 'after-restart');
    await h.op(history, 'user-1', { op: 'currentUser', session: s1 });
    const s2 = String(await h.must(history, 'user-2', { op: 'login', user: b as string }));
    await h.fault(history, () => h.services.kill());
    await h.healAll(history);
    await sleep(100);
    h.case(history, 'after-kill');
    await h.op(history, 'user-2', { op: 'currentUser', session: s2 });
  },
});

// ─── degrade ──────────────────────────────────────────────────────────────────────

/** The service's time limit on Redis calls while Redis is down (elsewhere a loaded machine gets a generous one). */
const DEGRADED_REDIS_TIMEOUT_MS = 200;
/** How long a request during a fault may run before the grader gives up on it (and its process). */
const DEGRADED_OP_TIMEOUT_MS = 2_500;

const degrade = kvScenario({
  id: 'degrade',
  check: (history) => checkDegrade(history, LOAD_DELAY_MS),
  budgetMs: 45_000,
  cases: ['during-pause', 'during-kill', 'during-cut-off', 'after-pause', 'after-kill', 'after-cut-off'],
  async run(h, { history, rng }) {
    const faults = [
      { name: 'pause', apply: () => h.services.pause() },
      { name: 'kill', apply: () => h.services.kill() },
      { name: 'cut-off', apply: () => h.services.cutOff() },
    ];
    const nextValue = valueMaker();
    const order = rng.shuffle(faults);
    const firstOpen = rng.chance(0.5);
    for (const [i, fault] of order.entries()) {
      const failOpen = i % 2 === 0 ? firstOpen : !firstOpen;
      await h.open(history, { failOpen, sessionTtlMs: 60_000, redisTimeoutMs: DEGRADED_REDIS_TIMEOUT_MS });
      const id = `p-${fault.name}`;
      await h.setTruth(history, id, nextValue(id));
      const session = String(await h.must(history, 'user', { op: 'login', user: rng.pick(CLIENTS) }));
      await h.must(history, 'reader', { op: 'get', cache: 'redis', id });
      await h.fault(history, fault.apply);
      h.case(history, `during-${fault.name}`);
      await h.burst(history, [
        { process: 'c1', op: { op: 'allowFixed', client: `d-${fault.name}` } },
        { process: 'c2', op: { op: 'allowSliding', client: `d-${fault.name}` } },
        { process: 'reader', op: { op: 'get', cache: 'redis', id } },
        { process: 'user', op: { op: 'currentUser', session } },
        { process: 'newcomer', op: { op: 'login', user: rng.pick(CLIENTS) } },
        { process: 'writer', op: { op: 'update', cache: 'redis', id: `u-${fault.name}`, value: nextValue(`u-${fault.name}`) } },
      ], DEGRADED_OP_TIMEOUT_MS);
      await h.reviveIfDead(history);
      await h.healAll(history);
      h.case(history, `after-${fault.name}`);
      // The connections the fault broke are closed by now; a first call may still meet one.
      await sleep(50);
      await h.reviveIfDead(history);
      await h.op(history, 'c1', { op: 'allowFixed', client: `a-${fault.name}` });
      await h.op(history, 'reader', { op: 'get', cache: 'redis', id });
      await h.op(history, 'user', { op: 'login', user: rng.pick(CLIENTS) });
      await h.op(history, 'user', { op: 'currentUser', session });
    }
  },
});

export const scenarios: readonly Spec[] = [limit, sliding, limiterCrash, cacheStale, stampede, memcachedCache, sessions, sessionRestart, degrade];
