/**
 * What every grader's rigor test needs: the lab's PostgreSQL in Docker and embedded,
 * started the way `data-labs grade` starts them (one lab folder per backend: the embedded
 * server keeps its data in the folder), grading options on them, and the mutants table.
 */
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createServicesController } from '../../src/cli/servicesController';
import type { GradeOptions } from '../../src/core/grading/gradeLab';
import { type Lab, findLab, loadCatalog } from '../../src/core/labs/catalog';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
export const CLI = path.join(ROOT, 'dist', 'cli.js');
export const IMAGES = { postgres: 'data-labs-local/postgres:15' };

export interface Mutant {
  readonly mutant: string;
  readonly fails: string;
}

/** test/graders/<folder>/mutants.json. */
export function mutantsOf(folder: string): Mutant[] {
  return JSON.parse(readFileSync(path.join(ROOT, 'test', 'graders', folder, 'mutants.json'), 'utf8')) as Mutant[];
}

export interface LabDatabases {
  readonly lab: Lab;
  readonly workDir: string;
  readonly stateDir: string;
  readonly dockerUrl: string;
  readonly embeddedUrl: string;
  /** Grading options on PostgreSQL in Docker, unless `extra` says otherwise. */
  options(labDir: string, seed: number, extra?: Partial<GradeOptions>): GradeOptions;
}

/** Starts the lab's databases before the file's tests and removes them after; read the fields inside tests. */
export function useLabDatabases(labId: string): LabDatabases {
  const state: { lab?: Lab; workDir?: string; dockerUrl?: string; embeddedUrl?: string } = {};
  const controller = (stateDir: string): ReturnType<typeof createServicesController> =>
    createServicesController({ images: IMAGES, env: { ...process.env, DATA_LABS_STATE_DIR: stateDir }, embeddedServerScript: path.join(ROOT, 'dist', 'embedded-postgres.js') });
  beforeAll(async () => {
    const entry = findLab(await loadCatalog(path.join(ROOT, 'labs')), labId);
    if (!entry?.ok) throw new Error(`labs/${labId} is missing or broken`);
    state.lab = entry;
    state.workDir = await fs.mkdtemp(path.join(os.tmpdir(), `grader-${labId}-`));
    const services = controller(path.join(state.workDir, 'state'));
    const dockerDir = path.join(state.workDir, 'docker-lab');
    const embeddedDir = path.join(state.workDir, 'embedded-lab');
    await fs.mkdir(dockerDir);
    await fs.mkdir(embeddedDir);
    state.dockerUrl = (await services.up(entry, dockerDir, { backend: 'docker' })).connections[0]?.url ?? '';
    state.embeddedUrl = (await services.up(entry, embeddedDir, { backend: 'embedded' })).connections[0]?.url ?? '';
  });
  afterAll(async () => {
    if (state.workDir === undefined || state.lab === undefined) return;
    await controller(path.join(state.workDir, 'state'))
      .down(state.lab, path.join(state.workDir, 'embedded-lab'), { skipDocker: true, remove: true })
      .catch(() => undefined);
    await fs.rm(state.workDir, { recursive: true, force: true });
  });
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not ready: use it inside a test.`);
    return value;
  };
  return {
    get lab() {
      return need(state.lab, 'the lab');
    },
    get workDir() {
      return need(state.workDir, 'the work folder');
    },
    get stateDir() {
      return path.join(need(state.workDir, 'the work folder'), 'state');
    },
    get dockerUrl() {
      return need(state.dockerUrl, 'the Docker database');
    },
    get embeddedUrl() {
      return need(state.embeddedUrl, 'the embedded database');
    },
    options(labDir, seed, extra = {}) {
      return { labDir, backend: 'docker', seed, databaseUrl: need(state.dockerUrl, 'the Docker database'), adaptersDir: path.join(ROOT, 'dist', 'adapters'), workDir: need(state.workDir, 'the work folder'), ...extra };
    },
  };
}
