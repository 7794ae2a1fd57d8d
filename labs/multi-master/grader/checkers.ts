/**
 * The Multi-Master grader's checkers: pure functions of a scenario's history (history.ts),
 * each judging one property lab.json states. What the regions hold is what the grader read
 * through the learner's own reads at the end (the `state` notes); what they should hold is
 * rebuilt from the operations and the messages the grader delivered: the sum of the
 * acknowledged likes, the OR-Set of the adds no remove had seen, the writes no later write
 * had seen.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { Verdict } from '../../../src/core/grading/report';
import { Knowledge, type MultiMasterEvent, type RegionOperation, type RegionState, expectationsOf, operationsOf, stateOf } from './history';

type E = MultiMasterEvent;

const show = (value: string | null | undefined): string => (value === null || value === undefined ? 'nothing' : `'${value}'`);
const list = (values: readonly string[]): string => (values.length === 0 ? 'nothing' : values.map((v) => `'${v}'`).join(', '));
const opText = (op: RegionOperation): string => `${op.region} ${op.op}(${op.key}${op.value !== undefined ? `, '${op.value}'` : ''})`;

type Read = { ok: true; regions: RegionState[]; index: number } | { ok: false; verdict: Verdict };

/** Every region's state at `label`, or the verdict when it is missing or a region could not be read. */
function readState(history: readonly E[], label: string): Read {
  const found = stateOf(history, label);
  if (found === undefined) return { ok: false, verdict: undecided(`The scenario did not get to read the regions (${label}).`) };
  const { note, index } = found;
  const regions: RegionState[] = [];
  for (const r of note.regions) {
    if ('unreadable' in r) {
      return { ok: false, verdict: fail(`Once every fault was healed and every message delivered, region ${r.region} could not be read: ${r.unreadable}`, 'A read that fails after the faults have healed: does your region keep a connection, a session or a state in memory that a restarted store or a paused one left broken? Use store.command / store.eval for every call, and keep no state in memory that the store does not have.', [index]) };
    }
    regions.push(r);
  }
  return { ok: true, regions, index };
}

type Kind = 'profiles' | 'carts' | 'likes';
const KIND_TEXT: Record<Kind, string> = { profiles: 'profile', carts: 'cart', likes: 'like count' };

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The keys of `kind` on which the regions disagree, each with what every region holds. */
function disagreements(regions: readonly RegionState[], kind: Kind): { key: string; text: string }[] {
  const keys = new Set(regions.flatMap((r) => Object.keys(r[kind])));
  const found: { key: string; text: string }[] = [];
  for (const key of [...keys].sort()) {
    const held = regions.map((r) => (r[kind] as Record<string, unknown>)[key]);
    if (held.every((h) => same(h, held[0]))) continue;
    found.push({ key, text: regions.map((r, i) => `${r.region} ${JSON.stringify(held[i] ?? null)}`).join(', ') });
  }
  return found;
}

const AGREE_HINT: Record<Kind, string> = {
  profiles:
    'Regions that applied the same writes in different orders kept different values: the merge depends on the order. Compare (ts, region) as a pair: the larger ts wins, and on equal ts the region id decides, the same way in every region. A region must apply a remote write it holds no newer value for even when its own write came first.',
  carts: 'The carts differ after every message was delivered: a merge that depends on the order. An add is kept unless a remove that saw its tag arrived, before or after it: remember the removed tags (tombstones), and check them when an add arrives.',
  likes: 'The counts differ after every message was delivered. Keep one count per region (likes and unlikes apart) and merge by taking the larger of each: a sum of messages counts a repeated message twice, and a region that lowers its own count cannot tell the others (they keep the larger).',
};

const WRITES_OF: Record<Kind, readonly string[]> = { profiles: ['setProfile'], carts: ['addToCart', 'removeFromCart'], likes: ['like', 'unlike'] };

function agreement(history: readonly E[], regions: readonly RegionState[], kinds: readonly Kind[], index: number): Verdict | undefined {
  for (const kind of kinds) {
    const found = disagreements(regions, kind);
    if (found.length > 0) {
      // To blame: the final read, and the writes of the keys the regions disagree on.
      const keys = new Set(found.map((f) => f.key));
      const writes = operationsOf(history).filter((o) => keys.has(o.key) && WRITES_OF[kind].includes(o.op)).map((o) => o.index);
      return fail(`After the partitions healed and every message was delivered, the regions hold different ${KIND_TEXT[kind]}s: ${found.map((f) => `${f.key}: ${f.text}`).join('; ')}.`, AGREE_HINT[kind], [index, ...writes]);
    }
  }
  return undefined;
}

