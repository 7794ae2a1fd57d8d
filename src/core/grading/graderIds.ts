/**
 * The labs the product can grade, by grader id, with each grader's checks. Kept apart
 * from the graders themselves so that the lab manifest's schema and the editor's Testing
 * view can name them without loading any grading code.
 */
export const GRADER_IDS = ['idempotency-keys', 'saga', 'quorum'] as const;
export type GraderId = (typeof GRADER_IDS)[number];

export interface CheckInfo {
  readonly id: string;
  readonly title: string;
}

export const GRADER_CHECKS: Readonly<Record<GraderId, readonly CheckInfo[]>> = {
  'idempotency-keys': [
    { id: 'missing-or-malformed-key', title: 'A missing or malformed key is refused with 400' },
    { id: 'validation-stores-nothing', title: 'A request that fails validation stores nothing' },
    { id: 'replay-after-success', title: 'A retry after success replays the stored response byte for byte' },
    { id: 'replay-stored-error', title: 'A stored error (a declined card) is replayed, not run again' },
    { id: 'params-mismatch', title: 'The same key with other parameters is refused and not run' },
    { id: 'concurrent-same-key', title: 'Concurrent requests with one key charge once' },
    { id: 'stale-lock', title: 'A fresh lock answers 409; a stale one is taken over' },
    { id: 'crash-recovery', title: 'Killed at any commit point and retried: exactly one charge' },
    { id: 'provider-failure', title: 'A provider failure leaves the key retryable, and the retry charges once' },
    { id: 'per-user-scope', title: 'Keys are scoped to the user' },
    { id: 'expired-key', title: 'A key older than 24 hours starts a new request' },
  ],
  saga: [
    { id: 'compensate-in-reverse', title: 'A refusal undoes the completed steps, in reverse order, and nothing else' },
    { id: 'retry-technical-failures', title: 'Technical failures are retried with the same request' },
    { id: 'ambiguous-step', title: 'A step that timed out after committing is retried, not repeated or compensated' },
    { id: 'forward-after-pivot', title: 'Past the pivot, failures are retried forward, never compensated' },
    { id: 'compensation-retried', title: 'Failing compensations are retried until they succeed, and take effect once' },
    { id: 'crash-recovery', title: 'Killed at any commit point, the orchestrator recovers from its log' },
    { id: 'random-schedules', title: 'Random fault schedules: every saga completes or is compensated' },
    { id: 'concurrent-orders', title: 'Fifty concurrent orders keep every invariant' },
  ],
  quorum: [
    { id: 'quorum-config', title: 'R + W ≤ N is refused or flagged as eventual; impossible settings are refused' },
    { id: 'one-replica-down', title: 'With one of three replicas down, R = W = 2 still reads and writes' },
    { id: 'two-replicas-down', title: 'With two of three replicas down, reads and writes fail instead of answering wrongly' },
    { id: 'partial-write', title: 'A write that reached fewer than W replicas is never seen and then unseen' },
    { id: 'linearizable-under-faults', title: 'Concurrent clients under outages, partitions, latency and drops: every key stays linearizable' },
    { id: 'concurrent-writes', title: 'Concurrent writes to one key: one winner on every replica, by last-write-wins, never a merge' },
    { id: 'convergence', title: 'After the faults heal, reads bring every replica to the same newest value' },
  ],
};
