/**
 * Getting a lab's services ready for its grader, the same way in the editor and the CLI:
 * start them (or reuse the running ones) on the backend wanted; when Docker cannot be
 * reached and no backend was insisted on, fall back to what can stand in without it (the
 * embedded PostgreSQL, or the grader's own stand-ins); and after the grading, read the
 * services again, since a grader that killed a container got it back on another port, and
 * stop an embedded server the grading started itself (one already running is left running).
 * Each face brings its own way of starting services (GradingServices); the decisions are here.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../backend';
import type { Lab } from '../labs/catalog';
import { type LabServicesForGrading, type StartedServices, labAllowsEmbedded } from '../services/labServicesController';
import { DockerUnavailableError } from '../services/runtime';
import type { GradeOptions } from './gradeLab';
import type { LabGrader } from './labGrader';

/** How a face starts a lab's services (the CLI's controller; the editor's manager, with its progress and views). */
export interface GradingServices {
  /**
   * Starts the lab's services on `backend`, or reuses them when they already run there, and
   * says where they are. Rejects with DockerUnavailableError when Docker cannot be reached.
   */
  up(lab: Lab, labDir: string, backend: Backend, signal?: AbortSignal): Promise<StartedServices>;
  /**
   * New containers of the lab's services for `dir` (a folder of the grader's), on Docker: any
   * that exist for it are removed first. For a grader whose services are 'fresh-containers'.
   */
  upFresh(lab: Lab, dir: string, signal?: AbortSignal): Promise<StartedServices>;
  /** Removes the containers (and network) of `dir`. */
  remove(lab: Lab, dir: string): Promise<void>;
  /** The started containers, as a grader that breaks them needs them (Docker only). */
  forGrading(started: StartedServices): LabServicesForGrading;
  /** Reads the running containers again after a grading that may have restarted some (.env and views follow). */
  refresh(lab: Lab, labDir: string): Promise<void>;
  /**
   * Stops the lab's embedded server after a grading that started it (the CLI: a server of
   * about 300 MB must not outlive the command). Without it, a server the grading started
   * stays, as the lab's database (the editor's ends with the editor).
   */
  stopEmbedded?(lab: Lab, labDir: string): Promise<void>;
}

export interface GradingPlan {
  readonly backend: Backend;
  /** What runs the lab's services, as the report names it. */
  readonly engine: string;
  /** The services part of gradeLab's options. */
  readonly services: Pick<GradeOptions, 'databaseUrl' | 'labServices'>;
  /** Set when the grading runs elsewhere than wanted, saying why, for the learner. */
  readonly fallback?: string;
  /** Call once the grading ended, however it ended. */
  finish(): Promise<void>;
}

export interface PrepareGradingOptions {
  readonly lab: Lab;
  readonly labDir: string;
  readonly grader: LabGrader;
  /** The backend the learner insisted on (`--backend`); no fallback then. */
  readonly requested?: Backend;
  /** The backend to try when none was insisted on (Docker, or the learner's setting for the lab). */
  readonly preferred: Backend;
  readonly services: GradingServices;
  readonly signal?: AbortSignal;
}

/**
 * Where a grader's own containers belong: a folder inside the lab's `.data-labs` (which git
 * ignores). Containers are told apart by folder, so these are never the learner's.
 */
export function gradingServicesFolder(labDir: string): string {
  return path.join(labDir, '.data-labs', 'grading-services');
}

function firstLine(error: Error): string {
  return error.message.split('\n')[0] ?? '';
}

/** Starts (or reuses) what the lab's grader needs; see the file's comment. */
export async function prepareGrading(options: PrepareGradingOptions): Promise<GradingPlan> {
  const { lab, labDir, grader, services, signal } = options;
  const wanted = options.requested ?? options.preferred;
  const mayFallBack = options.requested === undefined;
  const done = async (): Promise<void> => undefined;

  if (grader.services === 'none') {
    return { backend: wanted, engine: grader.engineLabel(wanted), services: {}, finish: done };
  }

  if (grader.services === 'database') {
    const databaseUrl = (started: StartedServices): string => {
      const url = started.connections[0]?.url;
      if (url === undefined) {
        throw new Error(`The lab's database did not start, so ${lab.id} cannot be graded. Start its databases (Containers view, or "data-labs services up ${lab.id}") and grade again.`);
      }
      return url;
    };
    // An embedded server this grading started (none ran for the folder) is stopped after it.
    const finishing = (started: StartedServices): (() => Promise<void>) => {
      const stop = services.stopEmbedded;
      const startedHere = started.backend === 'embedded' && started.connections.some((c) => c.created === true);
      return startedHere && stop !== undefined ? () => stop(lab, labDir) : done;
    };
    try {
      const started = await services.up(lab, labDir, wanted, signal);
      return { backend: wanted, engine: grader.engineLabel(wanted), services: { databaseUrl: databaseUrl(started) }, finish: finishing(started) };
    } catch (error) {
      if (!(error instanceof DockerUnavailableError) || wanted !== 'docker' || !mayFallBack || !labAllowsEmbedded(lab)) {
        throw error;
      }
      const started = await services.up(lab, labDir, 'embedded', signal);
      return {
        backend: 'embedded',
        engine: grader.engineLabel('embedded'),
        services: { databaseUrl: databaseUrl(started) },
        fallback: `Docker is not reachable (${firstLine(error)}); grading on the embedded PostgreSQL instead. Checks that need real concurrency will be "unknown".`,
        finish: finishing(started),
      };
    }
  }

  // The grader breaks the lab's own containers on Docker (or new ones of its own), and brings stand-ins of its own otherwise.
  if (wanted === 'embedded') {
    return { backend: 'embedded', engine: grader.engineLabel('embedded'), services: {}, finish: done };
  }
  try {
    if (grader.services === 'fresh-containers') {
      const dir = gradingServicesFolder(labDir);
      await fs.mkdir(dir, { recursive: true });
      const started = await services.upFresh(lab, dir, signal);
      return { backend: 'docker', engine: grader.engineLabel('docker'), services: { labServices: services.forGrading(started) }, finish: () => services.remove(lab, dir) };
    }
    const started = await services.up(lab, labDir, 'docker', signal);
    return {
      backend: 'docker',
      engine: grader.engineLabel('docker'),
      services: { labServices: services.forGrading(started) },
      // A container the grader killed came back, maybe on another port: .env follows.
      finish: () => services.refresh(lab, labDir),
    };
  } catch (error) {
    if (!(error instanceof DockerUnavailableError) || !mayFallBack) {
      throw error;
    }
    return {
      backend: 'embedded',
      engine: grader.engineLabel('embedded'),
      services: {},
      fallback: `Docker is not reachable (${firstLine(error)}); grading on the grader's ${grader.engineLabel('embedded')} instead.`,
      finish: done,
    };
  }
}
