/** The Multi-Master grader's fixed settings, which the scenarios run under and the checkers' messages name. */

/** The numbered Redis database the grader works in, emptied at each scenario (the learner's own tests use database 0). */
export const GRADING_DATABASE = 9;
/** How long one store command may wait in the learner's process before it is a StoreError. */
export const STORE_TIMEOUT_MS = 1_000;
/** How long one region operation or delivery may take before the grader calls it hung. */
export const OP_TIMEOUT_MS = 5_000;
