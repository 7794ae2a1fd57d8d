/**
 * The grader's hands on the lab's two PostgreSQL containers, and the admin service through
 * which the learner's code gets its ServerAdmin (starter/src/types.ts).
 *
 * Each server is reached through a fault proxy on a port that stays the same: Docker
 * publishes a container on a new port each time it starts, so after every start the proxy
 * is pointed at the new one before anyone may connect. What the learner's ServerAdmin asks
 * (run a program, read or write a file, restart, stop, start, replace the data directory)
 * is done here with the container runtime (`docker exec`, restart...), on these two
 * containers only, and each call is told to `onCall` for the history.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultProxy } from '../../../src/core/services/faultProxy';
import { type ServiceConnection, waitUntilReady } from '../../../src/core/services/labServices';
import type { ContainerRuntime, ExecResult } from '../../../src/core/services/runtime';
import { serviceDefinition } from '../../../src/core/services/serviceCatalog';

const READY_WITHIN_MS = 60_000;
const STOP_SECONDS = 30;

/** One of the lab's servers, as the grader holds it. */
export class GradedServer {
  private constructor(
    private readonly runtime: ContainerRuntime,
    readonly connection: ServiceConnection,
    readonly proxy: FaultProxy,
    readonly dataDirectory: string,
    private hostPort: number,
  ) {}

  static async open(runtime: ContainerRuntime, connection: ServiceConnection): Promise<GradedServer> {
    const proxy = await FaultProxy.start({ target: { host: connection.host, port: connection.port } });
    const env = await runtime.execInContainer(connection.containerId, ['printenv', 'PGDATA']);
    const dataDirectory = env.stdout.trim() || '/var/lib/postgresql/data';
    return new GradedServer(runtime, connection, proxy, dataDirectory, connection.port);
  }

  get name(): string {
    return this.connection.name;
  }

  get containerId(): string {
    return this.connection.containerId;
  }

  /** The server as the learner's code reaches it: through the proxy. */
  get proxiedUrl(): string {
    return this.urlAt(this.proxy.host, this.proxy.port);
  }

  /** The server as the grader reaches it: directly, on its current port. */
  get directUrl(): string {
    return this.urlAt(this.connection.host, this.hostPort);
  }

  private urlAt(host: string, port: number): string {
    const c = this.connection;
    return `postgresql://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${host}:${port}/${encodeURIComponent(c.database)}`;
  }

  /** Runs a program in the container as `postgres`. */
  exec(command: readonly string[], env: Readonly<Record<string, string>> = {}, timeoutMs = 60_000): Promise<ExecResult> {
    return this.runtime.execInContainer(this.containerId, command, { user: 'postgres', env, workingDir: '/var/lib/postgresql', timeoutMs });
  }

