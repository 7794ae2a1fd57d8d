/**
 * A lab's databases in the editor: started when the lab opens (with a progress
 * notification, image pulls included), stopped when its folder leaves the workspace or
 * the editor closes, and what a crashed editor left behind swept at the next start.
 * Failures become one notification that says what to do, with the embedded engine
 * offered wherever the lab allows it.
 *
 * Everything container-related is loaded on first use: the Docker client alone costs
 * more than the whole activation may.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Lab } from '../core/labs/catalog';
import { addressText } from '../core/services/address';
import type { Backend, LabServicesController, ServicesStatus, StartedServices } from '../core/services/labServicesController';
import type { PullLayerProgress, RuntimeLogger } from '../core/services/runtime';
import type { LabCatalog } from '../labs/labCatalog';
import type { Settings } from '../settings';
import { loadEngine } from './loadEngine';

const BACKEND_BY_LAB_KEY = 'dataLabs.backendByLab';

/** `untrusted`: nothing was started, because the workspace is not trusted (see start). */
export type LabServicesPhase = 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed' | 'untrusted';

export interface LabServicesState {
  readonly labId: string;
  readonly labDir: string;
  readonly backend: Backend;
  readonly phase: LabServicesPhase;
  readonly started?: StartedServices;
  readonly error?: string;
}

/** A start that failed and was shown to the learner: what the notification said and which actions it offered. */
export interface StartFailure {
  readonly labId: string;
  /** The error's first line, as the notification shows it. */
  readonly message: string;
  readonly actions: readonly string[];
}

/** What the manager uses. */
export interface LabServicesDeps {
  readonly catalog: LabCatalog;
  readonly settings: Settings;
  /** Where each lab's chosen backend is kept (the global state). */
  readonly state: vscode.Memento;
  /** The extension's folder (the embedded server's script is in its dist/). */
  readonly extensionPath: string;
  readonly log: vscode.LogOutputChannel;
}

/** Bytes per layer of the pulls under way, summed into one line of the notification. */
class PullTally {
  private readonly layers = new Map<string, { current: number; total: number }>();

  update(progress: PullLayerProgress): void {
    const layer = this.layers.get(progress.layerId) ?? { current: 0, total: 0 };
    if (progress.totalBytes !== undefined && progress.totalBytes > 0) {
      layer.total = progress.totalBytes;
    }
    if (progress.currentBytes !== undefined && /download/i.test(progress.status)) {
      layer.current = progress.currentBytes;
    } else if (/complete|already exists|verifying|extract/i.test(progress.status) && layer.total > 0) {
      layer.current = layer.total;
    }
    this.layers.set(progress.layerId, layer);
  }

  describe(image: string, latest: PullLayerProgress): string {
    let current = 0;
    let total = 0;
    for (const layer of this.layers.values()) {
      current += layer.current;
      total += layer.total;
    }
    const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
    const layerBytes =
      latest.currentBytes !== undefined && latest.totalBytes !== undefined ? ` ${mb(latest.currentBytes)}/${mb(latest.totalBytes)} MB` : '';
    return vscode.l10n.t(
      'Pulling {0}: {1} of {2} MB in {3} layers (layer {4}: {5}{6})',
      image,
      mb(current),
      total > 0 ? mb(total) : '?',
      String(this.layers.size),
      latest.layerId.slice(0, 12),
      latest.status,
      layerBytes,
    );
  }
}

export class LabServicesManager implements vscode.Disposable {
  private controllerPromise: Promise<LabServicesController> | undefined;
  private readonly states = new Map<string, LabServicesState>();
  private readonly inflight = new Map<string, Promise<StartedServices | undefined>>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires whenever a lab's state changes (starting, ready, stopping, stopped, failed). */
  readonly onDidChange = this.changed.event;
  private readonly failed = new vscode.EventEmitter<StartFailure>();
  /** Fires when a start failed and the learner is shown why, with what to do. */
  readonly onDidFailToStart = this.failed.event;
  /** Where container logs are shown, one channel per container, made on demand. */
  private readonly logChannels = new Map<string, vscode.OutputChannel>();
  private readonly disposables: vscode.Disposable[] = [this.changed, this.failed];
  private session: string | undefined;
  private readonly log: vscode.LogOutputChannel;

  constructor(private readonly deps: LabServicesDeps) {
    this.log = deps.log;
  }

  /** This window's session id; loading the engine for it waits until a database is needed. */
  get sessionId(): string {
    this.session ??= loadEngine().sessionIdFor();
    return this.session;
  }

