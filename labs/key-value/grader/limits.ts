/** The Key-Value grader's fixed settings, which the scenarios run under and the checkers' messages name. */
import type { ServiceConfig } from './protocol';

/** The numbered Redis database the grader works in, emptied at each scenario (the learner's own tests use database 0). */
export const GRADING_DATABASE = 9;
/** How long a product load takes beyond its query. */
export const LOAD_DELAY_MS = 60;
/** The Memcached client's limit per request in the learner's process. */
export const MEMCACHED_TIMEOUT_MS = 2_000;
/** How long one request of the service may take before the grader calls it hung (and its process is killed). */
export const OP_TIMEOUT_MS = 5_000;
/**
 * The configuration the scenarios start from; each may change a part. Redis calls get a
 * second: a burst of 50 requests on a busy machine must not look like Redis down (the
 * degrade scenario sets 200 ms).
 */
export const BASE_CONFIG: ServiceConfig = {
  limit: 10,
  windowMs: 2_000,
  sessionTtlMs: 400,
  cacheTtlMs: 60_000,
  redisTimeoutMs: 1_000,
  failOpen: true,
};
