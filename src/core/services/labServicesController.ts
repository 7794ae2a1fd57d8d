/**
 * One lab's databases, whichever engine runs them: Docker containers (labServices.ts) or
 * the embedded fallback (embedded.ts). The extension and the CLI both go through this,
 * so "up", "down", "status" and "reset" mean the same in the editor and in a terminal.
 */
import type { Backend } from '../backend';
import type { Lab } from '../labs/catalog';
import type { ServiceKind } from '../labs/manifest';
import { type LabServiceRequest, type ServiceConnection, LABEL_INDEX, LABEL_SERVICE, SERVICE_HOST, containerOwner, credentialsFromLabels, labContainers, removeLabServices, resetLabServices, startLabServices, stopLabServices } from './labServices';
import { type ContainerRuntime, DockerUnavailableError, type PortBinding, type PullLayerProgress, type RuntimeLogger } from './runtime';
import { type ImageOverrides, SERVICE_CATALOG } from './serviceCatalog';

export { BACKENDS, type Backend } from '../backend';

/** A started database, whichever engine runs it. */
export type StartedConnection = Omit<ServiceConnection, 'containerId' | 'image' | 'created'> & {
  /** Docker only. */
  readonly containerId?: string;
  readonly image?: string;
  /** Whether this start created it (false: an existing one was restarted or reused). */
  readonly created?: boolean;
  /** Embedded only: the server process. */
  readonly pid?: number;
};

export interface StartedServices {
  readonly labId: string;
  readonly backend: Backend;
  readonly connections: readonly StartedConnection[];
  readonly envFile?: string;
  readonly network?: string;
  /** What this backend cannot do, in plain words; empty for Docker. */
  readonly limitations: readonly string[];
}

/** A lab's running containers, as a grader that breaks them on purpose needs them. */
export interface LabServicesForGrading {
  readonly connections: readonly ServiceConnection[];
  readonly network?: string;
  readonly runtime: ContainerRuntime;
  /** Where container faults are journalled, so that a crashed grading's faults are undone later. */
  readonly journalDir?: string;
}

export interface ContainerStatusLine {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly index: number;
  readonly status: string;
  readonly image: string;
  readonly ports: readonly PortBinding[];
  readonly owner: string | undefined;
  /** How to connect, while it runs with a published port. */
  readonly url?: string;
}

export interface EmbeddedStatusLine {
  readonly running: boolean;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly note?: string;
}

export interface ServicesStatus {
  readonly labId: string;
  readonly docker: { readonly containers: readonly ContainerStatusLine[]; readonly error?: string };
  readonly embedded?: EmbeddedStatusLine;
}

export interface UpOptions {
  readonly backend: Backend;
  /** "Reset data": recreate the databases empty. */
  readonly reset?: boolean;
  readonly onPullProgress?: (image: string, progress: PullLayerProgress) => void;
  readonly signal?: AbortSignal;
}

/** The embedded engine as the controller needs it (implemented in embedded.ts). */
export interface EmbeddedBackend {
  up(lab: Lab, labDir: string, options: { reset: boolean; signal?: AbortSignal }): Promise<StartedServices>;
  /** Whether a server was running (and is now stopped). */
  down(labDir: string, options: { remove: boolean }): Promise<boolean>;
  status(labDir: string): Promise<EmbeddedStatusLine | undefined>;
}

export interface ControllerOptions {
  /** Made on first use, so nothing loads the Docker client until a lab needs it. */
  readonly runtime: () => ContainerRuntime;
  /** The session id the containers are owned by (`cli` for the command line). */
  readonly owner: string;
  readonly images?: () => ImageOverrides;
  readonly embedded?: EmbeddedBackend;
  readonly logger?: RuntimeLogger;
  readonly readinessTimeoutMs?: number;
  /** Where grading runs journal their faults; a crashed run's faults are undone before each start. */
  readonly faultJournalDir?: string;
}

export class EmbeddedNotAvailableError extends Error {
  override readonly name = 'EmbeddedNotAvailableError';
}

export function labServiceRequests(lab: Lab): LabServiceRequest[] {
  return lab.manifest.services.map((s) => ({ service: s.service, count: s.count, ...(s.settings !== undefined ? { settings: s.settings } : {}), ...(s.sameCredentials ? { sameCredentials: true } : {}) }));
}

/** Whether every service of the lab may run on the embedded engine. */
export function labAllowsEmbedded(lab: Lab): boolean {
  return lab.manifest.services.length > 0 && lab.manifest.services.every((s) => s.embedded);
}

export class LabServicesController {
  private runtimeInstance: ContainerRuntime | undefined;

  constructor(private readonly options: ControllerOptions) {}

  /** Where grading runs journal their container faults (undone after a crash), when set. */
  get faultJournalDir(): string | undefined {
    return this.options.faultJournalDir;
  }

