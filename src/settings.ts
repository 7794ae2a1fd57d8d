/**
 * The `dataLabs.*` settings (package.json's `contributes.configuration`), typed, in one
 * place. Every editor module reads settings through this object rather than through
 * `vscode.workspace.getConfiguration`, so a setting's name, default and clean-up are
 * written once.
 *
 * Each getter reads the live configuration, so a value is never older than VS Code's own
 * (a command run right after `update()` sees the new value). `onDidChange` is for the
 * modules that keep something derived from a setting and must redo it when it changes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Backend } from './core/backend';
import { defaultLabsRoot, expandHome } from './core/labs/scaffold';

const SECTION = 'dataLabs';

/** The names under `dataLabs.` that package.json declares. */
export type SettingName = 'labsRoot' | 'installDependenciesOnOpen' | 'openReadmeOnOpen' | 'databases' | 'startDatabasesOnOpen' | 'images' | 'showWalkthroughOnFirstStart';

/** What changed: ask it about a setting by its name under `dataLabs.`. */
export interface SettingsChange {
  affects(name: SettingName): boolean;
}

export class Settings implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<SettingsChange>();
  /** Fires when any `dataLabs.*` setting changes (in any scope). */
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor() {
    this.subscription = vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SECTION)) {
        this.changed.fire({ affects: (name) => event.affectsConfiguration(`${SECTION}.${name}`) });
      }
    });
  }

  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SECTION);
  }

  /** `dataLabs.labsRoot`: the learner's labs folder, absolute, `~` expanded. */
  get labsRoot(): string {
    const configured = this.config.get<string>('labsRoot')?.trim();
    return path.resolve(expandHome(configured || defaultLabsRoot()));
  }

  /** `dataLabs.databases`: where labs' databases run unless a lab was switched; anything unknown is Docker. */
  get databases(): Backend {
    return this.config.get<string>('databases') === 'embedded' ? 'embedded' : 'docker';
  }

  /** `dataLabs.images`: another image per service, with anything that is not a non-empty string dropped. */
  get images(): Record<string, string> {
    const raw = this.config.get<unknown>('images');
    const result: Record<string, string> = {};
    if (typeof raw === 'object' && raw !== null) {
      for (const [service, image] of Object.entries(raw)) {
        if (typeof image === 'string' && image.trim() !== '') {
          result[service] = image.trim();
        }
      }
    }
    return result;
  }

  /** `dataLabs.startDatabasesOnOpen`. */
  get startDatabasesOnOpen(): boolean {
    return this.config.get<boolean>('startDatabasesOnOpen', true);
  }

  /** `dataLabs.installDependenciesOnOpen`. */
  get installDependenciesOnOpen(): boolean {
    return this.config.get<boolean>('installDependenciesOnOpen', true);
  }

  /** `dataLabs.showWalkthroughOnFirstStart`. */
  get showWalkthroughOnFirstStart(): boolean {
    return this.config.get<boolean>('showWalkthroughOnFirstStart', true);
  }

  /** `dataLabs.openReadmeOnOpen`. */
  get openReadmeOnOpen(): boolean {
    return this.config.get<boolean>('openReadmeOnOpen', true);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
