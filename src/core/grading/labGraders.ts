/**
 * The graders of the labs this build carries, by lab id. They are found at build time
 * (labGraderModules.d.ts): adding a lab's folder with a grader/index.ts is all it takes, and
 * nothing here names a lab. A grader module is loaded on first use and checked before use.
 */
import { labGraderModules } from 'data-labs:lab-graders';
import type { Lab } from '../labs/catalog';
import type { LabGrader } from './labGrader';

/** The lab declares hidden checks, but this build carries no grader for it. */
export class NoGraderError extends Error {
  override readonly name = 'NoGraderError';
}

/** The ids of the labs whose graders this build carries, sorted. */
export function bundledGraderIds(): string[] {
  return Object.keys(labGraderModules).sort();
}

function isLabGrader(value: unknown): value is LabGrader {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const g = value as Partial<Record<keyof LabGrader, unknown>>;
  return typeof g.entry === 'string' && typeof g.open === 'function' && typeof g.engineLabel === 'function' && Array.isArray(g.scenarios) && (g.services === 'database' || g.services === 'containers' || g.services === 'fresh-containers' || g.services === 'none');
}

/** The grader of a lab that declares hidden checks; throws NoGraderError when this build has none that fits. */
export async function loadLabGrader(lab: Lab): Promise<LabGrader> {
  if (lab.manifest.grader === undefined) {
    throw new NoGraderError(`Lab "${lab.id}" has no hidden checks to grade; run its tests with "npm test" in its folder.`);
  }
  const load = Object.hasOwn(labGraderModules, lab.id) ? labGraderModules[lab.id] : undefined;
  if (load === undefined) {
    throw new NoGraderError(`Lab "${lab.id}" declares hidden checks, but this build carries no grader for it (labs/${lab.id}/grader/index.ts). Rebuild the product, or update it.`);
  }
  const module = (await load()) as { readonly grader?: unknown };
  if (!isLabGrader(module.grader)) {
    throw new NoGraderError(`labs/${lab.id}/grader/index.ts does not export a grader (a LabGrader named "grader").`);
  }
  return module.grader;
}
