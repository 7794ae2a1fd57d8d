/**
 * `data-labs services up|down|status|reset <lab> [dir]`: a lab's databases without the
 * editor, for scripts, CI and classrooms. Services started here belong to the `cli`
 * owner, so they outlive this command (and no editor's sweep removes them) until
 * `services down`.
 */
import { promises as fs } from 'node:fs';
import type { Lab } from '../core/labs/catalog';
import { addressText } from '../core/services/address';
import type { Backend, LabServicesController, ServicesStatus, StartedServices } from '../core/services/labServicesController';

export interface ServicesCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface ServicesCliRequest {
  readonly action: 'up' | 'down' | 'status' | 'reset';
  readonly lab: Lab;
  readonly labDir: string;
  readonly backend: Backend | undefined;
  readonly remove: boolean;
  readonly json: boolean;
}

export const SERVICES_HELP = `Usage:
  data-labs services up <lab> [dir] [--backend docker|embedded] [--json]
      Starts the lab's databases (restarting its stopped containers, or creating them),
      waits until each answers, writes the connection details to <dir>/.env and prints them.
  data-labs services down <lab> [dir] [--remove] [--backend docker|embedded]
      Stops them, keeping their data for the next "up"; --remove deletes the containers
      (and the embedded data) instead. --backend embedded leaves Docker alone.
  data-labs services status <lab> [dir] [--json]
      Lists the lab's containers (state, ports, owner) and its embedded server.
  data-labs services reset <lab> [dir] [--backend docker|embedded]
      "Reset data": recreates the databases empty and starts them.

  dir defaults to $DATA_LABS_ROOT/<lab> (~/data-labs/<lab>). --backend defaults to docker;
  embedded runs PostgreSQL in-process (PGlite) for labs that allow it, when Docker is missing.

Environment:
  DATA_LABS_IMAGES   JSON object mapping a service to another image, like the editor's
                     "dataLabs.images" setting: {"postgres":"mirror.example/postgres:15"}
  DOCKER_HOST        The Docker engine to use (else the current docker context, else the default socket)
`;

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}

export function formatStarted(started: StartedServices): string {
  const lines: string[] = [];
  for (const c of started.connections) {
    const where = c.containerId !== undefined ? `container ${c.containerId.slice(0, 12)}${c.created ? ', created' : ', restarted'}` : `embedded, pid ${c.pid ?? '?'}`;
    lines.push(`${pad(c.name, 12)}ready on ${addressText(c)} (${where})`);
    lines.push(`${pad('', 12)}${c.url}`);
  }
  if (started.envFile !== undefined) {
    lines.push(`Connection details written to ${started.envFile}`);
  }
  for (const limitation of started.limitations) {
    lines.push(`Embedded mode: ${limitation}`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatStatus(status: ServicesStatus): string {
  const lines: string[] = [];
  if (status.docker.error !== undefined) {
    lines.push(`Docker: ${status.docker.error}`);
  } else if (status.docker.containers.length === 0) {
    lines.push('Docker: no containers for this lab.');
  } else {
    for (const c of status.docker.containers) {
      const ports = c.ports.length > 0 ? c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}`).join(', ') : '-';
      lines.push(`${pad(c.service, 12)}${pad(c.status, 10)}${pad(ports, 28)}container ${c.id.slice(0, 12)}, owner ${c.owner ?? '?'}`);
    }
  }
  if (status.embedded === undefined) {
    lines.push('Embedded: not running.');
  } else {
    lines.push(`Embedded: ${status.embedded.running ? `PostgreSQL (PGlite) on ${addressText(status.embedded)}, pid ${status.embedded.pid}` : 'stopped'}${status.embedded.note ? ` (${status.embedded.note})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runServicesCommand(request: ServicesCliRequest, controller: LabServicesController, io: ServicesCliIo): Promise<number> {
  const { lab, labDir } = request;
  const labId = lab.manifest.id;
  if (request.action === 'status') {
    const status = await controller.status(lab, labDir);
    io.stdout(request.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return 0;
  }
  if (request.action === 'down') {
    const result = await controller.down(lab, labDir, { remove: request.remove, skipDocker: request.backend === 'embedded' });
    if (result.dockerUnavailable !== undefined) {
      io.stdout(`Docker is not reachable, so no containers were stopped: ${result.dockerUnavailable.split('\n')[0] ?? ''}\n`);
    }
    io.stdout(
      `${result.docker > 0 ? `${request.remove ? 'Removed' : 'Stopped'} ${result.docker} container(s) of ${labId}${request.remove ? '' : '; their data is kept for the next "up"'}.\n` : result.dockerUnavailable === undefined && request.backend !== 'embedded' ? `No running containers of ${labId}.\n` : ''}` +
        (result.embedded ? `Stopped the embedded server${request.remove ? ' and deleted its data' : ''}.\n` : ''),
    );
    return 0;
  }
  if (lab.manifest.services.length === 0) {
    io.stdout(`Lab ${labId} needs no databases.\n`);
    return 0;
  }
  if (!(await labDirExists(labDir, labId, io))) {
    return 1;
  }
  const pulls = new Map<string, number>();
  const started = await controller.up(lab, labDir, {
    backend: request.backend ?? 'docker',
    reset: request.action === 'reset',
    onPullProgress: (image, progress) => {
      // One line per layer and status change is enough for a log; bytes are in the editor's notification.
      const key = `${image} ${progress.layerId} ${progress.status}`;
      if (!pulls.has(key)) {
        pulls.set(key, Date.now());
        io.stderr(`pulling ${image}: ${progress.layerId} ${progress.status}${progress.totalBytes ? ` (${Math.round(progress.totalBytes / 1024 / 1024)} MB)` : ''}\n`);
      }
    },
  });
  io.stdout(request.json ? `${JSON.stringify(started, null, 2)}\n` : formatStarted(started));
  return 0;
}

/** Whether the lab folder exists; if not, says how to make it. */
export async function labDirExists(labDir: string, labId: string, io: Pick<ServicesCliIo, 'stderr'>): Promise<boolean> {
  try {
    await fs.access(labDir);
    return true;
  } catch {
    io.stderr(`data-labs: ${labDir} does not exist. Open the lab first ("data-labs open ${labId}"), or name its folder.\n`);
    return false;
  }
}
