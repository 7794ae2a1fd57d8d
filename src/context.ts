/**
 * The one object every command, view and controller receives: the extension's
 * state and services, built once in activate().
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProgressStore } from './core/curriculum/progress';
import type { CatalogEntry, Lab } from './core/labs/catalog';
import { defaultLabsRoot, expandHome } from './core/labs/scaffold';
import { LabServicesManager } from './services/labServicesManager';
import type { ContainersView } from './views/containersView';
import type { LabGrading } from './grading/labGrading';
import type { LabTestController } from './testing/labTestController';

export class DataLabsContext {
  private catalogEntries: CatalogEntry[] = [];
  private readonly catalogChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCatalog = this.catalogChanged.event;

  /**
   * Resolves once progress and the lab catalog are loaded. Activation does not wait
   * for it (that keeps activation fast); views and commands do.
   */
  readonly ready: Promise<void>;

  private loadedStore: ProgressStore | undefined;

  /** The labs' databases (Docker or embedded). */
  readonly services: LabServicesManager;
  /** Set once the view exists, so commands can refresh it after acting. */
  containersView: ContainersView | undefined;
  /** Set once created: the Testing view's controller and the grading (the Grade command uses both). */
  tests: LabTestController | undefined;
  grading: LabGrading | undefined;

  constructor(
    readonly extension: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    extension.subscriptions.push(this.catalogChanged);
    this.services = new LabServicesManager(this);
    extension.subscriptions.push(this.services);
    this.ready = Promise.all([this.loadStore(), this.reloadCatalog()]).then(() => undefined);
  }

  /** The progress store; only after `ready`. */
  get store(): ProgressStore {
    if (!this.loadedStore) {
      throw new Error('Progress is not loaded yet: wait for ctx.ready.');
    }
    return this.loadedStore;
  }

  /** The folder of progress.json: the extension's global storage. */
  get progressDir(): string {
    return this.extension.globalStorageUri.fsPath;
  }

  private async loadStore(): Promise<void> {
    // Loaded on first use, not at activation: the schema library is the costliest module to evaluate.
    const { ProgressStore } = await import('./core/curriculum/progress');
    this.loadedStore = await ProgressStore.open({ dir: this.progressDir });
  }

  get productVersion(): string {
    return (this.extension.extension.packageJSON as { version: string }).version;
  }

  get labsDir(): string {
    return path.join(this.extension.extensionPath, 'labs');
  }

  get catalog(): readonly CatalogEntry[] {
    return this.catalogEntries;
  }

  async reloadCatalog(): Promise<void> {
    const { loadCatalog } = await import('./core/labs/catalog');
    this.catalogEntries = await loadCatalog(this.labsDir);
    for (const entry of this.catalogEntries) {
      if (!entry.ok) {
        for (const problem of entry.problems) {
          this.log.error(`Lab manifest problem: ${problem.file}: ${problem.field || '(file)'}: ${problem.message}`);
        }
      }
    }
    this.catalogChanged.fire();
  }

  lab(id: string): Lab | undefined {
    const entry = this.catalogEntries.find((e) => e.id === id);
    return entry?.ok ? entry : undefined;
  }

  /** The learner's labs folder from the `dataLabs.labsRoot` setting. */
  labsRoot(): string {
    const configured = vscode.workspace.getConfiguration('dataLabs').get<string>('labsRoot')?.trim();
    return path.resolve(expandHome(configured || defaultLabsRoot()));
  }
}
