/**
 * The contract between your regions, their stores and the grader. You do not change this
 * file: the grader hands your `createRegion` a real store (the region's own Redis server)
 * and a channel to the other regions that behave exactly as described here.
 */

/** What a Redis command answers: a status or bulk string, an integer, nil, or an array of these. */
export type Reply = string | number | null | Reply[];

/**
 * What a `Store` call rejects with: Redis answered with an error (a Lua script that failed,
 * a wrong type), or did not answer in time (the region's store is paused, killed or slow).
 * Compare `error.name`, not the class: the grader's stores are built outside your code. A
 * command that got no answer may still have taken effect.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/** A connection of your own to the region's Redis: WATCH, MULTI and EXEC apply to it alone. */
export interface Session {
  /** One command; await each before the next (a session carries one command at a time). */
  command(...args: (string | number)[]): Promise<Reply>;
  /** Ends the connection (a WATCH still in force is dropped with it). */
  close(): void;
}

/**
 * The region's own Redis server. Every call goes over the network. Calls from different
 * operations run at the same time and interleave: a GET followed by a SET is not atomic.
 * Make a read–merge–write atomic with a Lua script (`eval`: Redis runs it with nothing
 * else in between) or with WATCH / MULTI / EXEC on a `session()`.
 */
export interface Store {
  /** One Redis command, on a connection shared by the region's operations: `command('HINCRBY', key, field, 1)`. */
  command(...args: (string | number)[]): Promise<Reply>;
  /** EVAL: runs `script` atomically with KEYS = keys and ARGV = args (as strings). */
  eval(script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply>;
  /** A connection of your own, for WATCH / MULTI / EXEC. Close it when done. */
  session(): Session;
}

/** A replication message: plain data (what JSON can carry: objects, arrays, strings, finite numbers, booleans, null). */
export type Message = null | boolean | number | string | readonly Message[] | { readonly [key: string]: Message };

export interface RegionOptions {
  /** This region's id: 'eu', 'us' or 'ap'. Ids compare as strings the same way everywhere. */
  readonly id: string;
  /** The other regions' ids. */
  readonly peers: readonly string[];
  /** This region's Redis. What your region must remember goes there: the region is restarted from it. */
  readonly store: Store;
  /** This region's clock, in milliseconds. Clocks of different regions disagree, and two may read the same instant. */
  readonly clock: { now(): number };
  /**
   * Hands `message` to the channel towards region `to`, and returns at once. The channel
   * delivers it to that region's `receive` later: after a delay, in any order with other
   * messages, perhaps twice, and not while the two regions are partitioned (then after the
   * partition heals). It is never lost for good: a message whose `receive` failed is
   * delivered again. A copy is taken when you send it.
   */
  send(to: string, message: Message): void;
}

export interface Region {
  /** Sets a user's profile field (last-write-wins); resolves once it is stored in this region. */
  setProfile(user: string, value: string): Promise<void>;
  /** The field as this region holds it, or null if it holds none. */
  getProfile(user: string): Promise<string | null>;
  /**
   * The values of the profile writes for `user` that this region discarded because a
   * concurrent write won (a conflict), in any order, each once. A write replaced by one
   * made after it (by a region that had seen it) is not a conflict and is not listed.
   */
  conflicts(user: string): Promise<string[]>;

  /** Adds an item to a cart (an OR-Set: an add concurrent with a remove survives it). */
  addToCart(cart: string, item: string): Promise<void>;
  /** Removes the item from the cart: the adds of it this region has seen, and no others. */
  removeFromCart(cart: string, item: string): Promise<void>;
  /** The cart's items as this region holds them, each once, in any order. */
  getCart(cart: string): Promise<string[]>;

  /** One like of a post (a PN-Counter: no like or unlike is lost or counted twice). */
  like(post: string): Promise<void>;
  /** Takes one like back. */
  unlike(post: string): Promise<void>;
  /** Likes minus unlikes of the post, across every region, as far as this region knows them. */
  likes(post: string): Promise<number>;

  /** Applies a message another region sent. Resolving acknowledges it; rejecting has it delivered again later. */
  receive(from: string, message: Message): Promise<void>;
}