// ─── Counters ─────────────────────────────────────────────────────────────────────

/** The range the count of `post` may end in: acknowledged likes minus unlikes, plus what unknown ones may add. */
export function expectedCount(ops: readonly RegionOperation[], post: string): { low: number; high: number; acked: RegionOperation[] } {
  let low = 0;
  let high = 0;
  const acked: RegionOperation[] = [];
  for (const op of ops) {
    if (op.key !== post || (op.op !== 'like' && op.op !== 'unlike') || op.outcome === 'fail') continue;
    const delta = op.op === 'like' ? 1 : -1;
    if (op.outcome === 'ok') {
      low += delta;
      high += delta;
      acked.push(op);
    } else if (delta > 0) {
      high += 1;
    } else {
      low -= 1;
    }
  }
  return { low, high, acked };
}

const COUNT_HINT =
  'A PN-Counter: each region keeps its own likes and its own unlikes as two counts that only grow (in its store, not in memory), sends its totals, and a region that receives totals keeps the larger of what it holds and what came, per region. The value is the sum of likes minus the sum of unlikes. Adding what a message carries counts a repeated message twice; lowering a count on unlike is undone by the others keeping the larger.';

function countsMatch(history: readonly E[], regions: readonly RegionState[], index: number, hint = COUNT_HINT): Verdict | undefined {
  const ops = operationsOf(history);
  for (const r of regions) {
    for (const [post, count] of Object.entries(r.likes)) {
      const { low, high, acked } = expectedCount(ops, post);
      if (count < low || count > high) {
        const expected = low === high ? `${low}` : `between ${low} and ${high} (some likes failed and may or may not have counted)`;
        return fail(`Region ${r.region} counts ${count} likes for ${post}; the acknowledged likes and unlikes add up to ${expected} (${acked.filter((o) => o.op === 'like').length} likes, ${acked.filter((o) => o.op === 'unlike').length} unlikes).`, hint, [index]);
      }
    }
  }
  return undefined;
}

export function checkCounter(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const problem = agreement(history, read.regions, ['likes'], read.index) ?? countsMatch(history, read.regions, read.index);
  if (problem !== undefined) return problem;
  const posts = Object.keys(read.regions[0]?.likes ?? {});
  return pass(`Every region counts what was acknowledged: ${posts.map((p) => `${p} ${read.regions[0]?.likes[p]}`).join(', ')}, though messages came late, out of order, twice and after drops.`);
}

// ─── Carts ────────────────────────────────────────────────────────────────────────

/** The items the cart must hold and may hold, by the OR-Set rule over the causal order the grader saw. */
export function expectedCart(history: readonly E[], cart: string): { must: Set<string>; may: Set<string>; survivors: Map<string, RegionOperation>; removedBy: Map<number, RegionOperation> } {
  const knowledge = new Knowledge(history, (o) => o.key === cart && (o.op === 'addToCart' || o.op === 'removeFromCart'));
  const ops = knowledge.operations;
  const adds = ops.filter((o) => o.op === 'addToCart' && o.outcome !== 'fail' && o.outcome !== 'pending');
  const removes = ops.filter((o) => o.op === 'removeFromCart' && o.outcome === 'ok');
  const must = new Set<string>();
  const may = new Set<string>();
  const survivors = new Map<string, RegionOperation>();
  const removedBy = new Map<number, RegionOperation>();
  for (const add of adds) {
    const remover = removes.find((r) => r.value === add.value && knowledge.before(add, r));
    if (remover !== undefined) {
      removedBy.set(add.index, remover);
      continue;
    }
    if (add.value === undefined) continue;
    if (add.outcome === 'ok') {
      must.add(add.value);
      survivors.set(add.value, add);
    } else {
      may.add(add.value);
    }
  }
  // An info remove may have removed what it saw.
  for (const r of ops.filter((o) => o.op === 'removeFromCart' && o.outcome === 'info')) {
    if (r.value !== undefined && must.has(r.value)) {
      must.delete(r.value);
      may.add(r.value);
    }
  }
  return { must, may, survivors, removedBy };
}

const CART_HINT = {
  missing:
    'An add that no remove had seen was lost. In an OR-Set a remove removes only the tags (unique ids of adds) its region held when it ran: send those tags, not the item, and apply a remote remove by deleting exactly them. An add that arrives later with a new tag stays.',
  extra:
    'An item a remove had seen came back. The remove arrived at a region before the add it removed (the channel reorders), or the add was delivered again: remember every removed tag (tombstones) and ignore an add whose tag is among them.',
};

