/**
 * A quorum coordinator written from the lab README alone, in another style than the
 * reference: answers are collected with a Promise.race loop over the calls still pending,
 * every rule is checked in a table of conditions, and versions are compared by a sort key
 * of numbers. Kept as a correct solution the grader must pass (labs/README.md).
 */
import { type Coordinator, type CoordinatorOptions, ConfigError, QuorumError, type ReadResult, type Replica, type Stored, type Version, compareVersions } from './types';

export type { Coordinator, CoordinatorOptions, ReadResult, Version } from './types';
export { ConfigError, QuorumError } from './types';

type Outcome<T> = { readonly ok: true; readonly replica: Replica; readonly value: T } | { readonly ok: false; readonly replica: Replica; readonly error: unknown };

/** Every call, as a promise that never rejects. */
function settleAll<T>(replicas: readonly Replica[], call: (replica: Replica) => Promise<T>): Promise<Outcome<T>>[] {
  return replicas.map((replica) =>
    Promise.resolve()
      .then(() => call(replica))
      .then(
        (value): Outcome<T> => ({ ok: true, replica, value }),
        (error: unknown): Outcome<T> => ({ ok: false, replica, error }),
      ),
  );
}

/** Waits for `need` successes among the outcomes, or throws once they cannot come. */
async function collect<T>(outcomes: readonly Promise<Outcome<T>>[], need: number, what: string): Promise<Outcome<T>[]> {
  const pending = new Map(outcomes.map((p, i) => [i, p.then((o) => ({ i, o }))] as const));
  const wins: Outcome<T>[] = [];
  const losses: string[] = [];
  while (wins.length < need) {
    if (losses.length > outcomes.length - need || pending.size === 0) {
      throw new QuorumError(`${what}: ${wins.length} of ${need} needed answered; failed: ${losses.join('; ')}`);
    }
    const { i, o } = await Promise.race(pending.values());
    pending.delete(i);
    if (o.ok) wins.push(o);
    else losses.push(`${o.replica.name} (${o.error instanceof Error ? o.error.message : String(o.error)})`);
  }
  return wins;
}

function newestOf(records: readonly (Stored | null)[]): Stored | null {
  return records.reduce<Stored | null>((best, r) => (r === null ? best : best === null || compareVersions(r.version, best.version) > 0 ? r : best), null);
}

export function createCoordinator(options: CoordinatorOptions): Coordinator {
  const { replicas, n, r, w, id, clock } = options;
  const problems: [boolean, string][] = [
    [!Number.isInteger(n) || n < 1, `N must be a positive whole number (${n})`],
    [!Number.isInteger(r) || r < 1, `R must be a positive whole number (${r})`],
    [!Number.isInteger(w) || w < 1, `W must be a positive whole number (${w})`],
    [n !== replicas.length, `N (${n}) must equal the number of replicas (${replicas.length})`],
    [r > n, `R (${r}) cannot exceed N (${n})`],
    [w > n, `W (${w}) cannot exceed N (${n})`],
  ];
  const problem = problems.find(([bad]) => bad);
  if (problem) throw new ConfigError(problem[1]);
  const strict = r + w > n;
  if (!strict && options.allowEventual !== true) {
    throw new ConfigError(`R + W (${r + w}) ≤ N (${n}) can read stale values; pass allowEventual: true to accept that`);
  }
  let highest = 0;

  const writeBack = async (key: string, record: Stored): Promise<void> => {
    await collect(settleAll(replicas, (replica) => replica.write(key, record)), w, `write ${key}`);
  };

  return {
    mode: strict ? 'strict' : 'eventual',
    conflictPolicy: 'last-write-wins',
    async put(key, value) {
      const read = await collect(settleAll(replicas, (replica) => replica.read(key)), r, `read ${key}`);
      const found = newestOf(read.map((o) => (o.ok ? o.value : null)));
      highest = Math.max(highest + 1, clock.now(), found === null ? 0 : found.version.ts + 1);
      const version: Version = { ts: highest, writer: id };
      await writeBack(key, { value, version });
      return version;
    },
    async get(key): Promise<ReadResult> {
      const outcomes = settleAll(replicas, (replica) => replica.read(key));
      const got = await collect(outcomes, r, `read ${key}`);
      const records = got.map((o) => (o.ok ? o.value : null));
      const found = newestOf(records);
      if (found === null) return { value: null, version: null };
      const current = (s: Stored | null): boolean => s !== null && compareVersions(s.version, found.version) >= 0;
      // Late and stale replicas get the newest record in the background.
      for (const outcome of outcomes) {
        void outcome.then((o) => {
          if (o.ok && !current(o.value)) o.replica.write(key, found).catch(() => undefined);
        });
      }
      if (records.filter(current).length < w) await writeBack(key, found);
      return { value: found.value, version: found.version };
    },
  };
}
