/** The Saga grader's fixed settings, which the harness and the scenarios run under. */

/** How long placeOrder or recover may take before the grader calls it hung (and the process is restarted). */
export const CALL_TIMEOUT_MS = 20_000;
/** The longest wait (deps.sleep, in the learner's ms) allowed before asking a failed call again: a backoff must be capped. */
export const MAX_WAIT_MS = 60_000;
/** How long one service call may take in the learner's process before its outcome is technical (unknown). */
export const SERVICE_TIMEOUT_MS = 3_000;
/** Connections of the learner's database pool. */
export const POOL_SIZE = 10;
/** How many random fault schedules the random-schedules check runs. */
export const RANDOM_SCHEDULES = 120;
/** How many of them run at once on PostgreSQL in Docker (one at a time on the embedded database). */
export const RANDOM_AT_ONCE = 4;
/** How many orders the concurrent-orders check places at once. */
export const CONCURRENT_ORDERS = 50;
