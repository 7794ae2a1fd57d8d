/**
 * The Containers view: per open lab with databases, each container (or the embedded
 * server) with its state and ports, and the actions on it: start, stop, restart, logs,
 * a shell in the terminal, and the connection string.
 */
import * as vscode from 'vscode';
import { addressText, ownerText } from '../core/services/address';
import type { ContainerStatusLine, ServicesStatus, StartedConnection } from '../core/services/labServicesController';
import type { OpenLabs } from '../labs/openLabs';
import type { LabServicesManager, LabServicesState } from '../services/labServicesManager';
import type { Settings } from '../settings';

export type ContainersNode =
  | { readonly kind: 'lab'; readonly labId: string; readonly labDir: string; readonly title: string }
  | { readonly kind: 'container'; readonly labId: string; readonly container: ContainerStatusLine; readonly connection: StartedConnection | undefined }
  | { readonly kind: 'embedded'; readonly labId: string; readonly connection: StartedConnection | undefined; readonly running: boolean; readonly detail: string }
  | { readonly kind: 'message'; readonly labId: string; readonly text: string; readonly tooltip?: string; readonly icon: string };

/**
 * How often the view asks the engine for its containers' state while it is visible (a
 * container may stop outside the editor); our own actions refresh at once, and the open
 * labs are known without asking anyone (OpenLabs).
 */
const POLL_MS = 5_000;

