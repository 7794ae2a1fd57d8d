/**
 * The container runtime on a Docker-compatible engine, through dockerode.
 *
 * Every call is logged with the container (or image, or network) it concerns and how
 * long it took, so the log alone explains what happened to a learner's databases.
 * Every request carries a deadline through an AbortSignal whose timer is always cleared,
 * and every stream opened here is destroyed on every path out, so nothing keeps the
 * extension host alive or leaks after a failure. Engine and socket errors are turned
 * into the typed errors of runtime.ts, which say what to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { type DockerHostChoice, DockerHostError, resolveDockerHost, systemDockerHostInputs } from './dockerHost';
import {
  type ContainerCreateSpec,
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerStatus,
  type ExecOptions,
  type ExecResult,
  type LogsOptions,
  type PortBinding,
  type PullOptions,
  type RuntimeLogger,
  ContainerRuntimeError,
  DockerUnavailableError,
  ImageMissingError,
  PortConflictError,
  PullFailedError,
  silentLogger,
} from './runtime';

/**
 * The client certificates of a TLS engine, read from `dir` (ca.pem, cert.pem, key.pem, as
 * the docker CLI names them); a missing one is named, with the setting that chose the
 * folder.
 */
function tlsFiles(dir: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (name: string): Buffer => {
    try {
      return fs.readFileSync(path.join(dir, name));
    } catch (error) {
      throw new DockerHostError(`DOCKER_TLS_VERIFY is set, so the engine is reached over TLS with the certificates in ${dir} (DOCKER_CERT_PATH, or the docker config folder), but ${path.join(dir, name)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Point DOCKER_CERT_PATH at the folder holding ca.pem, cert.pem and key.pem, as for the docker CLI.`);
    }
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

export interface DockerodeRuntimeOptions {
  /** Where the engine is; found the docker CLI's way when absent. */
  readonly host?: DockerHostChoice;
  readonly logger?: RuntimeLogger;
  /** Deadline of an ordinary API call (not pulls or waits), in milliseconds. */
  readonly callTimeoutMs?: number;
  /**
   * Whether Docker is installed on this machine, asked only when the socket is missing,
   * to tell "not installed" from "installed but not running". Defaults to looking for
   * the docker or podman programs on PATH.
   */
  readonly isDockerInstalled?: () => boolean;
}

const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const DEFAULT_PULL_TIMEOUT_MS = 15 * 60_000;

/** Whether a docker or podman program is on PATH; a cheap hint, never authoritative. */
export function dockerProgramOnPath(env: NodeJS.ProcessEnv = process.env): boolean {
  const dirs = (env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  const names = process.platform === 'win32' ? ['docker.exe', 'podman.exe'] : ['docker', 'dockerd', 'podman'];
  return dirs.some((dir) => names.some((name) => fs.existsSync(path.join(dir, name))));
}

/** The short form of an id, as `docker ps` shows it, for log lines. */
function short(id: string): string {
  return /^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id;
}

interface EngineError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly message: string;
  readonly json?: { readonly message?: string } | null;
}

function asEngineError(error: unknown): EngineError {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return error as EngineError;
  }
  return { message: String(error) };
}

/** The engine's own explanation, which dockerode hides inside `json` for HTTP errors. */
function engineMessage(error: EngineError): string {
  const fromJson = error.json && typeof error.json === 'object' ? error.json.message : undefined;
  return (fromJson ?? error.message).trim();
}

/** How often, and how far apart, a removal the engine left half-done is tried again. */
const REMOVE_ATTEMPTS = 50;
const REMOVE_RETRY_MS = 100;

const PORT_CONFLICT = /port is already allocated|address already in use|bind: .*in use/i;
/** Pull failures that mean "cannot reach a registry" rather than "the registry said no". */
const OFFLINE_PULL = /dial tcp|no such host|lookup .* on|i\/o timeout|connection refused|network is unreachable|TLS handshake timeout|Client\.Timeout|context deadline exceeded/i;

function toStatus(value: string | undefined): ContainerStatus {
  const known: readonly ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
  return known.includes(value as ContainerStatus) ? (value as ContainerStatus) : 'dead';
}

/** Everything a stream carries, as text, once it ends. */
async function collectText(stream: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Splits the engine's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0,
 * then a big-endian length) into text. A TTY container sends raw text instead, which
 * is recognised by its first byte not being a stream number.
 */
export function demultiplexLogs(buffer: Buffer): string {
  const first = buffer[0];
  if (buffer.length < 8 || first === undefined || first > 2 || buffer[1] !== 0 || buffer[2] !== 0 || buffer[3] !== 0) {
    return buffer.toString('utf8');
  }
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, Math.min(buffer.length, offset + 8 + length)));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

