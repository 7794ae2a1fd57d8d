/**
 * Three regions that all accept writes: each applies its own writes at once in its Redis,
 * sends them to the other regions, and merges what they send, so that every region ends
 * with the same data whatever the order, delay and repetition of the messages.
 *
 * - Profile field: last-write-wins on (ts, region), where ts is never below the ts of a
 *   write this region has seen (a causally later write always wins), and a version vector
 *   tells a write made after another from one made concurrently with it (only those are
 *   conflicts, and the loser is reported).
 * - Cart: an OR-Set. Each add gets a unique tag; a remove removes the tags it has seen and
 *   remembers them, so an add it saw stays removed even when it arrives after the remove.
 * - Likes: a PN-Counter. Each region counts its own likes and unlikes; messages carry a
 *   region's totals, and a receiver keeps the larger (a repeated or late message changes nothing).
 *
 * Every read–merge–write is one Lua script: Redis runs it with nothing else in between.
 */
import type { Message, Region, RegionOptions, Reply } from './types';

const VV_LEQ = `
local function leq(a, b)
  for k, n in pairs(a) do
    if n > (b[k] or 0) then return false end
  end
  return true
end
`;

/** KEYS: profile. ARGV: value, now, region. Stores a local write; returns {ts, vv}. */
const LOCAL_PROFILE = `
local cur = redis.call('HMGET', KEYS[1], 'ts', 'vv')
local ts = tonumber(ARGV[2])
local vv = {}
if cur[1] then
  local last = tonumber(cur[1])
  if last >= ts then ts = last + 1 end
  vv = cjson.decode(cur[2])
end
vv[ARGV[3]] = (vv[ARGV[3]] or 0) + 1
local encoded = cjson.encode(vv)
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'ts', string.format('%d', ts), 'region', ARGV[3], 'vv', encoded)
return {string.format('%d', ts), encoded}
`;

/** KEYS: profile, conflicts. ARGV: value, ts, region, vv (JSON). Merges a remote write. */
const APPLY_PROFILE = `${VV_LEQ}
local cur = redis.call('HMGET', KEYS[1], 'value', 'ts', 'region', 'vv')
local incoming = cjson.decode(ARGV[4])
if not cur[1] then
  redis.call('HSET', KEYS[1], 'value', ARGV[1], 'ts', ARGV[2], 'region', ARGV[3], 'vv', ARGV[4])
  return 'stored'
end
local held = cjson.decode(cur[4])
if leq(incoming, held) then return 'known' end
if leq(held, incoming) then
  redis.call('HSET', KEYS[1], 'value', ARGV[1], 'ts', ARGV[2], 'region', ARGV[3], 'vv', ARGV[4])
  return 'replaced'
end
for k, n in pairs(incoming) do
  if n > (held[k] or 0) then held[k] = n end
end
local inTs, heldTs = tonumber(ARGV[2]), tonumber(cur[2])
if inTs > heldTs or (inTs == heldTs and ARGV[3] > cur[3]) then
  redis.call('SADD', KEYS[2], cur[1])
  redis.call('HSET', KEYS[1], 'value', ARGV[1], 'ts', ARGV[2], 'region', ARGV[3], 'vv', cjson.encode(held))
else
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[1], 'vv', cjson.encode(held))
end
return 'conflict'
`;

/** KEYS: cart, seq. ARGV: item, region. A new tag for a local add. */
const LOCAL_ADD = `
local tag = ARGV[2] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], tag, ARGV[1])
return tag
`;

/** KEYS: cart, removed. ARGV: item. Removes the tags of the item this region holds; returns them. */
const LOCAL_REMOVE = `
local all = redis.call('HGETALL', KEYS[1])
local tags = {}
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then
    tags[#tags + 1] = all[i]
    redis.call('HDEL', KEYS[1], all[i])
    redis.call('SADD', KEYS[2], all[i])
  end
end
return tags
`;

/** KEYS: cart, removed. ARGV: tag, item. */
const APPLY_ADD = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 'ok'
`;

/** KEYS: cart, removed. ARGV: tags. */
const APPLY_REMOVE = `
for i = 1, #ARGV do
  redis.call('SADD', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[1], ARGV[i])
