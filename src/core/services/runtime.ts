/**
 * The container runtime as the rest of the product sees it: a small interface over a
 * container engine, and the typed errors it raises. The dockerode implementation lives
 * in dockerodeRuntime.ts; keeping it behind this interface lets the lab-services logic
 * be tested against a real engine and read without knowing dockerode's API.
 */

/** Where the runtime writes what it does; the extension passes its output channel. */
export interface RuntimeLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: RuntimeLogger = {
  info() {},
  warn() {},
  error() {},
};

/** Progress of one image layer during a pull, as the engine reports it. */
export interface PullLayerProgress {
  readonly layerId: string;
  /** The engine's status text: "Downloading", "Extracting", "Pull complete", ... */
  readonly status: string;
  readonly currentBytes?: number;
  readonly totalBytes?: number;
}

export interface PullOptions {
  readonly onProgress?: (progress: PullLayerProgress) => void;
  readonly signal?: AbortSignal;
  /** How long the whole pull may take before it fails. */
  readonly timeoutMs?: number;
}

export interface PortBinding {
  /** The port inside the container, as `5432/tcp`. */
  readonly containerPort: string;
  readonly hostIp: string;
  readonly hostPort: number;
}

export interface ContainerCreateSpec {
  readonly name?: string;
  readonly image: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cmd?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Container ports (as `5432/tcp`) to publish. Each is published on `hostIp` with a
   * port the engine chooses, unless `hostPort` asks for one.
   */
  readonly publish?: readonly { readonly containerPort: string; readonly hostIp: string; readonly hostPort?: number }[];
  readonly memoryBytes?: number;
  readonly nanoCpus?: number;
  /** The network to join at creation, and the names this container answers to there. */
  readonly network?: { readonly name: string; readonly aliases: readonly string[] };
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly status: ContainerStatus;
  readonly labels: Readonly<Record<string, string>>;
  /** Published ports; empty while the container is not running. */
  readonly ports: readonly PortBinding[];
  readonly exitCode?: number;
  readonly networks: readonly string[];
}

export interface ExecOptions {
  /** The user to run as (`postgres`); the image's own when absent. */
  readonly user?: string;
  /** Variables added to the container's environment for this command. */
  readonly env?: Readonly<Record<string, string>>;
  readonly workingDir?: string;
  /** How long the command may run before the call fails (the command itself is not killed). */
  readonly timeoutMs?: number;
}

/** What a command run in a container did. */
export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LogsOptions {
  readonly tail: number;
  readonly timeoutMs?: number;
}

/** Everything the product needs from a container engine. All ids are container ids. */
export interface ContainerRuntime {
  /** Checks the engine answers; throws DockerUnavailableError when it does not. */
  ping(): Promise<void>;
  /** Where this runtime is talking to, for messages (`unix:///var/run/docker.sock`). */
  readonly endpointDescription: string;

  imageExists(image: string): Promise<boolean>;
  /** The image's id (`sha256:…`) and labels, or undefined when it is not on this machine. */
  inspectImage(image: string): Promise<{ readonly id: string; readonly labels: Readonly<Record<string, string>> } | undefined>;
  /**
   * Saves a (stopped) container's file system as an image `repo:tag`, with Dockerfile-style
   * `changes` (`ENV K=V`, `LABEL k=v`) applied.
   */
  commitContainer(id: string, image: { readonly repo: string; readonly tag: string; readonly changes: readonly string[] }): Promise<void>;
  pullImage(image: string, options?: PullOptions): Promise<void>;

