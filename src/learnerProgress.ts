/**
 * The learner's progress (progress.json in the extension's global storage), loaded in the
 * background at start-up and kept in step with the file: another window or the CLI may
 * change it, and this window shows their changes too. An unreadable file is kept aside by
 * the store and reported to the learner here, once.
 */
import * as vscode from 'vscode';
import type { ProgressStore } from './core/curriculum/progress';

export class LearnerProgress implements vscode.Disposable {
  private loaded: ProgressStore | undefined;
  /** Resolves once the store is loaded; `store` may be read from then on. */
  readonly ready: Promise<void>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    /** The folder of progress.json. */
    readonly dir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.ready = this.load();
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), 'progress.json'));
    const reload = (): void => {
      // Another process may also have left the file unreadable; the reload keeps it aside, and it is reported here.
      void this.ready
        .then(() => this.store.reload())
        .then(() => this.reportUnreadable())
        .catch((error: unknown) => log.error('Reloading progress failed', error));
    };
    this.disposables.push(watcher, watcher.onDidChange(reload), watcher.onDidCreate(reload));
  }

  /** The progress store; only after `ready`. */
  get store(): ProgressStore {
    if (!this.loaded) {
      throw new Error('Progress is not loaded yet: wait for ready.');
    }
    return this.loaded;
  }

  private async load(): Promise<void> {
    // Loaded on first use, not at activation: the schema library is the costliest module to evaluate.
    const { ProgressStore } = await import('./core/curriculum/progress');
    this.loaded = await ProgressStore.open({ dir: this.dir });
    this.log.info(`Progress file: ${this.loaded.file}`);
    this.reportUnreadable();
  }

  /** Tells the learner, once, that their progress file could not be read and where it was kept. */
  private reportUnreadable(): void {
    const notice = this.store.takeNotice();
    if (!notice) {
      return;
    }
    if (notice.kind === 'newer') {
      this.log.warn(`Progress file ${notice.file} was ${notice.reason}: read-only here`);
      void vscode.window.showWarningMessage(
        vscode.l10n.t('Your progress file {0} was {1}. It is left as it is, and this version records no progress into it. Update Data Labs to keep recording.', notice.file, notice.reason),
      );
      return;
    }
    this.log.warn(`Progress file was unreadable (${notice.reason}); kept as ${notice.keptAs}`);
    const reveal = vscode.l10n.t('Show the Kept File');
    void vscode.window
      .showWarningMessage(
        vscode.l10n.t('Your saved progress could not be read ({0}). It was kept as {1} and progress starts afresh. You can import an exported copy.', notice.reason, notice.keptAs),
        reveal,
      )
      .then((choice) => choice === reveal && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(notice.keptAs)));
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
