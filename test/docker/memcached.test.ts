/**
 * Memcached as a lab service on the real engine: started from the catalog, ready only once it
 * answers, its address in `.env`, and the Containers view's shell (bash speaking the text
 * protocol, since the image ships no client) storing and reading a value.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabServicesResult, type ServiceConnection, startLabServices } from '../../src/core/services/labServices';
import { InProcessMemcached } from '../../src/core/services/inProcessMemcached';
import { MemcacheClient, MemcacheError, MemcacheUnavailableError } from '../../src/core/services/memcache';
import { SERVICE_CATALOG, containerShellCommand } from '../../src/core/services/serviceCatalog';
import { LOCAL_IMAGES, newRuntime, tempLabDir, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);

/** One text-protocol exchange: sends `text`, resolves with what came back once `done` says so. */
function memcachedExchange(port: number, text: string, done: (received: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no full answer within 3 s: ${JSON.stringify(received)}`));
    }, 3_000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (done(received)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
  });
}

describe('Memcached, a catalog service', () => {
  const labId = registerLab(uniqueId('memcached'));
  let dir: string;
  let lab: LabServicesResult;
  let memcached: ServiceConnection;

  beforeAll(async () => {
    dir = await tempLabDir();
    lab = await startLabServices(runtime, [{ service: 'memcached', count: 1 }], {
      labId,
      sessionId: `session-${randomBytes(4).toString('hex')}`,
      labDir: dir,
      images: LOCAL_IMAGES,
      readinessTimeoutMs: 30_000,
      logger: testLogger,
    });
    const found = lab.connections.find((c) => c.service === 'memcached');
    if (found === undefined) throw new Error('no memcached connection');
    memcached = found;
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('starts ready on 127.0.0.1, with no password, and writes its address to .env', async () => {
    expect(memcached.host).toBe('127.0.0.1');
    expect(memcached.password).toBe('');
    expect(memcached.url).toBe(`memcached://127.0.0.1:${memcached.port}`);
    await expect(SERVICE_CATALOG.memcached.checkReady(memcached, memcached, 2_000)).resolves.toBeUndefined();
    const env = await fs.readFile(path.join(dir, '.env'), 'utf8');
    expect(env).toContain(`MEMCACHED_PORT=${memcached.port}\n`);
    expect(env).toContain(`MEMCACHED_URL=memcached://127.0.0.1:${memcached.port}\n`);
    expect(env).not.toContain('MEMCACHED_PASSWORD');
  });

  it('runs with the 64 MB limit the catalog gives it', async () => {
    const stats = await memcachedExchange(memcached.port, 'stats\r\n', (r) => r.endsWith('END\r\n'));
    expect(stats).toContain(`STAT limit_maxbytes ${64 * 1024 * 1024}\r\n`);
  });

  it("the Containers view's shell stores and reads a value over the text protocol", async () => {
    const { args } = containerShellCommand('memcached', memcached.containerId, memcached.url);
    // The shell's own command, without the terminal (-it): lines end in \n as a terminal sends them.
    const output = await new Promise<string>((resolve) => {
      const child = execFile('docker', args.map((a) => (a === '-it' ? '-i' : a)), { timeout: 15_000 }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`));
      child.stdin?.end('set shell-key 0 60 5\nhello\nget shell-key\nquit\n');
    });
    expect(output).toContain('Memcached text protocol');
    expect(output).toContain('STORED');
    expect(output).toContain('VALUE shell-key 0 5\r\nhello\r\nEND');
    const read = await memcachedExchange(memcached.port, 'get shell-key\r\n', (r) => r.endsWith('END\r\n'));
    expect(read).toBe('VALUE shell-key 0 5\r\nhello\r\nEND\r\n');
  });

  it('MemcacheClient: get, gets and cas, add, delete, touch, incr and expiry on the real server', async () => {
    const client = new MemcacheClient(memcached, 2_000, 'memcached');
    try {
      await client.flushAll();
      expect(await client.get('k')).toBeNull();
      await client.set('k', 'héllo wörld', 60);
      expect(await client.get('k')).toBe('héllo wörld');
      expect(await client.add('k', 'other', 60)).toBe(false);
      expect(await client.add('fresh', 'x', 60)).toBe(true);
      const item = await client.gets('k');
      expect(item?.value).toBe('héllo wörld');
      expect(await client.cas('k', 'v2', 60, item?.cas ?? '')).toBe('stored');
      // The unique changed with that store: the same one is refused now.
      expect(await client.cas('k', 'v3', 60, item?.cas ?? '')).toBe('exists');
      expect(await client.get('k')).toBe('v2');
      expect(await client.delete('k')).toBe(true);
      expect(await client.delete('k')).toBe(false);
      expect(await client.cas('k', 'v4', 60, item?.cas ?? '')).toBe('not-found');
      await client.set('n', '41', 60);
      expect(await client.incr('n')).toBe(42);
      expect(await client.incr('missing')).toBeNull();
      expect(await client.touch('n', 1)).toBe(true);
      await client.set('short', 'x', 1);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect(await client.get('short')).toBeNull();
      expect(await client.get('n')).toBeNull();
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => client.set(`p${i}`, `v${i}`, 60).then(() => client.get(`p${i}`))));
      expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
      expect((await client.stats())['limit_maxbytes']).toBe(String(64 * 1024 * 1024));
      await expect(client.get('has space')).rejects.toThrow(MemcacheError);
      await expect(client.set('k', 'x', -1)).rejects.toThrow(/whole number of seconds/);
    } finally {
      client.close();
    }
  });

  it('MemcacheClient: a paused server is a timeout, and the client works again once it answers', async () => {
    const client = new MemcacheClient(memcached, 300, 'memcached');
    try {
      await client.set('before', 'x', 60);
      await runtime.pauseContainer(memcached.containerId);
      try {
        await expect(client.get('before')).rejects.toThrow(MemcacheUnavailableError);
      } finally {
        await runtime.unpauseContainer(memcached.containerId);
      }
      expect(await client.get('before')).toBe('x');
    } finally {
      client.close();
    }
  });

  it('the in-process stand-in answers the text protocol as Memcached does', async () => {
    const standIn = await InProcessMemcached.start('stand-in');
    try {
      // Each exchange: what is sent, and how many answer lines end it.
      const exchanges: readonly (readonly [string, (r: string) => boolean])[] = [
        ['flush_all\r\n', (r) => r.endsWith('\r\n')],
        ['get a b\r\n', (r) => r.endsWith('END\r\n')],
        ['set a 5 60 3\r\nabc\r\n', (r) => r.endsWith('\r\n')],
        ['add a 0 60 1\r\nx\r\n', (r) => r.endsWith('\r\n')],
        ['replace b 0 60 1\r\nx\r\n', (r) => r.endsWith('\r\n')],
        ['add b 0 60 2\r\nxy\r\n', (r) => r.endsWith('\r\n')],
        ['get a b missing\r\n', (r) => r.endsWith('END\r\n')],
        ['gets a\r\n', (r) => r.endsWith('END\r\n')],
        ['cas a 0 60 1 987654321\r\nz\r\n', (r) => r.endsWith('\r\n')],
        ['cas missing 0 60 1 1\r\nz\r\n', (r) => r.endsWith('\r\n')],
        ['set n 0 0 2\r\n41\r\n', (r) => r.endsWith('\r\n')],
        ['incr n 1\r\n', (r) => r.endsWith('\r\n')],
        ['decr n 50\r\n', (r) => r.endsWith('\r\n')],
        ['incr a 1\r\n', (r) => r.endsWith('\r\n')],
        ['incr missing 1\r\n', (r) => r.endsWith('\r\n')],
        ['touch b 100\r\n', (r) => r.endsWith('\r\n')],
        ['touch missing 100\r\n', (r) => r.endsWith('\r\n')],
        ['delete b\r\n', (r) => r.endsWith('\r\n')],
        ['delete b\r\n', (r) => r.endsWith('\r\n')],
        ['set gone 0 -1 1\r\nx\r\n', (r) => r.endsWith('\r\n')],
        ['get gone\r\n', (r) => r.endsWith('END\r\n')],
        ['bogus\r\n', (r) => r.endsWith('\r\n')],
      ];
      const differences: string[] = [];
      for (const [text, done] of exchanges) {
        // CAS uniques are each server's own numbers.
        const real = (await memcachedExchange(memcached.port, text, done)).replace(/^(VALUE \S+ \d+ \d+) \d+/gm, '$1 <cas>');
        const fake = (await memcachedExchange(standIn.port, text, done)).replace(/^(VALUE \S+ \d+ \d+) \d+/gm, '$1 <cas>');
        if (real !== fake) differences.push(`${JSON.stringify(text)}: Memcached ${JSON.stringify(real)}, stand-in ${JSON.stringify(fake)}`);
      }
      expect(differences).toEqual([]);
    } finally {
      await standIn.close();
    }
  });
});
