/**
 * The in-process Redis stand-in (src/core/services/inProcessRedis.ts, with Lua scripts in
 * redisLua.ts) on its own: the commands labs use, WATCH / MULTI / EXEC between two
 * connections, scripts as Redis converts their values, what a learner's script cannot
 * reach, and the faults. test/docker/redisStandIn.test.ts compares it with a real Redis.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessRedis } from '../../src/core/services/inProcessRedis';
import { RespClient, RespError, type RespValue } from '../../src/core/services/resp';

let redis: InProcessRedis;
const clients: RespClient[] = [];

function client(database = 0, timeoutMs = 2_000): RespClient {
  const c = new RespClient({ host: redis.host, port: redis.port, password: 'secret', database }, timeoutMs, 'stand-in');
  clients.push(c);
  return c;
}

const run = (c: RespClient, ...args: (string | number)[]): Promise<RespValue> => c.command(args.map(String));
const errorText = (v: RespValue): string => (v instanceof RespError ? v.message : `not an error: ${JSON.stringify(v)}`);

beforeEach(async () => {
  redis = await InProcessRedis.start('stand-in', 'secret');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await redis.close();
});

describe('commands', () => {
  it('keeps strings, hashes, sets and lists, and refuses a command on the wrong type', async () => {
    const c = client();
    expect(await run(c, 'SET', 'k', 'v')).toBe('OK');
    expect(await run(c, 'SET', 'k', 'w', 'NX')).toBeNull();
    expect(await run(c, 'INCR', 'n')).toBe(1);
    expect(await run(c, 'INCRBY', 'n', 41)).toBe(42);
    expect(errorText(await run(c, 'INCR', 'k'))).toBe('ERR value is not an integer or out of range');
    expect(await run(c, 'HSET', 'h', 'a', '1', 'b', '2')).toBe(2);
    expect(await run(c, 'HINCRBY', 'h', 'a', 5)).toBe(6);
    expect(await run(c, 'HGETALL', 'h')).toEqual(['a', '6', 'b', '2']);
    expect(await run(c, 'HMGET', 'h', 'b', 'zz')).toEqual(['2', null]);
    expect(await run(c, 'SADD', 's', 'x', 'y', 'x')).toBe(2);
    expect(await run(c, 'SISMEMBER', 's', 'y')).toBe(1);
    expect(await run(c, 'RPUSH', 'l', 'a', 'b', 'c')).toBe(3);
    expect(await run(c, 'LRANGE', 'l', 0, -2)).toEqual(['a', 'b']);
    expect(errorText(await run(c, 'HGET', 'k', 'f'))).toMatch(/^WRONGTYPE /);
    expect(await run(c, 'HDEL', 'h', 'a', 'b')).toBe(2);
    expect(await run(c, 'EXISTS', 'h')).toBe(0);
    expect(errorText(await run(c, 'OBJECT', 'ENCODING', 'k'))).toMatch(/unknown command 'OBJECT' \(the in-process Redis stand-in knows .*HSET/);
  });

  it('expires keys on its clock: SET PX and EX, PEXPIRE with NX, GETEX renewing, INCR and KEEPTTL keeping the expiry', async () => {
    await redis.close();
    let now = 1_000_000;
    redis = await InProcessRedis.start('stand-in', 'secret', () => now);
    const c = client();
    expect(await run(c, 'SET', 'session', 'alice', 'PX', 800)).toBe('OK');
    expect(await run(c, 'SET', 'lock', 't', 'NX', 'EX', 2)).toBe('OK');
    expect(await run(c, 'SET', 'lock', 'u', 'NX', 'EX', 2)).toBeNull();
    expect(await run(c, 'PTTL', 'session')).toBe(800);
    expect(await run(c, 'TTL', 'lock')).toBe(2);
    now += 500;
    expect(await run(c, 'GETEX', 'session', 'PX', 800)).toBe('alice');
    now += 700;
    expect(await run(c, 'GET', 'session')).toBe('alice');
    expect(await run(c, 'PTTL', 'session')).toBe(100);
    now += 100;
    expect(await run(c, 'GET', 'session')).toBeNull();
    expect(await run(c, 'PTTL', 'session')).toBe(-2);
    expect(await run(c, 'INCR', 'count')).toBe(1);
    expect(await run(c, 'PEXPIRE', 'count', 1_000, 'NX')).toBe(1);
    expect(await run(c, 'PEXPIRE', 'count', 5_000, 'NX')).toBe(0);
    expect(await run(c, 'INCR', 'count')).toBe(2);
    expect(await run(c, 'SET', 'count', '7', 'KEEPTTL')).toBe('OK');
    expect(await run(c, 'PTTL', 'count')).toBe(1_000);
    expect(await run(c, 'SET', 'count', '8')).toBe('OK');
    expect(await run(c, 'PTTL', 'count')).toBe(-1);
    expect(await run(c, 'SCAN', 0, 'MATCH', 'c*')).toEqual(['0', ['count']]);
    expect(await run(c, 'PERSIST', 'lock')).toBe(1);
    now += 10_000;
    expect(await run(c, 'KEYS', '*')).toEqual(['lock', 'count']);
    expect(errorText(await run(c, 'SET', 'x', 'v', 'PX', 0))).toMatch(/invalid expire time/);
    expect(errorText(await run(c, 'SET', 'x', 'v', 'PX'))).toMatch(/not an integer/);
  });

  it('keeps sorted sets by score, counts and removes ranges of scores, and drops an emptied one', async () => {
    const c = client();
    expect(await run(c, 'ZADD', 'log', 100, 'a', 200, 'b', 300, 'c')).toBe(3);
    expect(await run(c, 'ZADD', 'log', 'NX', 50, 'a', 400, 'd')).toBe(1);
    expect(await run(c, 'ZRANGE', 'log', 0, -1, 'WITHSCORES')).toEqual(['a', '100', 'b', '200', 'c', '300', 'd', '400']);
    expect(await run(c, 'ZCOUNT', 'log', '(100', 300)).toBe(2);
    expect(await run(c, 'ZREMRANGEBYSCORE', 'log', '-inf', 200)).toBe(2);
    expect(await run(c, 'ZCARD', 'log')).toBe(2);
    expect(await run(c, 'ZSCORE', 'log', 'd')).toBe('400');
    expect(await run(c, 'ZREM', 'log', 'c', 'd')).toBe(2);
    expect(await run(c, 'EXISTS', 'log')).toBe(0);
    expect(errorText(await run(c, 'ZCOUNT', 'log', 'x', 1))).toMatch(/not a float/);
  });

  it('asks for the password, and keeps numbered databases apart', async () => {
    const anonymous = new RespClient({ host: redis.host, port: redis.port }, 2_000, 'anonymous');
    clients.push(anonymous);
    expect(errorText(await anonymous.command(['GET', 'k']))).toMatch(/^NOAUTH/);
    const wrong = new RespClient({ host: redis.host, port: redis.port, password: 'nope' }, 2_000, 'wrong');
    clients.push(wrong);
    await expect(wrong.command(['PING'])).rejects.toThrow(/refused the password: WRONGPASS/);
    await run(client(1), 'SET', 'k', 'one');
    expect(await run(client(2), 'GET', 'k')).toBeNull();
    expect(await run(client(1), 'GET', 'k')).toBe('one');
    await run(client(2), 'FLUSHDB');
    expect(await run(client(1), 'GET', 'k')).toBe('one');
  });
});

describe('WATCH, MULTI and EXEC', () => {
  it('runs the queued commands, or none (null) when a watched key changed after WATCH', async () => {
    const a = client();
    const b = client();
    // One session's commands go on one connection: a RespClient used one command at a time.
    expect(await run(a, 'WATCH', 'k')).toBe('OK');
    expect(await run(a, 'MULTI')).toBe('OK');
    expect(await run(a, 'SET', 'k', 'mine')).toBe('QUEUED');
    expect(await run(a, 'INCR', 'count')).toBe('QUEUED');
    expect(await run(a, 'EXEC')).toEqual(['OK', 1]);
    await run(a, 'WATCH', 'k');
    await run(b, 'SET', 'k', 'theirs');
    await run(a, 'MULTI');
    await run(a, 'SET', 'k', 'mine again');
    expect(await run(a, 'EXEC')).toBeNull();
    expect(await run(b, 'GET', 'k')).toBe('theirs');
    expect(errorText(await run(a, 'EXEC'))).toBe('ERR EXEC without MULTI');
  });

  it('aborts a transaction with a command it does not know, and DISCARD drops the queue', async () => {
    const a = client();
    await run(a, 'MULTI');
    expect(errorText(await run(a, 'NOSUCH', 'x'))).toMatch(/unknown command/);
    expect(errorText(await run(a, 'EXEC'))).toMatch(/^EXECABORT/);
    await run(a, 'MULTI');
    await run(a, 'SET', 'k', 'v');
    expect(await run(a, 'DISCARD')).toBe('OK');
    expect(await run(a, 'GET', 'k')).toBeNull();
  });
});

describe('Lua scripts', () => {
  it('see KEYS and ARGV, call commands, and return values as Redis converts them', async () => {
    const c = client();
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7.9, false, {ok='fine'}, redis.call('GET', 'none')}";
    expect(await run(c, 'EVAL', script, 1, 'k', 'v')).toEqual(['v', 7, null, 'fine', null]);
    expect(await run(c, 'EVAL', "return redis.call('GET', 'none')", 0)).toBeNull();
    expect(await run(c, 'EVAL', "return {err='MINE went wrong'}", 0)).toEqual(new RespError('MINE went wrong'));
    expect(await run(c, 'EVAL', 'return true', 0)).toBe(1);
  });

  it('raise the error of a failed call, and hand it back as a table with pcall', async () => {
    const c = client();
    await run(c, 'SET', 'text', 'x');
    expect(errorText(await run(c, 'EVAL', "return redis.call('INCR', 'text')", 0))).toMatch(/value is not an integer/);
    expect(await run(c, 'EVAL', "local r = redis.pcall('INCR', 'text'); return r.err", 0)).toBe('ERR value is not an integer or out of range');
  });

  it('format and concatenate millisecond timestamps as Redis does, and round-trip JSON with cjson', async () => {
    const c = client();
    expect(await run(c, 'EVAL', "local t = tonumber(ARGV[1]) + 1; return {string.format('%d', t), '' .. t, tostring(t)}", 0, '1796431408230')).toEqual(['1796431408231', '1796431408231', '1796431408231']);
    expect(await run(c, 'EVAL', "local v = cjson.decode(ARGV[1]); v.eu = v.eu + 1; return cjson.encode(v)", 0, '{"eu":1}')).toBe('{"eu":2}');
    expect(await run(c, 'EVAL', "redis.call('HSET', 'h', 'ts', tonumber(ARGV[1])); return redis.call('HGET', 'h', 'ts')", 0, '1796431408230')).toBe('1796431408230');
    expect(await run(c, 'EVAL', "local t = {}; for i = 1, 3 do t[#t + 1] = i end; return unpack(t)", 0)).toBe(1);
  });

  it('are kept by SHA1 for EVALSHA, and may not run transactions', async () => {
    const c = client();
    const sha = await run(c, 'SCRIPT', 'LOAD', 'return ARGV[1]');
    expect(await run(c, 'EVALSHA', String(sha), 0, 'hi')).toBe('hi');
    expect(errorText(await run(c, 'EVALSHA', '0000000000000000000000000000000000000000', 0))).toMatch(/^NOSCRIPT/);
    expect(errorText(await run(c, 'EVAL', "return redis.call('MULTI')", 0))).toMatch(/not allowed from script/);
  });

  it('cannot reach the machine, nor run for ever, nor build a huge string', async () => {
    const c = client();
    for (const name of ['io', 'os', 'package', 'debug', 'require', 'dofile', 'loadfile', 'load', 'loadstring', 'print']) {
      expect(await run(c, 'EVAL', `return type(${name})`, 0), name).toBe('nil');
    }
    expect(errorText(await run(c, 'EVAL', 'while true do end', 0))).toMatch(/ran more than \d+ instructions/);
    expect(errorText(await run(c, 'EVAL', "return string.rep('x', 100000000)", 0))).toMatch(/too long/);
    expect(errorText(await run(c, 'EVAL', 'return (', 0))).toMatch(/^ERR Error compiling script/);
    // The server still answers afterwards.
    expect(await run(c, 'PING')).toBe('PONG');
  });
});

describe('faults', () => {
  it('paused, it answers nothing until resumed, then what waited', async () => {
    const c = client();
    await run(c, 'SET', 'k', 'v');
    redis.pause();
    const waiting = run(c, 'GET', 'k');
    const late = await Promise.race([waiting.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 100))]);
    expect(late).toBe('still waiting');
    redis.resume();
    expect(await waiting).toBe('v');
  });

  it('killed, it refuses connections and keeps its data; restarted, it answers on the same port', async () => {
    const c = client(0, 500);
    await run(c, 'SET', 'k', 'kept');
    const port = redis.port;
    await redis.kill();
    await expect(run(client(0, 500), 'GET', 'k')).rejects.toThrow();
    await redis.restart();
    expect(redis.port).toBe(port);
    expect(await run(client(), 'GET', 'k')).toBe('kept');
  });
});
