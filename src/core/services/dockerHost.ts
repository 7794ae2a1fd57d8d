/**
 * Finds the Docker engine the way the docker CLI does, so that the extension talks to
 * the same engine as the learner's terminal: `DOCKER_HOST`, then the current docker
 * context, then the default socket, then Podman's Docker-compatible socket.
 *
 * The search is a pure function over the environment and a small file-system reader,
 * so every branch is unit-tested without touching the real machine.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where the engine is: a unix socket (or Windows named pipe) path, or a TCP host and port. */
export type DockerEndpoint =
  | { readonly kind: 'socket'; readonly socketPath: string }
  | {
      readonly kind: 'tcp';
      readonly host: string;
      readonly port: number;
      readonly tls: boolean;
      /**
       * The client's certificates, as the docker CLI takes them from DOCKER_TLS_VERIFY and
       * DOCKER_CERT_PATH: a folder with ca.pem (the engine's CA, checked), cert.pem and
       * key.pem (this client's).
       */
      readonly certDir?: string;
    };

/** Why this endpoint was chosen, so an error can tell the learner which setting to look at. */
export type DockerEndpointSource =
  | { readonly kind: 'DOCKER_HOST'; readonly value: string }
  | { readonly kind: 'context'; readonly context: string; readonly metaFile: string }
  | { readonly kind: 'default-socket' }
  | { readonly kind: 'podman-socket' }
  | { readonly kind: 'fallback' };

export interface DockerHostChoice {
  readonly endpoint: DockerEndpoint;
  readonly source: DockerEndpointSource;
  /** A human-readable form of the endpoint (`unix:///var/run/docker.sock`). */
  readonly description: string;
}

/** The little the search needs from the file system; the real one reads synchronously. */
export interface DockerHostFileSystem {
  /** The file's text, or undefined when it cannot be read. */
  readText(file: string): string | undefined;
  /** Whether something (a socket, usually) exists at this path. */
  exists(file: string): boolean;
}

export interface DockerHostInputs {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fs: DockerHostFileSystem;
  readonly homeDir: string;
  readonly platform: NodeJS.Platform;
}

export class DockerHostError extends Error {
  override readonly name = 'DockerHostError';
}

const DEFAULT_UNIX_SOCKET = '/var/run/docker.sock';
const DEFAULT_WINDOWS_PIPE = '//./pipe/docker_engine';
/** The context name the docker CLI uses for "no context chosen": it means the defaults. */
const DEFAULT_CONTEXT_NAME = 'default';

/**
 * Parses a docker host URL (`unix:///path`, `tcp://host:port`, `npipe:////./pipe/x`).
 * Throws DockerHostError for a scheme the CLI would also refuse, naming where it came from.
 */
export function parseDockerHost(value: string, from: string): DockerEndpoint {
  const trimmed = value.trim();
  if (trimmed.startsWith('unix://')) {
    const socketPath = trimmed.slice('unix://'.length);
    if (!socketPath) {
      throw new DockerHostError(`${from} is "${value}", which names no socket path.`);
    }
    return { kind: 'socket', socketPath };
  }
  if (trimmed.startsWith('npipe://')) {
    // The CLI writes pipes as npipe:////./pipe/name; Node opens them as //./pipe/name.
    return { kind: 'socket', socketPath: trimmed.slice('npipe://'.length).replace(/\\/g, '/') };
  }
  if (trimmed.startsWith('tcp://') || trimmed.startsWith('http://') || trimmed.startsWith('https://')) {
    let url: URL;
    try {
      url = new URL(trimmed.replace(/^tcp:/, 'http:'));
    } catch {
      throw new DockerHostError(`${from} is "${value}", which is not a valid tcp://host:port address.`);
    }
    const tls = trimmed.startsWith('https://');
    // Docker's own defaults: 2375 for plain TCP and 2376 for TLS.
    const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
    return { kind: 'tcp', host: url.hostname, port, tls };
  }
  if (trimmed.startsWith('ssh://')) {
    throw new DockerHostError(`${from} is "${value}": Docker over ssh:// is not supported here; forward the socket (ssh -L) and use unix:// or tcp:// instead.`);
  }
  throw new DockerHostError(`${from} is "${value}", which is not a unix://, npipe:// or tcp:// address.`);
}

export function describeEndpoint(endpoint: DockerEndpoint): string {
  if (endpoint.kind === 'tcp') {
    return `${endpoint.tls ? 'https' : 'tcp'}://${endpoint.host}:${endpoint.port}`;
  }
  return endpoint.socketPath.startsWith('//./pipe/') ? `npipe://${endpoint.socketPath}` : `unix://${endpoint.socketPath}`;
}

