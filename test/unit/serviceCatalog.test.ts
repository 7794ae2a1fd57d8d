import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVICE_KINDS } from '../../src/core/labs/manifest';
import { demultiplexLogs } from '../../src/core/services/dockerodeRuntime';
import { type ServiceConnection, renderEnvFile } from '../../src/core/services/labServices';
import {
  SERVICE_CATALOG,
  containerShellCommand,
  generateCredentials,
  parseRespSimpleReplies,
  resolveServiceImage,
  respExchange,
} from '../../src/core/services/serviceCatalog';
import { encodeCommand } from '../../src/core/services/resp';

const fixedBytes = (size: number): Buffer => Buffer.alloc(size, 0xab);

describe('the service catalog', () => {
  it('has one entry for every service a manifest may ask for', () => {
    expect(Object.keys(SERVICE_CATALOG).sort()).toEqual([...SERVICE_KINDS].sort());
    for (const kind of SERVICE_KINDS) {
      expect(SERVICE_CATALOG[kind].kind).toBe(kind);
    }
  });

  it('runs the official images with limits', () => {
    expect(SERVICE_CATALOG.postgres.image).toBe('postgres:15');
    expect(SERVICE_CATALOG.redis.image).toBe('redis:7');
    expect(SERVICE_CATALOG.postgres.containerPort).toBe(5432);
    expect(SERVICE_CATALOG.redis.containerPort).toBe(6379);
    for (const kind of SERVICE_KINDS) {
      expect(SERVICE_CATALOG[kind].resources.memoryBytes).toBeGreaterThan(0);
      expect(SERVICE_CATALOG[kind].resources.nanoCpus).toBeGreaterThan(0);
    }
  });

  it("turns credentials into each image's environment contract", () => {
    const pg = generateCredentials('postgres', fixedBytes);
    expect(pg).toEqual({ user: 'lab', password: 'ab'.repeat(18), database: 'lab' });
    expect(SERVICE_CATALOG.postgres.environment(pg)).toEqual({ POSTGRES_USER: 'lab', POSTGRES_PASSWORD: pg.password, POSTGRES_DB: 'lab', POSTGRES_INITDB_ARGS: '--no-sync' });
    expect(SERVICE_CATALOG.postgres.command(pg)).toBeUndefined();
    const redis = generateCredentials('redis', fixedBytes);
    expect(SERVICE_CATALOG.redis.environment(redis)).toEqual({});
    expect(SERVICE_CATALOG.redis.command(redis)).toEqual(['redis-server', '--requirepass', redis.password, '--appendonly', 'yes', '--appendfsync', 'always']);
  });

  it('runs Memcached with no login: no password, a 64 MB cache, settings as long options', () => {
    const memcached = generateCredentials('memcached', fixedBytes);
    expect(memcached).toEqual({ user: '', password: '', database: '' });
    expect(SERVICE_CATALOG.memcached.image).toBe('memcached:1.6');
    expect(SERVICE_CATALOG.memcached.containerPort).toBe(11211);
    expect(SERVICE_CATALOG.memcached.environment(memcached)).toEqual({});
    expect(SERVICE_CATALOG.memcached.command(memcached)).toEqual(['memcached', '-m', '64']);
    expect(SERVICE_CATALOG.memcached.command(memcached, { 'memory-limit': '8', 'max-item-size': '1m' })).toEqual(['memcached', '-m', '64', '--memory-limit=8', '--max-item-size=1m']);
    expect(SERVICE_CATALOG.memcached.connectionUrl({ host: '127.0.0.1', port: 49160 }, memcached)).toBe('memcached://127.0.0.1:49160');
  });

  it('generates a different password each time with real randomness', async () => {
    const { randomBytes } = await import('node:crypto');
    const a = generateCredentials('postgres', randomBytes);
    const b = generateCredentials('postgres', randomBytes);
    expect(a.password).toMatch(/^[0-9a-f]{36}$/);
    expect(a.password).not.toBe(b.password);
  });

  it('builds connection URLs a client library accepts', () => {
    const c = { user: 'lab', password: 'p@ss/word', database: 'lab' };
    expect(SERVICE_CATALOG.postgres.connectionUrl({ host: '127.0.0.1', port: 49153 }, c)).toBe('postgresql://lab:p%40ss%2Fword@127.0.0.1:49153/lab');
    expect(SERVICE_CATALOG.redis.connectionUrl({ host: '127.0.0.1', port: 49154 }, { user: 'default', password: 'x', database: '0' })).toBe('redis://default:x@127.0.0.1:49154/0');
  });
});

