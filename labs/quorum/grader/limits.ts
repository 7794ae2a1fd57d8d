/** The Quorum grader's fixed settings, which the scenarios run under and the checkers' messages name. */

/** Replicas a coordinator is handed, unless a scenario says otherwise (the first N of the grader's). */
export const N = 3;
/** Replicas the grader runs: the lab's Redis containers, or as many in-process stand-ins. */
export const REPLICAS = 5;
/** How long one replica call may wait in the learner's process before it is a ReplicaError. */
export const REPLICA_TIMEOUT_MS = 300;
/** How long one put or get may take before the grader calls it hung (and the process is restarted). */
export const OP_TIMEOUT_MS = 5_000;
