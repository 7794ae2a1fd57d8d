/**
 * The Key-Value lab's grader: the learner's sessions, rate limiters and caches run in the
 * sandboxed process against the lab's Redis (behind the grader's fault proxy), Memcached
 * and a products table of the grader's in the lab's PostgreSQL. Scenarios send many
 * requests at once, move the service's clock, hold database calls to force the races of
 * cache-aside, kill the process between Redis commands, and pause, kill, cut off and
 * restart Redis; each checker is a pure function of the recorded history. What is graded,
 * and why, is in this folder's README.md.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { seededRandom } from '../../../src/core/random';
import { KvHarness } from './harness';
import { scenarios } from './scenarios';
import { type KvServices, startDockerKvServices, startInProcessKvServices } from './stores';

export const grader = defineLabGrader({
  entry: 'src/service.ts',
  contract: { createSessions: 'function', createLimiter: 'function', createRedisCache: 'function', createMemcachedCache: 'function' },
  memoryMb: 256,
  services: 'containers',
  engineLabel: (backend) => (backend === 'docker' ? 'Redis, Memcached and PostgreSQL in Docker' : 'in-process Redis and Memcached stand-ins, products in a stand-in table (no Docker)'),
  scenarios,
  async open(run) {
    let services: KvServices;
    if (run.backend === 'docker') {
      if (run.labServices === undefined) throw new Error("Grading key-value on Docker needs the lab's Redis, Memcached and PostgreSQL containers: start its databases first.");
      services = await startDockerKvServices(run.labServices, run.runName, seededRandom(0x4b), run.logger);
    } else {
      services = await startInProcessKvServices(run.runName);
    }
    const harness = new KvHarness(run.sandbox, services);
    return openedRun(harness, {
      setUp: () => harness.learner.connect(),
      close: () => services.close(),
    });
  },
});
