/**
 * A lab's database services as containers: start (or restart) them, wait until each
 * really answers, hand out the connection details, stop, reset, and sweep what a
 * crashed editor left behind.
 *
 * Containers are found again by their labels, never by remembered ids, so the state
 * on the engine is the only truth: a second start after a stop restarts the same
 * containers (their data kept), and a sweep needs nothing but the engine and a way to
 * ask whether a session is still alive.
 */
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicFile';
import type { ServiceKind } from '../labs/manifest';
import { type ContainerInfo, type ContainerRuntime, type PullLayerProgress, type RuntimeLogger, ReadinessTimeoutError, silentLogger } from './runtime';
import { type ImageOverrides, type ServiceCredentials, type ServiceDefinition, generateCredentials, resolveServiceImage, serviceDefinition } from './serviceCatalog';
import { PARKED_OWNER, isOwnerAlive } from './sessions';
import { SNAPSHOT_LAB_ID, type Snapshot, ensureSnapshot } from './snapshots';

export const LABEL_EXTENSION = 'dev.datalabs.extension';
export const LABEL_LAB = 'dev.datalabs.lab';
/**
 * Which folder of the lab the container serves (folderKey): two folders of one lab (two
 * clones, a learner's and a grading copy) never share a database, its password or its faults.
 */
export const LABEL_FOLDER = 'dev.datalabs.folder';
/** The folder's real path, so that the containers of a folder since deleted can be removed. */
export const LABEL_FOLDER_PATH = 'dev.datalabs.folder.path';
/** The session that created the container. Who owns it now is in its name: see containerOwner. */
export const LABEL_SESSION = 'dev.datalabs.session';
export const LABEL_SERVICE = 'dev.datalabs.service';
export const LABEL_INDEX = 'dev.datalabs.index';
/*
 * The credentials live in labels so that a restarted container can be connected to
 * again without any state outside the engine. They are no more exposed there than in
 * the container's environment, which `docker inspect` shows anyway; the services only
 * listen on 127.0.0.1.
 */
export const LABEL_USER = 'dev.datalabs.user';
export const LABEL_PASSWORD = 'dev.datalabs.password';
export const LABEL_DATABASE = 'dev.datalabs.database';
/** The server settings a container was made with (lab.json's `settings`), as sorted `name=value` pairs. */
export const LABEL_SETTINGS = 'dev.datalabs.settings';

