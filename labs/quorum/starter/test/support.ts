/**
 * Helpers shared by the lab's tests: coordinators over the in-memory replicas of
 * test/replicas.ts (a stand-in for the grader's Redis servers), clocks that stand still,
 * and ways to wait for a promise without letting a stuck one hang the test.
 */
import { createCoordinator } from '../src/quorum';
import type { Coordinator, Version } from '../src/types';
import type { Cluster } from './replicas';

/** A clock that always says `ms`: two coordinators given the same one pick the same timestamps. */
export function clockAt(ms: number): { now(): number } {
  return { now: () => ms };
}

export interface Settings {
  readonly r: number;
  readonly w: number;
  /** Defaults to the number of replicas. */
  readonly n?: number;
  readonly allowEventual?: boolean;
  /** Defaults to `client-1`. */
  readonly id?: string;
  /** Defaults to a clock that stands at 1000 ms. */
  readonly clock?: { now(): number };
}

/** Your createCoordinator over the cluster's replicas. */
export function coordinator(cluster: Cluster, settings: Settings): Coordinator {
  return createCoordinator({
    replicas: cluster.replicas,
    n: settings.n ?? cluster.replicas.length,
    r: settings.r,
    w: settings.w,
    ...(settings.allowEventual === undefined ? {} : { allowEventual: settings.allowEventual }),
    id: settings.id ?? 'client-1',
    clock: settings.clock ?? clockAt(1000),
  });
}

/** What `fn` threw, or undefined if it returned. */
export function thrownBy(fn: () => unknown): Error | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** `ts/writer`, for messages and for telling versions apart. */
export function show(version: Version | null | undefined): string {
  return version ? `${version.ts}/${version.writer}` : 'none';
}

/** Thrown when a call does not finish in time, so that the test stops there with a message. */
export class StuckError extends Error {
  override readonly name = 'StuckError';
}

const STUCK_ADVICE =
  'A coordinator that waits for every replica (Promise.all, Promise.allSettled, a loop of awaits) waits here for one that ' +
  'never answers; and a quorum() that neither resolves once it has its answers nor rejects once too many calls failed never settles.';

/** Awaits `action`, but fails the test with a message (and the last replica calls) if it has not settled within `seconds`. */
export async function inTime<T>(action: Promise<T>, what: string, cluster: Cluster, seconds = 5): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StuckError(`${what} did not finish within ${seconds} s. ${STUCK_ADVICE} Last replica calls: ${cluster.lastCalls()}.`)), seconds * 1000);
  });
  try {
    return await Promise.race([action, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `action` rejects with (within 5 s); fails the test if it resolves instead. */
export async function rejectionOf(action: Promise<unknown>, what: string, cluster: Cluster): Promise<Error> {
  let value: unknown;
  try {
    value = await inTime(action, what, cluster);
  } catch (error) {
    if (error instanceof StuckError) throw error;
    return error instanceof Error ? error : new Error(String(error));
  }
  throw new Error(`${what} was expected to fail, but it answered ${JSON.stringify(value)}. Last replica calls: ${cluster.lastCalls()}.`);
}

/** How a promise stands after a while: still pending, or what it settled with. */
export type Standing<T> = { readonly state: 'pending' } | { readonly state: 'resolved'; readonly value: T } | { readonly state: 'rejected'; readonly error: unknown };

/**
 * Where `action` stands after `ms` milliseconds. Only ever used to check that something
 * has NOT happened yet: code that does not wait answers within microseconds, so the
 * margin is wide on any machine.
 */
export async function standingAfter<T>(action: Promise<T>, ms: number): Promise<Standing<T>> {
  let standing: Standing<T> = { state: 'pending' };
  action.then(
    (value) => (standing = { state: 'resolved', value }),
    (error: unknown) => (standing = { state: 'rejected', error }),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return standing;
}
