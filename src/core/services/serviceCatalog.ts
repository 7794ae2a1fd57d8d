/**
 * The database services labs can ask for, described as data: one entry per service,
 * so adding MySQL or MongoDB later is one more entry and no new code paths.
 *
 * Each entry says which official image to run, how generated credentials become the
 * image's environment and command, which port it serves, what resources it may use,
 * and how to check that it really answers (a query, a PING), because an open TCP port
 * alone does not mean the server accepts logins yet.
 */
import * as net from 'node:net';
import pg from 'pg';
import type { ServiceKind } from '../labs/manifest';
import { MemcacheClient } from './memcache';
import { encodeCommand } from './resp';

/** The credentials a lab's service is created with; generated per lab, never fixed. */
export interface ServiceCredentials {
  readonly user: string;
  readonly password: string;
  /** The database name (PostgreSQL) or number (Redis). */
  readonly database: string;
}

/** Where a running service answers, from the host. */
export interface ServiceAddress {
  readonly host: string;
  readonly port: number;
}

export interface ServiceDefinition {
  readonly kind: ServiceKind;
  readonly displayName: string;
  /** The official image, with its tag; `dataLabs.images` may replace it. */
  readonly image: string;
  /** The port the server listens on inside the container. */
  readonly containerPort: number;
  /** The prefix of this service's variables in the lab's `.env` (`POSTGRES_PORT`). */
  readonly envPrefix: string;
  /** The user and database name to create; the password is random (empty for a server that takes none). */
  readonly defaultUser: string;
  readonly defaultDatabase: string;
  /** False for a server with no login (Memcached): its credentials carry no password. */
  readonly authenticates: boolean;
  /** The container's environment, as the image's documentation asks for it. */
  environment(credentials: ServiceCredentials): Record<string, string>;
  /** The container's command, or undefined for the image's own; `settings` are lab.json's server settings. */
  command(credentials: ServiceCredentials, settings?: Readonly<Record<string, string>>): string[] | undefined;
  readonly resources: { readonly memoryBytes: number; readonly nanoCpus: number };
  /** The URL a client library takes (`postgresql://...`, `redis://...`). */
  connectionUrl(address: ServiceAddress, credentials: ServiceCredentials): string;
  /**
   * Talks to the server once and resolves only if it answers as a ready server would.
   * Rejects with the reason otherwise; must give up within `timeoutMs`.
   */
  checkReady(address: ServiceAddress, credentials: ServiceCredentials, timeoutMs: number): Promise<void>;
  /**
   * When present, new containers start from a local snapshot of an initialised server
   * (snapshots.ts) instead of initialising one each time, which is most of a cold start.
   */
  readonly snapshot?: SnapshotSupport;
}

export interface SnapshotSupport {
  /** Environment that keeps the server's data in the container's own layer, so a commit keeps it. */
  readonly environment: Readonly<Record<string, string>>;
  /** Gives the snapshot's user the lab's own password, logged in with the snapshot's. */
  rotatePassword(address: ServiceAddress, snapshotCredentials: ServiceCredentials, password: string, timeoutMs: number): Promise<void>;
}

const MiB = 1024 * 1024;
const CPU = 1_000_000_000;