export function settingsLabel(settings: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(settings ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Only loopback: a lab database must never be reachable from the network. */
export const SERVICE_HOST = '127.0.0.1';
export const ENV_FILE_NAME = '.env';

/** A lab manifest's `services` entry, as far as the runtime cares. */
export interface LabServiceRequest {
  readonly service: ServiceKind;
  readonly count: number;
  /** Server settings (lab.json's `settings`), given to each of its containers' commands. */
  readonly settings?: Readonly<Record<string, string>>;
  /** One user and password for every container of this request (lab.json's `sameCredentials`). */
  readonly sameCredentials?: boolean;
}

export interface LabServicesOptions {
  readonly labId: string;
  /** This editor (or CLI) session; containers carry it so a sweep can tell them apart. */
  readonly sessionId: string;
  /** When given, the connection details are written to `<labDir>/.env`. */
  readonly labDir?: string;
  /** Service → image, from the `dataLabs.images` setting. */
  readonly images?: ImageOverrides;
  /** How long each service may take to answer after its start. */
  readonly readinessTimeoutMs?: number;
  readonly onPullProgress?: (image: string, progress: PullLayerProgress) => void;
  readonly signal?: AbortSignal;
  readonly logger?: RuntimeLogger;
  /** The source of passwords; crypto's unless a test needs otherwise. */
  readonly randomBytes?: (size: number) => Buffer;
  /**
   * Whether new containers start from a local snapshot of an initialised server
   * (snapshots.ts; the first use of an image builds it). On by default.
   */
  readonly useSnapshots?: boolean;
  /** Whether a container's owner still runs (sessions.ts's isOwnerAlive unless a test says otherwise). */
  readonly isSessionAlive?: (sessionId: string) => boolean | Promise<boolean>;
}

export interface ServiceConnection {
  readonly service: ServiceKind;
  /** 1-based, for labs with several of one service (`redis` ×3). */
  readonly index: number;
  /** The name the service has on the lab network and in `.env` (`redis`, `redis-2`). */
  readonly name: string;
  readonly containerId: string;
  readonly image: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly url: string;
  /** Whether this start created the container (false: an existing one was restarted). */
  readonly created: boolean;
}

export interface LabServicesResult {
  readonly connections: readonly ServiceConnection[];
  /** The lab network, when the lab has more than one container. */
  readonly network?: string;
  readonly envFile?: string;
}

const DEFAULT_READINESS_TIMEOUT_MS = 60_000;
/**
 * Short at first, because a Redis answers about 20 ms after its start and a warm
 * PostgreSQL about 60 ms after; then every 100 ms for about 5 s, which covers a cold
 * PostgreSQL's initialisation (at 500 ms steps it waited 250 ms too long on average).
 * Measured with `npm run bench:services`; one attempt costs an inspect and one connection.
 */
const POLL_INTERVALS_MS: readonly number[] = [10, 20, 20, 50, 50, ...Array.from({ length: 48 }, () => 100)];
const POLL_MAX_MS = 500;
const ATTEMPT_TIMEOUT_MS = 2_000;
const LOG_LINES_ON_FAILURE = 30;

const OWNER_ID = /^[A-Za-z0-9_-]+$/;

/**
 * The session that owns a container now: the part of its name after the first ".".
 * Labels cannot change after creation, but a name can, so a container reused by a later
 * session (or parked by a clean stop) is renamed to its new owner. Names without an
 * owner part (made by hand, or by an older version) fall back to the creating session.
 */
export function containerOwner(container: Pick<ContainerInfo, 'name' | 'labels'>): string | undefined {
  const dot = container.name.indexOf('.');
  return dot >= 0 ? container.name.slice(dot + 1) : container.labels[LABEL_SESSION];
}

/** The container's name with `owner` as its owner part. */
export function nameWithOwner(name: string, owner: string): string {
  const dot = name.indexOf('.');
  return `${dot >= 0 ? name.slice(0, dot) : name}.${owner}`;
}

function checkOwnerId(owner: string): void {
  if (!OWNER_ID.test(owner)) {
    throw new Error(`A session id may only hold letters, digits, "_" and "-", not ${JSON.stringify(owner)}.`);
  }
}

/** Makes `owner` the owner of a container, renaming it if it has another. */
async function takeOwnership(runtime: ContainerRuntime, container: Pick<ContainerInfo, 'id' | 'name' | 'labels'>, owner: string): Promise<void> {
  if (containerOwner(container) !== owner) {
    await runtime.renameContainer(container.id, nameWithOwner(container.name, owner));
  }
}

/**
 * A short, stable name for a lab folder: a hash of its real path, so a symlink to the
 * folder and the folder itself are one place, and the path itself is not written on the engine.
 */
export function folderKey(labDir: string): string {
  return createHash('sha256').update(realFolder(labDir)).digest('hex').slice(0, 12);
}

function realFolder(labDir: string): string {
  try {
    return realpathSync.native(labDir);
  } catch {
    return path.resolve(labDir);
  }
}

/** Whether the container served a lab folder that no longer exists (deleted by the learner, or a test's). */
export function folderGone(labels: Readonly<Record<string, string>>): boolean {
  const folder = labels[LABEL_FOLDER_PATH];
  return folder !== undefined && path.isAbsolute(folder) && !existsSync(folder);
}

/**
 * Whether a container of a deleted lab folder may be removed: only once it no longer runs.
 * A running one is someone's database in use (a grading, a terminal's `services up`), and a
 * folder can be missing for a moment (copied afresh, a drive reconnecting): its owner's stop
 * parks it, and then it goes.
 */
function removableAsGone(c: Pick<ContainerInfo, 'labels' | 'status'>, isFolderGone: (labels: Readonly<Record<string, string>>) => boolean): boolean {
  return c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting' && isFolderGone(c.labels);
}

/** The labels every container and network of a lab (of one folder of it, when given) carries. */
export function labLabels(labId: string, labDir?: string): Record<string, string> {
  return { [LABEL_EXTENSION]: '1', [LABEL_LAB]: labId, ...(labDir !== undefined ? { [LABEL_FOLDER]: folderKey(labDir) } : {}) };
}

/**
 * The lab's containers for that folder, and only those: without a folder, the ones made
 * without one (by tests and benchmarks), never another folder's.
 */
export async function labContainers(runtime: ContainerRuntime, labId: string, labDir?: string): Promise<ContainerInfo[]> {
  return (await runtime.listContainers(labLabels(labId, labDir))).filter(ofFolder(labDir));
}

/** Whether a container or network (by its labels) is of that folder exactly: without a folder, of none. */
function ofFolder(labDir: string | undefined): (thing: { readonly labels: Readonly<Record<string, string>> }) => boolean {
  const key = labDir !== undefined ? folderKey(labDir) : undefined;
  return (thing) => thing.labels[LABEL_FOLDER] === key;
}

export function serviceName(kind: ServiceKind, index: number): string {
  return index === 1 ? kind : `${kind}-${index}`;
}

/** The network of a multi-container lab; one per lab folder, named after both. */
export function labNetworkName(labId: string, labDir?: string): string {
  return labDir !== undefined ? `datalabs-${labId}-${folderKey(labDir)}` : `datalabs-${labId}`;
}

function sameCredentials(a: ServiceCredentials, b: ServiceCredentials): boolean {
  return a.user === b.user && a.password === b.password && a.database === b.database;
}

export function credentialsFromLabels(labels: Readonly<Record<string, string>>): ServiceCredentials | undefined {
  const user = labels[LABEL_USER];
  const password = labels[LABEL_PASSWORD];
  const database = labels[LABEL_DATABASE];
  return user !== undefined && password !== undefined && database !== undefined ? { user, password, database } : undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('Starting the lab services was cancelled.'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits until the service answers its readiness check, polling quickly at first.
 * A container that exits meanwhile fails at once; either failure carries its last log lines.
 */
export async function waitUntilReady(
  runtime: ContainerRuntime,
  definition: ServiceDefinition,
  containerId: string,
  credentials: ServiceCredentials,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ port: number }> {
  const deadline = Date.now() + timeoutMs;
  const wanted = `${definition.containerPort}/tcp`;
  let lastProblem: string | undefined;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) {
      throw new Error('Starting the lab services was cancelled.');
    }
    const info = await runtime.inspectContainer(containerId);
    if (info.status === 'exited' || info.status === 'dead') {
      lastProblem = `the container stopped${info.exitCode === undefined ? '' : ` with exit code ${info.exitCode}`}`;
      break;
    }
    const binding = info.ports.find((p) => p.containerPort === wanted && p.hostIp === SERVICE_HOST) ?? info.ports.find((p) => p.containerPort === wanted);
    if (info.status === 'running' && binding) {
      const remaining = deadline - Date.now();
      try {
        await definition.checkReady({ host: SERVICE_HOST, port: binding.hostPort }, credentials, Math.max(200, Math.min(ATTEMPT_TIMEOUT_MS, remaining)));
        return { port: binding.hostPort };
      } catch (error) {
        lastProblem = (error as Error).message;
      }
    } else {
      lastProblem = `the container is ${info.status}`;
    }
    const pause = POLL_INTERVALS_MS[attempt] ?? POLL_MAX_MS;
    if (Date.now() + pause >= deadline) {
      break;
    }
    await sleep(pause, signal);
  }
  const lines = await runtime.containerLogs(containerId, { tail: LOG_LINES_ON_FAILURE, timeoutMs: 5_000 }).catch(() => []);
  throw new ReadinessTimeoutError(definition.displayName, containerId, timeoutMs, lines, lastProblem);
}

async function ensureImage(runtime: ContainerRuntime, image: string, options: LabServicesOptions): Promise<void> {
  if (await runtime.imageExists(image)) {
    return;
  }
  await runtime.pullImage(image, {
    ...(options.onPullProgress ? { onProgress: (p: PullLayerProgress) => options.onPullProgress?.(image, p) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

async function ensureNetwork(runtime: ContainerRuntime, options: LabServicesOptions): Promise<string> {
  const name = labNetworkName(options.labId, options.labDir);
  const existing = await runtime.listNetworks(labLabels(options.labId, options.labDir));
  if (!existing.some((n) => n.name === name)) {
    await runtime.createNetwork(name, {
      ...labLabels(options.labId, options.labDir),
      ...(options.labDir !== undefined ? { [LABEL_FOLDER_PATH]: realFolder(options.labDir) } : {}),
      [LABEL_SESSION]: options.sessionId,
    });
  }
  return name;
}

/**
 * Starts every service a lab asks for and waits until each answers. Containers that
 * already exist for this lab (found by labels) are started again, keeping their data
 * and credentials; the missing ones are created with fresh random credentials.
 */
export async function startLabServices(runtime: ContainerRuntime, services: readonly LabServiceRequest[], options: LabServicesOptions): Promise<LabServicesResult> {
  const logger = options.logger ?? silentLogger;
  const random = options.randomBytes ?? cryptoRandomBytes;
  checkOwnerId(options.sessionId);
  const readinessTimeoutMs = options.readinessTimeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  await runtime.ping();

  const wanted = services.flatMap((s) => Array.from({ length: s.count }, (_, i) => ({ kind: s.service, index: i + 1, settings: s.settings, request: s })));
  const network = wanted.length > 1 ? await ensureNetwork(runtime, options) : undefined;
  // One list of the lab's containers, every folder's: the ones of this folder are reused, and
  // those of its deleted folders would otherwise stay parked for ever.
  const existing: ContainerInfo[] = [];
  const mine = ofFolder(options.labDir);
  for (const c of await runtime.listContainers(labLabels(options.labId))) {
    if (removableAsGone(c, folderGone)) {
      logger.info(`lab ${options.labId}: removing container ${c.id.slice(0, 12)} (${c.name}): its folder ${c.labels[LABEL_FOLDER_PATH] ?? ''} is gone`);
      await runtime.removeContainer(c.id).catch(() => {});
    } else if (mine(c)) {
      existing.push(c);
    }
  }

  // When one service fails, the others stop waiting for readiness at once instead of
  // polling on until their own deadline; the caller's cancellation stops them all too.
  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  // Three Redis of one lab share one image: check (and pull) it once, not three times.
  const images = new Map<string, Promise<void>>();
  const imageReady = (image: string): Promise<void> => {
    let ready = images.get(image);
    if (!ready) {
      ready = ensureImage(runtime, image, { ...options, signal });
      images.set(image, ready);
    }
    return ready;
  };
  // The credentials of a request whose containers share them: an existing container's, else one new set.
  const shared = new Map<LabServiceRequest, ServiceCredentials>();
  for (const request of services.filter((s) => s.sameCredentials === true)) {
    // The first container's, when there is one: the one a standby copies its roles from.
    const sibling = existing
      .filter((c) => c.labels[LABEL_SERVICE] === request.service && (c.labels[LABEL_SETTINGS] ?? '') === settingsLabel(request.settings) && credentialsFromLabels(c.labels) !== undefined)
      .sort((a, b) => Number(a.labels[LABEL_INDEX]) - Number(b.labels[LABEL_INDEX]))[0];
    shared.set(request, (sibling ? credentialsFromLabels(sibling.labels) : undefined) ?? generateCredentials(request.service, random));
  }
  const startOne = async ({ kind, index, settings, request }: { kind: ServiceKind; index: number; settings: Readonly<Record<string, string>> | undefined; request: LabServiceRequest }): Promise<ServiceConnection> => {
    const definition = serviceDefinition(kind);
    const name = serviceName(kind, index);
    const inSlot = existing.filter((c) => c.labels[LABEL_SERVICE] === kind && c.labels[LABEL_INDEX] === String(index));
    // A container made with other settings (an older version of the lab) is made again.
    const found = inSlot.find((c) => (c.labels[LABEL_SETTINGS] ?? '') === settingsLabel(settings));
    const sharedCredentials = shared.get(request);
    const labelled = found ? credentialsFromLabels(found.labels) : undefined;
    // A container whose credentials are not the shared ones (made before the lab shared them) is made again.
    const foundCredentials = labelled !== undefined && (sharedCredentials === undefined || sameCredentials(labelled, sharedCredentials)) ? labelled : undefined;
    let containerId: string;
    let credentials: ServiceCredentials;
    let image: string;
    let created = false;
    if (found && foundCredentials) {
      containerId = found.id;
      credentials = foundCredentials;
      image = found.image;
      const owner = containerOwner(found);
      // A container another live owner started (`data-labs services up` in a terminal, another
      // window) is shared, never adopted: its owner's stop and clean-up stay in charge of it.
      // A parked one, or one whose owner has ended, becomes this session's.
      const shared = owner !== undefined && owner !== options.sessionId && owner !== PARKED_OWNER && (await (options.isSessionAlive ?? isOwnerAlive)(owner));
      logger.info(`lab ${options.labId}: ${shared ? 'sharing' : 'reusing'} ${name} (container ${containerId.slice(0, 12)}, ${found.status}, owner ${owner ?? 'none'})`);
      if (!shared) {
        await takeOwnership(runtime, found, options.sessionId);
      }
      if (found.status === 'paused') {
        await runtime.unpauseContainer(containerId);
      } else if (found.status !== 'running' && found.status !== 'restarting') {
        await runtime.startContainer(containerId);
      }
    } else {
      if (found) {
        // A container without its credentials (or without the ones its lab shares) cannot be connected to: replace it.
        await runtime.removeContainer(found.id);
      }
      const outdated = inSlot.find((c) => c !== found);
      if (outdated) {
        logger.info(`lab ${options.labId}: replacing ${name} (container ${outdated.id.slice(0, 12)}): it was made with other server settings`);
        await runtime.removeContainer(outdated.id);
      }
      image = resolveServiceImage(kind, options.images);
      await imageReady(image);
      credentials = sharedCredentials ?? generateCredentials(kind, random);
      const snapshot = options.useSnapshots === false ? undefined : await snapshotOf(runtime, definition, image, { ...options, signal }, readinessTimeoutMs);
      containerId = await createServiceContainer(runtime, definition, {
        image: snapshot?.image ?? image,
        name,
        index,
        credentials,
        network,
        options,
        environment: snapshot ? (definition.snapshot?.environment ?? {}) : {},
        settings,
      });
      created = true;
      try {
        await runtime.startContainer(containerId);
        if (snapshot && definition.snapshot) {
          // The snapshot's server knows only the template password: it becomes the lab's own first.
          const { port } = await waitUntilReady(runtime, definition, containerId, snapshot.credentials, readinessTimeoutMs, signal);
          await definition.snapshot.rotatePassword({ host: SERVICE_HOST, port }, snapshot.credentials, credentials.password, ATTEMPT_TIMEOUT_MS);
        }
      } catch (error) {
        // A container that cannot start (its port taken, say) would only confuse the next start.
        await runtime.removeContainer(containerId).catch(() => {});
        throw error;
      }
    }
    const { port } = await waitUntilReady(runtime, definition, containerId, credentials, readinessTimeoutMs, signal);
    const url = definition.connectionUrl({ host: SERVICE_HOST, port }, credentials);
    logger.info(`lab ${options.labId}: ${name} ready on ${SERVICE_HOST}:${port} (container ${containerId.slice(0, 12)})`);
    return { service: kind, index, name, containerId, image, host: SERVICE_HOST, port, ...credentials, url, created };
  };
  const connections = await Promise.all(
    wanted.map((w) =>
      startOne(w).catch((error: unknown) => {
        failed.abort();
        throw error;
      }),
    ),
  );

  let envFile: string | undefined;
  if (options.labDir !== undefined) {
    envFile = path.join(options.labDir, ENV_FILE_NAME);
    // Owner-only: the file holds passwords.
    await writeFileAtomic(envFile, renderEnvFile(connections, runtime.endpointDescription), { mode: 0o600, refuseLink: true });
  }
  return { connections, ...(network !== undefined ? { network } : {}), ...(envFile !== undefined ? { envFile } : {}) };
}

/**
 * The service's snapshot (built on the first use of its image), or undefined when it has
 * none. A snapshot that cannot be built is not a failure: the container then initialises
 * itself, as the image does anyway.
 */
async function snapshotOf(runtime: ContainerRuntime, definition: ServiceDefinition, image: string, options: LabServicesOptions, readinessTimeoutMs: number): Promise<Snapshot | undefined> {
  const logger = options.logger ?? silentLogger;
  try {
    return await ensureSnapshot(runtime, definition, image, {
      logger,
      ...(options.randomBytes ? { randomBytes: options.randomBytes } : {}),
      startTemplate: async (source, credentials, environment) => {
        const command = definition.command(credentials);
        const id = await runtime.createContainer({
          name: `datalabs-snapshot-${definition.kind}-${cryptoRandomBytes(3).toString('hex')}.${options.sessionId}`,
          image: source,
          env: { ...definition.environment(credentials), ...environment },
          ...(command ? { cmd: command } : {}),
          labels: { ...labLabels(SNAPSHOT_LAB_ID), [LABEL_SESSION]: options.sessionId, [LABEL_SERVICE]: definition.kind },
          publish: [{ containerPort: `${definition.containerPort}/tcp`, hostIp: SERVICE_HOST }],
          memoryBytes: definition.resources.memoryBytes,
          nanoCpus: definition.resources.nanoCpus,
        });
        try {
          await runtime.startContainer(id);
          await waitUntilReady(runtime, definition, id, credentials, readinessTimeoutMs, options.signal);
          return id;
        } catch (error) {
          await runtime.removeContainer(id).catch(() => {});
          throw error;
        }
      },
    });
  } catch (error) {
    if (options.signal?.aborted) {
      throw error;
    }
    logger.warn(`snapshot of ${image} could not be made (${(error as Error).message.split('\n')[0] ?? ''}); the container initialises itself instead`);
    return undefined;
  }
}

async function createServiceContainer(
  runtime: ContainerRuntime,
  definition: ServiceDefinition,
  spec: {
    image: string;
    name: string;
    index: number;
    credentials: ServiceCredentials;
    network: string | undefined;
    options: LabServicesOptions;
    environment: Readonly<Record<string, string>>;
    settings: Readonly<Record<string, string>> | undefined;
  },
): Promise<string> {
  const { options, credentials } = spec;
  const command = definition.command(credentials, spec.settings);
  // A random suffix keeps names unique even beside a leftover that lost its labels.
  const folder = options.labDir !== undefined ? `-${folderKey(options.labDir).slice(0, 6)}` : '';
  const containerName = `datalabs-${options.labId}${folder}-${spec.name}-${cryptoRandomBytes(3).toString('hex')}.${options.sessionId}`;
  return runtime.createContainer({
    name: containerName,
    image: spec.image,
    env: { ...definition.environment(credentials), ...spec.environment },
    ...(command ? { cmd: command } : {}),
    labels: {
      ...labLabels(options.labId, options.labDir),
      ...(options.labDir !== undefined ? { [LABEL_FOLDER_PATH]: realFolder(options.labDir) } : {}),
      [LABEL_SESSION]: options.sessionId,
      [LABEL_SERVICE]: definition.kind,
      [LABEL_INDEX]: String(spec.index),
      ...(spec.settings !== undefined ? { [LABEL_SETTINGS]: settingsLabel(spec.settings) } : {}),
      [LABEL_USER]: credentials.user,
      [LABEL_PASSWORD]: credentials.password,
      [LABEL_DATABASE]: credentials.database,
    },
    publish: [{ containerPort: `${definition.containerPort}/tcp`, hostIp: SERVICE_HOST }],
    memoryBytes: definition.resources.memoryBytes,
    nanoCpus: definition.resources.nanoCpus,
    ...(spec.network !== undefined ? { network: { name: spec.network, aliases: [spec.name] } } : {}),
  });
}

export interface StopOptions {
  readonly timeoutSeconds?: number;
  /**
   * Stop only the containers this session owns: a window closing a lab leaves alone the
   * containers another window (or `data-labs services up`) has taken over since.
   */
  readonly onlyOwnedBy?: string;
  /** The lab folder whose containers these are (see labContainers). */
  readonly labDir?: string;
}

/**
 * Stops a lab's containers and parks them: they keep their data, the sweep leaves them
 * alone, and the next start of the lab restarts them.
 */
export async function stopLabServices(runtime: ContainerRuntime, labId: string, options: StopOptions = {}): Promise<ContainerInfo[]> {
  const timeoutSeconds = options.timeoutSeconds ?? 5;
  const all = await labContainers(runtime, labId, options.labDir);
  const containers = options.onlyOwnedBy === undefined ? all : all.filter((c) => containerOwner(c) === options.onlyOwnedBy);
  await Promise.all(
    containers.map(async (c) => {
      // A paused container cannot take a stop signal until it runs again.
      if (c.status === 'paused') {
        await runtime.unpauseContainer(c.id);
      }
      if (c.status === 'running' || c.status === 'paused' || c.status === 'restarting') {
        await runtime.stopContainer(c.id, timeoutSeconds);
      }
      await takeOwnership(runtime, c, PARKED_OWNER);
    }),
  );
  return containers;
}

/** Removes a lab folder's containers and its network: nothing of it stays on the engine. */
export async function removeLabServices(runtime: ContainerRuntime, labId: string, labDir?: string): Promise<void> {
  const mine = ofFolder(labDir);
  // With a folder, also the containers versions before folder keys parked without one, which no folder reuses any more.
  const legacy = (c: ContainerInfo): boolean => labDir !== undefined && c.labels[LABEL_FOLDER] === undefined && containerOwner(c) === PARKED_OWNER;
  const containers = (await runtime.listContainers(labLabels(labId))).filter((c) => mine(c) || legacy(c));
  await Promise.all(containers.map((c) => runtime.removeContainer(c.id)));
  const networks = (await runtime.listNetworks(labLabels(labId, labDir))).filter(mine);
  await Promise.all(networks.map((n) => runtime.removeNetwork(n.id)));
}

/** "Reset data": the lab's containers are removed with their volumes and created anew, empty. */
export async function resetLabServices(runtime: ContainerRuntime, services: readonly LabServiceRequest[], options: LabServicesOptions): Promise<LabServicesResult> {
  const containers = await labContainers(runtime, options.labId, options.labDir);
  await Promise.all(containers.map((c) => runtime.removeContainer(c.id)));
  return startLabServices(runtime, services, options);
}

export interface SweepResult {
  readonly removedContainers: readonly string[];
  readonly removedNetworks: readonly string[];
}

/**
 * Removes every container of this extension whose owner is gone, so an editor killed
 * with SIGKILL leaves nothing behind after the next start. Parked containers (stopped on
 * purpose, kept for reuse) and those of `data-labs services up` have owners that never
 * die. A stopped container whose lab folder has been deleted goes too, whoever owns it. A lab
 * network goes once its creator is gone and no container of its folder is left.
 */
export async function sweepOrphans(
  runtime: ContainerRuntime,
  isSessionAlive: (sessionId: string) => boolean | Promise<boolean> = isOwnerAlive,
  logger: RuntimeLogger = silentLogger,
  isFolderGone: (labels: Readonly<Record<string, string>>) => boolean = folderGone,
): Promise<SweepResult> {
  const ours = { [LABEL_EXTENSION]: '1' };
  const verdicts = new Map<string, boolean>();
  const alive = async (session: string | undefined): Promise<boolean> => {
    if (session === undefined) {
      return false;
    }
    if (!verdicts.has(session)) {
      verdicts.set(session, await isSessionAlive(session));
    }
    return verdicts.get(session) === true;
  };
  const removedContainers: string[] = [];
  // A network belongs to one folder of a lab: it stays while a container of that folder does.
  const place = (labels: Readonly<Record<string, string>>): string => `${labels[LABEL_LAB] ?? ''}\u0000${labels[LABEL_FOLDER] ?? ''}`;
  const labsWithContainers = new Set<string>();
  for (const c of await runtime.listContainers(ours)) {
    const owner = containerOwner(c);
    if (removableAsGone(c, isFolderGone)) {
      logger.info(`sweep: removing container ${c.id.slice(0, 12)} (${c.name}, ${c.status}): its lab folder ${c.labels[LABEL_FOLDER_PATH] ?? ''} is gone`);
      await runtime.removeContainer(c.id);
      removedContainers.push(c.id);
      continue;
    }
    if (await alive(owner)) {
      labsWithContainers.add(place(c.labels));
      continue;
    }
    logger.info(`sweep: removing container ${c.id.slice(0, 12)} (${c.name}, ${c.status}) of ended session ${owner ?? '(none)'}`);
    await runtime.removeContainer(c.id);
    removedContainers.push(c.id);
  }
  const removedNetworks: string[] = [];
  for (const n of await runtime.listNetworks(ours)) {
    if (labsWithContainers.has(place(n.labels)) || (!isFolderGone(n.labels) && (await alive(n.labels[LABEL_SESSION])))) {
      continue;
    }
    try {
      await runtime.removeNetwork(n.id);
      removedNetworks.push(n.name);
    } catch (error) {
      // A network still in use (a container being created this instant) stays; the next sweep retries.
      logger.warn(`sweep: kept network ${n.name}: ${(error as Error).message}`);
    }
  }
  return { removedContainers, removedNetworks };
}

/**
 * The `.env` text: `POSTGRES_URL=...` for the first of a kind, `POSTGRES_2_URL=...` after.
 * For containers (`engine` given: the Docker engine they run on), also each one's container
 * id (`POSTGRES_CONTAINER`) and the engine (`DATA_LABS_DOCKER_HOST`), for a lab whose code
 * works on its containers (`docker exec -it $POSTGRES_CONTAINER psql` works too).
 */
export function renderEnvFile(connections: readonly ServiceConnection[], engine?: string): string {
  const lines = ['# Written by Distributed Data Labs: connection details of this lab\'s databases.', '# Regenerated on every start; edits here are overwritten.'];
  for (const c of connections) {
    const definition = serviceDefinition(c.service);
    const prefix = c.index === 1 ? definition.envPrefix : `${definition.envPrefix}_${c.index}`;
    lines.push(
      `${prefix}_HOST=${c.host}`,
      `${prefix}_PORT=${c.port}`,
      // A server with no login (Memcached) gets no user, password or database lines.
      ...(definition.authenticates ? [`${prefix}_USER=${c.user}`, `${prefix}_PASSWORD=${c.password}`, `${prefix}_DB=${c.database}`] : []),
      `${prefix}_URL=${c.url}`,
      ...(engine !== undefined ? [`${prefix}_CONTAINER=${c.containerId}`] : []),
    );
    if (c.service === 'postgres' && c.index === 1) {
      // The name most PostgreSQL tools and ORMs look for first.
      lines.push(`DATABASE_URL=${c.url}`);
    }
  }
  if (engine !== undefined && connections.length > 0) {
    lines.push(`DATA_LABS_DOCKER_HOST=${engine}`);
  }
  return `${lines.join('\n')}\n`;
}

