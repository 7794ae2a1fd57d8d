/**
 * The Replication lab's grader: the learner's code runs in the sandbox; the primary and the
 * standby are two new PostgreSQL containers of the grader's own for each grading (never the
 * learner's servers: it sets them up from scratch), each reached through a fault proxy that
 * follows it across restarts. What is graded, and why, is in this folder's README.md.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { ReplicationHarness } from './harness';
import { scenarios } from './scenarios';

function noServers(): never {
  throw new Error('The Replication lab needs its two PostgreSQL servers in Docker.');
}

export const grader = defineLabGrader({
  entry: 'src/replication.ts',
  contract: { parseLsn: 'function', compareLsn: 'function', setUpStandby: 'function', replicationLag: 'function', ReadRouter: 'function', failover: 'function', setSynchronous: 'function' },
  memoryMb: 256,
  services: 'fresh-containers',
  engineLabel: (backend) => (backend === 'docker' ? 'two new PostgreSQL servers in Docker' : 'no servers (this lab needs Docker)'),
  scenarios,
  async open(run) {
    if (run.backend !== 'docker') {
      // Every check needs the two servers: the engine reports each as needing Docker, and nothing runs.
      return { harness: new Proxy({} as ReplicationHarness, { get: noServers }), close: async () => undefined };
    }
    if (run.labServices === undefined) {
      throw new Error("Grading replication needs two PostgreSQL servers of the grader's own: Docker must be running.");
    }
    const harness = await ReplicationHarness.open(run.sandbox, run.labServices);
    return openedRun(harness, {
      setUp: () => harness.setUp(),
      close: () => harness.close(),
    });
  },
});
