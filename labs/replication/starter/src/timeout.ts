/**
 * A time limit on anything you wait for. You do not need to change this file.
 */

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Resolves or rejects as `work` does, or rejects with a TimeoutError once `ms` milliseconds
 * have passed without an answer. The work itself is not stopped: a statement sent to a
 * server that is slow (or paused) may still run there later.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  // A late failure of the work must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
