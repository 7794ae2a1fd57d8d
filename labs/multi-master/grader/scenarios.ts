/**
 * The Multi-Master grader's scenarios, as data: each drives the three regions and the
 * channel between them (delays, reorders, duplicates, drops, partitions; paused and
 * restarted stores), reads every region at the end through the learner's own reads, and
 * names the pure checker (checkers.ts) that judges what it recorded. Ids and order are
 * lab.json's checks, then its demonstration.
 *
 * The checkers rebuild who knew what from the deliveries (history.ts, Knowledge). For that
 * to be what every correct design knew, the scenarios that judge by it (carts and profiles)
 * run no fault that leaves a delivery uncertain, keep one key of a kind in play at a time,
 * and let a region remove an item only once every message sent to it has arrived: the
 * channel may reorder what a region receives, but never behind the back of a remove.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { HistoryRecorder } from '../../../src/core/grading/history';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Rng } from '../../../src/core/random';
import { checkAtomicApply, checkCart, checkConvergence, checkCounter, checkIdempotence, checkLwwConflicts, checkLwwVsOrSet, checkLwwWinner, checkRestart } from './checkers';
import type { Keys, MultiMasterHarness } from './harness';
import { GRADER, type MultiMasterEvent, REGIONS } from './history';
import type { ClockSetting, RegionOp } from './protocol';

type Spec = ScenarioSpec<MultiMasterHarness, MultiMasterEvent>;
type History = HistoryRecorder<MultiMasterEvent>;
type H = MultiMasterHarness;

const ITEMS = ['apple', 'bread', 'cheese', 'dates', 'eggs', 'figs', 'grapes', 'honey'] as const;
const COLOURS = ['amber', 'blue', 'coral', 'denim', 'ebony', 'fern', 'gold', 'hazel', 'indigo', 'jade'] as const;

/** A scenario that starts with empty stores and the three regions made, and ends with every fault healed. */
function mmScenario(spec: Omit<Spec, 'run'> & { clocks?: (rng: Rng) => (region: string) => ClockSetting; run(h: H, ctx: ScenarioContext<MultiMasterEvent>): Promise<void> }): Spec {
  return {
    id: spec.id,
    check: spec.check,
    ...(spec.budgetMs !== undefined ? { budgetMs: spec.budgetMs } : {}),
    ...(spec.teaching !== undefined ? { teaching: spec.teaching } : {}),
    ...(spec.cases !== undefined ? { cases: spec.cases } : {}),
    async run(h, ctx) {
      try {
        await h.begin(ctx.history, spec.clocks?.(ctx.rng));
        await spec.run(h, ctx);
      } finally {
        await h.endScenario();
      }
    },
  };
}

const caseNote = (history: History, name: string): void => {
  history.record({ process: GRADER, type: 'note', op: 'case', value: { name } });
};

/** Runs an operation that must succeed (no fault is in force): a failure ends the scenario with the learner's error. */
async function must(h: H, history: History, region: string, op: RegionOp): Promise<void> {
  const done = await h.op(history, region, op);
  if (!done.ok) throw new Error(`${region} ${op.op}(${JSON.stringify(op.key)}${'value' in op ? `, ${JSON.stringify(op.value)}` : ''}) threw: ${done.message}`);
}

/**
 * The channel's mischief after an operation: each message in flight is, by chance, left
 * waiting, delivered, delivered and kept for a second delivery later, or dropped (it stays
 * in flight, to come again); now and then an old message is delivered once more.
 */
async function chaos(h: H, history: History, rng: Rng, options: { deliver?: number; duplicate?: number; drop?: number } = {}): Promise<void> {
  const { deliver = 0.4, duplicate = 0.15, drop = 0.1 } = options;
  for (const m of rng.shuffle(h.deliverable())) {
    if (!rng.chance(deliver)) continue;
    if (rng.chance(drop)) h.drop(history, m);
    else await h.deliver(history, m, { again: rng.chance(duplicate) });
  }
  if (h.sent.length > 0 && rng.chance(duplicate)) {
    const old = rng.pick(h.sent);
    if (!h.inFlight.has(old.id) && h.reachable(old.from, old.to)) await h.deliver(history, old, { again: true });
  }
}

// ─── counter ──────────────────────────────────────────────────────────────────────

