/**
 * A transaction held across a service call, as the learner's process showed it (the
 * adapter's observations, adapters/pgDb.ts; gathered by the sandbox), judged: a scenario
 * that did not finish while the learner's code held one fails for it instead of being
 * "unknown". On the embedded PostgreSQL, which runs one transaction at a time, such a
 * transaction stops every other statement, the services' own too, until the call it waits
 * for gives up: the scenario cannot go on, and it is ended at once (`conclusive`) once the
 * transaction has been open for HELD_CONCLUSIVE_MS.
 */
import type { Backend } from '../backend';
import type { Diagnosis } from './engine';
import type { HeldTransaction } from './sandbox';

/** How long a transaction held across a call on the embedded PostgreSQL ends the scenario at once. */
export const HELD_CONCLUSIVE_MS = 10_000;

export const HELD_TRANSACTION_HINT =
  "Don't keep a transaction open while calling another service: the call cannot be rolled back with it, and the transaction holds its connection and its locks for as long as the call takes. Commit first (record what you are about to do), make the call, then record its answer in a transaction of its own.";

/** The held transactions' diagnosis, or undefined when there are none. */
export function diagnoseHeldTransactions(held: readonly HeldTransaction[], backend: Backend): Diagnosis | undefined {
  if (held.length === 0) {
    return undefined;
  }
  // The one held longest says the most.
  const worst = held.reduce((a, b) => (b.heldMs > a.heldMs ? b : a));
  const secondsHeld = (worst.heldMs / 1000).toFixed(1);
  const how = worst.open ? `it had been open ${secondsHeld} s and still was` : `it stayed open ${secondsHeld} s, until the process was stopped`;
  const why =
    backend === 'embedded'
      ? 'The embedded PostgreSQL runs one transaction at a time, so every other statement, the services\' own too, waited for that transaction, which waited for the call.'
      : 'The transaction held its connection and its locks for as long as the call took.';
  return {
    actual: `The code held a transaction across a service call: it called ${worst.call} inside a transaction, and ${how}. The scenario could not finish. ${why}`,
    hint: HELD_TRANSACTION_HINT,
    event: { op: 'held a transaction across a service call', detail: `${worst.call} called inside a transaction open ${secondsHeld} s` },
    conclusive: backend === 'embedded' && held.some((h) => h.open && h.heldMs >= HELD_CONCLUSIVE_MS),
  };
}
