/** The CLI's lab-services controller: Docker found as the docker CLI would, owner `cli`. */
import { resolveDockerHost, systemDockerHostInputs } from '../core/services/dockerHost';
import { DockerodeRuntime } from '../core/services/dockerodeRuntime';
import { createEmbeddedBackend } from '../core/services/embeddedBackend';
import { LabServicesController } from '../core/services/labServicesController';
import { CLI_OWNER } from '../core/services/sessions';
import { embeddedTemplatesDir, faultJournalDir } from '../core/services/stateDir';

export function createServicesController(options: {
  images: Record<string, string>;
  env: NodeJS.ProcessEnv;
  embeddedServerScript?: string;
  /** The process an embedded server started here ends with (`grade` passes its own); none: it outlives the command. */
  embeddedOwnerPid?: number;
}): LabServicesController {
  return new LabServicesController({
    // The engine named by this command's environment (DOCKER_HOST, DOCKER_CONTEXT), as the docker CLI would.
    runtime: () => new DockerodeRuntime({ host: resolveDockerHost(systemDockerHostInputs(options.env)) }),
    owner: CLI_OWNER,
    images: () => options.images,
    faultJournalDir: faultJournalDir(options.env),
    // Without an owner (`services up`), a server started here outlives this command until "services down".
    ...(options.embeddedServerScript !== undefined
      ? {
          embedded: createEmbeddedBackend({
            serverScript: options.embeddedServerScript,
            templatesDir: embeddedTemplatesDir(options.env),
            ...(options.embeddedOwnerPid !== undefined ? { ownerPid: options.embeddedOwnerPid } : {}),
          }),
        }
      : {}),
  });
}