const POSTS = ['post-1', 'post-2'];

const counter = mmScenario({
  id: 'counter',
  cases: ['likes-and-unlikes-in-every-region', 'duplicated-deliveries', 'dropped-and-redelivered', 'partition-then-heal'],
  check: checkCounter,
  async run(h, { rng, history }) {
    const ops = rng.int(30, 40);
    const cutAt = rng.int(5, 12);
    const healAt = cutAt + rng.int(8, 14);
    for (let i = 0; i < ops; i++) {
      if (i === cutAt) h.partition(history, [rng.pick(REGIONS)]);
      if (i === healAt) h.healPartitions(history);
      await must(h, history, rng.pick(REGIONS), { op: rng.chance(0.7) ? 'like' : 'unlike', key: rng.pick(POSTS) });
      await chaos(h, history, rng);
    }
    // Old totals again, late: a merge that adds what comes counts them twice.
    for (const m of rng.shuffle(h.sent).slice(0, 3)) if (h.reachable(m.from, m.to)) await h.deliver(history, m, { again: true });
    await h.settle(history, rng, { likes: POSTS });
  },
});

// ─── restart ──────────────────────────────────────────────────────────────────────

const restart = mmScenario({
  id: 'restart',
  cases: ['own-likes-counted-before-and-after-a-restart', 'add-tags-after-a-restart', 'an-item-removed-before-the-restart-stays-removed'],
  check: checkRestart,
  async run(h, { rng, history }) {
    const [gone, kept] = rng.shuffle(ITEMS).slice(0, 2) as [string, string];
    for (let i = rng.int(2, 4); i > 0; i--) await must(h, history, 'eu', { op: 'like', key: 'post-r' });
    await must(h, history, 'us', { op: 'like', key: 'post-r' });
    await must(h, history, 'eu', { op: 'addToCart', key: 'cart-r', value: gone });
    await must(h, history, 'eu', { op: 'removeFromCart', key: 'cart-r', value: gone });
    await must(h, history, 'eu', { op: 'unlike', key: 'post-r' });
    await h.deliverAll(history, rng);
    await h.restart(history, 'eu');
    for (let i = rng.int(1, 3); i > 0; i--) await must(h, history, 'eu', { op: 'like', key: 'post-r' });
    await must(h, history, 'eu', { op: 'addToCart', key: 'cart-r', value: kept });
    await must(h, history, 'ap', { op: 'like', key: 'post-r' });
    await chaos(h, history, rng);
    await h.settle(history, rng, { likes: ['post-r'], carts: ['cart-r'] });
  },
});

// ─── cart-or-set ──────────────────────────────────────────────────────────────────

