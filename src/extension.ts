/**
 * Activation only: build the owner object, which registers and disposes everything.
 * Failures are shown to the learner, since VS Code itself only logs them.
 */
import * as vscode from 'vscode';
import { DataLabs, type DataLabsApi } from './dataLabs';

declare global {
  // Set by the bundle's first line (see esbuild.js) so activation can be timed from module load.
  var __dataLabsLoadStart: number | undefined;
  // Set by the bundle's last line: module evaluation ends there.
  var __dataLabsLoadEnd: number | undefined;
}

/** The running instance, so deactivate() can stop the labs' databases. */
let running: DataLabsApi | undefined;

export function activate(context: vscode.ExtensionContext): DataLabsApi {
  const entered = performance.now();
  const log = vscode.window.createOutputChannel('Distributed Data Labs', { log: true });
  context.subscriptions.push(log);
  try {
    const api = DataLabs.start(context, log);
    running = api;
    const { __dataLabsLoadStart: loadStart, __dataLabsLoadEnd: loadEnd } = globalThis;
    if (loadStart !== undefined && loadEnd !== undefined) {
      // Module evaluation plus activate(): the time this extension itself costs. The gap
      // between the two is VS Code preparing the extension context, logged apart.
      const moduleMs = loadEnd - loadStart;
      const activateMs = performance.now() - entered;
      log.info(`Activated in ${(moduleMs + activateMs).toFixed(1)} ms (module ${moduleMs.toFixed(1)} ms, activate() ${activateMs.toFixed(1)} ms; VS Code's gap before activate() ${(entered - loadEnd).toFixed(1)} ms)`);
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

/**
 * Stops (parks) the databases this window started; VS Code waits for the promise. The
 * rest is in context.subscriptions and disposed by VS Code. Should the editor die
 * before this finishes, the next start's sweep removes what is left.
 */
export async function deactivate(): Promise<void> {
  const api = running;
  running = undefined;
  await api?.services.stopAll();
}
