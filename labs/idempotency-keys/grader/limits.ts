/**
 * The Idempotency Keys grader's fixed settings: the lab's constants, which the scenarios
 * run under and the checkers' messages name, and the grader's own time limits.
 */

/** The lab's constants, as its src/types.ts states them (a unit test holds the two together). */
export const LOCK_TIMEOUT_MS = 90_000;
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_KEY_LENGTH = 255;

/** How long one createPayment may take before the grader calls it hung (and the process is restarted). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** How long the provider client in the learner's process waits for an answer before the outcome is unknown. */
export const PROVIDER_TIMEOUT_MS = 3_000;
/** The connections the learner's database pool may open: enough for every request of a concurrent round. */
export const POOL_SIZE = 10;