const cartOrSet = mmScenario({
  id: 'cart-or-set',
  cases: ['an-add-concurrent-with-a-remove-survives', 'an-add-and-a-remove-in-both-orders', 'a-remove-removes-only-the-adds-it-saw', 'a-remove-that-arrives-before-its-add', 'an-add-delivered-again-after-its-remove', 'seeded-adds-and-removes'],
  check: checkCart,
  async run(h, { rng, history }) {
    const items = rng.shuffle(ITEMS);
    const carts: string[] = [];
    const begin = (name: string, cart: string): void => {
      caseNote(history, name);
      carts.push(cart);
    };

    // An add concurrent with a remove survives it (add wins).
    // ap receives the add and the remove in either order: both orders, one cart each.
    const a1 = items[0] as string;
    for (const removeFirst of [false, true]) {
      const cart = `cart-a${removeFirst ? 1 : 0}`;
      begin(`an add concurrent with a remove survives (ap gets the ${removeFirst ? 'remove' : 'add'} first)`, cart);
      await must(h, history, 'eu', { op: 'addToCart', key: cart, value: a1 });
      await h.deliverAll(history, rng);
      h.partition(history, ['eu']);
      await must(h, history, 'us', { op: 'removeFromCart', key: cart, value: a1 });
      await must(h, history, 'eu', { op: 'addToCart', key: cart, value: a1 });
      h.healPartitions(history);
      const toAp = h.deliverable((m) => m.to === 'ap');
      for (const m of removeFirst ? [...toAp].reverse() : toAp) await h.deliver(history, m);
      await h.deliverAll(history, rng);
    }

    // A remove removes only the adds its region had seen.
    begin('a remove removes only the adds it saw', 'cart-b');
    const b1 = items[1] as string;
    const [first, second] = rng.shuffle(['eu', 'us']) as [string, string];
    await must(h, history, first, { op: 'addToCart', key: 'cart-b', value: b1 });
    await must(h, history, second, { op: 'addToCart', key: 'cart-b', value: b1 });
    for (const m of h.deliverable((m) => m.from === first && m.to === 'ap')) await h.deliver(history, m);
    await must(h, history, 'ap', { op: 'removeFromCart', key: 'cart-b', value: b1 });
    await h.deliverAll(history, rng);

    // A remove that reaches a region before the add it removed.
    begin('a remove that arrives before its add', 'cart-c');
    const c1 = items[2] as string;
    const [adder, remover, third] = rng.shuffle(REGIONS) as [string, string, string];
    await must(h, history, adder, { op: 'addToCart', key: 'cart-c', value: c1 });
    for (const m of h.deliverable((m) => m.from === adder && m.to === remover)) await h.deliver(history, m);
    await must(h, history, remover, { op: 'removeFromCart', key: 'cart-c', value: c1 });
    for (const m of h.deliverable((m) => m.from === remover && m.to === third)) await h.deliver(history, m);
    await h.deliverAll(history, rng);

    // An add delivered again after its remove.
    begin('an add delivered again after its remove', 'cart-d');
    const d1 = items[3] as string;
    await must(h, history, 'ap', { op: 'addToCart', key: 'cart-d', value: d1 });
    const addMessages = h.deliverable((m) => m.from === 'ap');
    await h.deliverAll(history, rng);
    await must(h, history, 'eu', { op: 'removeFromCart', key: 'cart-d', value: d1 });
    await h.deliverAll(history, rng);
    for (const m of addMessages) await h.deliver(history, m, { again: true });

    // Seeded adds and removes, the channel delaying and reordering between them.
    begin('seeded adds and removes', 'cart-e');
    const pool = items.slice(4, 7);
    for (let i = rng.int(10, 16); i > 0; i--) {
      const region = rng.pick(REGIONS);
      if (rng.chance(0.4)) {
        // A region removes only once every message sent to it has arrived (see the top of this file).
        await h.deliverAll(history, rng, (m) => m.to === region);
        await must(h, history, region, { op: 'removeFromCart', key: 'cart-e', value: rng.pick(pool) });
      } else {
        await must(h, history, region, { op: 'addToCart', key: 'cart-e', value: rng.pick(pool) });
      }
      await chaos(h, history, rng, { drop: 0 });
    }
    await h.settle(history, rng, { carts });
  },
});

// ─── last-write-wins: the winner ──────────────────────────────────────────────────

