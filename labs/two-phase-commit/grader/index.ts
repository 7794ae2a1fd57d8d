/**
 * The Two-phase commit lab's grader: the learner's coordinator runs in the sandbox, its
 * banks and its log the lab's three PostgreSQL containers, each reached through the grader's
 * fault proxy. Scenarios make banks vote no, kill the coordinator at each of its points and
 * recover in a fresh process, kill or pause a bank around its PREPARE, lose a COMMIT
 * PREPARED's reply, and run many transfers at once; each checker is a pure function of the
 * history, which ends with the truth read from the banks (audit.ts) and the log. What is
 * graded, and why, is in this folder's README.md.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { seededRandom } from '../../../src/core/random';
import { TwoPhaseHarness, TwoPhaseServers, noServers, runSchemas } from './harness';
import { scenarios } from './scenarios';

export const grader = defineLabGrader({
  entry: 'src/transfers.ts',
  contract: { migrate: 'function', transfer: 'function', recover: 'function' },
  memoryMb: 256,
  services: 'containers',
  engineLabel: (backend) => (backend === 'docker' ? 'three PostgreSQL servers in Docker' : 'no servers (this lab needs Docker)'),
  scenarios,
  async open(run) {
    if (run.backend !== 'docker') {
      // Every check needs the three servers: the engine reports each as needing Docker, and nothing runs.
      return { harness: new Proxy({} as TwoPhaseHarness, { get: noServers }), close: async () => undefined };
    }
    if (run.labServices === undefined) {
      throw new Error("Grading two-phase-commit needs the lab's three PostgreSQL servers: start its databases first.");
    }
    const servers = await TwoPhaseServers.start(run.labServices, seededRandom(0x2c), run.logger);
    const harness = new TwoPhaseHarness(run.sandbox, servers, runSchemas(run.runName));
    return openedRun(harness, {
      setUp: () => harness.setUp(),
      close: async () => {
        await harness.close();
        await servers.close();
      },
    });
  },
});
