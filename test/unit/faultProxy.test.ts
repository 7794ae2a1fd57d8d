/**
 * The fault proxy against real TCP servers on 127.0.0.1 (no Docker): an echo server
 * and a server that sends a large payload, with real client sockets. Timings are only
 * ever asserted as lower bounds, because a busy 2-core machine can always be slower.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/core/random';
import { FaultProxy } from '../../src/core/services/faultProxy';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** A TCP echo server on 127.0.0.1; it ends its side when the client ends its. */
async function echoServer(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

async function startProxy(port: number, random?: () => number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port }, name: 'test', ...(random ? { random } : {}) });
  cleanups.push(() => proxy.close());
  return proxy;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
    cleanups.push(async () => {
      socket.destroy();
    });
  });
}

/** Collects what a socket receives until it ends, or until the error that closes it. */
function collect(socket: net.Socket): Promise<{ data: Buffer; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve({ data: Buffer.concat(chunks) }));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error }));
  });
}

/** Resolves with the next `n` bytes the socket receives. */
function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Whether the socket receives anything within `ms`; used to show that nothing passes. */
function receivesWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onData = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      socket.off('data', onData);
      resolve(false);
    }, ms);
    socket.once('data', onData);
  });
}

/**
 * Connects and returns the error that ends the connection. A reset sent right after
 * the accept can reach the client before or after its own "connected" moment, so the
 * error may come from the connect or from the open socket; both count.
 */
function connectionError(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error));
    socket.on('end', () => resolve(undefined));
    socket.resume();
    cleanups.push(async () => {
      socket.destroy();
    });
  });
}

function nextError(socket: net.Socket): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => socket.once('error', resolve));
}

