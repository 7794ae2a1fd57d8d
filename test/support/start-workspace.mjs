// The window `npm start` opens: a multi-root workspace file of its own, with no folder at
// first, to which opening a lab adds the lab's folder (and only it). Opening the labs folder
// itself showed every lab twice in the Explorer (as a subfolder, and as the root the lab is
// added as); an empty single-folder-less window would reload when the first lab is added.
// The file is kept between starts, so the labs opened last time are there again.
//
//   node test/support/start-workspace.mjs <state-dir>    prints the workspace file's path
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function startWorkspace(stateDir) {
  const file = path.join(stateDir, 'data-labs.code-workspace');
  fs.mkdirSync(stateDir, { recursive: true });
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, `${JSON.stringify({ folders: [], settings: {} }, null, 2)}\n`);
  }
  return file;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const stateDir = process.argv[2];
  if (stateDir === undefined) {
    console.error('usage: node test/support/start-workspace.mjs <state-dir>');
    process.exit(2);
  }
  console.log(startWorkspace(path.resolve(stateDir)));
}
