/**
 * The lab catalog: every `labs/<id>/lab.json` shipped with the product. A lab whose
 * manifest is wrong becomes a `BrokenLab` carrying its problems; the others load.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type LabManifest, type ManifestProblem, parseManifest } from './manifest';

export const MANIFEST_FILE_NAME = 'lab.json';

export interface Lab {
  readonly ok: true;
  readonly id: string;
  /** The lab's folder inside the product (`labs/<id>`). */
  readonly dir: string;
  readonly manifest: LabManifest;
}

export interface BrokenLab {
  readonly ok: false;
  /** The folder name, since the manifest's own id cannot be trusted. */
  readonly id: string;
  readonly dir: string;
  readonly problems: readonly ManifestProblem[];
}

export type CatalogEntry = Lab | BrokenLab;

export async function loadCatalog(labsDir: string): Promise<CatalogEntry[]> {
  let names: string[];
  try {
    names = (await fs.readdir(labsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
  names.sort();
  return Promise.all(names.map((name) => loadLab(path.join(labsDir, name))));
}

/** Loads one lab folder and checks its manifest against the schema and the files on disk. */
export async function loadLab(dir: string): Promise<CatalogEntry> {
  const folderName = path.basename(dir);
  const file = path.join(dir, MANIFEST_FILE_NAME);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    return { ok: false, id: folderName, dir, problems: [{ file, field: '', message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }] };
  }
  const parsed = parseManifest(text, file);
  if (!parsed.ok) {
    return { ok: false, id: folderName, dir, problems: parsed.problems };
  }
  const manifest = parsed.manifest;
  const problems: ManifestProblem[] = [];
  if (manifest.id !== folderName) {
    problems.push({ file, field: 'id', message: `is "${manifest.id}" but the folder is "${folderName}"; they must match` });
  }
  const mustExist: Array<[field: string, relative: string]> = [
    ['readme', manifest.readme],
    ...manifest.starter.files.map((f, i): [string, string] => [`starter.files.${i}`, path.join(manifest.starter.dir, f)]),
  ];
  for (const [field, relative] of mustExist) {
    if (!(await isFile(path.join(dir, relative)))) {
      problems.push({ file, field, message: `names "${relative}", which does not exist in ${dir}` });
    }
  }
  if (problems.length > 0) {
    return { ok: false, id: folderName, dir, problems };
  }
  return { ok: true, id: manifest.id, dir, manifest };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

export function findLab(catalog: readonly CatalogEntry[], id: string): CatalogEntry | undefined {
  return catalog.find((entry) => entry.id === id);
}
