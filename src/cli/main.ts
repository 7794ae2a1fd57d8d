/** Entry point of the `data-labs` executable (bundled to dist/cli.js). */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli } from './cli';

// dist/cli.js sits one folder below the product root, beside which labs/ and package.json live.
const productRoot = path.resolve(__dirname, '..');

function productVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(productRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

runCli({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  labsDir: path.join(productRoot, 'labs'),
  embeddedServerScript: path.join(__dirname, 'embedded-postgres.js'),
  adaptersDir: path.join(__dirname, 'adapters'),
  version: productVersion(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`data-labs: unexpected error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
