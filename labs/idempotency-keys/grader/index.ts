/**
 * The Idempotency Keys lab's grader: the learner's `createPayment` runs in the sandbox on
 * the lab's PostgreSQL and calls the grader's payment provider (paymentProvider.ts), whose
 * ledger is the truth about what was charged. Each scenario drives requests (retries,
 * races, crashes at every commit point, provider failures, a moved clock) and records them
 * as a history; each checker is a pure function of that history. What is graded, and why,
 * is in this lab's README.md and its lab.json checks.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { IdempotencyHarness } from './harness';
import { PaymentProvider } from './paymentProvider';
import { scenarios } from './scenarios';

export const grader = defineLabGrader({
  entry: 'src/payments.ts',
  contract: { migrate: 'function', createPayment: 'function' },
  memoryMb: 256,
  services: 'database',
  engineLabel: (backend) => (backend === 'docker' ? 'PostgreSQL in Docker' : 'the embedded PostgreSQL'),
  scenarios,
  async open(run) {
    const provider = await PaymentProvider.start();
    const harness = new IdempotencyHarness(run.sandbox, provider, { databaseUrl: run.learnerDatabaseUrl ?? '', schema: run.runName });
    // The learner's process ends (its connections closed) before the provider stops answering; the kit drops the run's schema.
    return openedRun(harness, {
      setUp: () => harness.learner.setUp(),
      close: async () => {
        await harness.learner.finish();
        await provider.close();
      },
    });
  },
});
