/**
 * The embedded engine (embedded.ts) as the lab-services controller uses it, so the
 * editor and the CLI start, stop and report it the same way as Docker.
 */
import type { Lab } from '../labs/catalog';
import { embeddedServicesStatus, resetEmbeddedServices, startEmbeddedServices, stopEmbeddedServices } from './embedded';
import { SERVICE_HOST } from './labServices';
import type { EmbeddedBackend, EmbeddedStatusLine, StartedServices } from './labServicesController';
import type { RuntimeLogger } from './runtime';

export interface EmbeddedBackendOptions {
  /** The bundled server, `dist/embedded-postgres.js`. */
  readonly serverScript: string;
  /** The editor passes its own pid: the server ends when the editor does. The CLI passes none. */
  readonly ownerPid?: number;
  /** Where initialised clusters are kept for new labs' data folders (see embedded.ts). */
  readonly templatesDir?: string;
  readonly logger?: RuntimeLogger;
}

export function createEmbeddedBackend(options: EmbeddedBackendOptions): EmbeddedBackend {
  const logger = options.logger;
  return {
    async up(lab: Lab, labDir: string, upOptions: { reset: boolean; signal?: AbortSignal }): Promise<StartedServices> {
      if (upOptions.reset) {
        await resetEmbeddedServices(labDir, logger ? { logger } : {});
      }
      const result = await startEmbeddedServices({
        labId: lab.manifest.id,
        labDir,
        services: lab.manifest.services,
        serverScript: options.serverScript,
        ...(options.ownerPid !== undefined ? { ownerPid: options.ownerPid } : {}),
        ...(options.templatesDir !== undefined ? { templatesDir: options.templatesDir } : {}),
        ...(logger ? { logger } : {}),
        ...(upOptions.signal ? { signal: upOptions.signal } : {}),
      });
      return {
        labId: lab.manifest.id,
        backend: 'embedded',
        // The embedded engine describes its server as Docker does a container; the Docker-only fields go.
        connections: result.connections.map(({ containerId: _containerId, image: _image, created: _created, ...connection }) => ({ ...connection, pid: result.pid, created: !result.reused })),
        envFile: result.envFile,
        limitations: result.limitations,
      };
    },
    async down(labDir: string, downOptions: { remove: boolean }): Promise<boolean> {
      const result = downOptions.remove ? await resetEmbeddedServices(labDir, logger ? { logger } : {}) : await stopEmbeddedServices(labDir, logger ? { logger } : {});
      return result.stopped;
    },
    async status(labDir: string): Promise<EmbeddedStatusLine | undefined> {
      const status = await embeddedServicesStatus(labDir);
      if (!status.running) {
        return status.message !== undefined ? { running: false, host: SERVICE_HOST, port: 0, pid: 0, note: status.message } : undefined;
      }
      return { running: true, host: status.host, port: status.port, pid: status.pid, ...(status.problem !== undefined ? { note: status.problem } : {}) };
    },
  };
}
