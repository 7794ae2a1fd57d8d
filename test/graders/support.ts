/**
 * What every grader's rigor test needs: the lab's PostgreSQL in Docker and embedded,
 * started the way `data-labs grade` starts them (one lab folder per backend: the embedded
 * server keeps its data in the folder), grading options on them, and the mutants table.
 * A grader that breaks the lab's containers themselves (Quorum) gets its own copies of
 * them instead (useLabContainers).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createServicesController } from '../../src/cli/servicesController';
import type { GradeOptions } from '../../src/core/grading/gradeLab';
import type { LabServicesForGrading } from '../../src/core/services/labServicesController';
import { type Lab, findLab, loadCatalog } from '../../src/core/labs/catalog';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
export const CLI = path.join(ROOT, 'dist', 'cli.js');
export const IMAGES = { postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7' };

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

export interface LabContainers {
  /** The lab as the catalog has it. */
  readonly lab: Lab;
  readonly workDir: string;
  readonly stateDir: string;
  /**
   * Grading options on the containers in Docker, unless `extra` says otherwise (backend
   * 'embedded': the grader's in-process stand-ins). Each call starts the containers again
   * (they are running: it waits until each answers) and hands over where they are now, as
   * every `data-labs grade` does: a container the last run killed came back on another port.
   */
  options(labDir: string, seed: number, extra?: Partial<GradeOptions>): Promise<GradeOptions>;
}

/**
 * Starts the lab's services in Docker before the file's tests, the way `data-labs grade`
 * does (createServicesController, up, then forGrading), and removes them after. The grader
 * pauses, kills and cuts off these containers, so they are this file's own: they are
 * started under a lab id of their own (`dtest-<lab>-<random>`, the Docker tests' prefix)
 * rather than the lab's, which a learner's or another test's `data-labs grade` may be
 * using at the same time. Read the fields inside tests.
 */
export function useLabContainers(labId: string): LabContainers {
  const state: { lab?: Lab; own?: Lab; workDir?: string } = {};
  const controller = (stateDir: string): ReturnType<typeof createServicesController> => createServicesController({ images: IMAGES, env: { ...process.env, DATA_LABS_STATE_DIR: stateDir } });
  let services: ReturnType<typeof createServicesController> | undefined;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not ready: use it inside a test.`);
    return value;
  };
  const start = async (): Promise<LabServicesForGrading> => {
    const workDir = need(state.workDir, 'the work folder');
    services ??= controller(path.join(workDir, 'state'));
    return services.forGrading(await services.up(need(state.own, 'the lab'), path.join(workDir, 'docker-lab'), { backend: 'docker' }));
  };
  beforeAll(async () => {
    const entry = findLab(await loadCatalog(path.join(ROOT, 'labs')), labId);
    if (!entry?.ok) throw new Error(`labs/${labId} is missing or broken`);
    state.lab = entry;
    const ownId = `dtest-${labId}-${randomBytes(3).toString('hex')}`;
    state.own = { ...entry, id: ownId, manifest: { ...entry.manifest, id: ownId } };
    state.workDir = await fs.mkdtemp(path.join(os.tmpdir(), `grader-${labId}-`));
    await fs.mkdir(path.join(state.workDir, 'docker-lab'));
    await start();
  });
  afterAll(async () => {
    if (state.workDir === undefined) return;
    if (state.own !== undefined) {
      await controller(path.join(state.workDir, 'state'))
        .down(state.own, path.join(state.workDir, 'docker-lab'), { remove: true })
        .catch(() => undefined);
    }
    await fs.rm(state.workDir, { recursive: true, force: true });
  });
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
    async options(labDir, seed, extra = {}) {
      const base = { labDir, seed, adaptersDir: path.join(ROOT, 'dist', 'adapters'), workDir: need(state.workDir, 'the work folder') };
      if (extra.backend === 'embedded') return { ...base, backend: 'embedded', ...extra };
      return { ...base, backend: 'docker', labServices: await start(), ...extra };
    },
  };
}