  createContainer(spec: ContainerCreateSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  stopContainer(id: string, timeoutSeconds?: number): Promise<void>;
  killContainer(id: string, signal?: string): Promise<void>;
  restartContainer(id: string, timeoutSeconds?: number): Promise<void>;
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  /** Gives the container a new name (the only thing about a container that can change). */
  renameContainer(id: string, name: string): Promise<void>;
  /** Removes the container and its anonymous volumes; a missing container is not an error. */
  removeContainer(id: string): Promise<void>;
  inspectContainer(id: string): Promise<ContainerInfo>;
  /** Runs a command in a running container (`docker exec`) and waits for its end; a non-zero exit is a result, not an error. */
  execInContainer(id: string, command: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** The last `tail` lines of the container's output, stdout and stderr interleaved. */
  containerLogs(id: string, options: LogsOptions): Promise<string[]>;
  /** Containers (running or not) carrying every given label with the given value. */
  listContainers(labels: Readonly<Record<string, string>>): Promise<ContainerInfo[]>;

  /** Creates a bridge network and returns its id; labels let the sweep find it later. */
  createNetwork(name: string, labels: Readonly<Record<string, string>>): Promise<string>;
  /** Removes a network; a missing network is not an error. */
  removeNetwork(nameOrId: string): Promise<void>;
  listNetworks(labels: Readonly<Record<string, string>>): Promise<{ readonly id: string; readonly name: string; readonly labels: Readonly<Record<string, string>> }[]>;
  connectNetwork(network: string, containerId: string, aliases?: readonly string[]): Promise<void>;
  disconnectNetwork(network: string, containerId: string): Promise<void>;
}

/* ----------------------------------------------------------------------------------
 * Errors. Each says what happened and what the learner can do about it, because they
 * are shown as they are in notifications and in the CLI.
 * ---------------------------------------------------------------------------------- */

export type DockerUnavailableKind = 'not-installed' | 'daemon-down' | 'permission-denied';

export class DockerUnavailableError extends Error {
  override readonly name = 'DockerUnavailableError';
  constructor(
    readonly kind: DockerUnavailableKind,
    readonly endpoint: string,
    override readonly cause?: unknown,
  ) {
    super(DockerUnavailableError.messageFor(kind, endpoint));
  }

  private static messageFor(kind: DockerUnavailableKind, endpoint: string): string {
    switch (kind) {
      case 'not-installed':
        return `Docker is not installed (nothing at ${endpoint}). Install Docker Desktop or Docker Engine (or Podman with its Docker socket), or set DOCKER_HOST to your engine.`;
      case 'daemon-down':
        return `Docker is installed but its daemon is not running (${endpoint} does not answer). Start Docker Desktop, or run "sudo systemctl start docker", then try again.`;
      case 'permission-denied':
        return `Permission denied on the Docker socket (${endpoint}). Add yourself to the docker group ("sudo usermod -aG docker $USER", then log out and in), or use rootless Docker or Podman.`;
    }
  }
}

export class PortConflictError extends Error {
  override readonly name = 'PortConflictError';
  constructor(
    readonly hostPort: number | undefined,
    readonly detail: string,
  ) {
    super(
      `A port is already in use${hostPort === undefined ? '' : ` (127.0.0.1:${hostPort})`}: ${detail}. Stop whatever is listening there (see "lsof -i :${hostPort ?? '<port>'}" or "docker ps"), or let Docker choose the port.`,
    );
  }
}

export class ImageMissingError extends Error {
  override readonly name = 'ImageMissingError';
  constructor(readonly image: string) {
    super(`The image ${image} is not on this machine and could not be pulled. Connect to the internet and try again, load it with "docker load", or map this service to an image you have in the "dataLabs.images" setting.`);
  }
}

export class PullFailedError extends Error {
  override readonly name = 'PullFailedError';
  constructor(
    readonly image: string,
    readonly detail: string,
  ) {
    super(`Pulling ${image} failed: ${detail}. Check your network and the image name, try "docker pull ${image}" in a terminal, or map this service to a mirror in the "dataLabs.images" setting.`);
  }
}

export class ReadinessTimeoutError extends Error {
  override readonly name = 'ReadinessTimeoutError';
  constructor(
    readonly service: string,
    readonly containerId: string,
    readonly timeoutMs: number,
    readonly lastLogLines: readonly string[],
    readonly lastProblem: string | undefined,
  ) {
    super(
      [
        `${service} (container ${containerId.slice(0, 12)}) was not ready after ${Math.round(timeoutMs / 1000)} s${lastProblem ? ` (last check: ${lastProblem})` : ''}.`,
        `Look at its log below; "Reset data" recreates it empty, and a slow machine may just need another try.`,
        ...(lastLogLines.length > 0 ? ['Last log lines:', ...lastLogLines.map((l) => `  ${l}`)] : ['The container wrote no log.']),
      ].join('\n'),
    );
  }
}

/** Any other engine failure, with the operation and container named. */
export class ContainerRuntimeError extends Error {
  override readonly name = 'ContainerRuntimeError';
  constructor(
    message: string,
    readonly statusCode?: number,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
