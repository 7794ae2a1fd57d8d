/**
 * The Replication grader's numbers, in one place.
 */

/** Connections per server in the learner's process. */
export const POOL_SIZE = 8;

/** The options every router of the grader gets: a read waits at most 300 ms for the standby, a statement there at most 400 ms. */
export const ROUTER_OPTIONS = { maxWaitMs: 300, standbyTimeoutMs: 400 } as const;

/** A session's read or write that has not answered after this long is recorded as hung (the process lives on). */
export const ADAPTER_LIMIT_MS = 5_000;
/** The sandbox's own limit on a call is this much longer than the adapter's (past it, the process is killed). */
export const CALL_MARGIN_MS = 10_000;
/** setUpStandby may take this long (a base backup and a restart take about 2 s). */
export const SET_UP_TIMEOUT_MS = 90_000;

/**
 * With the standby down, a read must answer within this long: a statement on the standby
 * times out after standbyTimeoutMs (the check of its replay position, then maybe the read),
 * the wait for it is bounded by maxWaitMs, then the primary answers.
 */
export const ANSWER_WITHIN_MS = ROUTER_OPTIONS.standbyTimeoutMs * 3 + ROUTER_OPTIONS.maxWaitMs + 1_500;

/** With the standby fresh, at least this share of the reads must be answered by it. */
export const STANDBY_SHARE = 0.8;

/** How far the reported lag may be from the grader's measurement around it. */
export const LAG_SLACK = { slackBytes: 2_048, slackSeconds: 0.5 } as const;

/** While a read waits for the standby, its replay is resumed this long into the wait: it catches up well within maxWaitMs. */
export const RESUME_AFTER_MS = 40;
