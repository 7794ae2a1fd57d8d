/**
 * The lab folders open in this window: the workspace folders that hold a `.data-lab.json`
 * marker, each with its lab from the catalog. Read once at start-up and again only when
 * something that decides them changes (the workspace's folders, the catalog, a marker
 * appearing or going), so that the views, commands and the grading read a list in memory
 * instead of the markers on disk every time they ask.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Lab } from '../core/labs/catalog';
import { LAB_MARKER_FILE, readLabMarker } from '../core/labs/scaffold';
import type { LabCatalog } from './labCatalog';

export interface OpenLab {
  readonly folder: vscode.WorkspaceFolder;
  readonly labId: string;
  /** Undefined when the folder names a lab this version does not ship. */
  readonly lab: Lab | undefined;
}

/** The workspace folder (on disk) that is `dir` itself, if one is. */
export function workspaceFolderAt(dir: string): vscode.WorkspaceFolder | undefined {
  const wanted = path.resolve(dir);
  return (vscode.workspace.workspaceFolders ?? []).find((f) => f.uri.scheme === 'file' && path.resolve(f.uri.fsPath) === wanted);
}

/** The folder of an open lab as a path (the form the grading, services and tests use). */
export function labDirOf(open: OpenLab): string {
  return open.folder.uri.fsPath;
}

export class OpenLabs implements vscode.Disposable {
  private labs: readonly OpenLab[] = [];
  private readonly changed = new vscode.EventEmitter<readonly OpenLab[]>();
  /** Fires with the new list whenever a lab folder comes, goes, or its lab is reloaded. */
  readonly onDidChange = this.changed.event;
  /** Resolves after the first read (which waits for the catalog). */
  readonly ready: Promise<void>;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  /** Counts the reads, so that a slow one that finishes after a newer one is dropped. */
  private generation = 0;
  /** The newest read: an older one that finishes later waits for it instead. */
  private latest: Promise<void> = Promise.resolve();

  constructor(
    private readonly catalog: LabCatalog,
    private readonly log: vscode.LogOutputChannel,
  ) {
    // A marker is written when a lab is scaffolded into a folder, and goes with the folder's
    // contents; only the one at a folder's root counts.
    const markers = vscode.workspace.createFileSystemWatcher(`**/${LAB_MARKER_FILE}`);
    const onMarker = (uri: vscode.Uri): void => {
      if (workspaceFolderAt(path.dirname(uri.fsPath)) !== undefined) {
        this.refreshInBackground();
      }
    };
    this.disposables.push(
      markers,
      markers.onDidCreate(onMarker),
      markers.onDidChange(onMarker),
      markers.onDidDelete(onMarker),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refreshInBackground()),
      catalog.onDidChange(() => this.refreshInBackground()),
    );
    this.ready = this.refresh();
  }

  /** The open lab folders as last read; empty until `ready`. */
  current(): readonly OpenLab[] {
    return this.labs;
  }

  /** The open lab in folder `labDir`, if it is one. */
  inFolder(labDir: string): OpenLab | undefined {
    const wanted = path.resolve(labDir);
    return this.labs.find((l) => path.resolve(labDirOf(l)) === wanted);
  }

  /** The open folder of lab `labId`, if one is open. */
  ofLab(labId: string): OpenLab | undefined {
    return this.labs.find((l) => l.labId === labId);
  }

  /** Reads the markers of the workspace's folders again; resolves once the list is current. */
  refresh(): Promise<void> {
    const generation = ++this.generation;
    this.latest = this.read(generation);
    return this.latest;
  }

  private async read(generation: number): Promise<void> {
    await this.catalog.ready;
    const read: OpenLab[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') {
        continue;
      }
      const marker = await readLabMarker(folder.uri.fsPath);
      if (marker) {
        read.push({ folder, labId: marker.lab, lab: this.catalog.lab(marker.lab) });
      }
    }
    if (generation !== this.generation) {
      // A newer read started meanwhile: it decides, and this one is current when it is.
      return this.latest;
    }
    const changed = !sameLabs(this.labs, read);
    // Kept even when nothing changed: VS Code's folder objects may have been replaced (their index, say).
    this.labs = read;
    if (changed) {
      this.changed.fire(read);
    }
  }

  private refreshInBackground(): void {
    // The catalog may have failed to load; activation tells the learner that, so it is only logged here.
    this.refresh().catch((error: unknown) => this.log.error('Reading the open lab folders failed', error));
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

/** Whether two reads found the same labs in the same folders (a reloaded catalog makes new Lab objects: a change). */
function sameLabs(a: readonly OpenLab[], b: readonly OpenLab[]): boolean {
  return a.length === b.length && a.every((l, i) => l.labId === b[i]?.labId && l.lab === b[i]?.lab && l.folder.uri.toString() === b[i]?.folder.uri.toString());
}