export class ContainersView implements vscode.TreeDataProvider<ContainersNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ContainersNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<ContainersNode>;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly statuses = new Map<string, ServicesStatus>();
  /** Resolves when the latest reading of the open labs' statuses that VS Code asked for has finished. */
  private lastRefresh: Promise<void> = Promise.resolve();

  constructor(
    private readonly openLabs: OpenLabs,
    private readonly services: LabServicesManager,
    settings: Settings,
  ) {
    this.view = vscode.window.createTreeView('dataLabs.containers', { treeDataProvider: this, showCollapseAll: false });
    this.disposables.push(
      this.view,
      this.changed,
      services.onDidChange(() => void this.refresh()),
      openLabs.onDidChange(() => void this.refresh()),
      // A lab's engine, when the learner has not chosen one for it, is the `databases` setting's.
      settings.onDidChange((change) => {
        if (change.affects('databases')) {
          void this.refresh();
        }
      }),
      this.view.onDidChangeVisibility((e) => this.poll(e.visible)),
    );
    this.poll(this.view.visible);
  }

  private poll(visible: boolean): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (visible) {
      this.timer = setInterval(() => void this.refresh(), POLL_MS);
    }
  }

  refresh(): Promise<void> {
    this.statuses.clear();
    this.changed.fire(undefined);
    return this.lastRefresh;
  }

  async getChildren(node?: ContainersNode): Promise<ContainersNode[]> {
    const work = this.children(node);
    if (!node) {
      this.lastRefresh = work.then(
        () => undefined,
        () => undefined,
      );
    }
    return work;
  }

  private async children(node?: ContainersNode): Promise<ContainersNode[]> {
    await this.openLabs.ready;
    if (!node) {
      const result = this.openLabs
        .current()
        .filter((l) => l.lab && l.lab.manifest.services.length > 0)
        .map((l): ContainersNode => ({ kind: 'lab', labId: l.labId, labDir: l.folder.uri.fsPath, title: l.lab?.manifest.title ?? l.labId }));
      // Children are fetched per lab; collect statuses for all labs now so they agree.
      await Promise.all(
        result.map(async (n) => {
          const status = await this.services.status(n.labId).catch(() => undefined);
          if (status) {
            this.statuses.set(n.labId, status);
          }
        }),
      );
      this.view.description = runningText([...this.statuses.values()]) ?? '';
      return result;
    }
    if (node.kind !== 'lab') {
      return [];
    }
    const state = this.services.state(node.labId);
    const status = this.statuses.get(node.labId) ?? (await this.services.status(node.labId).catch(() => undefined));
    const connections = state?.started?.connections ?? [];
    const result: ContainersNode[] = [];
    if (state?.phase === 'untrusted') {
      result.push({
        kind: 'message',
        labId: node.labId,
        text: vscode.l10n.t('Nothing started: this workspace is not trusted'),
        tooltip: vscode.l10n.t("A lab folder opened in Restricted Mode starts no database and pulls no image, whatever its settings say: it may come from someone else. Trust the workspace (Manage Workspace Trust) and the lab's databases start."),
        icon: 'shield',
      });
    }
    if (state?.phase === 'failed' && state.error !== undefined) {
      result.push({ kind: 'message', labId: node.labId, text: state.error.split('\n')[0] ?? state.error, tooltip: state.error, icon: 'error' });
    }
    const backend = state?.backend ?? this.services.backendFor(node.labId);
    if (backend === 'embedded' || status?.embedded?.running === true) {
      const embedded = status?.embedded;
      const connection = state?.backend === 'embedded' ? connections[0] : undefined;
      result.push({
        kind: 'embedded',
        labId: node.labId,
        connection,
        running: embedded?.running === true,
        detail: embedded?.running === true ? addressText(embedded) : vscode.l10n.t('stopped'),
      });
    }
    if (status?.docker.error !== undefined && backend === 'docker') {
      result.push({ kind: 'message', labId: node.labId, text: status.docker.error.split('\n')[0] ?? status.docker.error, tooltip: status.docker.error, icon: 'warning' });
    }
    for (const container of status?.docker.containers ?? []) {
      const connection = connections.find((c) => c.containerId === container.id);
      result.push({ kind: 'container', labId: node.labId, container, connection });
    }
    if (result.length === 0) {
      result.push({ kind: 'message', labId: node.labId, text: vscode.l10n.t('Not started'), icon: 'circle-outline' });
    }
    return result;
  }

  getTreeItem(node: ContainersNode): vscode.TreeItem {
    switch (node.kind) {
      case 'lab': {
        const state = this.services.state(node.labId);
        const item = new vscode.TreeItem(node.title, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `lab:${node.labId}`;
        const backend = state?.backend ?? this.services.backendFor(node.labId);
        item.description = `${backend === 'embedded' ? vscode.l10n.t('Embedded (PGlite)') : vscode.l10n.t('Docker')}${state ? ` · ${phaseLabel(state)}` : ''}`;
        item.contextValue = `servicesLab.${backend}`;
        item.iconPath = new vscode.ThemeIcon(backend === 'embedded' ? 'circuit-board' : 'server-environment');
        const limitations = state?.started?.limitations ?? [];
        item.tooltip = new vscode.MarkdownString(
          [`**${node.title}**`, node.labDir, ...(limitations.length > 0 ? ['', vscode.l10n.t('Embedded mode cannot:'), ...limitations.map((l) => `- ${l}`)] : [])].join('\n\n'),
        );
        return item;
      }
      case 'container': {
        const c = node.container;
        const item = new vscode.TreeItem(c.service === '?' ? c.name : `${c.service}${c.index > 1 ? `-${c.index}` : ''}`, vscode.TreeItemCollapsibleState.None);
        item.id = `container:${c.id}`;
        const ports = c.ports.map((p) => `${p.hostIp}:${p.hostPort}`).join(', ');
        const owner = ownerText(c.owner, this.services.sessionId);
        item.description = [c.status, ...(ports ? [ports] : []), ...(owner !== undefined && owner !== 'parked' ? [owner] : [])].join(' · ');
        item.contextValue = `container.${c.status === 'running' ? 'running' : c.status === 'paused' ? 'paused' : 'stopped'}`;
        item.iconPath = new vscode.ThemeIcon(
          c.status === 'running' ? 'pass-filled' : c.status === 'paused' ? 'debug-pause' : 'circle-slash',
          new vscode.ThemeColor(c.status === 'running' ? 'testing.iconPassed' : 'disabledForeground'),
        );
        item.tooltip = new vscode.MarkdownString(
          [`**${c.name}**`, `${vscode.l10n.t('Image')}: ${c.image}`, `${vscode.l10n.t('Container')}: ${c.id.slice(0, 12)}`, `${vscode.l10n.t('Owner')}: ${c.owner ?? '?'}`].join('\n\n'),
        );
        return item;
      }
      case 'embedded': {
        const item = new vscode.TreeItem(vscode.l10n.t('postgres (embedded)'), vscode.TreeItemCollapsibleState.None);
        item.id = `embedded:${node.labId}`;
        item.description = `${node.running ? vscode.l10n.t('running') : vscode.l10n.t('stopped')}${node.running ? ` · ${node.detail}` : ''}`;
        item.contextValue = node.running ? 'embedded.running' : 'embedded.stopped';
        item.iconPath = new vscode.ThemeIcon(node.running ? 'pass-filled' : 'circle-slash', new vscode.ThemeColor(node.running ? 'testing.iconPassed' : 'disabledForeground'));
        item.tooltip = vscode.l10n.t('PostgreSQL compiled to WebAssembly (PGlite), served on the PostgreSQL wire protocol: the same pg client and connection string work.');
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.contextValue = 'servicesMessage';
        if (node.tooltip !== undefined) {
          item.tooltip = node.tooltip;
        }
        return item;
      }
    }
  }

  dispose(): void {
    this.poll(false);
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

function phaseLabel(state: LabServicesState): string {
  switch (state.phase) {
    case 'starting':
      return vscode.l10n.t('starting…');
    case 'ready':
      return vscode.l10n.t('ready');
    case 'stopping':
      return vscode.l10n.t('stopping…');
    case 'stopped':
      return vscode.l10n.t('stopped');
    case 'failed':
      return vscode.l10n.t('failed');
    case 'untrusted':
      return vscode.l10n.t('waiting for trust');
  }
}

/** The view's title line, read even when it is collapsed: how many of the open labs' databases run ("2 running"), or nothing. */
function runningText(statuses: readonly ServicesStatus[]): string | undefined {
  const running = statuses.reduce((n, s) => n + s.docker.containers.filter((c) => c.status === 'running').length + (s.embedded?.running === true ? 1 : 0), 0);
  return running > 0 ? vscode.l10n.t('{0} running', running) : undefined;
}
