/**
 * The Quorum lab's grader: the learner's coordinators (one per simulated client machine,
 * all in the sandboxed process, each with its own connections and clock) run against the
 * replicas — the lab's five Redis containers, or in-process replicas without Docker — each
 * behind a fault proxy. Scenarios take replicas down (pause, kill, partition), slow them,
 * and run clients at once; the history records every put and get as a Jepsen-style
 * register operation, and the checkers judge it: per-key linearizability and what the
 * replicas hold, read directly. What is graded, and why, is in this folder's README.md.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { seededRandom } from '../../../src/core/random';
import { QuorumHarness } from './harness';
import { REPLICAS } from './limits';
import { type ReplicaCluster, startDockerReplicas, startInProcessReplicas } from './replicas';
import { scenarios } from './scenarios';

export const grader = defineLabGrader({
  entry: 'src/quorum.ts',
  contract: { createCoordinator: 'function' },
  memoryMb: 256,
  services: 'containers',
  engineLabel: (backend) => (backend === 'docker' ? 'Redis replicas in Docker' : 'in-process replicas (no Docker)'),
  scenarios,
  async open(run) {
    const random = seededRandom(0x51);
    let cluster: ReplicaCluster;
    if (run.backend === 'docker') {
      if (run.labServices === undefined) {
        throw new Error("Grading quorum on Docker needs the lab's five Redis containers: start its databases first.");
      }
      cluster = await startDockerReplicas(run.labServices, random, run.logger);
    } else {
      cluster = await startInProcessReplicas(REPLICAS, run.runName, random, run.logger);
    }
    const harness = new QuorumHarness(run.sandbox, cluster, `${run.runName}:`);
    return openedRun(harness, {
      setUp: async () => {
        await cluster.prepare();
        await harness.learner.connect();
      },
      close: () => cluster.close(),
    });
  },
});
