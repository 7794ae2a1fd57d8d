/**
 * Three regions that all accept writes: each applies its own writes at once in its Redis,
 * sends them to the other regions, and merges what they send, so that every region ends
 * with the same data whatever the order, delay and repetition of the messages.
 *
 * The merges are pure functions (TODO 1 to 3), each commutative, associative and
 * idempotent; `update` (TODO 1) applies one to a key atomically, with WATCH / MULTI / EXEC.
 */
import type { Message, Region, RegionOptions, Store } from './types';

// ─── The state of each kind, and the messages ────────────────────────────────────

/** A PN-Counter: each region's likes (p) and unlikes (n), which only grow. */
export interface Counts {
  readonly p: Readonly<Record<string, number>>;
  readonly n: Readonly<Record<string, number>>;
}

/** An OR-Set: every add's unique tag with its item, and the tags removed (tombstones). */
export interface Cart {
  readonly adds: Readonly<Record<string, string>>;
  readonly removed: readonly string[];
}

/** A version vector: how many writes of the key each region had made, as far as a write knew. */
export type Vector = Readonly<Record<string, number>>;

/** One profile write: its value, its timestamp and region (last-write-wins), its version vector. */
export interface Write {
  readonly value: string;
  readonly ts: number;
  readonly region: string;
  readonly vv: Vector;
}

/** A region's profile field: the winning write, every write it has seen (as one vector), and the values it dropped. */
export interface Profile {
  readonly current: Write | null;
  readonly seen: Vector;
  readonly conflicts: readonly string[];
}

type Incoming =
  | { readonly kind: 'likes'; readonly post: string; readonly counts: Counts }
  | { readonly kind: 'cart'; readonly cart: string; readonly state: Cart }
  | { readonly kind: 'profile'; readonly user: string; readonly write: Write };

const EMPTY_COUNTS: Counts = { p: {}, n: {} };
const EMPTY_CART: Cart = { adds: {}, removed: [] };
const EMPTY_PROFILE: Profile = { current: null, seen: {}, conflicts: [] };

// ─── TODO(1): likes, a PN-Counter, and atomic updates ─────────────────────────────

/**
 * Reads the JSON document at `key`, changes it with `change`, and writes it back, with
 * nothing else changing the key in between: WATCH, GET, MULTI, SET, EXEC on a session of
 * its own, again from the start whenever EXEC answers null (another write got in first).
 * Returns what it wrote.
 */
export async function update<T>(store: Store, key: string, empty: T, change: (held: T) => T): Promise<T> {
  const session = store.session();
  try {
    for (;;) {
      await session.command('WATCH', key);
      const text = await session.command('GET', key);
      const next = change(typeof text === 'string' ? (JSON.parse(text) as T) : empty);
      await session.command('MULTI');
      await session.command('SET', key, JSON.stringify(next));
      if ((await session.command('EXEC')) !== null) return next;
    }
  } finally {
    session.close();
  }
}

/** Both regions' counts together: the larger of each region's likes, and of its unlikes. */
export function mergeCounts(a: Counts, b: Counts): Counts {
  const larger = (x: Readonly<Record<string, number>>, y: Readonly<Record<string, number>>): Record<string, number> => {
    const out: Record<string, number> = { ...x };
    for (const [region, n] of Object.entries(y)) out[region] = Math.max(out[region] ?? 0, n);
    return out;
  };
  return { p: larger(a.p, b.p), n: larger(a.n, b.n) };
}

/** Likes minus unlikes, over every region. */
export function countValue(counts: Counts): number {
  let total = 0;
  for (const n of Object.values(counts.p)) total += n;
  for (const n of Object.values(counts.n)) total -= n;
  return total;
}

/** One like (`p`) or unlike (`n`) in this region, sent to the others. */
async function count(options: RegionOptions, post: string, by: 1 | -1): Promise<void> {
  const counts = await update(options.store, `likes:${post}`, EMPTY_COUNTS, (held) => ({ ...held, p: { ...held.p, [options.id]: (held.p[options.id] ?? 0) + by } }));
  broadcast(options, { kind: 'likes', post, counts });
}

async function likes(options: RegionOptions, post: string): Promise<number> {
  return countValue(await read(options.store, `likes:${post}`, EMPTY_COUNTS));
}

async function applyLikes(options: RegionOptions, post: string, counts: Counts): Promise<void> {
  await update(options.store, `likes:${post}`, EMPTY_COUNTS, (held) => mergeCounts(held, counts));
}

// ─── TODO(2): the cart, an OR-Set ─────────────────────────────────────────────────

/** Both carts together: every add either has seen, every tag either has removed. */
export function mergeCarts(a: Cart, b: Cart): Cart {
  return { adds: { ...a.adds, ...b.adds }, removed: [...new Set([...a.removed, ...b.removed])].sort() };
}

/** The items of the adds not removed, each once. */
export function cartItems(cart: Cart): string[] {
  const removed = new Set(cart.removed);
  return [...new Set(Object.entries(cart.adds).filter(([tag]) => !removed.has(tag)).map(([, item]) => item))].sort();
}

async function addToCart(options: RegionOptions, cart: string, item: string): Promise<void> {
  // A tag no add anywhere has had: this region's id and a number from its store (it survives a restart).
  const tag = `${options.id}:${String(await options.store.command('INCR', 'cart-tags'))}`;
  const state = await update(options.store, `cart:${cart}`, EMPTY_CART, (held) => ({ ...held, adds: { ...held.adds, [tag]: item } }));
  broadcast(options, { kind: 'cart', cart, state });
}

