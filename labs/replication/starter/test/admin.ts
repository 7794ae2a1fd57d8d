/**
 * ServerAdmin for the tests: the real commands in the server's real container, through the
 * Docker Engine API (dockerode), on the engine `.env` names. The grader brings its own.
 */
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import type { CommandResult, ServerAdmin } from '../src/types';

const RUN_TIMEOUT_MS = 60_000;
const READY_WITHIN_MS = 60_000;

export function docker(engine: string | undefined): Docker {
  // dockerode reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) itself.
  if (engine !== undefined && process.env.DOCKER_HOST === undefined) {
    process.env.DOCKER_HOST = engine;
  }
  return new Docker();
}

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
  }
  return text;
}

/** The port the container's 5432 is published on, on this machine: Docker picks a new one at each start. */
export async function publishedPort(container: Docker.Container): Promise<number | undefined> {
  const bindings = (await container.inspect()).NetworkSettings.Ports?.['5432/tcp'] ?? [];
  const port = Number(bindings.find((b) => b.HostIp === '127.0.0.1')?.HostPort ?? bindings[0]?.HostPort);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/**
 * The admin of one container. `host` is its name on the lab network. After each start,
 * `started(port)` is told the port the server is now published on, and resolves once the
 * server accepts a connection there (rejecting while it does not).
 */
/** The admin, and the tests' own faults: a paused container answers nothing, as a hung machine. */
export interface TestAdmin extends ServerAdmin {
  pause(): Promise<void>;
  unpause(): Promise<void>;
}

export async function containerAdmin(options: { readonly container: Docker.Container; readonly host: string; readonly started: (port: number) => Promise<void> }): Promise<TestAdmin> {
  const { container } = options;
  const info = await container.inspect();
  const pgdata = (info.Config.Env ?? []).find((e) => e.startsWith('PGDATA='))?.slice('PGDATA='.length) ?? '/var/lib/postgresql/data';

  const run = async (command: readonly string[], runOptions: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {}): Promise<CommandResult> => {
    const exec = await container.exec({
      Cmd: [...command],
      User: 'postgres',
      WorkingDir: '/var/lib/postgresql',
      Env: Object.entries(runOptions.env ?? {}).map(([k, v]) => `${k}=${v}`),
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const err = new PassThrough();
    container.modem.demuxStream(stream, out, err);
    stream.on('end', () => {
      out.end();
      err.end();
    });
    let timer: NodeJS.Timeout | undefined;
    const limit = runOptions.timeoutMs ?? RUN_TIMEOUT_MS;
    const [stdout, stderr] = await Promise.race([
      Promise.all([collect(out), collect(err)]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${command.join(' ')}: no end within ${limit} ms`)), limit);
      }),
    ]).finally(() => clearTimeout(timer));
    const inspected = await exec.inspect();
    return { exitCode: inspected.ExitCode ?? -1, stdout, stderr };
  };

  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + READY_WITHIN_MS;
    for (;;) {
      try {
        const port = await publishedPort(container);
        if (port === undefined) {
          throw new Error('its port is not published yet');
        }
        await options.started(port);
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`${options.host} does not accept connections ${READY_WITHIN_MS / 1000} s after its start: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  const inData = (file: string): string => (file.startsWith('/') ? file : `${pgdata}/${file}`);
  const mustSucceed = async (what: string, command: readonly string[], env?: Record<string, string>): Promise<CommandResult> => {
    const result = await run(command, env ? { env } : {});
    if (result.exitCode !== 0) {
      throw new Error(`${what} failed in ${options.host}: ${result.stderr.trim() || `exit code ${result.exitCode}`}`);
    }
    return result;
  };

  return {
    host: options.host,
    port: 5432,
    dataDirectory: pgdata,
    run,
    readFile: async (file) => (await mustSucceed(`reading ${file}`, ['cat', inData(file)])).stdout,
    writeFile: async (file, text) => {
      await mustSucceed(`writing ${file}`, ['sh', '-c', 'printf "%s" "$DATA_LABS_TEXT" > "$1"', 'sh', inData(file)], { DATA_LABS_TEXT: text });
    },
    restart: async () => {
      await container.restart({ t: 30 });
      await waitReady();
    },
    stop: async () => {
      const state = (await container.inspect()).State;
      if (state.Paused) {
        await container.unpause();
      }
      if (state.Running) {
        await container.stop({ t: 30 });
      }
    },
    start: async () => {
      const state = (await container.inspect()).State;
      if (state.Paused) {
        await container.unpause();
      } else if (!state.Running) {
        await container.start();
      }
      await waitReady();
    },
    pause: async () => {
      if (!(await container.inspect()).State.Paused) {
        await container.pause();
      }
    },
    unpause: async () => {
      if ((await container.inspect()).State.Paused) {
        await container.unpause();
      }
    },
    replaceDataDirectory: async (directory) => {
      if (!directory.startsWith('/') || directory === pgdata || directory.startsWith(`${pgdata}/`)) {
        throw new Error(`replaceDataDirectory takes an absolute path outside the data directory (${pgdata}), not ${JSON.stringify(directory)}`);
      }
      // The server runs as the container's main process: stopping it stops the container, so
      // the new directory is moved in while it runs (it keeps working in the old one, now
      // renamed) and the restart starts it on the new one.
      await mustSucceed('replacing the data directory', [
        'sh',
        '-c',
        'set -e; test -f "$1/PG_VERSION" || { echo "$1 is not a data directory (no PG_VERSION in it)" >&2; exit 3; }; rm -rf "$PGDATA.replaced"; mv "$PGDATA" "$PGDATA.replaced"; mv "$1" "$PGDATA"; chmod 700 "$PGDATA"',
        'sh',
        directory,
      ]);
      await container.restart({ t: 30 });
      await waitReady();
      await run(['rm', '-rf', `${pgdata}.replaced`]);
    },
  };
}