export class DockerodeRuntime implements ContainerRuntime {
  readonly endpointDescription: string;
  private readonly docker: Docker;
  private readonly logger: RuntimeLogger;
  private readonly callTimeoutMs: number;
  private readonly isDockerInstalled: () => boolean;
  private readonly socketPath: string | undefined;

  constructor(options: DockerodeRuntimeOptions = {}) {
    const host = options.host ?? resolveDockerHost(systemDockerHostInputs());
    this.endpointDescription = host.description;
    this.logger = options.logger ?? silentLogger;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.isDockerInstalled = options.isDockerInstalled ?? (() => dockerProgramOnPath());
    const endpoint = host.endpoint;
    if (endpoint.kind === 'socket') {
      this.socketPath = endpoint.socketPath;
      this.docker = new Docker({ socketPath: endpoint.socketPath });
    } else {
      this.socketPath = undefined;
      this.docker = new Docker({ host: endpoint.host, port: endpoint.port, protocol: endpoint.tls ? 'https' : 'http', ...(endpoint.certDir !== undefined ? tlsFiles(endpoint.certDir) : {}) });
    }
  }

  /**
   * Runs one engine call with a deadline, logs it with its subject and duration, and
   * turns its failure into a typed error. The deadline's timer is cleared on every path.
   */
  private async call<T>(operation: string, subject: string, run: (signal: AbortSignal) => Promise<T>, timeoutMs = this.callTimeoutMs): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`${operation} took longer than ${timeoutMs} ms`)), timeoutMs);
    // Not every dockerode method hands the signal to its request, so the deadline is
    // also enforced here: whichever settles first wins, and the other is ignored.
    const deadline = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const started = Date.now();
    try {
      const result = await Promise.race([run(controller.signal), deadline]);
      this.logger.info(`docker ${operation} ${subject}: ok (${Date.now() - started} ms)`);
      return result;
    } catch (error) {
      const mapped = controller.signal.aborted
        ? new ContainerRuntimeError(`Docker did not answer "${operation} ${subject}" within ${Math.round(timeoutMs / 1000)} s (${this.endpointDescription}).`, undefined, error)
        : this.mapError(error, operation, subject);
      this.logger.error(`docker ${operation} ${subject}: ${mapped.name}: ${mapped.message.split('\n')[0] ?? ''} (${Date.now() - started} ms)`);
      throw mapped;
    } finally {
      clearTimeout(timer);
    }
  }

  private mapError(error: unknown, operation: string, subject: string): Error {
    if (
      error instanceof DockerUnavailableError ||
      error instanceof PortConflictError ||
      error instanceof ImageMissingError ||
      error instanceof PullFailedError ||
      error instanceof ContainerRuntimeError
    ) {
      return error;
    }
    const engineError = asEngineError(error);
    switch (engineError.code) {
      case 'ENOENT':
        // No socket file: either Docker was never installed or its daemon is not running
        // (the daemon creates the socket when it starts).
        return new DockerUnavailableError(this.isDockerInstalled() ? 'daemon-down' : 'not-installed', this.endpointDescription, error);
      case 'EACCES':
      case 'EPERM':
        return new DockerUnavailableError('permission-denied', this.endpointDescription, error);
      case 'ECONNREFUSED':
      case 'ECONNRESET':
      case 'EPIPE':
      case 'ENOTSOCK':
        return new DockerUnavailableError('daemon-down', this.endpointDescription, error);
      default:
        break;
    }
    const message = engineMessage(engineError);
    if (PORT_CONFLICT.test(message)) {
      const port = /:(\d+)(?: failed|: bind)/.exec(message)?.[1];
      return new PortConflictError(port === undefined ? undefined : Number(port), message);
    }
    if (engineError.statusCode === 404 && /no such image/i.test(message)) {
      return new ImageMissingError(subject);
    }
    return new ContainerRuntimeError(`Docker failed to ${operation} ${subject}: ${message}`, engineError.statusCode, error);
  }

  async ping(): Promise<void> {
    // A socket that is not there at all gets a precise answer without a request.
    if (this.socketPath !== undefined && !this.socketPath.startsWith('//./pipe/') && !fs.existsSync(this.socketPath)) {
      const error = new DockerUnavailableError(this.isDockerInstalled() ? 'daemon-down' : 'not-installed', this.endpointDescription);
      this.logger.error(`docker ping ${this.endpointDescription}: ${error.kind}`);
      throw error;
    }
    await this.call('ping', this.endpointDescription, (abortSignal) => {
      // dockerode's ping takes options at run time, but its types only know the callback form.
      const ping = this.docker.ping.bind(this.docker) as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
      return ping({ abortSignal });
    });
  }

  async imageExists(image: string): Promise<boolean> {
    return (await this.inspectImage(image)) !== undefined;
  }

  async inspectImage(image: string): Promise<{ id: string; labels: Record<string, string> } | undefined> {
    try {
      const info = await this.call('inspect image', image, () => this.docker.getImage(image).inspect());
      return { id: info.Id, labels: info.Config.Labels ?? {} };
    } catch (error) {
      if (error instanceof ImageMissingError || (error instanceof ContainerRuntimeError && error.statusCode === 404)) {
        return undefined;
      }
      throw error;
    }
  }

  async commitContainer(id: string, image: { readonly repo: string; readonly tag: string; readonly changes: readonly string[] }): Promise<void> {
    await this.call(
      `commit to ${image.repo}:${image.tag}`,
      short(id),
      (abortSignal) => this.docker.getContainer(id).commit({ repo: image.repo, tag: image.tag, changes: [...image.changes], pause: false, abortSignal }),
      120_000,
    );
  }

  async pullImage(image: string, options: PullOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
    const started = Date.now();
    this.logger.info(`docker pull ${image}: starting`);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`the pull took longer than ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const onOuterAbort = (): void => controller.abort(new Error('the pull was cancelled'));
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    if (options.signal?.aborted) {
      onOuterAbort();
    }
    let stream: NodeJS.ReadableStream | undefined;
    try {
      stream = await this.docker.pull(image, { abortSignal: controller.signal });
      const opened = stream;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(controller.signal.reason instanceof Error ? controller.signal.reason : new Error('the pull was stopped'));
        controller.signal.addEventListener('abort', onAbort, { once: true });
        this.docker.modem.followProgress(
          opened,
          (error: Error | null) => {
            controller.signal.removeEventListener('abort', onAbort);
            if (error) {
              reject(error);
            } else {
              resolve();
            }
          },
          (event: { id?: string; status?: string; progressDetail?: { current?: number; total?: number }; error?: string }) => {
            if (event.id && event.status && options.onProgress) {
              options.onProgress({
                layerId: event.id,
                status: event.status,
                ...(event.progressDetail?.current !== undefined ? { currentBytes: event.progressDetail.current } : {}),
                ...(event.progressDetail?.total !== undefined ? { totalBytes: event.progressDetail.total } : {}),
              });
            }
          },
        );
      });
      this.logger.info(`docker pull ${image}: ok (${Date.now() - started} ms)`);
    } catch (error) {
      const mapped = this.mapPullError(error, image, controller.signal);
      this.logger.error(`docker pull ${image}: ${mapped.name}: ${mapped.message} (${Date.now() - started} ms)`);
      throw mapped;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuterAbort);
      // Destroying the response stream ends the HTTP request, so an abandoned pull stops.
      const destroyable = stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
      destroyable?.destroy?.();
    }
  }

  private mapPullError(error: unknown, image: string, signal: AbortSignal): Error {
    if (signal.aborted) {
      const reason = signal.reason instanceof Error ? signal.reason.message : 'the pull was stopped';
      return new PullFailedError(image, reason);
    }
    const mapped = this.mapError(error, 'pull', image);
    if (!(mapped instanceof ContainerRuntimeError)) {
      return mapped;
    }
    const message = engineMessage(asEngineError(error));
    // Not reaching any registry means the image simply is not available offline.
    return OFFLINE_PULL.test(message) ? new ImageMissingError(image) : new PullFailedError(image, message);
  }

  async createContainer(spec: ContainerCreateSpec): Promise<string> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of spec.publish ?? []) {
      exposed[p.containerPort] = {};
      // An empty HostPort asks the engine for a free port, so two labs never collide.
      bindings[p.containerPort] = [{ HostIp: p.hostIp, HostPort: p.hostPort === undefined ? '' : String(p.hostPort) }];
    }
    const body: Docker.ContainerCreateOptions = {
      Image: spec.image,
      Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: { ...spec.labels },
      ExposedPorts: exposed,
      HostConfig: {
        PortBindings: bindings,
        ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes } : {}),
        ...(spec.nanoCpus !== undefined ? { NanoCpus: spec.nanoCpus } : {}),
        ...(spec.network ? { NetworkMode: spec.network.name } : {}),
      },
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      ...(spec.cmd ? { Cmd: [...spec.cmd] } : {}),
      ...(spec.network ? { NetworkingConfig: { EndpointsConfig: { [spec.network.name]: { Aliases: [...spec.network.aliases] } } } } : {}),
    };
    const container = await this.call('create container', `${spec.name ?? ''} (${spec.image})`, (abortSignal) =>
      this.docker.createContainer({ ...body, abortSignal } as Docker.ContainerCreateOptions),
    );
    this.logger.info(`docker created container ${short(container.id)} (${spec.name ?? 'unnamed'}, ${spec.image})`);
    return container.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('start', short(id), (abortSignal) => this.docker.getContainer(id).start({ abortSignal }));
  }

  async stopContainer(id: string, timeoutSeconds = 10): Promise<void> {
    await this.call(
      'stop',
      short(id),
      async (abortSignal) => {
        try {
          await this.docker.getContainer(id).stop({ t: timeoutSeconds, abortSignal });
        } catch (error) {
          // 304 means "already stopped", which is what the caller wanted.
          if (asEngineError(error).statusCode !== 304) {
            throw error;
          }
        }
      },
      (timeoutSeconds + 30) * 1000,
    );
  }

  async killContainer(id: string, signal = 'SIGKILL'): Promise<void> {
    await this.call(`kill (${signal})`, short(id), (abortSignal) => this.docker.getContainer(id).kill({ signal, abortSignal }));
  }

  async restartContainer(id: string, timeoutSeconds = 10): Promise<void> {
    await this.call('restart', short(id), (abortSignal) => this.docker.getContainer(id).restart({ t: timeoutSeconds, abortSignal }), (timeoutSeconds + 30) * 1000);
  }

  async pauseContainer(id: string): Promise<void> {
    await this.call('pause', short(id), (abortSignal) => this.docker.getContainer(id).pause({ abortSignal }));
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.call('unpause', short(id), (abortSignal) => this.docker.getContainer(id).unpause({ abortSignal }));
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await this.call(`rename to ${name}`, short(id), (abortSignal) => this.docker.getContainer(id).rename({ name, abortSignal }));
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('remove', short(id), async (abortSignal) => {
      // A forced removal that races a start can fail half-way ("unable to remove filesystem")
      // and leave the container in "removal in progress", where further removals answer 409
      // although it stays. So a removal is done only when the engine no longer knows the id.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.docker.getContainer(id).remove({ force: true, v: true, abortSignal });
          return;
        } catch (error) {
          const e = asEngineError(error);
          if (e.statusCode === 404) {
            return; // already gone: what the caller wanted
          }
          const retryable = (e.statusCode === 409 && /already in progress/i.test(engineMessage(e))) || /unable to remove filesystem|directory not empty/i.test(engineMessage(e));
          if (!retryable || attempt >= REMOVE_ATTEMPTS) {
            throw error;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, REMOVE_RETRY_MS));
        try {
          await this.docker.getContainer(id).inspect({ abortSignal });
        } catch (error) {
          if (asEngineError(error).statusCode === 404) {
            return;
          }
          throw error;
        }
      }
    });
  }

  async inspectContainer(id: string): Promise<ContainerInfo> {
    const data = await this.call('inspect', short(id), (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal }));
    const ports: PortBinding[] = [];
    for (const [containerPort, hostBindings] of Object.entries(data.NetworkSettings?.Ports ?? {})) {
      for (const b of hostBindings ?? []) {
        ports.push({ containerPort, hostIp: b.HostIp, hostPort: Number(b.HostPort) });
      }
    }
    return {
      id: data.Id,
      name: data.Name.replace(/^\//, ''),
      image: data.Config.Image,
      status: toStatus(data.State.Status),
      labels: data.Config.Labels ?? {},
      ports,
      ...(data.State.Status === 'exited' ? { exitCode: data.State.ExitCode } : {}),
      networks: Object.keys(data.NetworkSettings?.Networks ?? {}),
    };
  }

  async execInContainer(id: string, command: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const container = this.docker.getContainer(id);
    return this.call(
      'exec',
      `${short(id)} ${command[0] ?? ''}`,
      async () => {
        const exec = await container.exec({
          Cmd: [...command],
          AttachStdout: true,
          AttachStderr: true,
          ...(options.user !== undefined ? { User: options.user } : {}),
          ...(options.workingDir !== undefined ? { WorkingDir: options.workingDir } : {}),
          Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        });
        const stream = await exec.start({ hijack: true, stdin: false });
        const stdout = new PassThrough();
        const stderr = new PassThrough();
        const texts = [collectText(stdout), collectText(stderr)] as const;
        container.modem.demuxStream(stream, stdout, stderr);
        await new Promise<void>((resolve, reject) => {
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
        stdout.end();
        stderr.end();
        const [out, err] = await Promise.all(texts);
        const inspected = await exec.inspect();
        return { exitCode: inspected.ExitCode ?? -1, stdout: out, stderr: err };
      },
      options.timeoutMs ?? this.callTimeoutMs,
    );
  }

  async containerLogs(id: string, options: LogsOptions): Promise<string[]> {
    const buffer = await this.call(
      `logs (last ${options.tail})`,
      short(id),
      (abortSignal) => this.docker.getContainer(id).logs({ follow: false, stdout: true, stderr: true, tail: options.tail, abortSignal }),
      options.timeoutMs ?? this.callTimeoutMs,
    );
    const text = Buffer.isBuffer(buffer) ? demultiplexLogs(buffer) : String(buffer);
    return text.split(/\r?\n/).filter((line) => line.length > 0).slice(-options.tail);
  }

  async listContainers(labels: Readonly<Record<string, string>>): Promise<ContainerInfo[]> {
    const filter = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    const list = await this.call('list containers', filter.join(','), (abortSignal) => this.docker.listContainers({ all: true, filters: { label: filter }, abortSignal }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      status: toStatus(c.State),
      labels: c.Labels ?? {},
      ports: (c.Ports ?? [])
        .filter((p) => p.PublicPort !== undefined && p.PublicPort !== 0)
        .map((p) => ({ containerPort: `${p.PrivatePort}/${p.Type}`, hostIp: p.IP ?? '', hostPort: p.PublicPort })),
      networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
    }));
  }

  async createNetwork(name: string, labels: Readonly<Record<string, string>>): Promise<string> {
    const network = await this.call('create network', name, (abortSignal) =>
      this.docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { ...labels }, abortSignal } as Docker.NetworkCreateOptions),
    );
    return network.id;
  }

  async removeNetwork(nameOrId: string): Promise<void> {
    await this.call('remove network', nameOrId, async (abortSignal) => {
      try {
        await this.docker.getNetwork(nameOrId).remove({ abortSignal });
      } catch (error) {
        if (asEngineError(error).statusCode !== 404) {
          throw error;
        }
      }
    });
  }

  async listNetworks(labels: Readonly<Record<string, string>>): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    const filter = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    const list = await this.call('list networks', filter.join(','), (abortSignal) => this.docker.listNetworks({ filters: { label: filter }, abortSignal }));
    return list.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
  }

  async connectNetwork(network: string, containerId: string, aliases: readonly string[] = []): Promise<void> {
    await this.call(`connect to network ${network}`, short(containerId), (abortSignal) =>
    {
      const options = { Container: containerId, EndpointConfig: { Aliases: [...aliases] }, abortSignal };
      return this.docker.getNetwork(network).connect(options);
    }
    );
  }

  async disconnectNetwork(network: string, containerId: string): Promise<void> {
    await this.call(`disconnect from network ${network}`, short(containerId), (abortSignal) =>
      this.docker.getNetwork(network).disconnect({ Container: containerId, Force: true, abortSignal }),
    );
  }
}
