/**
 * What every grader's rigor test needs, for any lab pack: the lab and its grader as the
 * product finds them, the learner folders to grade (the reference and each mutant,
 * assembled from the lab's starter, solution and mutant files at test time), the seeds to
 * run, and the services the grader uses, started the way `data-labs grade` starts them:
 *
 * - a grader of the lab's database gets the lab's PostgreSQL in Docker and embedded (one
 *   lab folder per backend: the embedded server keeps its data in the folder);
 * - a grader that breaks the lab's containers (pause, kill, cut off) gets containers of its
 *   own, started under a lab id of their own (`dtest-<lab>-<random>`, the Docker tests'
 *   prefix), since a learner's or another test's grading may be using the lab's.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createServicesController } from '../../src/cli/servicesController';
import type { GradeOptions } from '../../src/core/grading/gradeLab';
import type { LabGrader } from '../../src/core/grading/labGrader';
import { loadLabGrader } from '../../src/core/grading/labGraders';
import { type Lab, findLab, loadCatalog } from '../../src/core/labs/catalog';
import type { LabServicesForGrading } from '../../src/core/services/labServicesController';
import { buildScript } from '../support/buildScript';
import { VARIANTS_DIR } from '../support/labVariants';

export { assembleVariant, mutantFiles } from '../support/labVariants';

export const ROOT = path.resolve(__dirname, '..', '..');
export const LABS_DIR = path.join(ROOT, 'labs');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
/** The sandbox's bundles (child harness and adapters), built by `node esbuild.js`. */
export const SANDBOX_DIR = path.join(ROOT, 'dist', 'sandbox');
export const IMAGES = { postgres: 'data-labs-local/postgres:15', redis: 'data-labs-local/redis:7', memcached: 'data-labs-local/memcached:1.6' };