function cartsMatch(history: readonly E[], regions: readonly RegionState[], index: number): Verdict | undefined {
  for (const r of regions) {
    for (const [cart, items] of Object.entries(r.carts)) {
      const { must, may, survivors, removedBy } = expectedCart(history, cart);
      const missing = [...must].filter((i) => !items.includes(i));
      const extra = items.filter((i) => !must.has(i) && !may.has(i));
      if (missing.length > 0) {
        const culprits = missing.flatMap((i) => [survivors.get(i)?.index ?? index]);
        return fail(`Region ${r.region} holds ${list([...items])} in ${cart}; ${list(missing)} must be there: ${missing.map((i) => `${opText(survivors.get(i) as RegionOperation)} was seen by no remove`).join('; ')}.`, CART_HINT.missing, [index, ...culprits]);
      }
      if (extra.length > 0) {
        const culprits = [...removedBy.entries()].flatMap(([add, remove]) => (extra.includes(remove.value ?? '') ? [add, remove.index] : []));
        const why = extra.map((i) => {
          const removes = [...removedBy.values()].filter((rm) => rm.value === i);
          return removes.length > 0 ? `'${i}' was removed by ${removes.map(opText).join(' and ')}, which had seen every add of it` : `'${i}' was never added`;
        });
        return fail(`Region ${r.region} holds ${list([...items])} in ${cart}: ${why.join('; ')}.`, CART_HINT.extra, [index, ...culprits]);
      }
    }
  }
  return undefined;
}

export function checkCart(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const problem = agreement(history, read.regions, ['carts'], read.index) ?? cartsMatch(history, read.regions, read.index);
  if (problem !== undefined) return problem;
  const carts = read.regions[0]?.carts ?? {};
  return pass(`Every cart holds exactly the adds no remove had seen, in every region: ${Object.entries(carts).map(([c, items]) => `${c} {${items.join(', ')}}`).join(', ')}.`);
}

// ─── Last-write-wins ──────────────────────────────────────────────────────────────

interface Register {
  readonly knowledge: Knowledge;
  readonly writes: readonly RegionOperation[];
  readonly winner: RegionOperation | undefined;
}

function register(history: readonly E[], user: string, final: string | null): Register {
  const knowledge = new Knowledge(history, (o) => o.key === user && o.op === 'setProfile');
  const writes = knowledge.operations.filter((o) => o.outcome === 'ok' || o.outcome === 'info');
  return { knowledge, writes, winner: writes.find((w) => w.value === final) };
}

/** Whether two writes are concurrent: neither region knew the other's when it wrote. */
const concurrent = (k: Knowledge, a: RegionOperation, b: RegionOperation): boolean => a !== b && !k.before(a, b) && !k.before(b, a);

function winnerProblem(history: readonly E[], user: string, final: string | null, index: number): Verdict | undefined {
  const { knowledge, writes, winner } = register(history, user, final);
  if (writes.length === 0) return undefined;
  if (winner === undefined) {
    return fail(`Every region holds ${show(final)} for ${user}, which no write wrote (the writes were ${list(writes.map((w) => w.value ?? ''))}).`, 'The profile must hold one write\'s value whole: never a merge or a default.', [index]);
  }
  const later = writes.find((w) => w.outcome === 'ok' && knowledge.before(winner, w));
  if (later !== undefined) {
    return fail(
      `Every region holds ${show(final)} for ${user}, written by ${winner.region}; but ${opText(later)} was made after ${later.region} had received it, and was lost.`,
      "A causally later write lost to an earlier one: the later region's clock was behind. The timestamp of a local write must be above the timestamp of every write the region has seen of that key (ts = max(clock.now(), newest seen ts + 1)), or the winner must be chosen by version vectors first: a write whose vector dominates always replaces.",
      [index, winner.index, later.index],
    );
  }
  return undefined;
}

export function checkLwwWinner(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const problem = agreement(history, read.regions, ['profiles'], read.index);
  if (problem !== undefined) return problem;
  const profiles = read.regions[0]?.profiles ?? {};
  for (const [user, final] of Object.entries(profiles)) {
    const found = winnerProblem(history, user, final, read.index);
    if (found !== undefined) return found;
  }
  for (const { note, index } of expectationsOf(history)) {
    const final = profiles[note.key];
    if (final !== undefined && final !== note.value) {
      return fail(
        `Every region holds ${show(final)} for ${note.key}, but '${note.value}' had to win: ${note.why}.`,
        'Of two concurrent writes, the one with the greater timestamp wins; the region id only breaks a tie (equal timestamps). A write\'s timestamp is its region\'s clock (or the newest seen + 1 when that is greater), not a counter of writes.',
        [read.index, index, ...operationsOf(history).filter((o) => o.key === note.key && o.op === 'setProfile').map((o) => o.index)],
      );
    }
  }
  return pass(`Each profile ends with one winner in every region, and no write made after another region's write was lost: ${Object.entries(profiles).map(([u, v]) => `${u} ${show(v)}`).join(', ')}.`);
}

