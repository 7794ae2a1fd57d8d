/**
 * The in-process Redis stand-in against a real Redis (the project's Redis 7 image): the
 * same commands, transactions and scripts, sent to both, must get the same replies. What
 * the Multi-Master lab's reference and alternatives send is among them, so a grade without
 * Docker judges what a grade on Docker would.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessRedis } from '../../src/core/services/inProcessRedis';
import { type LabServicesResult, startLabServices } from '../../src/core/services/labServices';
import { RespClient, RespError, type RespValue } from '../../src/core/services/resp';
import { LOCAL_IMAGES, newRuntime, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
const sessionId = `session-${randomBytes(4).toString('hex')}`;
const DATABASE = 3;

/** Commands as a learner's region sends them; `sorted` marks a reply whose order Redis does not promise. */
const SCRIPT: readonly (readonly (string | number)[])[] = [
  ['SET', 'k', 'v'],
  ['SET', 'k', 'w', 'NX'],
  ['SET', 'k', 'w', 'XX'],
  ['GET', 'k'],
  ['GET', 'missing'],
  ['INCR', 'seq'],
  ['INCRBY', 'seq', 10],
  ['DECR', 'seq'],
  ['INCR', 'k'],
  ['HSET', 'h', 'p:eu', 3, 'n:eu', 1],
  ['HSET', 'h', 'p:eu', 4],
  ['HINCRBY', 'h', 'p:us', 2],
  ['HGETALL', 'h'],
  ['HMGET', 'h', 'p:eu', 'nope'],
  ['HVALS', 'h'],
  ['HKEYS', 'h'],
  ['HLEN', 'h'],
  ['HDEL', 'h', 'n:eu', 'nope'],
  ['HEXISTS', 'h', 'p:us'],
  ['HGET', 'k', 'f'],
  ['SADD', 'tags', 'eu:1', 'us:1', 'eu:1'],
  ['SISMEMBER', 'tags', 'us:1'],
  ['SREM', 'tags', 'us:1'],
  ['SCARD', 'tags'],
  ['RPUSH', 'l', 'a', 'b', 'c'],
  ['LPUSH', 'l', 'z'],
  ['LRANGE', 'l', 0, -1],
  ['LRANGE', 'l', -2, 10],
  ['LPOP', 'l'],
  ['LLEN', 'l'],
  ['DEL', 'l', 'missing'],
  ['EXISTS', 'k', 'h', 'l'],
  ['TYPE', 'h'],
  ['MSET', 'a', '1', 'b', '2'],
  ['MGET', 'a', 'b', 'c'],
  ['EVAL', "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7.9, false, {ok='fine'}, redis.call('GET', 'none'), -3}", 1, 'sk', 'sv'],
  ['EVAL', "return {1, 2, nil, 4}", 0],
  ['EVAL', "return redis.call('HGETALL', KEYS[1])", 1, 'h'],
  ['EVAL', "return redis.call('INCR', KEYS[1])", 1, 'k'],
  ['EVAL', "local r = redis.pcall('INCR', KEYS[1]); return r.err", 1, 'k'],
  ['EVAL', "return redis.status_reply('DONE')", 0],
  ['EVAL', "local t = tonumber(ARGV[1]) + 1; return {string.format('%d', t), '' .. t, tostring(t), string.format('%05d|%-4d|', 42, 7)}", 0, '1796431408230'],
  ['EVAL', "redis.call('HSET', KEYS[1], 'ts', tonumber(ARGV[1]), 'half', 2.5); return redis.call('HMGET', KEYS[1], 'ts', 'half')", 1, 'stamp', '1796431408230'],
  ['EVAL', "local v = cjson.decode(ARGV[1]); v.eu = v.eu + 1; return cjson.encode(v)", 0, '{"eu":1}'],
  ['EVAL', "local a = cjson.decode(ARGV[1]); return #a .. ':' .. a[2]", 0, '["x","y","z"]'],
  ['EVAL', "local tags = {} for i, v in ipairs(redis.call('HGETALL', KEYS[1])) do if i % 2 == 1 then tags[#tags + 1] = v end end table.sort(tags) return tags", 1, 'h'],
  ['EVAL', "return tonumber('12') + tonumber('0.5')", 0],
  ['EVAL', "return math.max(3, 9, 4)", 0],
  ['EVAL', "return string.sub('region-eu', 8)", 0],
  ['EVALSHA', '0000000000000000000000000000000000000000', 0],
  ['SCRIPT', 'LOAD', 'return ARGV[1]'],
  ['PING'],
  ['ECHO', 'hello'],
  // Expiry (the Key-Value lab): PTTL and TTL compared as "positive", the milliseconds left differ.
  ['SET', 'e', 'v', 'PX', 100_000],
  ['PTTL', 'e'],
  ['SET', 'e', 'w', 'KEEPTTL'],
  ['PTTL', 'e'],
  ['SET', 'e', 'x'],
  ['PTTL', 'e'],
  ['PTTL', 'missing'],
  ['PEXPIRE', 'e', 50_000, 'NX'],
  ['PEXPIRE', 'e', 60_000, 'NX'],
  ['PEXPIRE', 'e', 70_000, 'GT'],
  ['PEXPIRE', 'missing', 1_000],
  ['PERSIST', 'e'],
  ['PERSIST', 'e'],
  ['TTL', 'e'],
  ['GETEX', 'e', 'PX', 100_000],
  ['PTTL', 'e'],
  ['GETEX', 'missing', 'PX', 100],
  ['EXPIRE', 'e', 100],
  ['TTL', 'e'],
  ['SET', 'n', '0', 'NX', 'PX', 60_000],
  ['SET', 'n', '9', 'NX', 'PX', 60_000],
  ['INCR', 'n'],
  ['PTTL', 'n'],
  ['SET', 'n', '5', 'GET'],
  ['PTTL', 'n'],
  ['SET', 'bad', 'v', 'PX', 0],
  ['SET', 'bad', 'v', 'NX', 'XX'],
  ['UNLINK', 'e', 'n', 'missing'],
  // Sorted sets (the sliding window).
  ['ZADD', 'z', 1, 'a', 2, 'b', 3, 'c'],
  ['ZADD', 'z', 2, 'a'],
  ['ZADD', 'z', 'NX', 9, 'a', 4, 'd'],
  ['ZCARD', 'z'],
  ['ZCOUNT', 'z', '(1', '+inf'],
  ['ZCOUNT', 'z', '-inf', '(3'],
  ['ZRANGE', 'z', 0, -1, 'WITHSCORES'],
  ['ZRANGE', 'z', 1, 2],
  ['ZSCORE', 'z', 'a'],
  ['ZSCORE', 'z', 'none'],
  ['ZREMRANGEBYSCORE', 'z', '-inf', 2],
  ['ZRANGE', 'z', 0, -1],
  ['ZREM', 'z', 'c', 'nope'],
  ['ZADD', 'z', 'x', 'm'],
  ['ZREM', 'z', 'd'],
  ['EXISTS', 'z'],
  ['TYPE', 'z'],
  ['ZADD', 'z2', 1.5, 'm'],
  ['TYPE', 'z2'],
  ['ZCOUNT', 'z2', 'nope', 3],
  ['GET', 'z2'],
  ['EVAL', "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return {n, redis.call('PTTL', KEYS[1]) > 0}", 1, 'win', 2_000],
  ['EVAL', "local now = tonumber(ARGV[1]) redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 2000) if redis.call('ZCARD', KEYS[1]) < 2 then redis.call('ZADD', KEYS[1], now, ARGV[2]) redis.call('PEXPIRE', KEYS[1], 2000) return 1 end return 0", 1, 'log', 1_796_431_408_230, 'r1'],
  ['EVAL', "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) redis.call('DEL', KEYS[2]) return 1 end return 0", 2, 'product:p', 'product:p:lease', 'tok', 'lamp', 60_000],
  ['SET', 'product:p:lease', 'tok', 'NX', 'PX', 2_000],
  ['EVAL', "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) redis.call('DEL', KEYS[2]) return 1 end return 0", 2, 'product:p', 'product:p:lease', 'tok', 'lamp', 60_000],
  ['GET', 'product:p'],
];

