/**
 * Loads the services engine (see engine.ts) from beside the extension's bundle, once.
 * In the bundle, `__dirname` is `dist/`, where esbuild.js writes `services-engine.js`.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

export type Engine = typeof import('./engine');

let engine: Engine | undefined;

export function loadEngine(): Engine {
  // Loaded by a computed path at run time, which esbuild leaves alone: the engine stays a separate file.
  engine ??= createRequire(__filename)(path.join(__dirname, 'services-engine.js')) as Engine;
  return engine;
}
