/**
 * Commands on a lab's databases, from the Containers view or the Command Palette.
 * Starting, restarting and resetting go through the services manager, which waits until
 * each database answers and rewrites the lab's `.env` (Docker gives a restarted
 * container a new host port).
 */
import { spawnSync } from 'node:child_process';
import * as vscode from 'vscode';
import { containerShellCommand } from '../core/services/serviceCatalog';
import type { Backend } from '../core/services/labServicesController';
import type { LabCatalog } from '../labs/labCatalog';
import type { OpenLabs } from '../labs/openLabs';
import type { LabServicesManager } from '../services/labServicesManager';
import { loadEngine } from '../services/loadEngine';
import type { ContainersNode, ContainersView } from '../views/containersView';
import type { CommandHandlers } from './commandHandlers';

export interface ServicesCommandsDeps {
  readonly services: LabServicesManager;
  readonly openLabs: OpenLabs;
  readonly catalog: LabCatalog;
  /** Refreshed after acting on a container directly (the manager's state does not see that). */
  readonly containers: Pick<ContainersView, 'refresh'>;
  readonly log: vscode.LogOutputChannel;
}

/** The Containers view's commands and their Command Palette forms. */
export function servicesCommands(deps: ServicesCommandsDeps): CommandHandlers {
  return {
    'dataLabs.startDatabases': (node) => startLabServices(deps, node),
    'dataLabs.stopDatabases': (node) => stopLabServices(deps, node),
    'dataLabs.resetDatabases': (node, confirmed) => resetLabData(deps, node, confirmed),
    'dataLabs.switchDatabaseBackend': (node, backend) => switchBackend(deps, node, backend),
    'dataLabs.refreshContainers': () => deps.containers.refresh(),
    'dataLabs.startContainer': (node) => containerAction(deps, 'start', node),
    'dataLabs.stopContainer': (node) => containerAction(deps, 'stop', node),
    'dataLabs.restartContainer': (node) => containerAction(deps, 'restart', node),
    'dataLabs.showContainerLogs': (node) => showContainerLogs(deps, node),
    'dataLabs.openContainerShell': (node) => openContainerShell(deps, node),
    'dataLabs.copyConnectionString': (node) => copyConnectionString(deps, node),
  };
}

/** The open lab a command is about: the node's, or one picked among the open labs with databases. */
async function targetLab(openLabs: OpenLabs, node: unknown): Promise<{ labId: string; labDir: string } | undefined> {
  if (typeof node === 'object' && node !== null && 'labId' in node && typeof (node as { labId: unknown }).labId === 'string') {
    const labId = (node as { labId: string }).labId;
    const open = openLabs.ofLab(labId);
    if (open) {
      return { labId, labDir: open.folder.uri.fsPath };
    }
  }
  const candidates = openLabs.current().filter((l) => l.lab && l.lab.manifest.services.length > 0);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No open lab needs databases. Open a lab first.'));
    return undefined;
  }
  if (candidates.length === 1) {
    const only = candidates[0]!;
    return { labId: only.labId, labDir: only.folder.uri.fsPath };
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((l) => ({ label: l.lab?.manifest.title ?? l.labId, description: l.labId, labId: l.labId, labDir: l.folder.uri.fsPath })),
    { placeHolder: vscode.l10n.t('Which lab?') },
  );
  return picked ? { labId: picked.labId, labDir: picked.labDir } : undefined;
}

async function startLabServices({ services, openLabs, catalog }: ServicesCommandsDeps, node: unknown): Promise<boolean> {
  const target = await targetLab(openLabs, node);
  const lab = target && catalog.lab(target.labId);
  if (!target || !lab) {
    return false;
  }
  return (await services.start(lab, target.labDir)) !== undefined;
}

async function stopLabServices({ services, openLabs }: ServicesCommandsDeps, node: unknown): Promise<void> {
  const target = await targetLab(openLabs, node);
  if (target) {
    await services.stop(target.labId);
  }
}

async function resetLabData({ services, openLabs, catalog }: ServicesCommandsDeps, node: unknown, confirmed?: unknown): Promise<boolean> {
  const target = await targetLab(openLabs, node);
  const lab = target && catalog.lab(target.labId);
  if (!target || !lab) {
    return false;
  }
  if (confirmed !== true) {
    const reset = vscode.l10n.t('Reset Data');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('Reset the data of {0}? Its databases are recreated empty, with new passwords; your code is not touched.', lab.manifest.title),
      { modal: true },
      reset,
    );
    if (choice !== reset) {
      return false;
    }
  }
  return (await services.start(lab, target.labDir, { reset: true })) !== undefined;
}