const lwwWinner = mmScenario({
  id: 'lww-winner',
  cases: ['two-writes-with-the-same-timestamp', 'a-concurrent-write-on-a-clock-5-s-ahead', 'a-write-made-after-another-on-a-clock-that-is-behind', 'a-later-write-against-a-concurrent-one-on-clocks-that-disagree', 'seeded-writes-and-deliveries'],
  // Stopped clocks: us and ap read the same instant; eu is 5 s ahead of them.
  clocks: (rng) => {
    const t = 1_790_000_000_000 + rng.int(0, 1_000_000) * 1_000;
    return (region) => ({ fixed: region === 'eu' ? t + 5_000 : t });
  },
  check: checkLwwWinner,
  async run(h, { rng, history }) {
    const colours = rng.shuffle(COLOURS);
    let n = 0;
    const value = (region: string): string => `${region}-${colours[n++ % colours.length]}`;

    caseNote(history, 'two writes with the same timestamp');
    h.partition(history, ['us']);
    await must(h, history, 'us', { op: 'setProfile', key: 'user-tie', value: value('us') });
    await must(h, history, 'ap', { op: 'setProfile', key: 'user-tie', value: value('ap') });
    h.healPartitions(history);
    await h.deliverAll(history, rng);

    caseNote(history, 'a write made after another on a clock that is behind');
    const [later] = rng.shuffle(['us', 'ap']) as [string];
    await must(h, history, 'eu', { op: 'setProfile', key: 'user-causal', value: value('eu') });
    for (const m of h.deliverable((m) => m.to === later)) await h.deliver(history, m);
    await must(h, history, later, { op: 'setProfile', key: 'user-causal', value: value(later) });
    await h.deliverAll(history, rng);

    // Concurrent writes 5 s apart by their clocks: the greater timestamp wins, whichever
    // region's id is greater (us > eu, and us is behind).
    caseNote(history, 'a concurrent write on a clock 5 s ahead');
    h.partition(history, ['eu']);
    await must(h, history, 'us', { op: 'setProfile', key: 'user-ahead', value: value('us') });
    const ahead = value('eu');
    await must(h, history, 'eu', { op: 'setProfile', key: 'user-ahead', value: ahead });
    h.healPartitions(history);
    h.expect(history, 'user-ahead', ahead, "eu's clock was 5 s ahead of us's when both wrote, so eu's write has the greater timestamp");
    await h.deliverAll(history, rng);

    // ap writes; eu (ahead) writes; us (behind) writes after receiving eu's write. ap then
    // receives eu's write and us's, in that order: us's write must win over eu's there too,
    // though ap's own write made them look concurrent with what ap held.
    caseNote(history, 'a later write against a concurrent one, on clocks that disagree');
    await must(h, history, 'ap', { op: 'setProfile', key: 'user-skew', value: value('ap') });
    await must(h, history, 'eu', { op: 'setProfile', key: 'user-skew', value: value('eu') });
    for (const m of h.deliverable((m) => m.from === 'eu' && m.to === 'us')) await h.deliver(history, m);
    await must(h, history, 'us', { op: 'setProfile', key: 'user-skew', value: value('us') });
    for (const from of ['eu', 'us']) for (const m of h.deliverable((m) => m.from === from && m.to === 'ap')) await h.deliver(history, m);
    await h.deliverAll(history, rng);

    caseNote(history, 'seeded writes and deliveries');
    for (let i = rng.int(6, 10); i > 0; i--) {
      const region = rng.pick(REGIONS);
      await must(h, history, region, { op: 'setProfile', key: 'user-mixed', value: value(region) });
      await chaos(h, history, rng, { drop: 0 });
    }
    await h.settle(history, rng, { profiles: ['user-tie', 'user-ahead', 'user-causal', 'user-skew', 'user-mixed'] });
  },
});

// ─── last-write-wins: the conflicts reported ──────────────────────────────────────

/** The regions' clocks in lww-conflicts: apart by tens of milliseconds, as real clocks are. */
const CONFLICT_SKEWS: Readonly<Record<string, number>> = { eu: 0, us: 40, ap: -60 };

