/**
 * prepareGrading for a grader whose services are 'fresh-containers': new containers in a
 * folder of the grader's (never the learner's own servers), removed once the grading ends.
 * The services are a recording stand-in: what is decided here is which calls are made.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/core/backend';
import { type GradingServices, gradingServicesFolder, prepareGrading } from '../../src/core/grading/prepareGrading';
import type { LabGrader } from '../../src/core/grading/labGrader';
import { type Lab, loadCatalog } from '../../src/core/labs/catalog';
import type { LabServicesForGrading, StartedServices } from '../../src/core/services/labServicesController';
import { DockerUnavailableError } from '../../src/core/services/runtime';
import { REAL_LABS_DIR, useTempDirs } from './helpers';

const tempDir = useTempDirs();

function recorder(options: { dockerDown?: boolean } = {}): { services: GradingServices; calls: string[] } {
  const calls: string[] = [];
  const started = (lab: Lab, backend: Backend): StartedServices => ({ labId: lab.id, backend, connections: [], limitations: [] });
  const services: GradingServices = {
    up: async (lab, dir, backend) => {
      calls.push(`up ${dir} ${backend}`);
      return started(lab, backend);
    },
    upFresh: async (lab, dir) => {
      calls.push(`upFresh ${dir}`);
      if (options.dockerDown) {
        throw new DockerUnavailableError('daemon-down', 'unix:///nowhere');
      }
      return started(lab, 'docker');
    },
    remove: async (_lab, dir) => {
      calls.push(`remove ${dir}`);
    },
    forGrading: () => ({ connections: [] }) as unknown as LabServicesForGrading,
    refresh: async (_lab, dir) => {
      calls.push(`refresh ${dir}`);
    },
  };
  return { services, calls };
}

const grader = { services: 'fresh-containers', engineLabel: (b: Backend) => `servers on ${b}` } as unknown as LabGrader;

async function aLab(): Promise<Lab> {
  const lab = (await loadCatalog(REAL_LABS_DIR)).find((e): e is Lab => e.ok);
  if (lab === undefined) {
    throw new Error('no lab in labs/');
  }
  return lab;
}

describe("prepareGrading with the grader's own fresh containers", () => {
  it('starts new containers in a folder of the grader inside .data-labs, never the lab folder itself, and removes them at the end', async () => {
    const labDir = await tempDir();
    const { services, calls } = recorder();
    const plan = await prepareGrading({ lab: await aLab(), labDir, grader, preferred: 'docker', services });
    const dir = gradingServicesFolder(labDir);
    expect(path.dirname(dir)).toBe(path.join(labDir, '.data-labs'));
    expect((await fs.stat(dir)).isDirectory()).toBe(true);
    expect(plan.backend).toBe('docker');
    expect(plan.services.labServices).toBeDefined();
    expect(calls).toEqual([`upFresh ${dir}`]);
    await plan.finish();
    expect(calls).toEqual([`upFresh ${dir}`, `remove ${dir}`]);
  });

  it('without Docker, falls back to the stand-ins as a containers grader does, and with --backend docker says why', async () => {
    const labDir = await tempDir();
    const { services } = recorder({ dockerDown: true });
    const plan = await prepareGrading({ lab: await aLab(), labDir, grader, preferred: 'docker', services });
    expect(plan.backend).toBe('embedded');
    expect(plan.fallback).toMatch(/Docker is not reachable/);
    await expect(prepareGrading({ lab: await aLab(), labDir, grader, requested: 'docker', preferred: 'docker', services })).rejects.toBeInstanceOf(DockerUnavailableError);
  });
});