/** A reply as compared: errors by their first word (the rest is each server's own wording), sets sorted. */
function comparable(command: readonly (string | number)[], reply: RespValue): unknown {
  if (reply instanceof RespError) return `error ${reply.message.split(' ')[0]}`;
  if (command[0] === 'SMEMBERS' && Array.isArray(reply)) return [...reply].sort();
  if ((command[0] === 'PTTL' || command[0] === 'TTL') && typeof reply === 'number' && reply > 0) return 'positive';
  return reply;
}

describe('the in-process Redis stand-in and a real Redis', () => {
  let lab: LabServicesResult;
  let standIn: InProcessRedis;
  let real: RespClient;
  let fake: RespClient;

  beforeAll(async () => {
    lab = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId: registerLab(uniqueId('standin')), sessionId, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger });
    const redis = lab.connections[0];
    if (redis === undefined) throw new Error('no Redis started');
    real = new RespClient({ host: redis.host, port: redis.port, password: redis.password, database: DATABASE }, 5_000, 'redis');
    standIn = await InProcessRedis.start('stand-in', 'secret');
    fake = new RespClient({ host: standIn.host, port: standIn.port, password: 'secret', database: DATABASE }, 5_000, 'stand-in');
    await real.command(['FLUSHDB']);
  }, 90_000);

  afterAll(async () => {
    real?.close();
    fake?.close();
    await standIn?.close();
  });

  it('answer every command, script and error the same way', async () => {
    const differences: string[] = [];
    for (const command of SCRIPT) {
      const args = command.map(String);
      const [a, b] = [comparable(command, await real.command(args)), comparable(command, await fake.command(args))];
      if (JSON.stringify(a) !== JSON.stringify(b)) differences.push(`${args.join(' ').slice(0, 80)}: Redis ${JSON.stringify(a)}, stand-in ${JSON.stringify(b)}`);
    }
    expect(differences).toEqual([]);
  });

  it('forget a key once its expiry has passed, and keep one whose expiry was renewed', async () => {
    for (const client of [real, fake]) {
      await client.command(['SET', 'short', 'v', 'PX', '150']);
      await client.command(['SET', 'renewed', 'v', 'PX', '150']);
      await client.command(['ZADD', 'log', '1', 'a']);
      await client.command(['PEXPIRE', 'log', '150']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await client.command(['GETEX', 'renewed', 'PX', '400'])).toBe('v');
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await client.command(['GET', 'short'])).toBeNull();
      expect(await client.command(['EXISTS', 'short', 'log'])).toBe(0);
      expect(await client.command(['PTTL', 'short'])).toBe(-2);
      expect(await client.command(['GET', 'renewed'])).toBe('v');
    }
  });

  it('abort a transaction whose watched key another connection changed, and run one whose key nobody touched', async () => {
    for (const client of [real, fake]) {
      const session = new RespClient(client === real ? { ...(lab.connections[0] as { host: string; port: number; password: string }), database: DATABASE } : { host: standIn.host, port: standIn.port, password: 'secret', database: DATABASE }, 5_000, 'session');
      try {
        expect(await session.command(['WATCH', 'tx'])).toBe('OK');
        await client.command(['SET', 'tx', 'other']);
        await session.command(['MULTI']);
        expect(await session.command(['SET', 'tx', 'mine'])).toBe('QUEUED');
        expect(await session.command(['EXEC'])).toBeNull();
        await session.command(['WATCH', 'tx']);
        await session.command(['MULTI']);
        await session.command(['SET', 'tx', 'mine']);
        await session.command(['INCR', 'txcount']);
        expect(await session.command(['EXEC'])).toEqual(['OK', 1]);
        expect(await client.command(['GET', 'tx'])).toBe('mine');
      } finally {
        session.close();
      }
    }
  });
});