async function removeFromCart(options: RegionOptions, cart: string, item: string): Promise<void> {
  const state = await update(options.store, `cart:${cart}`, EMPTY_CART, (held) => {
    const seen = Object.entries(held.adds).filter(([, it]) => it === item).map(([tag]) => tag);
    return { ...held, removed: [...new Set([...held.removed, ...seen])].sort() };
  });
  broadcast(options, { kind: 'cart', cart, state });
}

async function getCart(options: RegionOptions, cart: string): Promise<string[]> {
  return cartItems(await read(options.store, `cart:${cart}`, EMPTY_CART));
}

async function applyCart(options: RegionOptions, cart: string, state: Cart): Promise<void> {
  await update(options.store, `cart:${cart}`, EMPTY_CART, (held) => mergeCarts(held, state));
}

// ─── TODO(3): the profile, last-write-wins with version vectors ───────────────────

/** How vector `a` stands to `b`: it happened before, after, is the same, or neither (concurrent). */
export function compareVectors(a: Vector, b: Vector): 'before' | 'after' | 'equal' | 'concurrent' {
  let less = false;
  let more = false;
  for (const region of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[region] ?? 0;
    const y = b[region] ?? 0;
    if (x < y) less = true;
    if (x > y) more = true;
  }
  return less && more ? 'concurrent' : less ? 'before' : more ? 'after' : 'equal';
}

/** Whether write `a` wins over a concurrent write `b`: the larger timestamp, then the larger region id. */
export function wins(a: Write, b: Write): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.region > b.region);
}

/**
 * The profile after a write arrives: one it has seen already (or an older one) changes
 * nothing; one made after everything it has seen replaces the current write; a concurrent
 * one is a conflict: the winner stays, the loser's value is listed in `conflicts`.
 */
export function mergeProfile(held: Profile, write: Write): Profile {
  const order = compareVectors(write.vv, held.seen);
  if (order === 'before' || order === 'equal') return held;
  const seen: Record<string, number> = { ...held.seen };
  for (const [region, n] of Object.entries(write.vv)) seen[region] = Math.max(seen[region] ?? 0, n);
  if (order === 'after' || held.current === null) return { ...held, current: write, seen };
  const [winner, loser] = wins(write, held.current) ? [write, held.current] : [held.current, write];
  return { current: winner, seen, conflicts: held.conflicts.includes(loser.value) ? held.conflicts : [...held.conflicts, loser.value] };
}

async function setProfile(options: RegionOptions, user: string, value: string): Promise<void> {
  const { id, clock } = options;
  let write: Write | undefined;
  await update(options.store, `profile:${user}`, EMPTY_PROFILE, (held) => {
    // Never below a write this region has seen: a write made after another always wins over it.
    const ts = Math.max(Math.floor(clock.now()), (held.current?.ts ?? 0) + 1);
    const vv = { ...held.seen, [id]: (held.seen[id] ?? 0) + 1 };
    write = { value, ts, region: id, vv };
    return { ...held, current: write, seen: vv };
  });
  if (write !== undefined) broadcast(options, { kind: 'profile', user, write });
}

async function getProfile(options: RegionOptions, user: string): Promise<string | null> {
  return (await read(options.store, `profile:${user}`, EMPTY_PROFILE)).current?.value ?? null;
}

async function conflicts(options: RegionOptions, user: string): Promise<string[]> {
  return [...(await read(options.store, `profile:${user}`, EMPTY_PROFILE)).conflicts];
}

async function applyProfile(options: RegionOptions, user: string, write: Write): Promise<void> {
  await update(options.store, `profile:${user}`, EMPTY_PROFILE, (held) => mergeProfile(held, write));
}

// ─── The region ───────────────────────────────────────────────────────────────────

async function read<T>(store: Store, key: string, empty: T): Promise<T> {
  const text = await store.command('GET', key);
  return typeof text === 'string' ? (JSON.parse(text) as T) : empty;
}

function broadcast(options: RegionOptions, message: Incoming): void {
  for (const peer of options.peers) options.send(peer, message as unknown as Message);
}

/** Applies another region's message; a failure (the store did not answer) rejects, and the message comes again. */
async function receive(options: RegionOptions, message: Message): Promise<void> {
  const m = message as unknown as Incoming;
  switch (m.kind) {
    case 'likes':
      return applyLikes(options, m.post, m.counts);
    case 'cart':
      return applyCart(options, m.cart, m.state);
    case 'profile':
      return applyProfile(options, m.user, m.write);
    default:
      throw new Error(`A message this region cannot read: ${JSON.stringify(message)}`);
  }
}

export function createRegion(options: RegionOptions): Region {
  return {
    setProfile: (user, value) => setProfile(options, user, value),
    getProfile: (user) => getProfile(options, user),
    conflicts: (user) => conflicts(options, user),
    addToCart: (cart, item) => addToCart(options, cart, item),
    removeFromCart: (cart, item) => removeFromCart(options, cart, item),
    getCart: (cart) => getCart(options, cart),
    like: (post) => count(options, post, 1),
    unlike: (post) => count(options, post, -1),
    likes: (post) => likes(options, post),
    receive: (_from, message) => receive(options, message),
  };
}