/** What the regions' reports must hold for one user, and may. */
export function expectedReports(history: readonly E[], user: string, final: string | null): Register & { required: RegionOperation[]; allowed: Set<string> } {
  const { knowledge, writes, winner } = register(history, user, final);
  const maximal = writes.filter((w) => w.outcome === 'ok' && !writes.some((other) => other !== w && knowledge.before(w, other)));
  const required = maximal.filter((w) => w !== winner);
  const allowed = new Set(writes.filter((w) => writes.some((other) => concurrent(knowledge, w, other))).flatMap((w) => (w.value !== undefined ? [w.value] : [])));
  return { required, allowed, knowledge, writes, winner };
}

export function checkLwwConflicts(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const problem = agreement(history, read.regions, ['profiles'], read.index);
  if (problem !== undefined) return problem;
  let reportedCount = 0;
  for (const [user, final] of Object.entries(read.regions[0]?.profiles ?? {})) {
    const { required, allowed, knowledge, writes, winner } = expectedReports(history, user, final);
    const reported = new Set(read.regions.flatMap((r) => r.conflicts[user] ?? []));
    reportedCount += reported.size;
    for (const r of read.regions) {
      const own = r.conflicts[user] ?? [];
      if (new Set(own).size !== own.length) {
        return fail(`Region ${r.region} lists a conflict of ${user} more than once: ${list([...own])}.`, 'conflicts() lists each discarded write once, however often its message came: keep them in a set (SADD), or check before adding.', [read.index]);
      }
    }
    const unreported = required.filter((w) => !reported.has(w.value ?? ''));
    if (unreported.length > 0) {
      const w = unreported[0] as RegionOperation;
      return fail(
        `${opText(w)} was discarded for ${show(final)}, a write made concurrently with it (neither region had seen the other's), yet no region lists it in conflicts(${user}) (they list ${list([...reported])}).`,
        "A write lost to a concurrent one must be reported. Concurrency is decided by version vectors compared entry by entry: a ≤ b when every region's count in a is at most its count in b; neither a ≤ b nor b ≤ a is concurrent. Comparing sums, or timestamps, takes a concurrent write for an older one and drops it without a word.",
        [read.index, w.index, ...(winner !== undefined ? [winner.index] : [])],
      );
    }
    const wrong = [...reported].filter((v) => !allowed.has(v) || v === final);
    if (wrong.length > 0) {
      const v = wrong[0] as string;
      const w = writes.find((x) => x.value === v);
      const why = v === final ? 'it is the value every region holds' : w === undefined ? 'no write wrote it' : `it was replaced only by writes made after it, by regions that had seen it (${writes.filter((x) => knowledge.before(w, x)).map(opText).join(', ')}): that is an update, not a conflict`;
      return fail(`conflicts(${user}) lists '${v}', but ${why}.`, 'A write replaced by one whose version vector dominates it (its region had seen it) is not a conflict: report only the writes that lost to a concurrent one.', [read.index, ...(w !== undefined ? [w.index] : [])]);
    }
  }
  return pass(`Every write that lost to a concurrent one is listed by conflicts(), and nothing else (${reportedCount} reported in all).`);
}

// ─── Atomic apply, idempotence, convergence ───────────────────────────────────────

export function checkAtomicApply(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const hint =
    "Messages applied at the same moment as each other, or as a local write, lost an update: a read–merge–write done as separate commands lets another apply run in between, and the later write overwrites the other's merge. Make each apply one Lua script (store.eval: Redis runs it with nothing in between), or WATCH the keys on a session, read, MULTI, write, EXEC, and start again when EXEC answers null.";
  const problem = agreement(history, read.regions, ['likes', 'carts'], read.index) ?? countsMatch(history, read.regions, read.index, hint) ?? cartsMatch(history, read.regions, read.index);
  if (problem !== undefined) return { ...problem, hint };
  const leaking = read.regions.find((r) => (r.openSessions ?? 0) > 0);
  if (leaking !== undefined) {
    return fail(
      `Once all its work was done, region ${leaking.region} still had ${leaking.openSessions} session(s) open: each store.session() is a connection of its own to the store.`,
      'Close every session you open, also when a command on it fails or EXEC answers null: open it, then do the WATCH / MULTI / EXEC loop inside try { ... } finally { session.close(); }. Sessions left open pile up until the store refuses connections.',
      [read.index],
    );
  }
  return pass('Messages applied at the same moment as each other and as local writes lost nothing: every count and cart is complete in every region, and every session opened was closed.');
}