async function switchBackend({ services, openLabs, catalog }: ServicesCommandsDeps, node: unknown, backendArg?: unknown): Promise<boolean> {
  const target = await targetLab(openLabs, node);
  const lab = target && catalog.lab(target.labId);
  if (!target || !lab) {
    return false;
  }
  const { labAllowsEmbedded } = loadEngine();
  const current = services.backendFor(lab.id);
  const next: Backend = backendArg === 'docker' || backendArg === 'embedded' ? backendArg : current === 'docker' ? 'embedded' : 'docker';
  if (next === 'embedded' && !labAllowsEmbedded(lab)) {
    void vscode.window.showWarningMessage(vscode.l10n.t('{0} needs Docker: its databases have no embedded stand-in.', lab.manifest.title));
    return false;
  }
  await services.stop(lab.id);
  await services.setBackend(lab.id, next);
  return (await services.start(lab, target.labDir, { backend: next })) !== undefined;
}

function containerOf(node: unknown): Extract<ContainersNode, { kind: 'container' }> | undefined {
  return typeof node === 'object' && node !== null && (node as ContainersNode).kind === 'container' ? (node as Extract<ContainersNode, { kind: 'container' }>) : undefined;
}

/** Start and restart go through the manager so readiness is awaited and `.env` rewritten. */
async function containerAction({ services, openLabs, catalog, containers, log }: ServicesCommandsDeps, action: 'start' | 'stop' | 'restart', node: unknown): Promise<void> {
  const target = containerOf(node);
  if (!target) {
    return;
  }
  const controller = await services.controller();
  const id = target.container.id;
  try {
    if (action === 'stop') {
      await controller.runtime.stopContainer(id, 5);
      log.info(`Stopped container ${id.slice(0, 12)} from the Containers view`);
      await containers.refresh();
      return;
    }
    if (action === 'restart') {
      await controller.runtime.restartContainer(id, 5);
    }
    const lab = catalog.lab(target.labId);
    const open = openLabs.ofLab(target.labId);
    if (lab && open) {
      await services.start(lab, open.folder.uri.fsPath, { backend: 'docker' });
    } else {
      await controller.runtime.startContainer(id);
    }
  } catch (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Could not {0} {1}: {2}', action, target.container.name, (error as Error).message));
  } finally {
    await containers.refresh();
  }
}

async function showContainerLogs({ services }: ServicesCommandsDeps, node: unknown): Promise<string[] | undefined> {
  const target = containerOf(node);
  return target ? services.showLogs(target.container.id, target.container.name) : undefined;
}

/** The URL of a container or embedded node, or of the only database of a lab node. */
function connectionUrl(services: LabServicesManager, node: unknown): string | undefined {
  const n = node as ContainersNode | undefined;
  if (n?.kind === 'container') {
    return n.connection?.url ?? n.container.url;
  }
  if (n?.kind === 'embedded') {
    return n.connection?.url ?? services.state(n.labId)?.started?.connections[0]?.url;
  }
  if (n?.kind === 'lab') {
    return services.state(n.labId)?.started?.connections[0]?.url;
  }
  return undefined;
}

async function copyConnectionString({ services }: ServicesCommandsDeps, node: unknown): Promise<string | undefined> {
  const url = connectionUrl(services, node);
  if (url === undefined) {
    void vscode.window.showWarningMessage(vscode.l10n.t('This database is not running, so it has no connection string yet. Start it first.'));
    return undefined;
  }
  await vscode.env.clipboard.writeText(url);
  void vscode.window.setStatusBarMessage(vscode.l10n.t('Connection string copied'), 3_000);
  return url;
}

/** The database's own shell (psql, redis-cli) inside the container, in a terminal. */
async function openContainerShell({ log }: ServicesCommandsDeps, node: unknown): Promise<vscode.Terminal | undefined> {
  const target = containerOf(node);
  if (!target) {
    return undefined;
  }
  const docker = spawnSync('docker', ['--version'], { encoding: 'utf8', timeout: 5_000 });
  if (docker.error || docker.status !== 0) {
    void vscode.window.showWarningMessage(
      vscode.l10n.t('A shell needs the docker command, which is not on your PATH. Install the Docker CLI, or connect with the copied connection string from a client of your choice.'),
    );
    return undefined;
  }
  const c = target.container;
  const url = target.connection?.url ?? c.url;
  const { args, env } = containerShellCommand(c.service, c.id, url);
  const terminal = vscode.window.createTerminal({ name: vscode.l10n.t('{0} shell', c.service), shellPath: 'docker', shellArgs: [...args], env: { ...env } });
  terminal.show();
  log.info(`Opened a shell in container ${c.id.slice(0, 12)}: docker ${args.filter((a) => a !== c.id).join(' ')}`);
  return terminal;
}
