/** Entry point of the `data-labs` executable (bundled to dist/cli.js). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './cli';

/** How long the process may stay after its command returned before it exits regardless. */
const EXIT_GRACE_MS = 5_000;

// dist/cli.js sits one folder below the product root, beside which labs/ and package.json live.
const productRoot = path.resolve(__dirname, '..');

function productVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(productRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * For a command that must clean up when interrupted (a grading heals its faults and ends the
 * learner's process): the first Ctrl-C aborts the signal, a second one quits at once.
 */
let interrupted: AbortController | undefined;
function catchInterrupts(): AbortSignal {
  if (interrupted === undefined) {
    const controller = new AbortController();
    interrupted = controller;
    process.on('SIGINT', () => {
      if (controller.signal.aborted) {
        process.exit(130);
      }
      process.stderr.write('\ndata-labs: stopping cleanly (Ctrl-C again to quit at once)...\n');
      controller.abort();
    });
  }
  return interrupted.signal;
}

runCli({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  labsDir: path.join(productRoot, 'labs'),
  embeddedServerScript: path.join(__dirname, 'embedded-postgres.js'),
  sandboxDir: path.join(__dirname, 'sandbox'),
  catchInterrupts,
  version: productVersion(),
}).then(
  (code) => {
    process.exitCode = code;
    // A command ends what it started before it returns. Should anything still hold the
    // process open (a leak), it exits anyway, saying so, instead of hanging a script.
    setTimeout(() => {
      process.stderr.write(`data-labs: something was still open ${EXIT_GRACE_MS / 1000} s after the command ended; exiting anyway.\n`);
      process.exit(code);
    }, EXIT_GRACE_MS).unref();
  },
  (error: unknown) => {
    process.stderr.write(`data-labs: unexpected error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
