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
});
