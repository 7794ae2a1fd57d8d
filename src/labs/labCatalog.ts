/**
 * The labs this version ships (the extension's `labs/` folder), loaded in the background
 * at start-up and again on "Refresh". A lab whose manifest is broken stays in the list as
 * a BrokenLab, so the Curriculum view can show what is wrong with it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CatalogEntry, Lab } from '../core/labs/catalog';

export class LabCatalog implements vscode.Disposable {
  private entries: readonly CatalogEntry[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires after a reload; the first load is signalled by `ready` instead. */
  readonly onDidChange = this.changed.event;
  /** Resolves once the catalog is first loaded. */
  readonly ready: Promise<void>;
  /** The folder the labs are read from. */
  readonly dir: string;

  constructor(
    extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.dir = path.join(extensionPath, 'labs');
    this.ready = this.load();
  }

  /** Every lab, the broken ones included; empty until `ready`. */
  get all(): readonly CatalogEntry[] {
    return this.entries;
  }

  /** The lab of this id, unless it is missing or broken. */
  lab(id: string): Lab | undefined {
    const entry = this.entries.find((e) => e.id === id);
    return entry?.ok ? entry : undefined;
  }

  /** Reads the labs again (the Refresh command) and tells the subscribers. */
  async reload(): Promise<void> {
    await this.ready;
    await this.load();
    this.changed.fire();
  }

  private async load(): Promise<void> {
    // Loaded on first use, not at activation: the manifest schema is costly to evaluate.
    const { loadCatalog } = await import('../core/labs/catalog');
    this.entries = await loadCatalog(this.dir);
    for (const entry of this.entries) {
      if (!entry.ok) {
        for (const problem of entry.problems) {
          this.log.error(`Lab manifest problem: ${problem.file}: ${problem.field || '(file)'}: ${problem.message}`);
        }
      }
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}