describe('FaultProxy', () => {
  it('listens on 127.0.0.1 with an OS-chosen port and passes large payloads byte-exact both ways', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    expect(proxy.host).toBe('127.0.0.1');
    expect(proxy.port).toBeGreaterThan(0);
    expect(proxy.port).not.toBe(echo.port);

    const payload = randomBytes(8 * 1024 * 1024);
    const client = await connect(proxy.port);
    const received = collect(client);
    client.end(payload);
    const { data, error } = await received;
    expect(error).toBeUndefined();
    expect(data.length).toBe(payload.length);
    expect(data.equals(payload)).toBe(true);

    const stats = proxy.stats();
    expect(stats.connectionsAccepted).toBe(1);
    expect(stats.bytesToService).toBe(payload.length);
    expect(stats.bytesToClient).toBe(payload.length);
    expect(stats.bytesDropped).toBe(0);
  });

  it('passes a large payload byte-exact under latency with jitter, in order', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port, seededRandom(42));
    proxy.latency(5, 20);
    const payload = randomBytes(3 * 1024 * 1024);
    const client = await connect(proxy.port);
    const received = collect(client);
    // Many small writes make many chunks, each with its own jitter draw.
    for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
      client.write(payload.subarray(offset, offset + 64 * 1024));
    }
    client.end();
    const { data } = await received;
    expect(data.equals(payload)).toBe(true);
  });

  it('delays every chunk in both directions by at least the latency', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const client = await connect(proxy.port);

    // A round trip through the proxy crosses it twice.
    proxy.latency(150);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const answer = readBytes(client, 5);
      client.write('ping!');
      expect((await answer).toString()).toBe('ping!');
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    }

    // Healed: the same connection carries on, and the data is still exact.
    proxy.heal();
    const answer = readBytes(client, 4);
    client.write('back');
    expect((await answer).toString()).toBe('back');
    expect(proxy.state.latencyMs).toBe(0);
  });

  it('draws jitter from the given random source only', async () => {
    const echo = await echoServer();
    let draws = 0;
    const proxy = await startProxy(echo.port, () => {
      draws++;
      return 0.5;
    });
    const client = await connect(proxy.port);
    proxy.latency(10, 100);
    const started = performance.now();
    const answer = readBytes(client, 3);
    client.write('abc');
    await answer;
    // 10 + 0.5 × 100 ms each way.
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);
    expect(draws).toBeGreaterThanOrEqual(2);
    expect(() => proxy.latency(-1)).toThrow(RangeError);
  });

  it('drop(): a black hole for open and new connections; after heal, new traffic flows and dropped bytes never arrive', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const open = await connect(proxy.port);
    const warm = readBytes(open, 2);
    open.write('hi');
    expect((await warm).toString()).toBe('hi');

    proxy.drop();
    const silentOpen = receivesWithin(open, 400);
    open.write('lost-1');
    expect(await silentOpen).toBe(false);

    // New connections are accepted (no error), but nothing comes back either.
    const fresh = await connect(proxy.port);
    const silentFresh = receivesWithin(fresh, 400);
    fresh.write('lost-2');
    expect(await silentFresh).toBe(false);
    expect(proxy.stats().connectionsOpen).toBe(2);

    proxy.heal();
    // The bytes sent during the drop are gone: only what is sent now comes back.
    const after = readBytes(open, 5);
    open.write('after');
    expect((await after).toString()).toBe('after');
    const later = await connect(proxy.port);
    const laterAnswer = readBytes(later, 5);
    later.write('fresh');
    expect((await laterAnswer).toString()).toBe('fresh');

    const stats = proxy.stats();
    // 'lost-1' and 'lost-2' reached the proxy but not the server.
    expect(stats.bytesDropped).toBe('lost-1'.length + 'lost-2'.length);
    expect(stats.bytesToService).toBe('hi'.length + 'after'.length + 'fresh'.length);
  });

  it('dropFrom(marker): traffic flows until a request carries the marker (even split across chunks), then nothing passes until heal', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const socket = await connect(proxy.port);
    proxy.dropFrom('WRITE');
    expect(proxy.dropArmed).toBe(true);
    // A read passes and is answered: the marker is not in it.
    const read = readBytes(socket, 'READ k;'.length);
    socket.write('READ k;');
    expect((await read).toString()).toBe('READ k;');
    expect(proxy.state.dropping).toBe(false);
    // The write comes in two chunks that split the marker: the chunk that completes it is
    // the first thing dropped (the first part had passed, before the marker could be known).
    const firstPart = readBytes(socket, 2);
    socket.write('WR');
    expect((await firstPart).toString()).toBe('WR');
    const silent = receivesWithin(socket, 400);
    socket.write('ITE k v;');
    expect(await silent).toBe(false);
    expect(proxy.state.dropping).toBe(true);
    expect(proxy.dropArmed).toBe(false);
    expect(proxy.stats().bytesDropped).toBe('ITE k v;'.length);
    proxy.heal();
    const after = readBytes(socket, 'READ j;'.length);
    socket.write('READ j;');
    expect((await after).toString()).toBe('READ j;');
    // Healing disarms a marker that never came.
    proxy.dropFrom('NEVER');
    proxy.heal('drop');
    expect(proxy.dropArmed).toBe(false);
    expect(() => proxy.dropFrom('')).toThrow(RangeError);
  });

  it('loseReplyTo(marker): the marked request reaches the service, its reply is lost and the connection reset; other connections and later requests are untouched', async () => {
    const received: string[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      // Answers each whole request (up to its ';'), as a database answers a statement.
      let pending = '';
      socket.on('data', (chunk) => {
        received.push(chunk.toString());
        pending += chunk.toString();
        for (let end = pending.indexOf(';'); end >= 0; end = pending.indexOf(';')) {
          socket.write(`done ${pending.slice(0, end + 1)}`);
          pending = pending.slice(end + 1);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const proxy = await startProxy((server.address() as net.AddressInfo).port);
      const other = await connect(proxy.port);
      const socket = await connect(proxy.port);
      proxy.loseReplyTo('COMMIT PREPARED');
      expect(proxy.loseReplyArmed).toBe(true);
      const first = readBytes(socket, 'done select 1;'.length);
      socket.write('select 1;');
      expect((await first).toString()).toBe('done select 1;');
      // In another case, split across two chunks: the service gets it all, the client no answer.
      const lost = new Promise<string>((resolve) => {
        socket.on('data', () => resolve('answered'));
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        socket.on('close', () => resolve('closed'));
      });
      socket.write("commit prep");
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.write("ared 'g1';");
      expect(await lost).toMatch(/ECONNRESET|closed/);
      expect(received.join('')).toContain("commit prepared 'g1';");
      expect(proxy.loseReplyArmed).toBe(false);
      // Once only: the next marked request on another connection is answered.
      const answered = readBytes(other, "done COMMIT PREPARED 'g2';".length);
      other.write("COMMIT PREPARED 'g2';");
      expect((await answered).toString()).toBe("done COMMIT PREPARED 'g2';");
      proxy.loseReplyTo('x');
      proxy.heal();
      expect(proxy.loseReplyArmed).toBe(false);
      expect(() => proxy.loseReplyTo('')).toThrow(RangeError);
    } finally {
      server.close();
    }
  });

  it('drop() also discards what latency was still holding', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const client = await connect(proxy.port);
    proxy.latency(300);
    const silent = receivesWithin(client, 700);
    client.write('held');
    proxy.drop();
    expect(await silent).toBe(false);
    expect(proxy.stats().bytesDropped).toBe(4);
    expect(proxy.stats().bytesToService).toBe(0);
  });

  it('settle(): healing a black hole waits until nothing more arrives, so bytes on their way are dropped, not delivered late', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const client = await connect(proxy.port);
    // Not dropping: nothing to wait for.
    expect(await proxy.settle(40)).toBe(0);
    proxy.drop();
    // A sender still writing into the black hole: every 15 ms for 150 ms.
    let sent = 0;
    const writer = setInterval(() => {
      client.write('x');
      sent++;
    }, 15);
    const stopWriting = new Promise<void>((resolve) =>
      setTimeout(() => {
        clearInterval(writer);
        resolve();
      }, 150),
    );
    const t0 = performance.now();
    const waited = await proxy.settle(40, 2_000);
    await stopWriting;
    // It waited past the last write, plus the quiet spell.
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    proxy.heal();
    const after = readBytes(client, 5);
    client.write('after');
    expect((await after).toString()).toBe('after');
    expect(proxy.stats().bytesDropped).toBe(sent);
    expect(proxy.stats().bytesToService).toBe(0 + 'after'.length);
  });

  it('settle() gives up after its longest wait when bytes keep coming', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const client = await connect(proxy.port);
    proxy.drop();
    const writer = setInterval(() => client.write('y'), 5);
    try {
      const waited = await proxy.settle(100, 300);
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(proxy.state.dropping).toBe(true);
    } finally {
      clearInterval(writer);
    }
  });

  it('holds an orderly close during a drop and passes it on after heal', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const client = await connect(proxy.port);
    proxy.drop();
    const ended = collect(client);
    client.end('bye');
    expect(await receivesWithin(client, 300)).toBe(false);
    proxy.heal();
    // The server gets the end now, ends its side, and the client sees a clean end with no data.
    const { data, error } = await ended;
    expect(error).toBeUndefined();
    expect(data.length).toBe(0);
  });

  it('reset(): open connections get ECONNRESET; with untilHealed, new ones too, until heal', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const a = await connect(proxy.port);
    const b = await connect(proxy.port);
    const aError = nextError(a);
    const bError = nextError(b);
    // Make sure both are forwarded before resetting them.
    const warm = Promise.all([readBytes(a, 1), readBytes(b, 1)]);
    a.write('1');
    b.write('2');
    await warm;

    expect(proxy.reset({ untilHealed: true })).toBe(2);
    expect((await aError).code).toBe('ECONNRESET');
    expect((await bError).code).toBe('ECONNRESET');
    expect(proxy.stats().connectionsOpen).toBe(0);

    expect((await connectionError(proxy.port))?.code).toBe('ECONNRESET');
    expect(proxy.stats().resets).toBe(3);

    proxy.heal('reset');
    const d = await connect(proxy.port);
    const answer = readBytes(d, 2);
    d.write('ok');
    expect((await answer).toString()).toBe('ok');
    expect(proxy.stats().resets).toBe(3);
  });

  it('reset() without untilHealed lets new connections through', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const a = await connect(proxy.port);
    const aError = nextError(a);
    const warm = readBytes(a, 1);
    a.write('x');
    await warm;
    proxy.reset();
    expect((await aError).code).toBe('ECONNRESET');
    const b = await connect(proxy.port);
    const answer = readBytes(b, 1);
    b.write('y');
    expect((await answer).toString()).toBe('y');
  });

  it('refuseNew(): new connections are reset on arrival, open ones carry on', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const open = await connect(proxy.port);
    proxy.refuseNew();
    for (let i = 0; i < 3; i++) {
      expect((await connectionError(proxy.port))?.code).toBe('ECONNRESET');
    }
    const answer = readBytes(open, 4);
    open.write('open');
    expect((await answer).toString()).toBe('open');
    const stats = proxy.stats();
    expect(stats.refused).toBe(3);
    expect(stats.connectionsAccepted).toBe(4);
    // The refused connections never reached the server.
    expect(echo.connections()).toBe(1);

    proxy.heal('refuse');
    const again = await connect(proxy.port);
    const answer2 = readBytes(again, 2);
    again.write('in');
    expect((await answer2).toString()).toBe('in');
  });

  it('resets the client when the service cannot be reached, and follows retarget()', async () => {
    const gone = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const proxy = await startProxy(gone);
    expect((await connectionError(proxy.port))?.code).toBe('ECONNRESET');
    expect(proxy.stats().upstreamFailures).toBe(1);

    const echo = await echoServer();
    proxy.retarget({ host: '127.0.0.1', port: echo.port });
    const next = await connect(proxy.port);
    const answer = readBytes(next, 3);
    next.write('new');
    expect((await answer).toString()).toBe('new');
  });

  it('close() closes every connection and releases the port', async () => {
    const echo = await echoServer();
    const proxy = await startProxy(echo.port);
    const client = await connect(proxy.port);
    // The client is half-open capable, so the proxy's close shows as an end of its input.
    const closed = new Promise<void>((resolve) => {
      client.once('end', () => resolve());
      client.resume();
    });
    const port = proxy.port;
    await proxy.close();
    await closed;
    expect(proxy.stats().connectionsOpen).toBe(0);
    // The port is free: another server can listen on it.
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // A second close is harmless.
    await proxy.close();
  });

  it('seededRandom gives the same numbers for the same seed, in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(first).size).toBeGreaterThan(990);
    expect(seededRandom(8)()).not.toBe(first[0]);
  });
});