  /** Docker containers just started (`up`), with what a grader needs to break them. */
  forGrading(started: StartedServices): LabServicesForGrading {
    const connections = started.connections.map((c): ServiceConnection => {
      if (c.containerId === undefined || c.image === undefined) {
        throw new Error(`The lab's ${c.name} is not a Docker container, so the grader cannot break it on purpose.`);
      }
      return { ...c, containerId: c.containerId, image: c.image, created: c.created ?? false };
    });
    return {
      connections,
      runtime: this.runtime,
      ...(started.network !== undefined ? { network: started.network } : {}),
      ...(this.options.faultJournalDir !== undefined ? { journalDir: this.options.faultJournalDir } : {}),
    };
  }

  get runtime(): ContainerRuntime {
    this.runtimeInstance ??= this.options.runtime();
    return this.runtimeInstance;
  }

  async up(lab: Lab, labDir: string, options: UpOptions): Promise<StartedServices> {
    if (options.backend === 'embedded') {
      if (!this.options.embedded) {
        throw new EmbeddedNotAvailableError('The embedded engine is not available here.');
      }
      return this.options.embedded.up(lab, labDir, { reset: options.reset === true, ...(options.signal ? { signal: options.signal } : {}) });
    }
    const services = labServiceRequests(lab);
    if (this.options.faultJournalDir !== undefined) {
      const { recoverAbandonedFaults } = await import('./faults');
      await recoverAbandonedFaults(this.runtime, this.options.faultJournalDir, this.options.logger);
    }
    const startOptions = {
      labId: lab.manifest.id,
      sessionId: this.options.owner,
      labDir,
      ...(this.options.images ? { images: this.options.images() } : {}),
      ...(this.options.readinessTimeoutMs !== undefined ? { readinessTimeoutMs: this.options.readinessTimeoutMs } : {}),
      ...(options.onPullProgress ? { onPullProgress: options.onPullProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(this.options.logger ? { logger: this.options.logger } : {}),
    };
    const result = options.reset === true ? await resetLabServices(this.runtime, services, startOptions) : await startLabServices(this.runtime, services, startOptions);
    return {
      labId: lab.manifest.id,
      backend: 'docker',
      connections: result.connections,
      ...(result.envFile !== undefined ? { envFile: result.envFile } : {}),
      ...(result.network !== undefined ? { network: result.network } : {}),
      limitations: [],
    };
  }

  /**
   * Stops (parks) or removes the lab's containers, and stops its embedded server.
   * `onlyOwned` limits Docker to the containers this controller's owner holds.
   */
  async down(lab: Lab, labDir: string, options: { remove?: boolean; onlyOwned?: boolean; skipDocker?: boolean } = {}): Promise<{ docker: number; embedded: boolean; dockerUnavailable?: string }> {
    let docker = 0;
    let dockerUnavailable: string | undefined;
    if (options.skipDocker !== true) {
      try {
        if (options.remove === true) {
          docker = (await labContainers(this.runtime, lab.manifest.id, labDir)).length;
          await removeLabServices(this.runtime, lab.manifest.id, labDir);
        } else {
          const stopped = await stopLabServices(this.runtime, lab.manifest.id, { labDir, ...(options.onlyOwned === true ? { onlyOwnedBy: this.options.owner } : {}) });
          docker = stopped.filter((c) => c.status === 'running' || c.status === 'paused' || c.status === 'restarting').length;
        }
      } catch (error) {
        // Without an engine there are no containers to stop; the embedded server still is.
        if (!(error instanceof DockerUnavailableError)) {
          throw error;
        }
        dockerUnavailable = error.message;
      }
    }
    const embedded = this.options.embedded ? await this.options.embedded.down(labDir, { remove: options.remove === true }) : false;
    return { docker, embedded, ...(dockerUnavailable !== undefined ? { dockerUnavailable } : {}) };
  }

  async status(lab: Lab, labDir: string): Promise<ServicesStatus> {
    let docker: ServicesStatus['docker'];
    try {
      await this.runtime.ping();
      const containers = await labContainers(this.runtime, lab.manifest.id, labDir);
      docker = {
        containers: containers
          .map((c): ContainerStatusLine => {
            const service = c.labels[LABEL_SERVICE] ?? '?';
            const definition = (SERVICE_CATALOG as Partial<Record<string, (typeof SERVICE_CATALOG)[ServiceKind]>>)[service];
            const credentials = credentialsFromLabels(c.labels);
            const port = c.ports.find((p) => p.hostIp === SERVICE_HOST)?.hostPort;
            const url = definition && credentials && port !== undefined && c.status === 'running' ? definition.connectionUrl({ host: SERVICE_HOST, port }, credentials) : undefined;
            return {
              id: c.id,
              name: c.name,
              service,
              index: Number(c.labels[LABEL_INDEX] ?? '1'),
              status: c.status,
              image: c.image,
              ports: c.ports,
              owner: containerOwner(c),
              ...(url !== undefined ? { url } : {}),
            };
          })
          .sort((a, b) => a.service.localeCompare(b.service) || a.index - b.index),
      };
    } catch (error) {
      docker = { containers: [], error: (error as Error).message };
    }
    const embedded = this.options.embedded ? await this.options.embedded.status(labDir) : undefined;
    return { labId: lab.manifest.id, docker, ...(embedded ? { embedded } : {}) };
  }
}