describe('resolveServiceImage (the dataLabs.images setting)', () => {
  it('uses the override for the mapped service only', () => {
    const overrides = { postgres: 'mirror.local/postgres:15' };
    expect(resolveServiceImage('postgres', overrides)).toBe('mirror.local/postgres:15');
    expect(resolveServiceImage('redis', overrides)).toBe('redis:7');
    expect(resolveServiceImage('postgres')).toBe('postgres:15');
  });

  it('ignores blank or malformed overrides', () => {
    expect(resolveServiceImage('postgres', { postgres: '   ' })).toBe('postgres:15');
    expect(resolveServiceImage('redis', { redis: 42 } as unknown as Record<string, string>)).toBe('redis:7');
    expect(resolveServiceImage('redis', { redis: ' local/redis:7 ' })).toBe('local/redis:7');
  });
});

describe('RESP', () => {
  it('encodes commands as arrays of bulk strings', () => {
    expect(encodeCommand(['AUTH', 'sécret']).toString('utf8')).toBe('*2\r\n$4\r\nAUTH\r\n$7\r\nsécret\r\n');
    expect(encodeCommand(['PING']).toString('utf8')).toBe('*1\r\n$4\r\nPING\r\n');
  });

  it('reads complete simple replies and keeps the partial rest', () => {
    expect(parseRespSimpleReplies('+OK\r\n+PONG\r\n-ERR x')).toEqual({ replies: ['+OK', '+PONG'], rest: '-ERR x' });
  });

  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function fakeRedis(answer: (received: string, socket: net.Socket) => void): Promise<number> {
    const server = net.createServer((socket) => {
      let received = '';
      socket.on('data', (d) => {
        received += d.toString();
        answer(received, socket);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  it('checks readiness with AUTH then PING, in one exchange', async () => {
    const port = await fakeRedis((received, socket) => {
      if (received.includes('PING')) {
        socket.write(received.includes('right') ? '+OK\r\n+PONG\r\n' : '-WRONGPASS invalid\r\n-NOAUTH\r\n');
      }
    });
    const address = { host: '127.0.0.1', port };
    await expect(SERVICE_CATALOG.redis.checkReady(address, { user: 'default', password: 'right', database: '0' }, 1000)).resolves.toBeUndefined();
    await expect(SERVICE_CATALOG.redis.checkReady(address, { user: 'default', password: 'wrong', database: '0' }, 1000)).rejects.toThrow(/AUTH answered -WRONGPASS/);
  });

  it('is not ready while Redis is loading, and gives up on a silent server', async () => {
    const loading = await fakeRedis((received, socket) => {
      if (received.includes('PING')) {
        socket.write('+OK\r\n-LOADING Redis is loading the dataset in memory\r\n');
      }
    });
    await expect(SERVICE_CATALOG.redis.checkReady({ host: '127.0.0.1', port: loading }, { user: 'default', password: 'x', database: '0' }, 1000)).rejects.toThrow(/PING answered -LOADING/);
    const silent = await fakeRedis(() => {});
    await expect(respExchange({ host: '127.0.0.1', port: silent }, [['PING']], 150)).rejects.toThrow(/no answer within 150 ms/);
  });

  it('checks Memcached with `version`: ready on VERSION, not on anything else, and gives up on a silent server', async () => {
    const none = { user: '', password: '', database: '' };
    const ready = await fakeRedis((received, socket) => {
      if (received === 'version\r\n') socket.write('VERSION 1.6.18\r\n');
    });
    await expect(SERVICE_CATALOG.memcached.checkReady({ host: '127.0.0.1', port: ready }, none, 1000)).resolves.toBeUndefined();
    const wrong = await fakeRedis((received, socket) => {
      if (received.endsWith('\r\n')) socket.write('-ERR unknown command\r\n');
    });
    await expect(SERVICE_CATALOG.memcached.checkReady({ host: '127.0.0.1', port: wrong }, none, 1000)).rejects.toThrow(/version answered -ERR unknown command/);
    const silent = await fakeRedis(() => {});
    await expect(SERVICE_CATALOG.memcached.checkReady({ host: '127.0.0.1', port: silent }, none, 150)).rejects.toThrow(/no answer within 150 ms/);
  });
});

describe('helpers of the runtime and lab services', () => {
  it('demultiplexes the engine log stream, and passes TTY text through', () => {
    const frame = (stream: number, text: string): Buffer => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    expect(demultiplexLogs(Buffer.concat([frame(1, 'ready\n'), frame(2, 'warning\n')]))).toBe('ready\nwarning\n');
    expect(demultiplexLogs(Buffer.from('plain tty output\n'))).toBe('plain tty output\n');
  });

  it('renders .env with one prefix per service instance and DATABASE_URL', () => {
    const base = { host: '127.0.0.1', image: 'x', created: true, containerId: 'c' };
    const connections: ServiceConnection[] = [
      { ...base, service: 'postgres', index: 1, name: 'postgres', port: 5001, user: 'lab', password: 'pw', database: 'lab', url: 'postgresql://lab:pw@127.0.0.1:5001/lab' },
      { ...base, service: 'redis', index: 1, name: 'redis', port: 6001, user: 'default', password: 'r1', database: '0', url: 'redis://default:r1@127.0.0.1:6001/0' },
      { ...base, service: 'redis', index: 2, name: 'redis-2', port: 6002, user: 'default', password: 'r2', database: '0', url: 'redis://default:r2@127.0.0.1:6002/0' },
    ];
    const text = renderEnvFile(connections);
    expect(text).toContain('POSTGRES_PORT=5001\n');
    expect(text).toContain('DATABASE_URL=postgresql://lab:pw@127.0.0.1:5001/lab\n');
    expect(text).toContain('REDIS_PASSWORD=r1\n');
    expect(text).toContain('REDIS_2_PORT=6002\n');
    expect(text).toContain('REDIS_2_URL=redis://default:r2@127.0.0.1:6002/0\n');
    // Memcached has no login: no user, password or database lines.
    const memcached = renderEnvFile([{ ...base, service: 'memcached', index: 1, name: 'memcached', port: 7001, user: '', password: '', database: '', url: 'memcached://127.0.0.1:7001' }]);
    expect(memcached).toContain('MEMCACHED_HOST=127.0.0.1\nMEMCACHED_PORT=7001\nMEMCACHED_URL=memcached://127.0.0.1:7001\n');
    expect(memcached).not.toMatch(/MEMCACHED_(USER|PASSWORD|DB)=/);
    // Without an engine (the embedded servers) there are no containers to name.
    expect(text).not.toContain('_CONTAINER=');
    expect(text).not.toContain('DATA_LABS_DOCKER_HOST');
    const docker = renderEnvFile(connections.map((c, i) => ({ ...c, containerId: `id${i}` })), 'unix:///var/run/docker.sock');
    expect(docker).toContain('POSTGRES_CONTAINER=id0\n');
    expect(docker).toContain('REDIS_2_CONTAINER=id2\n');
    expect(docker).toContain('DATA_LABS_DOCKER_HOST=unix:///var/run/docker.sock\n');
  });
});

describe('containerShellCommand (a database shell in its container)', () => {
  it('never puts a password on the command line, where ps shows it to every local user: redis-cli gets it through REDISCLI_AUTH', () => {
    const redis = containerShellCommand('redis', 'c0ffee', 'redis://:s3cr%2Ft@127.0.0.1:6390');
    expect(redis.args).toEqual(['exec', '-e', 'REDISCLI_AUTH', '-it', 'c0ffee', 'redis-cli']);
    expect(redis.args.join(' ')).not.toContain('s3cr');
    expect(redis.env).toEqual({ REDISCLI_AUTH: 's3cr/t' });
    const postgres = containerShellCommand('postgres', 'c0ffee', 'postgresql://lab:pw%40x@127.0.0.1:5433/lab');
    expect(postgres.args).toEqual(['exec', '-it', 'c0ffee', 'psql', '-U', 'lab', '-d', 'lab']);
    expect(postgres.args.join(' ')).not.toContain('pw');
    expect(containerShellCommand('redis', 'c0ffee', 'redis://127.0.0.1:6390')).toEqual({ args: ['exec', '-it', 'c0ffee', 'redis-cli'], env: {} });
    expect(containerShellCommand('other', 'c0ffee', undefined).args).toEqual(['exec', '-it', 'c0ffee', 'sh']);
  });

  it('opens Memcached, which ships no client, as a text-protocol session in bash that adds the \\r a terminal does not send', () => {
    const memcached = containerShellCommand('memcached', 'c0ffee', 'memcached://127.0.0.1:49160');
    expect(memcached.args.slice(0, 5)).toEqual(['exec', '-it', 'c0ffee', 'bash', '-c']);
    expect(memcached.args[5]).toContain('/dev/tcp/127.0.0.1/11211');
    expect(memcached.args[5]).toContain("sed -u 's/$/\\r/'");
    expect(memcached.env).toEqual({});
  });
});
