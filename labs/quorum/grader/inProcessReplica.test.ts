/**
 * The Quorum lab's replicas without Docker: the RespClient against a real in-process
 * replica over real TCP on 127.0.0.1 — passwords, the write script, a paused replica (a
 * command times out and the next one gets its own reply, never the stale one), a killed and
 * restarted replica — and the replica's conditional write. Timings are never asserted; a
 * time limit only decides which error a command fails with.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RespClient, RespDecoder, RespError, RespUnavailableError, type RespValue, encodeCommand, encodeReply } from '../../../src/core/services/resp';
import { InProcessReplica } from './inProcessReplica';
import { type Stored, WRITE_SCRIPT, isNewer, readRecord, writeRecord } from './replicaStore';

const PASSWORD = 's3cret-password';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function replica(name = 'replica-t'): Promise<InProcessReplica> {
  const r = await InProcessReplica.start(name, PASSWORD);
  cleanups.push(() => r.close());
  return r;
}

function client(r: InProcessReplica, timeoutMs: number, options: { password?: string | null; name?: string } = {}): RespClient {
  const password = options.password === undefined ? r.password : options.password;
  const c = new RespClient({ host: r.host, port: r.port, ...(password !== null ? { password } : {}) }, timeoutMs, options.name ?? r.name);
  cleanups.push(() => c.close());
  return c;
}

const record = (value: string, ts: number, writer: string): Stored => ({ value, version: { ts, writer } });

/** The reply a test expects for an error: RespError compared by message. */
const err = (message: string): RespError => new RespError(message);

