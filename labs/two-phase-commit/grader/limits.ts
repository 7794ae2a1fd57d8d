/** The Two-phase commit grader's fixed settings, which the harness and the scenarios run under. */

/** How long a bank may take to vote, as the coordinator is told (Coordinator.voteTimeoutMs). */
export const VOTE_TIMEOUT_MS = 400;
/** How long transfer() or recover() may take before the grader calls it hung (and the process is restarted). */
export const CALL_TIMEOUT_MS = 12_000;
/** Connections of each of the learner's three pools. */
export const POOL_SIZE = 24;
/** How long the grader keeps a bank down (killed, or paused) before it brings it back. */
export const DOWN_MS = 500;
/** How many transfers the concurrent-transfers check runs at once. */
export const CONCURRENT_TRANSFERS = 24;
/** Every account starts with this many cents. */
export const OPENING_BALANCE_CENTS = 10_000;
/** How long the grader waits for the learner's code to reach a point where it holds it. */
export const HOLD_WAIT_MS = 8_000;
/** The latency each way between the learner's process and the banks in the concurrent-transfers check. */
export const NETWORK_LATENCY_MS = 3;