  /** The services controller, made once: Docker as the docker CLI finds it, owned by this window. */
  controller(): Promise<LabServicesController> {
    this.controllerPromise ??= (async () => {
      const { LabServicesController, faultJournalDir, embeddedTemplatesDir, DockerodeRuntime, createEmbeddedBackend } = loadEngine();
      const { log, settings, extensionPath } = this.deps;
      const logger: RuntimeLogger = { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
      const sessionId = this.sessionId;
      return new LabServicesController({
        runtime: () => new DockerodeRuntime({ logger }),
        owner: sessionId,
        images: () => settings.images,
        faultJournalDir: faultJournalDir(),
        embedded: createEmbeddedBackend({
          serverScript: path.join(extensionPath, 'dist', 'embedded-postgres.js'),
          ownerPid: process.pid,
          templatesDir: embeddedTemplatesDir(),
          logger,
        }),
        logger,
      });
    })();
    return this.controllerPromise;
  }

  state(labId: string): LabServicesState | undefined {
    return this.states.get(labId);
  }

  allStates(): LabServicesState[] {
    return [...this.states.values()];
  }

  private setState(state: LabServicesState): void {
    this.states.set(state.labId, state);
    this.changed.fire();
  }

  /** The engine this lab uses: the learner's choice for it, else the `dataLabs.databases` setting. */
  backendFor(labId: string): Backend {
    const chosen = this.deps.state.get<Record<string, Backend>>(BACKEND_BY_LAB_KEY, {})[labId];
    if (chosen === 'docker' || chosen === 'embedded') {
      return chosen;
    }
    return this.deps.settings.databases;
  }

  async setBackend(labId: string, backend: Backend): Promise<void> {
    const map = { ...this.deps.state.get<Record<string, Backend>>(BACKEND_BY_LAB_KEY, {}), [labId]: backend };
    await this.deps.state.update(BACKEND_BY_LAB_KEY, map);
  }

  /**
   * Starts the lab's databases and writes its `.env`, showing progress; on failure shows
   * what to do. Resolves with the started services, or undefined when it failed (the
   * failure was shown) or the lab needs none.
   */
  start(lab: Lab, labDir: string, options: { reset?: boolean; backend?: Backend } = {}): Promise<StartedServices | undefined> {
    // A folder nobody trusted yet starts nothing: a cloned repository must not choose what runs.
    // The extension starts it again once trust is granted (onDidGrantWorkspaceTrust).
    if (!vscode.workspace.isTrusted) {
      if (lab.manifest.services.length > 0 && this.states.get(lab.id)?.phase !== 'untrusted') {
        this.log.info(`Lab ${lab.id}: its databases wait for this workspace to be trusted; nothing was started`);
        this.setState({ labId: lab.id, labDir, backend: this.backendFor(lab.id), phase: 'untrusted' });
      }
      return Promise.resolve(undefined);
    }
    // One start per lab at a time: two at once would each create the missing containers.
    const running = this.inflight.get(lab.id);
    if (running) {
      return running;
    }
    const work = this.startNow(lab, labDir, options).finally(() => this.inflight.delete(lab.id));
    this.inflight.set(lab.id, work);
    return work;
  }

  /**
   * Reads the lab's running Docker services again, quietly: a grader that killed and
   * restarted a container may have left it on another port. `.env` and the Containers view
   * follow. Returns the services as they are now, or undefined when they are not running
   * on Docker in this window.
   */
  async refresh(lab: Lab, labDir: string): Promise<StartedServices | undefined> {
    const state = this.states.get(lab.id);
    if (state?.phase !== 'ready' || state.backend !== 'docker' || state.labDir !== labDir) {
      return undefined;
    }
    try {
      const started = await (await this.controller()).up(lab, labDir, { backend: 'docker' });
      this.setState({ labId: lab.id, labDir, backend: 'docker', phase: 'ready', started });
      return started;
    } catch (error) {
      this.log.warn(`Lab ${lab.id}: reading its containers again failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Starts the lab's databases unless they are running already (for opening a lab and running its tests). */
  async ensureStarted(lab: Lab, labDir: string): Promise<StartedServices | undefined> {
    const state = this.states.get(lab.id);
    if (state?.phase === 'ready' && state.started && state.labDir === labDir) {
      return state.started;
    }
    return this.start(lab, labDir);
  }

  private async startNow(lab: Lab, labDir: string, options: { reset?: boolean; backend?: Backend }): Promise<StartedServices | undefined> {
    if (lab.manifest.services.length === 0) {
      return undefined;
    }
    const backend = options.backend ?? this.backendFor(lab.id);
    try {
      return await this.startWithProgress(lab, labDir, backend, options.reset === true);
    } catch (error) {
      void this.showStartFailure(lab, labDir, backend, error);
      return undefined;
    }
  }

  /**
   * The lab's services on `backend` for a grading: the running ones when they already run
   * there for this folder, else started with the usual progress. Rejects with the start's
   * error instead of showing it, so the grading can fall back or say why it did not run.
   */
  async startForGrading(lab: Lab, labDir: string, backend: Backend, signal?: AbortSignal): Promise<StartedServices> {
    const state = this.states.get(lab.id);
    if (state?.phase === 'ready' && state.started && state.labDir === labDir && state.backend === backend) {
      return state.started;
    }
    const running = this.inflight.get(lab.id);
    if (running) {
      const started = await running;
      if (started !== undefined && started.backend === backend) {
        return started;
      }
    }
    return this.startWithProgress(lab, labDir, backend, false, signal);
  }

  /** Starts the lab's services with a progress notification (Cancel stops it); the state follows. Rejects when it fails. */
  private async startWithProgress(lab: Lab, labDir: string, backend: Backend, reset: boolean, signal?: AbortSignal): Promise<StartedServices> {
    const labId = lab.id;
    this.setState({ labId, labDir, backend, phase: 'starting' });
    try {
      const controller = await this.controller();
      const started = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: reset ? vscode.l10n.t('Resetting the databases of {0}', lab.manifest.title) : vscode.l10n.t('Starting the databases of {0}', lab.manifest.title),
          cancellable: true,
        },
        async (progress, token) => {
          const abort = new AbortController();
          const cancel = token.onCancellationRequested(() => abort.abort());
          const stop = (): void => abort.abort();
          signal?.addEventListener('abort', stop, { once: true });
          const tallies = new Map<string, PullTally>();
          let lastPullReport = 0;
          progress.report({ message: backend === 'embedded' ? vscode.l10n.t('embedded PostgreSQL (PGlite)') : vscode.l10n.t('Docker') });
          try {
            return await controller.up(lab, labDir, {
              backend,
              reset,
              signal: abort.signal,
              onPullProgress: (image, layer) => {
                const tally = tallies.get(image) ?? new PullTally();
                tallies.set(image, tally);
                tally.update(layer);
                // The engine reports many times a second; the notification need not.
                if (Date.now() - lastPullReport > 200) {
                  lastPullReport = Date.now();
                  progress.report({ message: tally.describe(image, layer) });
                }
              },
            });
          } finally {
            cancel.dispose();
            signal?.removeEventListener('abort', stop);
          }
        },
      );
      this.log.info(`Lab ${labId}: databases ready on ${backend}: ${started.connections.map((c) => `${c.name} ${addressText(c)}`).join(', ')}`);
      this.setState({ labId, labDir, backend, phase: 'ready', started });
      return started;
    } catch (error) {
      const message = (error as Error).message;
      this.log.error(`Lab ${labId}: starting the databases on ${backend} failed: ${message}`);
      this.setState({ labId, labDir, backend, phase: 'failed', error: message });
      throw error;
    }
  }

  /** One notification per failure, with the actions that fit it. */
  private async showStartFailure(lab: Lab, labDir: string, backend: Backend, error: unknown): Promise<void> {
    const { labAllowsEmbedded } = loadEngine();
    const name = (error as Error).name;
    const useEmbedded = vscode.l10n.t('Use Embedded Databases');
    const retry = vscode.l10n.t('Retry');
    const showLog = vscode.l10n.t('Show Log');
    const resetData = vscode.l10n.t('Reset Data');
    const openSettings = vscode.l10n.t('Open Settings');
    const actions: string[] = [];
    if (backend === 'docker' && labAllowsEmbedded(lab)) {
      actions.push(useEmbedded);
    }
    if (name === 'ImageMissingError' || name === 'PullFailedError') {
      actions.push(openSettings);
    }
    if (name === 'ReadinessTimeoutError') {
      actions.push(resetData);
    }
    actions.push(retry, showLog);
    const firstLine = (error as Error).message.split('\n')[0] ?? '';
    this.failed.fire({ labId: lab.id, message: firstLine, actions });
    const choice = await vscode.window.showErrorMessage(vscode.l10n.t('The databases of {0} did not start. {1}', lab.manifest.title, firstLine), ...actions);
    if (choice === useEmbedded) {
      await this.setBackend(lab.id, 'embedded');
      await this.start(lab, labDir, { backend: 'embedded' });
    } else if (choice === retry) {
      await this.start(lab, labDir);
    } else if (choice === resetData) {
      await this.start(lab, labDir, { reset: true });
    } else if (choice === openSettings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'dataLabs.images');
    } else if (choice === showLog) {
      this.log.show();
    }
  }

  /** Stops (parks) the lab's databases this window owns; `remove` deletes them instead. */
  async stop(labId: string, options: { remove?: boolean } = {}): Promise<void> {
    const lab = this.deps.catalog.lab(labId);
    const state = this.states.get(labId);
    if (!lab) {
      return;
    }
    const labDir = this.labDirOf(labId);
    if (state) {
      this.setState({ ...state, phase: 'stopping' });
    }
    try {
      const controller = await this.controller();
      // Docker is asked only when the lab used it, so closing an embedded lab never needs an engine.
      await controller.down(lab, labDir, { remove: options.remove === true, onlyOwned: options.remove !== true, skipDocker: state?.backend === 'embedded' && options.remove !== true });
      this.log.info(`Lab ${labId}: databases ${options.remove === true ? 'removed' : 'stopped'}`);
    } catch (error) {
      this.log.warn(`Lab ${labId}: stopping the databases failed: ${(error as Error).message}`);
    } finally {
      if (state) {
        this.setState({ ...state, phase: 'stopped' });
      }
    }
  }

  /** Where the lab's databases were started, else where its folder is opened by default. */
  private labDirOf(labId: string): string {
    return this.states.get(labId)?.labDir ?? path.join(this.deps.settings.labsRoot, labId);
  }

  async status(labId: string): Promise<ServicesStatus | undefined> {
    const lab = this.deps.catalog.lab(labId);
    if (!lab) {
      return undefined;
    }
    const labDir = this.labDirOf(labId);
    return (await this.controller()).status(lab, labDir);
  }

  /**
   * Removes what ended sessions left (containers of an editor killed with SIGKILL). Quiet
   * when Docker is not there: nothing can have been left on an engine that is not running.
   */
  async sweep(): Promise<void> {
    try {
      const { sweepOrphans, recoverAbandonedFaults, faultJournalDir } = loadEngine();
      const controller = await this.controller();
      await controller.runtime.ping();
      const logger: RuntimeLogger = { info: (m) => this.log.info(m), warn: (m) => this.log.warn(m), error: (m) => this.log.error(m) };
      // Faults a crashed grading run left (a paused database, say) are undone first.
      const recovered = await recoverAbandonedFaults(controller.runtime, faultJournalDir(), logger);
      if (recovered.recovered.length > 0 || recovered.failed.length > 0) {
        this.log.info(`Faults left by ended grading runs: undone for ${recovered.recovered.length} run(s), failed for ${recovered.failed.length}`);
      }
      const result = await sweepOrphans(controller.runtime, undefined, logger);
      this.log.info(`Sweep: removed ${result.removedContainers.length} container(s) and ${result.removedNetworks.length} network(s) of ended sessions`);
    } catch (error) {
      this.log.info(`Sweep skipped: ${(error as Error).message.split('\n')[0] ?? ''}`);
    }
  }

  /** The output channel of one container's log, filled with its last lines (also returned). */
  async showLogs(containerId: string, title: string): Promise<string[]> {
    const controller = await this.controller();
    const lines = await controller.runtime.containerLogs(containerId, { tail: 500, timeoutMs: 10_000 });
    let channel = this.logChannels.get(containerId);
    if (!channel) {
      channel = vscode.window.createOutputChannel(vscode.l10n.t('Data Labs: {0}', title));
      this.logChannels.set(containerId, channel);
      this.disposables.push(channel);
    }
    channel.clear();
    channel.appendLine(vscode.l10n.t('Last {0} lines of container {1}, as of {2}:', String(lines.length), containerId.slice(0, 12), new Date().toLocaleTimeString()));
    for (const line of lines) {
      channel.appendLine(line);
    }
    channel.show(true);
    return lines;
  }

  /** Stops every lab this window runs; the editor is closing. */
  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.states.values()].filter((s) => s.phase === 'ready' || s.phase === 'starting').map((s) => this.stop(s.labId)),
    );
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