function seedCount(variable: string, fallback: number): number {
  const text = process.env[variable];
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${variable} must be a whole number of seeds, at least 1 (it is "${text ?? ''}").`);
  }
  return n;
}

/**
 * The seeds each reference and each mutant is graded with: 1..N. CI runs 3 and 2
 * (`npm run test:rigor`); the full sweep is `npm run test:rigor -- --seeds 20`, which sets
 * both (test/rigor/run.mjs).
 */
export const REFERENCE_SEEDS = Array.from({ length: seedCount('DATA_LABS_RIGOR_REFERENCE_SEEDS', 3) }, (_, i) => i + 1);
export const MUTANT_SEEDS = Array.from({ length: seedCount('DATA_LABS_RIGOR_MUTANT_SEEDS', 2) }, (_, i) => i + 1);

/** A realistic bug: the learner files it changes are in labs/<lab>/mutants/<mutant>/, and it must fail the check `fails`. */
export interface Mutant {
  readonly mutant: string;
  readonly fails: string;
}

/** labs/<lab>/mutants/mutants.json. */
export function mutantsOf(labId: string): Mutant[] {
  return JSON.parse(readFileSync(path.join(LABS_DIR, labId, 'mutants', 'mutants.json'), 'utf8')) as Mutant[];
}

/** The labs with a grader, found as the build finds them; synchronous, so tests can be declared per lab. */
export function gradedLabIds(): string[] {
  return buildScript().gradedLabIds(LABS_DIR);
}

export async function labFromCatalog(labId: string): Promise<Lab> {
  const entry = findLab(await loadCatalog(LABS_DIR), labId);
  if (!entry?.ok) throw new Error(`labs/${labId} is missing or broken`);
  return entry;
}

/**
 * A learner folder of hand-written files (a compile error, a missing export...), assembled
 * where the variants are, so that packages resolve as from a lab's node_modules; removed
 * after `run`.
 */
export async function withLearnerFolder(labId: string, name: string, files: Readonly<Record<string, string>>, run: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = path.join(VARIANTS_DIR, labId, `.tmp-${name}`);
  await fs.rm(dir, { recursive: true, force: true });
  for (const [file, text] of Object.entries({ 'package.json': `{"name":"${name}","private":true}`, ...files })) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
  try {
    await run(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export interface GradingEnvironment {
  readonly lab: Lab;
  readonly grader: LabGrader;
  readonly workDir: string;
  readonly stateDir: string;
  /** The lab's PostgreSQL (graders of the lab's database). */
  readonly dockerUrl: string;
  readonly embeddedUrl: string;
  /**
   * Grading options on Docker, unless `extra` says otherwise (backend 'embedded': the
   * embedded PostgreSQL, or the grader's in-process stand-ins). For a grader that breaks the
   * lab's containers, each call starts them again (they are running: it waits until each
   * answers) and hands over where they are now, as every `data-labs grade` does: a container
   * the last run killed came back on another port.
   */
  options(labDir: string, seed: number, extra?: Partial<GradeOptions>): Promise<GradeOptions>;
}

/** Starts what the lab's grader needs before the enclosing tests and removes it after; read the fields inside tests. */
export function useGradingEnvironment(labId: string): GradingEnvironment {
  const state: { lab?: Lab; grader?: LabGrader; own?: Lab; workDir?: string; dockerUrl?: string; embeddedUrl?: string } = {};
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not ready: use it inside a test.`);
    return value;
  };
  const controller = (): ReturnType<typeof createServicesController> =>
    createServicesController({
      images: IMAGES,
      env: { ...process.env, DATA_LABS_STATE_DIR: path.join(need(state.workDir, 'the work folder'), 'state') },
      embeddedServerScript: path.join(ROOT, 'dist', 'embedded-postgres.js'),
    });
  let services: ReturnType<typeof createServicesController> | undefined;
  // A grader of fresh containers gets them made anew for each grading, as prepareGrading does.
  const startContainers = async (): Promise<LabServicesForGrading> => {
    services ??= controller();
    const fresh = state.grader?.services === 'fresh-containers';
    return services.forGrading(await services.up(need(state.own, 'the lab'), path.join(need(state.workDir, 'the work folder'), 'docker-lab'), { backend: 'docker', ...(fresh ? { reset: true } : {}) }));
  };

  beforeAll(async () => {
    const lab = await labFromCatalog(labId);
    state.lab = lab;
    state.grader = await loadLabGrader(lab);
    state.workDir = await fs.mkdtemp(path.join(os.tmpdir(), `grader-${labId}-`));
    await fs.mkdir(path.join(state.workDir, 'docker-lab'));
    await fs.mkdir(path.join(state.workDir, 'embedded-lab'));
    if (state.grader.services === 'database') {
      const c = controller();
      state.dockerUrl = (await c.up(lab, path.join(state.workDir, 'docker-lab'), { backend: 'docker' })).connections[0]?.url ?? '';
      state.embeddedUrl = (await c.up(lab, path.join(state.workDir, 'embedded-lab'), { backend: 'embedded' })).connections[0]?.url ?? '';
    } else if (state.grader.services === 'containers' || state.grader.services === 'fresh-containers') {
      const ownId = `dtest-${labId}-${randomBytes(3).toString('hex')}`;
      state.own = { ...lab, id: ownId, manifest: { ...lab.manifest, id: ownId } };
      await startContainers();
    }
  });

  afterAll(async () => {
    if (state.workDir === undefined || state.lab === undefined) return;
    const c = controller();
    if (state.own !== undefined) {
      await c.down(state.own, path.join(state.workDir, 'docker-lab'), { remove: true }).catch(() => undefined);
    } else if (state.grader?.services === 'database') {
      await c.down(state.lab, path.join(state.workDir, 'docker-lab'), { remove: true }).catch(() => undefined);
      await c.down(state.lab, path.join(state.workDir, 'embedded-lab'), { skipDocker: true, remove: true }).catch(() => undefined);
    }
    await fs.rm(state.workDir, { recursive: true, force: true });
  });

  return {
    get lab() {
      return need(state.lab, 'the lab');
    },
    get grader() {
      return need(state.grader, 'the grader');
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
    async options(labDir, seed, extra = {}) {
      const base = { labDir, seed, sandboxDir: SANDBOX_DIR, workDir: need(state.workDir, 'the work folder') };
      const grader = need(state.grader, 'the grader');
      const backend = extra.backend ?? 'docker';
      if (grader.services === 'database') {
        return { ...base, backend, databaseUrl: backend === 'docker' ? need(state.dockerUrl, 'the Docker database') : need(state.embeddedUrl, 'the embedded database'), ...extra };
      }
      if (grader.services === 'none' || backend === 'embedded') return { ...base, backend, ...extra };
      return { ...base, backend, labServices: await startContainers(), ...extra };
    },
  };
}