export function checkIdempotence(history: readonly E[]): Verdict {
  const before = readState(history, 'before');
  if (!before.ok) return before.verdict;
  const after = readState(history, 'after');
  if (!after.ok) return after.verdict;
  for (const [i, r] of before.regions.entries()) {
    const a = after.regions[i] as RegionState;
    for (const kind of ['profiles', 'carts', 'likes', 'conflicts'] as const) {
      for (const key of Object.keys(r[kind])) {
        const was = (r[kind] as Record<string, unknown>)[key];
        const now = (a[kind] as Record<string, unknown>)[key];
        if (!same(was, now)) {
          const what = kind === 'conflicts' ? `conflicts(${key})` : `${KIND_TEXT[kind]} ${key}`;
          return fail(
            `Every message was delivered a second time, and region ${r.region}'s ${what} changed from ${JSON.stringify(was)} to ${JSON.stringify(now)}.`,
            'A message delivered again must change nothing: merges must be idempotent. Take the larger of counts instead of adding them, ignore an add whose tag is known or removed, ignore a write whose version vector you already hold or dominate, and list a conflict once.',
            [before.index, after.index],
          );
        }
      }
    }
  }
  return pass('Every message was delivered a second time, in another order, and no region changed.');
}

export function checkConvergence(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const problem = agreement(history, read.regions, ['profiles', 'carts', 'likes'], read.index);
  if (problem !== undefined) {
    const lost = history.some((e) => e.type === 'fail' && e.op === 'receive');
    return lost && problem.hint !== undefined ? { ...problem, hint: `${problem.hint} Some deliveries failed while a store was paused or restarting: receive must reject then (let the StoreError through), so that the message is delivered again; a receive that catches the error and resolves acknowledges a message it never applied.` } : problem;
  }
  const r = read.regions[0] as RegionState;
  return pass(`After partitions, paused and restarted stores, and every message delivered, the three regions agree on ${Object.keys(r.profiles).length} profiles, ${Object.keys(r.carts).length} carts and ${Object.keys(r.likes).length} like counts.`);
}

/** The restart check: counts and carts of a region that was restarted are whole. */
export function checkRestart(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return read.verdict;
  const hint =
    "A region that was restarted lost what it kept in memory: its own like counts, or the counter of its add tags (a restarted region that numbers its tags from 1 again reuses tags the others hold as removed). Keep everything in the region's store: the counts in a hash, the tag counter with INCR.";
  const problem = agreement(history, read.regions, ['likes', 'carts'], read.index) ?? countsMatch(history, read.regions, read.index, hint) ?? cartsMatch(history, read.regions, read.index);
  if (problem !== undefined) return { ...problem, hint };
  return pass('The region restarted from its store went on counting and adding where it had stopped: every count and cart is whole in every region.');
}

/** The demonstration: what LWW and the OR-Set kept of the same concurrent edits. */
export function checkLwwVsOrSet(history: readonly E[]): Verdict {
  const read = readState(history, 'final');
  if (!read.ok) return undecided(read.verdict.actual);
  const r = read.regions[0] as RegionState;
  const text = r.profiles['cart-as-text'];
  const items = r.carts['cart'] ?? [];
  const edits = operationsOf(history).filter((o) => o.op === 'setProfile' && o.key === 'cart-as-text' && o.outcome === 'ok');
  const lastTwo = edits.slice(-2).map((e) => e.value ?? '');
  const dropped = lastTwo.filter((v) => v !== text).flatMap((v) => v.split(',')).filter((i) => !(text ?? '').split(',').includes(i));
  if (text === undefined || dropped.length === 0) return undecided(`The demonstration did not show a dropped item: the text cart holds ${show(text)}, the OR-Set cart ${list([...items])}.`);
  return pass(`Not graded, just shown: two regions edited the same cart while partitioned. Kept as one last-write-wins value, it ends as ${show(text)}: ${list([...new Set(dropped)])} dropped (conflicts() lists ${list([...(r.conflicts['cart-as-text'] ?? [])])}). Kept as an OR-Set, it ends as ${list([...items])}: nothing lost.`);
}