/** The docker CLI keeps a context's metadata under the SHA-256 of its name. */
export function contextMetaFile(dockerConfigDir: string, contextName: string): string {
  const digest = createHash('sha256').update(contextName).digest('hex');
  return path.join(dockerConfigDir, 'contexts', 'meta', digest, 'meta.json');
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hostOfContext(meta: Record<string, unknown>): string | undefined {
  const endpoints = meta['Endpoints'];
  if (typeof endpoints !== 'object' || endpoints === null) {
    return undefined;
  }
  const docker = (endpoints as Record<string, unknown>)['docker'];
  if (typeof docker !== 'object' || docker === null) {
    return undefined;
  }
  const host = (docker as Record<string, unknown>)['Host'];
  return typeof host === 'string' && host.length > 0 ? host : undefined;
}

function choice(endpoint: DockerEndpoint, source: DockerEndpointSource): DockerHostChoice {
  return { endpoint, source, description: describeEndpoint(endpoint) };
}

/**
 * Chooses the engine endpoint. A broken explicit choice (a bad DOCKER_HOST, a context
 * that does not exist) throws rather than silently falling back, because the CLI fails
 * the same way and a silent fallback would talk to a different engine than the learner's.
 */
export function resolveDockerHost(inputs: DockerHostInputs): DockerHostChoice {
  const { env, fs: files, homeDir, platform } = inputs;

  const configDir = env['DOCKER_CONFIG'] && env['DOCKER_CONFIG'].trim() !== '' ? env['DOCKER_CONFIG'] : path.join(homeDir, '.docker');
  const dockerHost = env['DOCKER_HOST'];
  if (dockerHost !== undefined && dockerHost.trim() !== '') {
    const endpoint = parseDockerHost(dockerHost, 'DOCKER_HOST');
    // As the docker CLI: DOCKER_TLS_VERIFY (any value but empty) turns TLS on for a tcp:// host, with the engine's
    // certificate checked against DOCKER_CERT_PATH's ca.pem (the docker config folder by default) and this client's
    // cert.pem and key.pem presented.
    const verify = env['DOCKER_TLS_VERIFY'];
    if (endpoint.kind === 'tcp' && verify !== undefined && verify !== '') {
      const certPath = env['DOCKER_CERT_PATH'];
      return choice({ ...endpoint, tls: true, certDir: certPath !== undefined && certPath.trim() !== '' ? certPath : configDir }, { kind: 'DOCKER_HOST', value: dockerHost });
    }
    return choice(endpoint, { kind: 'DOCKER_HOST', value: dockerHost });
  }

  const envContext = env['DOCKER_CONTEXT']?.trim();
  let contextName: string | undefined;
  let contextFrom = '';
  if (envContext) {
    contextName = envContext;
    contextFrom = 'DOCKER_CONTEXT';
  } else {
    const config = parseJsonObject(files.readText(path.join(configDir, 'config.json')));
    const current = config?.['currentContext'];
    if (typeof current === 'string' && current.trim() !== '') {
      contextName = current.trim();
      contextFrom = `currentContext in ${path.join(configDir, 'config.json')}`;
    }
  }
  if (contextName !== undefined && contextName !== DEFAULT_CONTEXT_NAME) {
    const metaFile = contextMetaFile(configDir, contextName);
    const meta = parseJsonObject(files.readText(metaFile));
    if (meta === undefined) {
      throw new DockerHostError(`The docker context "${contextName}" (from ${contextFrom}) does not exist: ${metaFile} is missing or unreadable. Run "docker context ls" and "docker context use <name>".`);
    }
    const host = hostOfContext(meta);
    if (host === undefined) {
      throw new DockerHostError(`The docker context "${contextName}" (from ${contextFrom}) has no Docker endpoint in ${metaFile}.`);
    }
    return choice(parseDockerHost(host, `The docker context "${contextName}"`), { kind: 'context', context: contextName, metaFile });
  }

  if (platform === 'win32') {
    // Windows has no socket search: Docker Desktop always listens on this pipe.
    return choice({ kind: 'socket', socketPath: DEFAULT_WINDOWS_PIPE }, { kind: 'default-socket' });
  }
  if (files.exists(DEFAULT_UNIX_SOCKET)) {
    return choice({ kind: 'socket', socketPath: DEFAULT_UNIX_SOCKET }, { kind: 'default-socket' });
  }
  const podmanSockets = [
    ...(env['XDG_RUNTIME_DIR'] ? [path.join(env['XDG_RUNTIME_DIR'], 'podman', 'podman.sock')] : []),
    '/run/podman/podman.sock',
  ];
  for (const socketPath of podmanSockets) {
    if (files.exists(socketPath)) {
      return choice({ kind: 'socket', socketPath }, { kind: 'podman-socket' });
    }
  }
  // Nothing answers anywhere: keep the CLI's default, so the error names the usual socket.
  return choice({ kind: 'socket', socketPath: DEFAULT_UNIX_SOCKET }, { kind: 'fallback' });
}

/** The real inputs: this process's environment and synchronous reads of the real disk. */
export function systemDockerHostInputs(env: NodeJS.ProcessEnv = process.env): DockerHostInputs {
  return {
    env,
    homeDir: os.homedir(),
    platform: process.platform,
    fs: {
      readText(file) {
        try {
          return fs.readFileSync(file, 'utf8');
        } catch {
          return undefined;
        }
      },
      exists(file) {
        return fs.existsSync(file);
      },
    },
  };
}