const lwwConflicts = mmScenario({
  id: 'lww-conflicts',
  cases: ['concurrent-writes-one-region-writing-twice', 'writes-made-one-after-another', 'three-regions-writing-apart', 'every-delivery-order-of-three-concurrent-writes', 'seeded-writes-and-deliveries'],
  clocks: () => (region) => ({ skewMs: CONFLICT_SKEWS[region] ?? 0 }),
  check: checkLwwConflicts,
  async run(h, { rng, history }) {
    const colours = rng.shuffle(COLOURS);
    let n = 0;
    const value = (region: string): string => `${region}-${colours[n++ % colours.length]}-${n}`;

    // One region writes twice, then another once, on a clock that is not behind: the single
    // write is the newest, and its version vector has the smaller sum.
    caseNote(history, 'concurrent writes, one region writing twice');
    const [twice, once] = (rng.shuffle(REGIONS).slice(0, 2) as string[]).sort((a, b) => (CONFLICT_SKEWS[a] ?? 0) - (CONFLICT_SKEWS[b] ?? 0)) as [string, string];
    h.partition(history, [twice]);
    await must(h, history, twice, { op: 'setProfile', key: 'user-a', value: value(twice) });
    await must(h, history, twice, { op: 'setProfile', key: 'user-a', value: value(twice) });
    await must(h, history, once, { op: 'setProfile', key: 'user-a', value: value(once) });
    h.healPartitions(history);
    await h.deliverAll(history, rng);

    caseNote(history, 'writes made one after another');
    for (const region of rng.shuffle(REGIONS)) {
      await must(h, history, region, { op: 'setProfile', key: 'user-b', value: value(region) });
      await h.deliverAll(history, rng);
    }

    caseNote(history, 'three regions writing apart');
    for (const region of REGIONS) h.partition(history, [region]);
    for (const region of rng.shuffle(REGIONS)) await must(h, history, region, { op: 'setProfile', key: 'user-c', value: value(region) });
    h.healPartitions(history);
    await chaos(h, history, rng, { deliver: 1, duplicate: 0.5, drop: 0 });
    await h.deliverAll(history, rng);

    // Three concurrent writes, and every order in which each region can receive the other
    // two: 2 × 2 × 2 = 8 keys.
    const orders: string[] = [];
    for (let order = 0; order < 8; order++) {
      const key = `user-o${order}`;
      orders.push(key);
      caseNote(history, `three concurrent writes, delivery order ${order + 1} of 8`);
      for (const region of REGIONS) h.partition(history, [region]);
      for (const region of REGIONS) await must(h, history, region, { op: 'setProfile', key, value: value(region) });
      h.healPartitions(history);
      for (const [k, region] of REGIONS.entries()) {
        const incoming = h.deliverable((m) => m.to === region);
        for (const m of (order >> k) % 2 === 1 ? [...incoming].reverse() : incoming) await h.deliver(history, m);
      }
    }

    caseNote(history, 'seeded writes and deliveries');
    for (let i = rng.int(6, 10); i > 0; i--) {
      const region = rng.pick(REGIONS);
      await must(h, history, region, { op: 'setProfile', key: 'user-d', value: value(region) });
      await chaos(h, history, rng, { drop: 0 });
    }
    await h.settle(history, rng, { profiles: ['user-a', 'user-b', 'user-c', ...orders, 'user-d'] });
  },
});

// ─── atomic apply ─────────────────────────────────────────────────────────────────

const atomicApply = mmScenario({
  id: 'atomic-apply',
  cases: ['messages-from-one-region-applied-at-once-newest-first', 'local-likes-and-adds-during-the-applies'],
  check: checkAtomicApply,
  async run(h, { rng, history }) {
    const items = rng.shuffle(ITEMS);
    for (const region of ['us', 'ap']) {
      for (let i = rng.int(6, 9); i > 0; i--) await must(h, history, region, { op: 'like', key: 'post-x' });
      for (const item of items.slice(region === 'us' ? 0 : 3, region === 'us' ? 3 : 6)) await must(h, history, region, { op: 'addToCart', key: 'cart-x', value: item });
    }
    // Everything for eu at once, each sender's newest message first, while eu writes too.
    const toEu = h.deliverable((m) => m.to === 'eu').reverse();
    let laneN = 1;
    const local: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) local.push(h.op(history, 'eu', { op: 'like', key: 'post-x' }, ++laneN));
    local.push(h.op(history, 'eu', { op: 'addToCart', key: 'cart-x', value: items[6] as string }, ++laneN));
    const applies = toEu.map((m) => h.deliver(history, m, { laneN: ++laneN }));
    await Promise.all([...local, ...applies]);
    await h.settle(history, rng, { likes: ['post-x'], carts: ['cart-x'] });
  },
});

// ─── idempotence ──────────────────────────────────────────────────────────────────

const KEYS: Keys = { profiles: ['user-1', 'user-2'], carts: ['cart-1'], likes: ['post-1'] };

async function mixedOp(h: H, history: History, rng: Rng, region: string, counter: { n: number }): Promise<void> {
  const roll = rng.int(0, 5);
  const key = (list: readonly string[] | undefined): string => rng.pick(list ?? []);
  if (roll <= 1) await h.op(history, region, { op: 'setProfile', key: key(KEYS.profiles), value: `${region}-${rng.pick(COLOURS)}-${++counter.n}` });
  else if (roll === 2) await h.op(history, region, { op: 'addToCart', key: 'cart-1', value: rng.pick(ITEMS.slice(0, 4)) });
  else if (roll === 3) await h.op(history, region, { op: 'removeFromCart', key: 'cart-1', value: rng.pick(ITEMS.slice(0, 4)) });
  else await h.op(history, region, { op: rng.chance(0.75) ? 'like' : 'unlike', key: 'post-1' });
}

