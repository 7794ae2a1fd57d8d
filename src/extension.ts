/**
 * Activation only: build the owner object, which registers and disposes everything.
 * Failures are shown to the learner, since VS Code itself only logs them.
 */
import * as vscode from 'vscode';
import { DataLabs, type DataLabsApi } from './dataLabs';

declare global {
  // Set by the bundle's first line (see esbuild.js) so activation can be timed from module load.
  var __dataLabsLoadStart: number | undefined;
}

export async function activate(context: vscode.ExtensionContext): Promise<DataLabsApi> {
  const log = vscode.window.createOutputChannel('Distributed Data Labs', { log: true });
  context.subscriptions.push(log);
  try {
    const api = await DataLabs.start(context, log);
    const started = globalThis.__dataLabsLoadStart;
    if (started !== undefined) {
      log.info(`Activated in ${(performance.now() - started).toFixed(1)} ms`);
    }
    return api;
  } catch (error) {
    log.error('Activation failed', error);
    void vscode.window
      .showErrorMessage(vscode.l10n.t('Distributed Data Labs could not start: {0}', String(error)), vscode.l10n.t('Show Log'))
      .then((choice) => choice && log.show());
    throw error;
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions and is disposed by VS Code.
}