end
return 'ok'
`;

/** KEYS: likes. ARGV: field of this region's count (p:eu or n:eu), region. Returns {p, n} of the region. */
const LOCAL_LIKE = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local counts = redis.call('HMGET', KEYS[1], 'p:' .. ARGV[2], 'n:' .. ARGV[2])
return {tonumber(counts[1] or '0'), tonumber(counts[2] or '0')}
`;

/** KEYS: likes. ARGV: region, p, n. Keeps the larger of each count. */
const APPLY_LIKES = `
local fields = {'p:' .. ARGV[1], 'n:' .. ARGV[1]}
for i = 1, 2 do
  local held = tonumber(redis.call('HGET', KEYS[1], fields[i]) or '0')
  if tonumber(ARGV[i + 1]) > held then redis.call('HSET', KEYS[1], fields[i], ARGV[i + 1]) end
end
return 'ok'
`;

const profileKey = (user: string): string => `profile:${user}`;
const conflictsKey = (user: string): string => `profile-conflicts:${user}`;
const cartKey = (cart: string): string => `cart:${cart}`;
const removedKey = (cart: string): string => `cart-removed:${cart}`;
const likesKey = (post: string): string => `likes:${post}`;

type Incoming =
  | { kind: 'profile'; user: string; value: string; ts: number; region: string; vv: Record<string, number> }
  | { kind: 'add'; cart: string; item: string; tag: string }
  | { kind: 'remove'; cart: string; tags: string[] }
  | { kind: 'likes'; post: string; region: string; p: number; n: number };

const strings = (reply: Reply): string[] => (Array.isArray(reply) ? reply.map(String) : []);

export function createRegion(options: RegionOptions): Region {
  const { id, peers, store, clock } = options;
  const broadcast = (message: Message): void => {
    for (const peer of peers) options.send(peer, message);
  };

  const count = async (post: string, field: 'p' | 'n'): Promise<void> => {
    const [p, n] = (await store.eval(LOCAL_LIKE, [likesKey(post)], [`${field}:${id}`, id])) as [number, number];
    broadcast({ kind: 'likes', post, region: id, p, n });
  };

  return {
    async setProfile(user, value) {
      const [ts, vv] = strings(await store.eval(LOCAL_PROFILE, [profileKey(user)], [value, Math.floor(clock.now()), id]));
      broadcast({ kind: 'profile', user, value, ts: Number(ts), region: id, vv: JSON.parse(vv ?? '{}') as Record<string, number> });
    },
    async getProfile(user) {
      const value = await store.command('HGET', profileKey(user), 'value');
      return typeof value === 'string' ? value : null;
    },
    async conflicts(user) {
      return strings(await store.command('SMEMBERS', conflictsKey(user)));
    },

    async addToCart(cart, item) {
      const tag = await store.eval(LOCAL_ADD, [cartKey(cart), 'cart-tags'], [item, id]);
      broadcast({ kind: 'add', cart, item, tag: String(tag) });
    },
    async removeFromCart(cart, item) {
      const tags = strings(await store.eval(LOCAL_REMOVE, [cartKey(cart), removedKey(cart)], [item]));
      if (tags.length > 0) broadcast({ kind: 'remove', cart, tags });
    },
    async getCart(cart) {
      return [...new Set(strings(await store.command('HVALS', cartKey(cart))))];
    },

    like: (post) => count(post, 'p'),
    unlike: (post) => count(post, 'n'),
    async likes(post) {
      const all = strings(await store.command('HGETALL', likesKey(post)));
      let total = 0;
      for (let i = 0; i + 1 < all.length; i += 2) {
        total += (all[i]?.startsWith('p:') ? 1 : -1) * Number(all[i + 1]);
      }
      return total;
    },

    async receive(_from, message) {
      const m = message as Incoming;
      switch (m.kind) {
        case 'profile':
          await store.eval(APPLY_PROFILE, [profileKey(m.user), conflictsKey(m.user)], [m.value, m.ts, m.region, JSON.stringify(m.vv)]);
          return;
        case 'add':
          await store.eval(APPLY_ADD, [cartKey(m.cart), removedKey(m.cart)], [m.tag, m.item]);
          return;
        case 'remove':
          await store.eval(APPLY_REMOVE, [cartKey(m.cart), removedKey(m.cart)], m.tags);
          return;
        case 'likes':
          await store.eval(APPLY_LIKES, [likesKey(m.post)], [m.region, m.p, m.n]);
          return;
        default:
          throw new Error(`Unknown message ${JSON.stringify(message)}`);
      }
    },
  };
}