/** One `select 1` through the same `pg` client learners use: proof that logins work. */
async function checkPostgres(address: ServiceAddress, credentials: ServiceCredentials, timeoutMs: number): Promise<void> {
  const client = new pg.Client({
    host: address.host,
    port: address.port,
    user: credentials.user,
    password: credentials.password,
    database: credentials.database,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  // A server that drops the connection mid-start emits 'error' on the client; without a
  // listener that would crash the process instead of failing this one attempt.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => {});
  }
}

/** `ALTER ROLE … PASSWORD …` as the role itself: the one statement a snapshot's server needs. */
async function rotatePostgresPassword(address: ServiceAddress, snapshot: ServiceCredentials, password: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ ...address, user: snapshot.user, password: snapshot.password, database: snapshot.database, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    // ALTER ROLE takes no parameters; the identifier and literal are escaped by pg.
    await client.query(`ALTER ROLE ${client.escapeIdentifier(snapshot.user)} PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Reads the complete simple replies (`+OK`, `-ERR ...`) at the start of `text`. Bulk
 * and array replies do not occur in the AUTH + PING exchange, so they are not parsed.
 */
export function parseRespSimpleReplies(text: string): { replies: string[]; rest: string } {
  const replies: string[] = [];
  let rest = text;
  let end = rest.indexOf('\r\n');
  while (end >= 0) {
    replies.push(rest.slice(0, end));
    rest = rest.slice(end + 2);
    end = rest.indexOf('\r\n');
  }
  return { replies, rest };
}

/** Sends commands over one TCP connection and collects as many simple replies. */
export function respExchange(address: ServiceAddress, commands: readonly (readonly string[])[], timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: address.host, port: address.port });
    let received = '';
    let settled = false;
    const finish = (error: Error | undefined, replies?: string[]): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) {
        reject(error);
      } else {
        resolve(replies ?? []);
      }
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(Buffer.concat(commands.map((c) => encodeCommand(c)))));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const { replies } = parseRespSimpleReplies(received);
      if (replies.length >= commands.length) {
        finish(undefined, replies.slice(0, commands.length));
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`the server closed the connection after ${JSON.stringify(received)}`)));
  });
}

/**
 * Memcached's text protocol: `version` answers `VERSION 1.6.18`. Memcached has no login (the
 * lab's container publishes its port on 127.0.0.1 only), so this is the whole check.
 */
export async function checkMemcached(address: ServiceAddress, timeoutMs: number): Promise<void> {
  const client = new MemcacheClient(address, timeoutMs, 'memcached');
  try {
    const answer = await client.version();
    if (!answer.startsWith('VERSION ')) {
      throw new Error(`version answered ${answer === '' ? 'nothing' : answer}`);
    }
  } finally {
    client.close();
  }
}

/** `AUTH` then `PING` over raw RESP: ready means the password works and PING says PONG. */
async function checkRedis(address: ServiceAddress, credentials: ServiceCredentials, timeoutMs: number): Promise<void> {
  const [auth, ping] = await respExchange(address, [['AUTH', credentials.password], ['PING']], timeoutMs);
  if (auth !== '+OK') {
    throw new Error(`AUTH answered ${auth ?? 'nothing'}`);
  }
  // A Redis still loading its data set answers "-LOADING ..." here.
  if (ping !== '+PONG') {
    throw new Error(`PING answered ${ping ?? 'nothing'}`);
  }
}

export const SERVICE_CATALOG: Readonly<Record<ServiceKind, ServiceDefinition>> = {
  postgres: {
    kind: 'postgres',
    displayName: 'PostgreSQL',
    image: 'postgres:15',
    containerPort: 5432,
    envPrefix: 'POSTGRES',
    defaultUser: 'lab',
    defaultDatabase: 'lab',
    authenticates: true,
    // POSTGRES_INITDB_ARGS goes to initdb on the first start only (the official image's
    // contract). --no-sync skips initdb's final flush of the new cluster to disk: a lab's data
    // is disposable ("Reset data" recreates it), and the flush was ~0.3 s of a cold start
    // (npm run bench:services). The server itself keeps PostgreSQL's default durability
    // (fsync, synchronous_commit): they did not measurably slow the start, and labs may
    // teach what a commit guarantees.
    environment: (c) => ({ POSTGRES_USER: c.user, POSTGRES_PASSWORD: c.password, POSTGRES_DB: c.database, POSTGRES_INITDB_ARGS: '--no-sync' }),
    // The official image passes `postgres -c name=value ...` to the server as it starts.
    command: (_c, settings) => {
      const flags = Object.entries(settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
      return flags.length > 0 ? ['postgres', ...flags] : undefined;
    },
    resources: { memoryBytes: 512 * MiB, nanoCpus: 1 * CPU },
    // A Unix socket's folder (the embedded server's) goes in the `host` parameter, which libpq, psql and `pg` read.
    connectionUrl: (a, c) =>
      `postgresql://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${a.host.startsWith('/') ? 'localhost' : a.host}:${a.port}/${encodeURIComponent(c.database)}${a.host.startsWith('/') ? `?host=${encodeURIComponent(a.host)}` : ''}`,
    checkReady: checkPostgres,
    // The official image initialises PGDATA only when it is empty; outside its declared
    // volume, an initialised PGDATA is part of the container and survives a commit.
    snapshot: { environment: { PGDATA: '/var/lib/postgresql/datalabs' }, rotatePassword: rotatePostgresPassword },
  },
  redis: {
    kind: 'redis',
    displayName: 'Redis',
    image: 'redis:7',
    containerPort: 6379,
    envPrefix: 'REDIS',
    defaultUser: 'default',
    defaultDatabase: '0',
    authenticates: true,
    environment: () => ({}),
    // The official image takes its server flags as the command. Every write is appended and
    // synced before its reply, from the first start: a killed Redis (the Quorum grader's kill
    // fault) comes back with everything it acknowledged. CONFIG SET at runtime would not
    // survive the restart.
    command: (c) => ['redis-server', '--requirepass', c.password, '--appendonly', 'yes', '--appendfsync', 'always'],
    resources: { memoryBytes: 256 * MiB, nanoCpus: CPU / 2 },
    connectionUrl: (a, c) => `redis://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${a.host}:${a.port}/${c.database}`,
    checkReady: checkRedis,
  },
  memcached: {
    kind: 'memcached',
    displayName: 'Memcached',
    image: 'memcached:1.6',
    containerPort: 11211,
    envPrefix: 'MEMCACHED',
    defaultUser: '',
    defaultDatabase: '',
    // Memcached has no login in its text protocol; the container's port is published on
    // 127.0.0.1 only, like every lab service's.
    authenticates: false,
    environment: () => ({}),
    // A 64 MB cache, so that eviction under a memory limit can be seen; lab.json's settings
    // become long options (`--memory-limit=128`), which memcached 1.6 takes.
    command: (_c, settings) => ['memcached', '-m', '64', ...Object.entries(settings ?? {}).map(([name, value]) => `--${name}=${value}`)],
    resources: { memoryBytes: 128 * MiB, nanoCpus: CPU / 2 },
    connectionUrl: (a) => `memcached://${a.host}:${a.port}`,
    checkReady: (address, _credentials, timeoutMs) => checkMemcached(address, timeoutMs),
  },
};

export function serviceDefinition(kind: ServiceKind): ServiceDefinition {
  return SERVICE_CATALOG[kind];
}

/** Service → image replacements, as the `dataLabs.images` setting holds them. */
export type ImageOverrides = Readonly<Partial<Record<string, string>>>;

/**
 * The image to run for a service: the override when there is a usable one, else the
 * catalog's official image. Blank or non-string overrides are ignored, so a half-typed
 * setting never produces an empty image name.
 */
export function resolveServiceImage(kind: ServiceKind, overrides: ImageOverrides = {}): string {
  const override = overrides[kind];
  return typeof override === 'string' && override.trim() !== '' ? override.trim() : SERVICE_CATALOG[kind].image;
}

/** Generates credentials for one service of one lab: a random password, fixed names. */
export function generateCredentials(kind: ServiceKind, randomBytes: (size: number) => Buffer): ServiceCredentials {
  const definition = SERVICE_CATALOG[kind];
  // Hex keeps the password safe in URLs, shell commands and .env files without quoting.
  return { user: definition.defaultUser, password: definition.authenticates ? randomBytes(18).toString('hex') : '', database: definition.defaultDatabase };
}

/**
 * The `docker` command line that opens a service's own shell in its container (psql,
 * redis-cli, a text-protocol session with Memcached, else sh), and the environment to run it
 * with. A password never goes on the
 * command line, where every local user sees it in `ps`: redis-cli reads it from
 * REDISCLI_AUTH, which `docker exec -e REDISCLI_AUTH` passes on from the terminal's
 * environment; psql in the official image trusts connections from inside the container.
 */
export function containerShellCommand(service: string, containerId: string, url: string | undefined): { readonly args: readonly string[]; readonly env: Readonly<Record<string, string>> } {
  if (service === 'postgres' && url !== undefined) {
    const parsed = new URL(url);
    return { args: ['exec', '-it', containerId, 'psql', '-U', decodeURIComponent(parsed.username), '-d', decodeURIComponent(parsed.pathname.slice(1))], env: {} };
  }
  if (service === 'redis' && url !== undefined) {
    const password = decodeURIComponent(new URL(url).password);
    return password === ''
      ? { args: ['exec', '-it', containerId, 'redis-cli'], env: {} }
      : { args: ['exec', '-e', 'REDISCLI_AUTH', '-it', containerId, 'redis-cli'], env: { REDISCLI_AUTH: password } };
  }
  if (service === 'memcached') {
    return { args: ['exec', '-it', containerId, 'bash', '-c', MEMCACHED_SHELL], env: {} };
  }
  return { args: ['exec', '-it', containerId, 'sh'], env: {} };
}

/**
 * Memcached ships no client, so its shell is bash talking its text protocol over /dev/tcp
 * (the official image and the local test image both have bash and sed): what you type goes
 * to the server with the \r\n it expects (a terminal sends \n), and what it answers is
 * printed. Ctrl-D ends it.
 */
export const MEMCACHED_SHELL =
  'exec 3<>/dev/tcp/127.0.0.1/11211 || exit 1; ' +
  "echo 'Memcached text protocol: stats, get KEY, gets KEY, set KEY 0 SECONDS BYTES (then the value on the next line), delete KEY; Ctrl-D leaves.'; " +
  'cat <&3 & ' +
  "sed -u 's/$/\\r/' >&3";
