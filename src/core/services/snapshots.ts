/**
 * Local snapshots of an initialised database server, so a new lab container skips the
 * initialisation that is most of a cold start (PostgreSQL's initdb and the official
 * entrypoint's set-up cycle: about 1.3 s of 2 s on a 2-core machine).
 *
 * The first time a service's image is used on a machine, a throwaway container of it is
 * initialised with a template user and password, stopped cleanly and committed as
 * `datalabs-snapshot/<service>:<source image id>`; the template credentials are labels of
 * that image. Every later container of the service starts from the snapshot (the image's
 * own entrypoint sees an initialised data folder and just starts the server), and the
 * lab's random password replaces the template's before anything else may connect.
 *
 * The snapshot is keyed by the source image's id, so a new `postgres:15` (or another
 * image in `dataLabs.images`) gets its own. Nothing here is specific to one database: a
 * service opts in with `snapshot` in the catalog.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { ContainerRuntime, RuntimeLogger } from './runtime';
import { silentLogger } from './runtime';
import { type ServiceCredentials, type ServiceDefinition, generateCredentials } from './serviceCatalog';

export const SNAPSHOT_REPO_PREFIX = 'datalabs-snapshot';
export const LABEL_SNAPSHOT_SOURCE = 'dev.datalabs.snapshot.source';
export const LABEL_SNAPSHOT_USER = 'dev.datalabs.snapshot.user';
export const LABEL_SNAPSHOT_PASSWORD = 'dev.datalabs.snapshot.password';
export const LABEL_SNAPSHOT_DATABASE = 'dev.datalabs.snapshot.database';
/** Template containers carry this as their lab, so the sweep can tell them from labs' own. */
export const SNAPSHOT_LAB_ID = 'snapshot-build';

export interface Snapshot {
  readonly image: string;
  /** What the snapshot's server accepts until the lab's password replaces it. */
  readonly credentials: ServiceCredentials;
}

export interface SnapshotBuild {
  /** Starts and waits for a template container; the caller knows how (labServices.ts). */
  readonly startTemplate: (image: string, credentials: ServiceCredentials, environment: Readonly<Record<string, string>>) => Promise<string>;
  readonly logger?: RuntimeLogger;
  readonly randomBytes?: (size: number) => Buffer;
}

export function snapshotImageName(kind: string, sourceImageId: string): { repo: string; tag: string; image: string } {
  const repo = `${SNAPSHOT_REPO_PREFIX}/${kind}`;
  const tag = sourceImageId.replace(/^sha256:/, '').slice(0, 12);
  return { repo, tag, image: `${repo}:${tag}` };
}

function credentialsOf(labels: Readonly<Record<string, string>>): ServiceCredentials | undefined {
  const user = labels[LABEL_SNAPSHOT_USER];
  const password = labels[LABEL_SNAPSHOT_PASSWORD];
  const database = labels[LABEL_SNAPSHOT_DATABASE];
  return user && password && database ? { user, password, database } : undefined;
}

/** Builds of this process, so two labs starting at once build one snapshot. */
const building = new Map<string, Promise<Snapshot>>();

/**
 * The snapshot of `sourceImage` for this service, built now if there is none yet.
 * Undefined when the service does not take snapshots.
 */
export async function ensureSnapshot(runtime: ContainerRuntime, definition: ServiceDefinition, sourceImage: string, build: SnapshotBuild): Promise<Snapshot | undefined> {
  const support = definition.snapshot;
  if (!support) {
    return undefined;
  }
  const source = await runtime.inspectImage(sourceImage);
  if (!source) {
    return undefined;
  }
  const name = snapshotImageName(definition.kind, source.id);
  const existing = await runtime.inspectImage(name.image);
  const existingCredentials = existing ? credentialsOf(existing.labels) : undefined;
  if (existingCredentials) {
    return { image: name.image, credentials: existingCredentials };
  }
  let pending = building.get(name.image);
  if (!pending) {
    pending = buildSnapshot(runtime, definition, sourceImage, name, build).finally(() => building.delete(name.image));
    building.set(name.image, pending);
  }
  return pending;
}

async function buildSnapshot(runtime: ContainerRuntime, definition: ServiceDefinition, sourceImage: string, name: { repo: string; tag: string; image: string }, build: SnapshotBuild): Promise<Snapshot> {
  const logger = build.logger ?? silentLogger;
  const support = definition.snapshot;
  if (!support) {
    throw new Error(`${definition.displayName} takes no snapshots.`);
  }
  const started = Date.now();
  const credentials = generateCredentials(definition.kind, build.randomBytes ?? cryptoRandomBytes);
  logger.info(`snapshot: initialising ${definition.displayName} from ${sourceImage} once, for faster starts (${name.image})`);
  const containerId = await build.startTemplate(sourceImage, credentials, support.environment);
  try {
    // A clean stop: the committed data folder is then consistent, with nothing to recover.
    await runtime.stopContainer(containerId, 30);
    await runtime.commitContainer(containerId, {
      repo: name.repo,
      tag: name.tag,
      changes: [
        ...Object.entries(support.environment).map(([key, value]) => `ENV ${key}=${value}`),
        `LABEL ${LABEL_SNAPSHOT_SOURCE}=${sourceImage}`,
        `LABEL ${LABEL_SNAPSHOT_USER}=${credentials.user}`,
        `LABEL ${LABEL_SNAPSHOT_PASSWORD}=${credentials.password}`,
        `LABEL ${LABEL_SNAPSHOT_DATABASE}=${credentials.database}`,
      ],
    });
  } finally {
    await runtime.removeContainer(containerId).catch((error: unknown) => logger.warn(`snapshot: could not remove template container ${containerId.slice(0, 12)}: ${(error as Error).message}`));
  }
  logger.info(`snapshot: ${name.image} ready in ${Date.now() - started} ms`);
  return { image: name.image, credentials };
}