const idempotence = mmScenario({
  id: 'idempotence',
  cases: ['every-message-delivered-a-second-time-in-another-order'],
  check: checkIdempotence,
  async run(h, { rng, history }) {
    const counter = { n: 0 };
    for (let i = rng.int(18, 26); i > 0; i--) {
      await mixedOp(h, history, rng, rng.pick(REGIONS), counter);
      await chaos(h, history, rng, { duplicate: 0, drop: 0 });
    }
    await h.settle(history, rng, KEYS, 'before');
    for (const m of rng.shuffle([...h.sent])) await h.deliver(history, m, { again: true });
    await h.readState(history, 'after', KEYS);
  },
});

// ─── convergence ──────────────────────────────────────────────────────────────────

const convergence = mmScenario({
  id: 'convergence',
  budgetMs: 45_000,
  cases: ['partitions', 'a-paused-store-whose-deliveries-time-out', 'a-store-that-is-down-when-messages-come', 'a-restarted-region', 'seeded-writes-of-every-kind'],
  check: checkConvergence,
  async run(h, { rng, history }) {
    const counter = { n: 0 };
    const rounds = async (count: number, regions: readonly string[]): Promise<void> => {
      for (let i = 0; i < count; i++) {
        await mixedOp(h, history, rng, rng.pick(regions), counter);
        await chaos(h, history, rng);
      }
    };
    await rounds(rng.int(6, 9), REGIONS);
    h.partition(history, [rng.pick(REGIONS)]);
    await rounds(rng.int(5, 8), REGIONS);
    h.healPartitions(history);
    // A paused store: deliveries to its region time out (and must come again; the store may
    // still apply them when it wakes), and its region writes nothing meanwhile.
    const paused = rng.pick(REGIONS);
    await h.pause(history, paused);
    await h.op(history, rng.pick(REGIONS.filter((r) => r !== paused)), { op: 'addToCart', key: 'cart-1', value: rng.pick(ITEMS.slice(4)) });
    const late = h.deliverable((m) => m.to === paused).at(-1);
    if (late !== undefined) await h.deliver(history, late);
    await h.heal(history, paused);
    // A store that is down: deliveries to its region fail at once and are never applied: they must come again.
    const down = rng.pick(REGIONS);
    await h.killStore(history, down);
    // A cart written only now: what its region misses is not brought later by a newer message.
    for (const item of rng.shuffle(ITEMS.slice(4)).slice(0, 2)) {
      await h.op(history, rng.pick(REGIONS.filter((r) => r !== down)), { op: 'addToCart', key: 'cart-down', value: item });
    }
    for (const m of h.deliverable((m) => m.to === down)) await h.deliver(history, m);
    await h.heal(history, down);
    await h.restart(history, rng.pick(REGIONS));
    await rounds(rng.int(5, 8), REGIONS);
    await h.settle(history, rng, { ...KEYS, carts: [...(KEYS.carts ?? []), 'cart-down'] });
  },
});

// ─── the demonstration ────────────────────────────────────────────────────────────

const lwwVsOrSet = mmScenario({
  id: 'lww-vs-or-set',
  teaching: true,
  check: checkLwwVsOrSet,
  async run(h, { rng, history }) {
    await must(h, history, 'eu', { op: 'setProfile', key: 'cart-as-text', value: 'milk' });
    await must(h, history, 'eu', { op: 'addToCart', key: 'cart', value: 'milk' });
    await h.deliverAll(history, rng);
    h.partition(history, ['eu']);
    await must(h, history, 'eu', { op: 'setProfile', key: 'cart-as-text', value: 'milk,eggs' });
    await must(h, history, 'eu', { op: 'addToCart', key: 'cart', value: 'eggs' });
    await must(h, history, 'us', { op: 'setProfile', key: 'cart-as-text', value: 'milk,bread' });
    await must(h, history, 'us', { op: 'addToCart', key: 'cart', value: 'bread' });
    h.healPartitions(history);
    await h.settle(history, rng, { profiles: ['cart-as-text'], carts: ['cart'] });
  },
});

export const scenarios: readonly Spec[] = [counter, restart, cartOrSet, lwwWinner, lwwConflicts, atomicApply, idempotence, convergence, lwwVsOrSet];