describe('RespClient against an in-process replica', () => {
  it('with the right password reads, writes through the script and answers PING', async () => {
    const r = await replica();
    const c = client(r, 5_000);
    expect(await c.command(['PING'])).toBe('PONG');
    expect(await readRecord(c, 'k')).toBeNull();
    expect(await writeRecord(c, 'k', record('v1', 5, 'client-1'))).toBe(true);
    expect(await readRecord(c, 'k')).toEqual(record('v1', 5, 'client-1'));
    expect(await c.command(['HMGET', 'k', 'value', 'nope', 'ts'])).toEqual(['v1', null, '5']);
  });

  it('sends many commands at once, each on a connection of its own, and each gets its own reply', async () => {
    const r = await replica();
    const c = client(r, 10_000);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    expect(await Promise.all(keys.map((k, i) => writeRecord(c, k, record(`value-${i}`, i, `w${i}`))))).toEqual(keys.map(() => true));
    const read = await Promise.all([...keys, ...keys].map((k) => readRecord(c, k)));
    expect(read).toEqual([...keys, ...keys].map((_, n) => record(`value-${n % 40}`, n % 40, `w${n % 40}`)));
  });

  it('with a wrong password rejects with a message that names the replica and the refusal', async () => {
    const r = await replica('replica-2');
    const c = client(r, 5_000, { password: 'not-the-password' });
    const failure = c.command(['PING']);
    await expect(failure).rejects.toBeInstanceOf(RespUnavailableError);
    await expect(failure).rejects.toThrow(/^replica-2 refused the password: WRONGPASS/);
    // It tries again on a new connection (and is refused again), rather than hanging.
    await expect(readRecord(c, 'k')).rejects.toThrow(/replica-2 refused the password/);
  });

  it('without a password gets the NOAUTH error reply, and readRecord turns it into a clear error', async () => {
    const r = await replica();
    const c = client(r, 5_000, { password: null });
    expect(await c.command(['PING'])).toEqual(err('NOAUTH Authentication required.'));
    await expect(readRecord(c, 'k')).rejects.toThrow('read k: the replica answered "NOAUTH Authentication required."');
    await expect(writeRecord(c, 'k', record('v', 1, 'w'))).rejects.toThrow('write k: the replica answered "NOAUTH');
  });

  it('paused: a command times out naming the replica; after resume the next command gets its own reply, not the stale one', async () => {
    const r = await replica('replica-3');
    const setup = client(r, 5_000);
    await writeRecord(setup, 'a', record('value-of-a', 1, 'writer-a'));
    await writeRecord(setup, 'b', record('value-of-b', 2, 'writer-b'));

    // This client has used (and keeps idle) a connection made before the pause.
    const c = client(r, 300);
    expect(await c.command(['PING'])).toBe('PONG');
    r.pause();
    const timedOut = c.command(['HMGET', 'a', 'ts', 'writer', 'value']);
    await expect(timedOut).rejects.toBeInstanceOf(RespUnavailableError);
    await expect(timedOut).rejects.toThrow('replica-3 did not answer within 300 ms');
    // A command on a new connection while paused times out too.
    await expect(c.command(['HMGET', 'a', 'ts', 'writer', 'value'])).rejects.toThrow('replica-3 did not answer within 300 ms');
    r.resume();

    expect(await c.command(['HMGET', 'b', 'ts', 'writer', 'value'])).toEqual(['2', 'writer-b', 'value-of-b']);
    expect(await readRecord(c, 'b')).toEqual(record('value-of-b', 2, 'writer-b'));
    expect(await c.command(['PING'])).toBe('PONG');
  });

  it('paused then resumed within the time limit: the waiting command gets its reply', async () => {
    const r = await replica();
    const c = client(r, 20_000);
    await writeRecord(c, 'a', record('A', 1, 'w'));
    r.pause();
    const waiting = readRecord(c, 'a');
    const write = writeRecord(c, 'a', record('A2', 2, 'w'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.resume();
    expect(await waiting).toEqual(record('A', 1, 'w'));
    expect(await write).toBe(true);
    expect(await readRecord(c, 'a')).toEqual(record('A2', 2, 'w'));
  });

  it('killed: commands fail at once (no time limit reached); restarted: commands work on the same port and the data is still there', async () => {
    const r = await replica('replica-1');
    // A long limit: a command that waited for it would fail with "did not answer".
    const c = client(r, 20_000);
    await writeRecord(c, 'kept', record('still here', 3, 'client-2'));
    const port = r.port;
    expect(r.running).toBe(true);

    await r.kill();
    expect(r.running).toBe(false);
    for (let attempt = 0; attempt < 3; attempt++) {
      const failure = c.command(['PING']);
      await expect(failure).rejects.toBeInstanceOf(RespUnavailableError);
      await expect(failure).rejects.toThrow(/^replica-1/);
      await expect(failure).rejects.not.toThrow(/did not answer/);
    }
    // Refused, not merely slow: a plain connection is refused too.
    await expect(
      new Promise((resolve, reject) => {
        const s = net.createConnection({ host: '127.0.0.1', port }, () => resolve(s.destroy()));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);

    await r.restart();
    expect(r.running).toBe(true);
    expect(r.port).toBe(port);
    expect(await readRecord(c, 'kept')).toEqual(record('still here', 3, 'client-2'));
    expect(await writeRecord(c, 'kept', record('newer', 4, 'client-1'))).toBe(true);
    expect(await readRecord(c, 'kept')).toEqual(record('newer', 4, 'client-1'));
  });

  it('killed while paused with a command waiting: the command fails at once, and after restart nothing is paused', async () => {
    const r = await replica();
    const c = client(r, 20_000);
    await writeRecord(c, 'k', record('v', 1, 'w'));
    r.pause();
    const waiting = c.command(['HMGET', 'k', 'value']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await r.kill();
    await expect(waiting).rejects.not.toThrow(/did not answer/);
    await r.restart();
    expect(await c.command(['HMGET', 'k', 'value'])).toEqual(['v']);
  });

  it('closed: commands waiting fail, later ones are refused at once', async () => {
    const r = await replica();
    const c = client(r, 20_000, { name: 'replica-9' });
    expect(await c.command(['PING'])).toBe('PONG');
    r.pause();
    const waiting = c.command(['PING']);
    c.close();
    await expect(waiting).rejects.toThrow('replica-9: the client was closed');
    await expect(c.command(['PING'])).rejects.toThrow('replica-9: the client is closed');
    r.resume();
  });

  it('ends a connection whose server sends a reply no command asked for, or bytes that are not RESP', async () => {
    // Plain TCP servers standing in for a broken Redis: this cannot be caused with the replica.
    const servers: net.Server[] = [];
    let connections = 0;
    const start = async (answer: (socket: net.Socket) => void): Promise<number> => {
      const server = net.createServer((socket) => {
        connections++;
        socket.on('error', () => undefined);
        socket.once('data', () => answer(socket));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as net.AddressInfo).port;
    };
    cleanups.push(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined));
    const twoReplies = await start((s) => s.write('+FIRST\r\n+SECOND\r\n'));
    const garbage = await start((s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'));

    const c1 = new RespClient({ host: '127.0.0.1', port: twoReplies }, 5_000, 'odd-server');
    cleanups.push(() => c1.close());
    // The first reply is the command's; the second one (in the same chunk) finds nobody
    // waiting and ends the connection, so the next command gets a new connection and never
    // the stray "SECOND".
    expect(await c1.command(['PING'])).toBe('FIRST');
    expect(await c1.command(['PING'])).toBe('FIRST');
    expect(connections).toBe(2);
    const c2 = new RespClient({ host: '127.0.0.1', port: garbage }, 5_000, 'http-server');
    cleanups.push(() => c2.close());
    await expect(c2.command(['PING'])).rejects.toThrow('http-server sent bytes that are not RESP (not a RESP reply: it starts with "H")');
  });
});

describe('the in-process replica', () => {
  it('stores a write only when its version is newer: older, equal and newer versions, ties broken by writer', async () => {
    const r = await replica();
    const c = client(r, 5_000);
    const steps: [Stored, boolean, Stored][] = [
      // [written, stored?, what the replica holds after]
      [record('first', 10, 'client-2'), true, record('first', 10, 'client-2')],
      [record('older', 9, 'client-9'), false, record('first', 10, 'client-2')],
      [record('same version', 10, 'client-2'), false, record('first', 10, 'client-2')],
      [record('lower writer', 10, 'client-1'), false, record('first', 10, 'client-2')],
      [record('higher writer', 10, 'client-3'), true, record('higher writer', 10, 'client-3')],
      // Writers compare as bytes: "client-10" < "client-3" ('1' < '3').
      [record('writer 10', 10, 'client-10'), false, record('higher writer', 10, 'client-3')],
      [record('newer, lower writer', 11, 'a'), true, record('newer, lower writer', 11, 'a')],
      // Upper case sorts before lower case as bytes.
      [record('upper case', 11, 'B'), false, record('newer, lower writer', 11, 'a')],
      [record('fraction', 11.5, ''), true, record('fraction', 11.5, '')],
      [record('', 12, 'w'), true, record('', 12, 'w')],
    ];
    for (const [n, [written, stored, held]] of steps.entries()) {
      expect(await writeRecord(c, 'key', written), `step ${n}: ${JSON.stringify(written)}`).toBe(stored);
      expect(await readRecord(c, 'key'), `step ${n}`).toEqual(held);
    }
    // Other keys are untouched and independent.
    expect(await readRecord(c, 'other')).toBeNull();
    expect(await writeRecord(c, 'other', record('x', 0, 'w'))).toBe(true);
  });

  it('orders versions as isNewer does: ts first, then writer as bytes', () => {
    expect(isNewer({ ts: 2, writer: 'a' }, { ts: 1, writer: 'z' })).toBe(true);
    expect(isNewer({ ts: 1, writer: 'z' }, { ts: 2, writer: 'a' })).toBe(false);
    expect(isNewer({ ts: 1, writer: 'b' }, { ts: 1, writer: 'a' })).toBe(true);
    expect(isNewer({ ts: 1, writer: 'a' }, { ts: 1, writer: 'a' })).toBe(false);
    expect(isNewer({ ts: 1, writer: 'a' }, { ts: 1, writer: 'B' })).toBe(true);
    expect(isNewer({ ts: 0.30000000000000004, writer: 'a' }, { ts: 0.3, writer: 'z' })).toBe(true);
  });

  it('answers an unknown command, a foreign script and a malformed EVAL with an error reply, and stays usable', async () => {
    const r = await replica();
    const c = client(r, 5_000);
    const unknown = await c.command(['SET', 'k', 'v']);
    expect(unknown).toBeInstanceOf(RespError);
    expect((unknown as RespError).message).toMatch(/^ERR unknown command 'SET'/);
    const foreign = await c.command(['EVAL', "return redis.call('FLUSHALL')", '0']);
    expect(foreign).toBeInstanceOf(RespError);
    expect((foreign as RespError).message).toMatch(/^ERR .*only the Quorum lab's write script/);
    // The right script with the wrong number of keys or arguments is refused too.
    expect(await c.command(['EVAL', WRITE_SCRIPT, '2', 'k', 'j', '1', 'w'])).toBeInstanceOf(RespError);
    expect(await c.command(['EVAL', WRITE_SCRIPT, '1', 'k', '1', 'w'])).toBeInstanceOf(RespError);
    expect(await readRecord(c, 'k')).toBeNull();
    expect(await c.command(['PING'])).toBe('PONG');
  });

  it('FLUSHALL forgets every key', async () => {
    const r = await replica();
    const c = client(r, 5_000);
    await writeRecord(c, 'a', record('1', 1, 'w'));
    await writeRecord(c, 'b', record('2', 1, 'w'));
    expect(await c.command(['FLUSHALL'])).toBe('OK');
    expect(await readRecord(c, 'a')).toBeNull();
    expect(await readRecord(c, 'b')).toBeNull();
  });

  it('answers pipelined commands of one connection in order, also across a pause, and a reply that is not an array of strings with an error', async () => {
    const r = await replica();
    const socket = net.createConnection({ host: r.host, port: r.port });
    cleanups.push(() => void socket.destroy());
    socket.on('error', () => undefined);
    const decoder = new RespDecoder();
    const replies: RespValue[] = [];
    let notify: () => void = () => undefined;
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let v = decoder.next(); v !== undefined; v = decoder.next()) replies.push(v);
      notify();
    });
    const until = (count: number): Promise<void> =>
      new Promise((resolve) => {
        notify = () => {
          if (replies.length >= count) resolve();
        };
        notify();
      });
    socket.write(
      Buffer.concat([
        encodeCommand(['PING']),
        encodeCommand(['AUTH', PASSWORD]),
        encodeCommand(['EVAL', WRITE_SCRIPT, '1', 'k', '1', 'w', 'one']),
        encodeReply(['HMGET', 'k', 'value', 7]),
      ]),
    );
    await until(4);
    expect(replies.splice(0)).toEqual([
      err('NOAUTH Authentication required.'),
      'OK',
      1,
      err('ERR Protocol error: expected an array of bulk strings'),
    ]);
    r.pause();
    socket.write(Buffer.concat([encodeCommand(['EVAL', WRITE_SCRIPT, '1', 'k', '2', 'w', 'two']), encodeCommand(['HMGET', 'k', 'value'])]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(replies).toEqual([]);
    r.resume();
    await until(2);
    expect(replies).toEqual([1, ['two']]);
  });
});
