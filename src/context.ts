/**
 * The one object every command, view and controller receives: the extension's
 * state and services, built once in activate().
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProgressStore } from './core/curriculum/progress';
import { type CatalogEntry, type Lab, loadCatalog } from './core/labs/catalog';
import { defaultLabsRoot, expandHome } from './core/labs/scaffold';

export class DataLabsContext {
  private catalogEntries: CatalogEntry[] = [];
  private readonly catalogChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCatalog = this.catalogChanged.event;

  constructor(
    readonly extension: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
    readonly store: ProgressStore,
  ) {
    extension.subscriptions.push(this.catalogChanged);
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