  /** Like exec, and throws with the program's error output when it fails. */
  async mustExec(what: string, command: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<ExecResult> {
    const result = await this.exec(command, env);
    if (result.exitCode !== 0) {
      throw new Error(`${what} failed in ${this.name}: ${result.stderr.trim() || `exit code ${result.exitCode}`}`);
    }
    return result;
  }

  inData(file: string): string {
    return file.startsWith('/') ? file : `${this.dataDirectory}/${file}`;
  }

  async status(): Promise<string> {
    return (await this.runtime.inspectContainer(this.containerId)).status;
  }

  async pause(): Promise<void> {
    if ((await this.status()) === 'running') {
      await this.runtime.pauseContainer(this.containerId);
    }
  }

  async unpause(): Promise<void> {
    if ((await this.status()) === 'paused') {
      await this.runtime.unpauseContainer(this.containerId);
    }
  }

  async restart(): Promise<void> {
    await this.unpause();
    await this.runtime.restartContainer(this.containerId, STOP_SECONDS);
    await this.afterStart();
  }

  async stop(): Promise<void> {
    await this.unpause();
    if ((await this.status()) === 'running') {
      await this.runtime.stopContainer(this.containerId, STOP_SECONDS);
    }
  }

  async start(): Promise<void> {
    const status = await this.status();
    if (status === 'paused') {
      await this.runtime.unpauseContainer(this.containerId);
    } else if (status !== 'running') {
      await this.runtime.startContainer(this.containerId);
    }
    await this.afterStart();
  }

  /** Waits until the server accepts logins on the port Docker published it on this time, and points the proxy there. */
  async afterStart(): Promise<void> {
    const { port } = await waitUntilReady(this.runtime, serviceDefinition('postgres'), this.containerId, this.connection, READY_WITHIN_MS);
    this.hostPort = port;
    this.proxy.retarget({ host: this.connection.host, port });
  }

  /**
   * Stops the server, puts `directory` in place of its data directory, and starts it on it.
   * The server is the container's main process, so the new directory is moved in while it
   * runs (it goes on in the old one, renamed) and the restart starts it on the new one.
   */
  async replaceDataDirectory(directory: string): Promise<void> {
    const pgdata = this.dataDirectory;
    if (!directory.startsWith('/') || directory === pgdata || directory.startsWith(`${pgdata}/`) || pgdata.startsWith(`${directory}/`)) {
      throw new Error(`replaceDataDirectory takes an absolute path outside the data directory (${pgdata}), not ${JSON.stringify(directory)}`);
    }
    await this.mustExec('replacing the data directory', [
      'sh',
      '-c',
      'set -e; test -f "$1/PG_VERSION" || { echo "$1 is not a data directory (no PG_VERSION in it)" >&2; exit 3; }; rm -rf "$PGDATA.replaced"; mv "$PGDATA" "$PGDATA.replaced"; mv "$1" "$PGDATA"; chmod 700 "$PGDATA"',
      'sh',
      directory,
    ]);
    await this.restart();
    await this.exec(['rm', '-rf', `${pgdata}.replaced`]);
  }

  async close(): Promise<void> {
    await this.proxy.close();
  }
}

/** One call of the learner's ServerAdmin, for the history. */
export interface AdminCall {
  readonly server: string;
  readonly op: string;
  /** The command or the file, as shown. */
  readonly subject: string;
  readonly ms: number;
  readonly ok: boolean;
  readonly message?: string;
}

type AdminOp = (server: GradedServer, args: readonly unknown[]) => Promise<unknown>;

const text = (value: unknown, what: string): string => {
  if (typeof value !== 'string') {
    throw new TypeError(`${what} must be a string`);
  }
  return value;
};

const OPS: Readonly<Record<string, AdminOp>> = {
  run: async (server, [command, options]) => {
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) {
      throw new TypeError('run(command) takes a non-empty array of strings');
    }
    const o = (options ?? {}) as { env?: Record<string, unknown>; timeoutMs?: unknown };
    const env = Object.fromEntries(Object.entries(o.env ?? {}).map(([k, v]) => [k, String(v)]));
    return server.exec(command as string[], env, typeof o.timeoutMs === 'number' ? o.timeoutMs : 60_000);
  },
  readFile: async (server, [file]) => (await server.mustExec(`reading ${String(file)}`, ['cat', server.inData(text(file, 'file'))])).stdout,
  writeFile: async (server, [file, content]) => {
    await server.mustExec(`writing ${String(file)}`, ['sh', '-c', 'printf "%s" "$DATA_LABS_TEXT" > "$1"', 'sh', server.inData(text(file, 'file'))], { DATA_LABS_TEXT: text(content, 'text') });
  },
  restart: (server) => server.restart(),
  stop: (server) => server.stop(),
  start: (server) => server.start(),
  replaceDataDirectory: (server, [directory]) => server.replaceDataDirectory(text(directory, 'directory')),
};

function subjectOf(op: string, args: readonly unknown[]): string {
  if (op === 'run' && Array.isArray(args[0])) {
    return (args[0] as unknown[]).map(String).join(' ');
  }
  return typeof args[0] === 'string' ? args[0] : '';
}

/**
 * The admin service: POST / with `{ token, server, op, args }`, answered `{ ok, value }` or
 * `{ ok: false, message }`. It listens on 127.0.0.1 with a token of its own, and acts only
 * on the servers it was given.
 */
export async function startAdminService(servers: () => readonly GradedServer[], onCall: (call: AdminCall) => void): Promise<{ readonly url: string; readonly token: string; close(): Promise<void> }> {
  const token = randomBytes(16).toString('hex');
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      void (async () => {
        const answer = (status: number, value: unknown): void => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(JSON.stringify(value));
        };
        let parsed: { token?: unknown; server?: unknown; op?: unknown; args?: unknown };
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          answer(400, { ok: false, message: 'not JSON' });
          return;
        }
        if (parsed.token !== token) {
          answer(403, { ok: false, message: 'wrong token' });
          return;
        }
        const target = servers().find((s) => s.name === parsed.server);
        const op = typeof parsed.op === 'string' && Object.hasOwn(OPS, parsed.op) ? OPS[parsed.op] : undefined;
        const args = Array.isArray(parsed.args) ? (parsed.args as unknown[]) : [];
        if (target === undefined || op === undefined) {
          answer(400, { ok: false, message: `no such server or operation: ${String(parsed.server)} ${String(parsed.op)}` });
          return;
        }
        const started = Date.now();
        const name = String(parsed.op);
        try {
          const value = await op(target, args);
          onCall({ server: target.name, op: name, subject: subjectOf(name, args), ms: Date.now() - started, ok: true });
          answer(200, { ok: true, value: value ?? null });
        } catch (error) {
          const message = (error as Error).message;
          onCall({ server: target.name, op: name, subject: subjectOf(name, args), ms: Date.now() - started, ok: false, message });
          answer(200, { ok: false, message });
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
