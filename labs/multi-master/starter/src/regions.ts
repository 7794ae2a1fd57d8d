/**
 * Three regions that all accept writes: each applies its own writes at once in its Redis,
 * sends them to the other regions, and merges what they send, so that every region ends
 * with the same data whatever the order, delay and repetition of the messages.
 *
 * The merges are pure functions (TODO 1 to 3), each commutative, associative and
 * idempotent; `update` (TODO 1) applies one to a key atomically, with WATCH / MULTI / EXEC.
 *
 * Replace each `throw new Error('TODO(n) ...')` with your code, in order: the tests named
 * TODO(1) pass once TODO(1) is done, and so on. README.md explains each data type;
 * src/types.ts is the contract with the grader. Keep everything a region must remember in
 * its store: the grader restarts regions, and a restarted region is made again by
 * createRegion on the same store.
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
  // TODO(1): Read the JSON at `key` (or `empty` when there is none), change it with
  // `change`, write it back, and return what was written, atomically: on a session of its
  // own (store.session()), WATCH key, GET key, MULTI, SET key <json>, EXEC. EXEC answers
  // null when the key changed after WATCH: then start again from WATCH. Close the session
  // in a finally. A GET then a SET on store.command is not atomic: another apply can run
  // between them, and one of the two merges is lost.
  throw new Error('TODO(1): update is not written yet');
}

/** Both regions' counts together: the larger of each region's likes, and of its unlikes. */
export function mergeCounts(a: Counts, b: Counts): Counts {
  // TODO(1): For each region, the larger of its likes in a and in b, and the larger of
  // its unlikes. Never add them: the same totals may arrive twice.
  throw new Error('TODO(1): mergeCounts is not written yet');
}

/** Likes minus unlikes, over every region. */
export function countValue(counts: Counts): number {
  // TODO(1): The sum of every region's likes minus the sum of every region's unlikes.
  throw new Error('TODO(1): countValue is not written yet');
}

/** One like (`p`) or unlike (`n`) in this region, sent to the others. */
async function count(options: RegionOptions, post: string, side: 'p' | 'n'): Promise<void> {
  // TODO(1): With update, add one to this region's own count (p for a like, n for an
  // unlike) of the post at `likes:<post>`, then send the counts to every peer
  // (broadcast(options, { kind: 'likes', post, counts })).
  throw new Error('TODO(1): count is not written yet');
}

async function likes(options: RegionOptions, post: string): Promise<number> {
  // TODO(1): The value of the counts stored at `likes:<post>` (read(...)).
  throw new Error('TODO(1): likes is not written yet');
}

async function applyLikes(options: RegionOptions, post: string, counts: Counts): Promise<void> {
  // TODO(1): Merge the counts that came into those stored, with update and mergeCounts.
  throw new Error('TODO(1): applyLikes is not written yet');
}

// ─── TODO(2): the cart, an OR-Set ─────────────────────────────────────────────────

/** Both carts together: every add either has seen, every tag either has removed. */
export function mergeCarts(a: Cart, b: Cart): Cart {
  // TODO(2): Every add of either (tag → item), and every removed tag of either, each once.
  throw new Error('TODO(2): mergeCarts is not written yet');
}

/** The items of the adds not removed, each once. */
export function cartItems(cart: Cart): string[] {
  // TODO(2): The items of the adds whose tag is not removed, each once, sorted.
  throw new Error('TODO(2): cartItems is not written yet');
}

async function addToCart(options: RegionOptions, cart: string, item: string): Promise<void> {
  // TODO(2): A new tag no add anywhere has had: this region's id and a number from
  // INCR on a key of the store (not a variable: a restarted region must not reuse one).
  // Add (tag → item) with update at `cart:<cart>`, and send the cart to every peer
  // (broadcast(options, { kind: 'cart', cart, state })).
  throw new Error('TODO(2): addToCart is not written yet');
}

async function removeFromCart(options: RegionOptions, cart: string, item: string): Promise<void> {
  // TODO(2): With update, add to `removed` the tags of every add of the item this region
  // holds (the adds it has seen, and no others), then send the cart to every peer.
  throw new Error('TODO(2): removeFromCart is not written yet');
}

async function getCart(options: RegionOptions, cart: string): Promise<string[]> {
  // TODO(2): The items of the cart stored at `cart:<cart>`.
  throw new Error('TODO(2): getCart is not written yet');
}

async function applyCart(options: RegionOptions, cart: string, state: Cart): Promise<void> {
  // TODO(2): Merge the cart that came into the one stored, with update and mergeCarts.
  throw new Error('TODO(2): applyCart is not written yet');
}

// ─── TODO(3): the profile, last-write-wins with version vectors ───────────────────

/** How vector `a` stands to `b`: it happened before, after, is the same, or neither (concurrent). */
export function compareVectors(a: Vector, b: Vector): 'before' | 'after' | 'equal' | 'concurrent' {
  // TODO(3): Compare entry by entry, over the regions of both (a missing entry is 0):
  // 'before' if every entry of a is ≤ b's and one is <, 'after' the other way round,
  // 'equal' if all are equal, and 'concurrent' if some are < and some >.
  throw new Error('TODO(3): compareVectors is not written yet');
}

/** Whether write `a` wins over a concurrent write `b`: the larger timestamp, then the larger region id. */
export function wins(a: Write, b: Write): boolean {
  // TODO(3): The larger ts wins; on equal ts, the larger region id (compared as strings).
  throw new Error('TODO(3): wins is not written yet');
}

/**
 * The profile after a write arrives: one it has seen already (or an older one) changes
 * nothing; one made after everything it has seen replaces the current write; a concurrent
 * one is a conflict: the winner stays, the loser's value is listed in `conflicts`.
 */
export function mergeProfile(held: Profile, write: Write): Profile {
  // TODO(3): Compare write.vv with held.seen. A write seen already ('before' or 'equal')
  // changes nothing. Otherwise `seen` becomes the entry-by-entry maximum of both. A write
  // made after everything seen ('after'), or the first one, becomes current. A concurrent
  // one is a conflict: the winner (wins) becomes current, and the loser's value is added
  // to conflicts (once).
  throw new Error('TODO(3): mergeProfile is not written yet');
}

async function setProfile(options: RegionOptions, user: string, value: string): Promise<void> {
  // TODO(3): With update at `profile:<user>`: the write's ts is the larger of the clock
  // (whole milliseconds) and the current write's ts + 1 (so a write made after another
  // always wins over it, whatever the clocks); its vv is `seen` with this region's entry
  // plus one. It becomes current, and `seen` becomes its vv. Then send it to every peer
  // (broadcast(options, { kind: 'profile', user, write })).
  throw new Error('TODO(3): setProfile is not written yet');
}

async function getProfile(options: RegionOptions, user: string): Promise<string | null> {
  // TODO(3): The value of the current write stored at `profile:<user>`, or null.
  throw new Error('TODO(3): getProfile is not written yet');
}

async function conflicts(options: RegionOptions, user: string): Promise<string[]> {
  // TODO(3): The conflicts stored at `profile:<user>`.
  throw new Error('TODO(3): conflicts is not written yet');
}

async function applyProfile(options: RegionOptions, user: string, write: Write): Promise<void> {
  // TODO(3): Merge the write that came into the profile stored, with update and mergeProfile.
  throw new Error('TODO(3): applyProfile is not written yet');
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
    like: (post) => count(options, post, 'p'),
    unlike: (post) => count(options, post, 'n'),
    likes: (post) => likes(options, post),
    receive: (_from, message) => receive(options, message),
  };
}
