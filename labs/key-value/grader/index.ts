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
import { KvServices } from './stores';

export const grader = defineLabGrader({
  entry: 'src/service.ts',
  contract: { createSessions: 'function', createLimiter: 'function', createRedisCache: 'function', createMemcachedCache: 'function' },
  memoryMb: 256,
  services: 'containers',
  engineLabel: () => 'Redis, Memcached and PostgreSQL in Docker',
  scenarios,
  async open(run) {
    if (run.backend !== 'docker' || run.labServices === undefined) {
      throw new Error("Grading key-value needs the lab's Redis, Memcached and PostgreSQL containers, so Docker: start the lab's databases first.");
    }
    const services = await KvServices.start(run.labServices, run.runName, seededRandom(0x4b), run.logger);
    const harness = new KvHarness(run.sandbox, services);
    return openedRun(harness, {
      setUp: () => harness.learner.connect(),
      close: () => services.close(),
    });
  },
});
