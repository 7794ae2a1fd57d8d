/**
 * The Saga lab's grader: the learner's orchestrator runs the Place Order saga in the
 * sandbox, its log in the lab's PostgreSQL (in Docker, or embedded), against the grader's
 * own services (orders, inventory, payments, shipping; services.ts), whose tables are the
 * truth. Each scenario plans faults per order and step, crashes the orchestrator at its
 * commit points, or runs many orders at once; each checker is a pure function of the
 * recorded history, which ends with the services' truth.
 */
import { defineLabGrader, openedRun } from '../../../src/core/grading/labGrader';
import { SagaHarness } from './harness';
import { scenarios } from './scenarios';
import { SagaServices } from './services';

export const grader = defineLabGrader({
  entry: 'src/saga.ts',
  contract: { migrate: 'function', placeOrder: 'function', recover: 'function' },
  memoryMb: 256,
  services: 'database',
  engineLabel: (backend) => (backend === 'docker' ? 'PostgreSQL in Docker' : 'the embedded PostgreSQL'),
  scenarios,
  async open(run) {
    const { databaseUrl, learnerDatabaseUrl } = run;
    if (databaseUrl === undefined || learnerDatabaseUrl === undefined) {
      throw new Error("Grading saga needs the lab's PostgreSQL: start its database first.");
    }
    // The services keep their tables in schemas of their own beside the run's, dropped when it
    // closes; the learner's process connects as the run's role, which cannot touch them.
    const services = await SagaServices.start(databaseUrl, `${run.runName}_svc`);
    const harness = new SagaHarness(run.sandbox, services, { databaseUrl: learnerDatabaseUrl, schema: run.runName });
    return openedRun(harness, {
      setUp: () => harness.learner.setUp(),
      close: async () => {
        await harness.learner.finish();
        await services.close();
      },
    });
  },
});
