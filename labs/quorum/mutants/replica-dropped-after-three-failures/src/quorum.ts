/**
 * A quorum coordinator (reference solution). Every key lives on all N replicas; a write
 * is acknowledged by W of them and a read asks R. With R + W > N every read quorum
 * overlaps every write quorum, and two more rules make the register linearizable (the
 * ABD algorithm): a write first asks a read quorum for the newest version and writes a
 * newer one, and a read writes the newest value it found back to a write quorum before
 * it answers (synchronous read repair).
 */
import {
  type Coordinator,
  type CoordinatorOptions,
  ConfigError,
  QuorumError,
  type ReadResult,
  type Replica,
  type Stored,
  type Version,
  compareVersions,
} from './types';

export type { Coordinator, CoordinatorOptions, ReadResult, Version } from './types';
export { ConfigError, QuorumError } from './types';

/** The newest of the records, or null when none holds anything. */
export function newest(records: readonly (Stored | null)[]): Stored | null {
  let best: Stored | null = null;
  for (const record of records) {
    if (record !== null && (best === null || compareVersions(record.version, best.version) > 0)) {
      best = record;
    }
  }
  return best;
}

/** One replica's answer, once it comes. */
interface Sent<T> {
  readonly replica: Replica;
  readonly answer: Promise<T>;
}

/**
 * Sends `call` to every replica and resolves with the first `need` answers, or rejects with
 * a QuorumError as soon as so many have failed that `need` answers can no longer come.
 * The calls still under way go on (a write reaches the slow replicas too, later); `sent`
 * keeps each replica's answer for whoever wants the late ones.
 */
export function quorum<T>(replicas: readonly Replica[], need: number, what: string, call: (replica: Replica) => Promise<T>): { answers: Promise<{ replica: Replica; answer: T }[]>; sent: Sent<T>[] } {
  const sent = replicas.map((replica) => ({ replica, answer: Promise.resolve().then(() => call(replica)) }));
  const answers = new Promise<{ replica: Replica; answer: T }[]>((resolve, reject) => {
    const got: { replica: Replica; answer: T }[] = [];
    const failures: string[] = [];
    let settled = false;
    for (const { replica, answer } of sent) {
      answer.then(
        (value) => {
          if (settled) return;
          got.push({ replica, answer: value });
          if (got.length >= need) {
            settled = true;
            resolve(got);
          }
        },
        (error: unknown) => {
          if (settled) return;
          failures.push(`${replica.name}: ${error instanceof Error ? error.message : String(error)}`);
          if (failures.length > replicas.length - need) {
            settled = true;
            reject(new QuorumError(`${what}: only ${got.length} of the ${need} replicas needed answered (${failures.join('; ')})`));
          }
        },
      );
    }
  });
  return { answers, sent };
}

function checkOptions(options: CoordinatorOptions): void {
  const { n, r, w, replicas } = options;
  for (const [name, value] of [['N', n], ['R', r], ['W', w]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigError(`${name} must be a whole number of at least 1; it is ${value}.`);
    }
  }
  if (n !== replicas.length) {
    throw new ConfigError(`N is ${n} but ${replicas.length} replicas were given.`);
  }
  if (r > n || w > n) {
    throw new ConfigError(`R (${r}) and W (${w}) cannot be more than N (${n}): there are only ${n} replicas to answer.`);
  }
  if (r + w <= n && options.allowEventual !== true) {
    throw new ConfigError(`R + W = ${r + w} is not more than N = ${n}: a read quorum can miss the latest write. Pass allowEventual: true to accept stale reads.`);
  }
}

export function createCoordinator(options: CoordinatorOptions): Coordinator {
  checkOptions(options);
  const { r, w, id, clock } = options;
  // The highest timestamp this coordinator has used, so its own writes always move forward.
  let lastTs = 0;
  // Replicas that failed three calls in a row are left out: no more waiting on a dead one.
  const failedInARow = new Map<string, number>();
  const watched = options.replicas.map((replica): Replica => {
    const track = <T>(call: Promise<T>): Promise<T> =>
      call.then(
        (value) => {
          failedInARow.set(replica.name, 0);
          return value;
        },
        (error: unknown) => {
          failedInARow.set(replica.name, (failedInARow.get(replica.name) ?? 0) + 1);
          throw error;
        },
      );
    return { name: replica.name, read: (key) => track(replica.read(key)), write: (key, record) => track(replica.write(key, record)) };
  });
  const live = (): Replica[] => watched.filter((replica) => (failedInARow.get(replica.name) ?? 0) < 3);

  const writeQuorum = async (key: string, record: Stored): Promise<void> => {
    await quorum(live(), w, `write ${key}`, (replica) => replica.write(key, record)).answers;
  };

  return {
    mode: r + w > options.n ? 'strict' : 'eventual',
    conflictPolicy: 'last-write-wins',

    async put(key: string, value: string): Promise<Version> {
      // Ask a read quorum for the newest version: it overlaps every completed write, so the
      // new version is newer than all of them, whatever this machine's clock says.
      const current = newest((await quorum(live(), r, `read ${key}`, (replica) => replica.read(key)).answers).map((a) => a.answer));
      const ts = Math.max(clock.now(), (current?.version.ts ?? 0) + 1, lastTs + 1);
      lastTs = ts;
      const version: Version = { ts, writer: id };
      await writeQuorum(key, { value, version });
      return version;
    },

    async get(key: string): Promise<ReadResult> {
      const { answers, sent } = quorum(live(), r, `read ${key}`, (replica) => replica.read(key));
      const quorumAnswers = await answers;
      const found = newest(quorumAnswers.map((a) => a.answer));
      if (found === null) {
        return { value: null, version: null };
      }
      const isNewest = (record: Stored | null): boolean => record !== null && compareVersions(record.version, found.version) >= 0;
      // Every replica whose answer, now or later, is older than what was found gets the newest
      // value in the background: after a partition heals, reads bring the replicas together.
      for (const { replica, answer } of sent) {
        answer.then(
          (record) => {
            if (!isNewest(record)) {
              replica.write(key, found).catch(() => undefined);
            }
          },
          () => undefined,
        );
      }
      // Read repair: unless a write quorum already holds the newest version, write it back
      // and wait, so that no later read can return an older value than this one.
      if (quorumAnswers.filter((a) => isNewest(a.answer)).length < w) {
        await writeQuorum(key, found);
      }
      return { value: found.value, version: found.version };
    },
  };
}
