/**
 * The RESP protocol of the Redis labs: the decoder on replies as Redis sends them, cut at
 * every byte boundary, and the encoders. The client against a real server is tested with
 * the Quorum lab's in-process replica (labs/quorum/grader/inProcessReplica.test.ts) and
 * real Redis (the Docker tier).
 */
import { describe, expect, it } from 'vitest';
import { RespDecoder, RespError, RespProtocolError, type RespValue, encodeCommand, encodeReply, encodeStatus } from '../../src/core/services/resp';

/** A Lua script of several lines, as a command's argument carries one. */
const SCRIPT = "local held = redis.call('HMGET', KEYS[1], 'ts')\nreturn 1";

/** Decodes every value of `chunks`, fed one after the other; fails if bytes are left over. */
function decodeAll(chunks: readonly Buffer[]): RespValue[] {
  const decoder = new RespDecoder();
  const values: RespValue[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let v = decoder.next(); v !== undefined; v = decoder.next()) values.push(v);
  }
  return values;
}

/** The reply a test expects for an error: RespError compared by message. */
const err = (message: string): RespError => new RespError(message);

/**
 * Replies as a Redis sends them, written out by hand (not with encodeReply), and what
 * each decodes to: every kind of RESP 2 reply, a bulk string holding CRLF and multi-byte
 * UTF-8 (its length in bytes), nested arrays holding nulls, errors and integers.
 */
const WIRE: readonly [string, RespValue][] = [
  ['+OK\r\n', 'OK'],
  ['-ERR unknown command \'FOO\'\r\n', err("ERR unknown command 'FOO'")],
  [':0\r\n', 0],
  [':-42\r\n', -42],
  [':1700000000000\r\n', 1_700_000_000_000],
  ['$0\r\n\r\n', ''],
  ['$-1\r\n', null],
  ['$11\r\nline\r\nbreak\r\n', 'line\r\nbreak'],
  ['$8\r\nhé→ß\r\n', 'hé→ß'],
  ['*-1\r\n', null],
  ['*0\r\n', []],
  ['*3\r\n$2\r\n17\r\n$8\r\nclient-1\r\n$-1\r\n', ['17', 'client-1', null]],
  [
    '*4\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n*0\r\n-WRONGTYPE wrong kind\r\n*2\r\n$-1\r\n*-1\r\n',
    [[1, ['x']], [], err('WRONGTYPE wrong kind'), [null, null]],
  ],
  ['+\r\n', ''],
];

describe('RespDecoder', () => {
  const stream = Buffer.from(WIRE.map(([wire]) => wire).join(''), 'utf8');
  const expected = WIRE.map(([, value]) => value);

  it('decodes every kind of reply from one chunk', () => {
    expect(decodeAll([stream])).toEqual(expected);
  });

  it('decodes the same values whatever byte boundary the stream is cut at (one cut, and two)', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(decodeAll([stream.subarray(0, i), stream.subarray(i)]), `cut at byte ${i}`).toEqual(expected);
    }
    // Two cuts, every pair: a value may start in one chunk, continue through a whole
    // second chunk and end in a third.
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 1) {
        const got = decodeAll([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]);
        if (JSON.stringify(got) !== JSON.stringify(expected)) {
          expect(got, `cut at bytes ${i} and ${j}`).toEqual(expected);
        }
      }
    }
  });

  it('decodes the stream fed one byte at a time, handing out each value only once it is complete', () => {
    const decoder = new RespDecoder();
    const values: RespValue[] = [];
    const completedAt: number[] = [];
    for (let i = 0; i < stream.length; i++) {
      decoder.push(stream.subarray(i, i + 1));
      for (let v = decoder.next(); v !== undefined; v = decoder.next()) {
        values.push(v);
        completedAt.push(i + 1);
      }
    }
    expect(values).toEqual(expected);
    // Each value came out at the very byte that completed it, not earlier, not later.
    let end = 0;
    const ends = WIRE.map(([wire]) => (end += Buffer.byteLength(wire, 'utf8')));
    expect(completedAt).toEqual(ends);
  });

  it('keeps an error reply apart from a string and a status reply apart from a bulk string only by type', () => {
    const [status, error] = decodeAll([Buffer.from('+PONG\r\n-PONG\r\n')]);
    expect(status).toBe('PONG');
    expect(error).toBeInstanceOf(RespError);
    expect((error as RespError).message).toBe('PONG');
  });

  it('round-trips what encodeReply and encodeStatus write', () => {
    const values: RespValue[] = ['', 'a\r\nb', 'ünïcødé', null, 7, -3, err('ERR boom'), [], [['nested', [null, 1, err('E x')]], 'tail']];
    expect(decodeAll([Buffer.concat(values.map(encodeReply))])).toEqual(values);
    expect(decodeAll([encodeStatus('OK')])).toEqual(['OK']);
    // An error message cannot hold a line break on the wire: it becomes a space.
    expect(decodeAll([encodeReply(err('ERR two\r\nlines'))])).toEqual([err('ERR two lines')]);
  });

  it('encodes a command as an array of bulk strings with lengths in bytes', () => {
    expect(encodeCommand(['HMGET', 'clé', 'ts']).toString('utf8')).toBe('*3\r\n$5\r\nHMGET\r\n$4\r\nclé\r\n$2\r\nts\r\n');
    expect(encodeCommand([]).toString('utf8')).toBe('*0\r\n');
    // What a server decodes is the command itself.
    expect(decodeAll([encodeCommand(['EVAL', SCRIPT, '1', 'k', '1', 'w', 'v\r\n'])])).toEqual([['EVAL', SCRIPT, '1', 'k', '1', 'w', 'v\r\n']]);
  });

  it('rejects bytes that are not RESP with a RespProtocolError naming the first byte', () => {
    const decoder = new RespDecoder();
    decoder.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n'));
    expect(() => decoder.next()).toThrow(RespProtocolError);
    expect(() => decoder.next()).toThrow('not a RESP reply: it starts with "H"');
  });
});
