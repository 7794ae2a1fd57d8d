/**
 * The starter kit: the files every lab of a kind gives its learner the same way (the `Db`
 * contract of the PostgreSQL labs and their connection helper; the test set-up and Vitest
 * settings of the labs with one database; the TypeScript settings) must not drift apart between labs. Each such file is
 * compared across the labs that have it, with what legitimately differs (the lab's id, its
 * main module's name) put back to a placeholder first. A lab that needs a file of its own
 * gives it another name.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Lab, loadCatalog } from '../../src/core/labs/catalog';
import { REAL_LABS_DIR } from './helpers';

/** A starter file held equal across the labs of a kind, each of which must have it. */
interface KitFile {
  readonly file: string;
  readonly kind: (lab: Lab) => boolean;
}

/**
 * PostgreSQL is the lab's only kind of database, so the learner's code works in it through the
 * kit's Db. (Where PostgreSQL sits beside Redis behind a contract of the lab's own, as the
 * Key-value lab's products table, the learner's code never touches it.)
 */
const usesPostgres = (lab: Lab): boolean => lab.manifest.services.length > 0 && lab.manifest.services.every((s) => s.service === 'postgres');
/** One PostgreSQL and nothing else: every test file needs that one database, and checks it first. */
const usesOneDatabase = (lab: Lab): boolean => lab.manifest.services.length === 1 && lab.manifest.services.every((s) => s.service === 'postgres' && s.count === 1);

const KIT: readonly KitFile[] = [
  { file: 'src/db.ts', kind: usesPostgres },
  { file: 'test/connection.ts', kind: usesPostgres },
  { file: 'test/setup.ts', kind: usesOneDatabase },
  { file: 'vitest.config.ts', kind: usesOneDatabase },
  { file: 'tsconfig.json', kind: () => true },
];

/** The file's text with the lab's own names replaced by placeholders. */
function normalised(lab: Lab, file: string): string {
  const text = readFileSync(path.join(lab.dir, lab.manifest.starter.dir, file), 'utf8');
  const main = path.basename(lab.manifest.starter.main);
  return text.split(main).join('<main module>').split(lab.id).join('<lab id>');
}

describe('the starter kit', () => {
  it('each kit file is the same in every lab that has it, but for the lab\'s id and main module', async () => {
    const labs = (await loadCatalog(REAL_LABS_DIR)).filter((e): e is Lab => e.ok);
    for (const { file, kind } of KIT) {
      const ofKind = labs.filter(kind);
      for (const lab of ofKind) {
        expect(lab.manifest.starter.files, `${lab.id} must have the kit's ${file}`).toContain(file);
      }
      const [first, ...rest] = ofKind;
      if (first === undefined) continue;
      for (const lab of rest) {
        expect(normalised(lab, file), `${lab.id}/${file} differs from ${first.id}/${file}`).toBe(normalised(first, file));
      }
    }
  });

  it('every starter keeps out of git what the product writes into the lab folder: node_modules, .env (passwords) and .data-labs (data, pid, password, log)', async () => {
    const labs = (await loadCatalog(REAL_LABS_DIR)).filter((e): e is Lab => e.ok);
    expect(labs.length).toBeGreaterThan(0);
    for (const lab of labs) {
      expect(lab.manifest.starter.files, `${lab.id} must have a .gitignore`).toContain('.gitignore');
      const lines = readFileSync(path.join(lab.dir, lab.manifest.starter.dir, '.gitignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
      for (const entry of ['node_modules/', '.env', '.data-labs/']) {
        expect(lines, `${lab.id}/.gitignore must list ${entry}`).toContain(entry);
      }
    }
  });
});
