/**
 * The Multi-Master lab's grader: the learner's three regions (in the sandboxed process,
 * each with its own store and clock) run against their Redis stores, and every message
 * between them passes through the grader's channel, which delays, reorders, duplicates and
 * drops it, and holds it behind partitions. Scenarios pause and restart stores; at the end
 * of each, the grader reads every region through the learner's own reads, and the checkers
 * judge convergence, the counts, the OR-Set, last-write-wins and its reports, idempotence
 * and atomic applies. What is graded, and why, is in this folder's README.md.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { seededRandom } from '../../../src/core/random';
import { MultiMasterHarness } from './harness';
import { scenarios } from './scenarios';
import { type RegionStores, startDockerStores, startInProcessStores } from './stores';

export const grader = defineLabGrader({
  entry: 'src/regions.ts',
  contract: { createRegion: 'function' },
  memoryMb: 256,
  services: 'containers',
  engineLabel: (backend) => (backend === 'docker' ? 'Redis in Docker, one per region' : 'in-process Redis stand-ins (no Docker), one per region'),
  scenarios,
  async open(run) {
    const random = seededRandom(0x3a);
    let stores: RegionStores;
    if (run.backend === 'docker') {
      if (run.labServices === undefined) throw new Error("Grading multi-master on Docker needs the lab's three Redis containers: start its databases first.");
      stores = await startDockerStores(run.labServices, random, run.logger);
    } else {
      stores = await startInProcessStores(run.runName);
    }
    const harness = new MultiMasterHarness(run.sandbox, stores);
    return openedRun(harness, {
      setUp: async () => {
        await stores.prepare();
        await harness.learner.connect();
      },
      close: () => stores.close(),
    });
  },
});
