/**
 * A correct solution written another way than the reference: whole-state messages merged
 * as state-based CRDTs, each key kept as one JSON document and changed with WATCH / MULTI
 * / EXEC (retried when another change got in first), and a profile that keeps concurrent
 * writes side by side as siblings (as Riak does) and picks the visible one when read: the
 * smallest region id wins a tie here, and timestamps come straight from the clock.
 */
import type { Message, Region, RegionOptions, Session, Store } from './types';

type Vector = Record<string, number>;
interface Sibling {
  value: string;
  ts: number;
  region: string;
  vv: Vector;
}
interface ProfileState {
  siblings: Sibling[];
}
interface CartState {
  adds: Record<string, string>;
  removed: string[];
}
interface LikesState {
  p: Record<string, number>;
  n: Record<string, number>;
}
type Kind = 'profile' | 'cart' | 'likes';
type State = ProfileState | CartState | LikesState;

const EMPTY: { [K in Kind]: () => State } = {
  profile: () => ({ siblings: [] }),
  cart: () => ({ adds: {}, removed: [] }),
  likes: () => ({ p: {}, n: {} }),
};

function dominates(a: Vector, b: Vector): boolean {
  return Object.entries(b).every(([region, n]) => (a[region] ?? 0) >= n);
}

function joined(vectors: readonly Vector[]): Vector {
  const out: Vector = {};
  for (const v of vectors) for (const [region, n] of Object.entries(v)) out[region] = Math.max(out[region] ?? 0, n);
  return out;
}

/** The siblings of both, without any that another one dominates (and each once). */
function maximal(siblings: readonly Sibling[]): Sibling[] {
  const unique = new Map<string, Sibling>();
  for (const s of siblings) unique.set(`${s.region}@${JSON.stringify(Object.entries(s.vv).sort())}`, s);
  const all = [...unique.values()];
  return all.filter((s) => !all.some((o) => o !== s && dominates(o.vv, s.vv) && !dominates(s.vv, o.vv)));
}

/** Which sibling shows: the newest timestamp; on a tie, the smallest region id. */
function visible(siblings: readonly Sibling[]): Sibling | undefined {
  return [...siblings].sort((a, b) => b.ts - a.ts || (a.region < b.region ? -1 : a.region > b.region ? 1 : 0))[0];
}

function merge(kind: Kind, a: State, b: State): State {
  if (kind === 'profile') return { siblings: maximal([...(a as ProfileState).siblings, ...(b as ProfileState).siblings]) };
  if (kind === 'cart') {
    const x = a as CartState;
    const y = b as CartState;
    return { adds: { ...x.adds, ...y.adds }, removed: [...new Set([...x.removed, ...y.removed])].sort() };
  }
  const x = a as LikesState;
  const y = b as LikesState;
  const max = (l: Record<string, number>, r: Record<string, number>): Record<string, number> => {
    const out = { ...l };
    for (const [k, n] of Object.entries(r)) out[k] = Math.max(out[k] ?? 0, n);
    return out;
  };
  return { p: max(x.p, y.p), n: max(x.n, y.n) };
}

class StoredRegion implements Region {
  constructor(private readonly options: RegionOptions) {}

  private get store(): Store {
    return this.options.store;
  }

  private async read<S extends State>(kind: Kind, key: string): Promise<S> {
    const text = await this.store.command('GET', `${kind}/${key}`);
    return (typeof text === 'string' ? JSON.parse(text) : EMPTY[kind]()) as S;
  }

  /** Reads, changes and writes one key as a transaction, again until no one else changed it meanwhile. */
  private async change<S extends State>(kind: Kind, key: string, next: (state: S) => S): Promise<S> {
    const session: Session = this.store.session();
    try {
      for (;;) {
        await session.command('WATCH', `${kind}/${key}`);
        const text = await session.command('GET', `${kind}/${key}`);
        const state = next((typeof text === 'string' ? JSON.parse(text) : EMPTY[kind]()) as S);
        await session.command('MULTI');
        await session.command('SET', `${kind}/${key}`, JSON.stringify(state));
        const done = await session.command('EXEC');
        if (done !== null) return state;
      }
    } finally {
      session.close();
    }
  }

  private share(kind: Kind, key: string, state: State): void {
    for (const peer of this.options.peers) this.options.send(peer, { kind, key, state } as unknown as Message);
  }

  async setProfile(user: string, value: string): Promise<void> {
    const { id, clock } = this.options;
    const state = await this.change<ProfileState>('profile', user, (s) => {
      const vv = joined(s.siblings.map((x) => x.vv));
      vv[id] = (vv[id] ?? 0) + 1;
      return { siblings: [{ value, ts: clock.now(), region: id, vv }] };
    });
    this.share('profile', user, state);
  }

  async getProfile(user: string): Promise<string | null> {
    return visible((await this.read<ProfileState>('profile', user)).siblings)?.value ?? null;
  }

  async conflicts(user: string): Promise<string[]> {
    const { siblings } = await this.read<ProfileState>('profile', user);
    const shown = visible(siblings);
    return [...new Set(siblings.filter((s) => s !== shown).map((s) => s.value))];
  }

  async addToCart(cart: string, item: string): Promise<void> {
    const tag = `${this.options.id}#${String(await this.store.command('INCR', 'tags'))}`;
    this.share('cart', cart, await this.change<CartState>('cart', cart, (s) => ({ ...s, adds: { ...s.adds, [tag]: item } })));
  }

  async removeFromCart(cart: string, item: string): Promise<void> {
    const state = await this.change<CartState>('cart', cart, (s) => {
      const seen = Object.entries(s.adds).filter(([tag, it]) => it === item && !s.removed.includes(tag)).map(([tag]) => tag);
      return { ...s, removed: [...new Set([...s.removed, ...seen])].sort() };
    });
    this.share('cart', cart, state);
  }

  async getCart(cart: string): Promise<string[]> {
    const { adds, removed } = await this.read<CartState>('cart', cart);
    return [...new Set(Object.entries(adds).filter(([tag]) => !removed.includes(tag)).map(([, item]) => item))];
  }

  private async count(post: string, side: 'p' | 'n'): Promise<void> {
    const { id } = this.options;
    this.share('likes', post, await this.change<LikesState>('likes', post, (s) => ({ ...s, [side]: { ...s[side], [id]: (s[side][id] ?? 0) + 1 } })));
  }

  like(post: string): Promise<void> {
    return this.count(post, 'p');
  }

  unlike(post: string): Promise<void> {
    return this.count(post, 'n');
  }

  async likes(post: string): Promise<number> {
    const { p, n } = await this.read<LikesState>('likes', post);
    const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
    return sum(p) - sum(n);
  }

  async receive(_from: string, message: Message): Promise<void> {
    const { kind, key, state } = message as unknown as { kind: Kind; key: string; state: State };
    if (!(kind in EMPTY)) throw new Error(`Unknown message ${JSON.stringify(message)}`);
    await this.change(kind, key, (held) => merge(kind, held, state));
  }
}

export function createRegion(options: RegionOptions): Region {
  return new StoredRegion(options);
}
