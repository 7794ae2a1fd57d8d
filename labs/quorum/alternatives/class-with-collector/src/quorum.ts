// A correct coordinator written another way than the reference: a class, with one
// collector that counts answers and failures, and repair of every late stale answer.
import { type Coordinator, type CoordinatorOptions, ConfigError, QuorumError, type ReadResult, type Replica, type Stored, type Version, compareVersions } from './types';

export { ConfigError, QuorumError } from './types';

/** The newest record among the answers, or null when none holds one. */
function newestOf(records: readonly (Stored | null)[]): Stored | null {
  return records.reduce<Stored | null>((best, r) => (r !== null && (best === null || compareVersions(r.version, best.version) > 0) ? r : best), null);
}

class QuorumCoordinator implements Coordinator {
  readonly mode: 'strict' | 'eventual';
  readonly conflictPolicy = 'last-write-wins' as const;
  private lastTs = 0;

  constructor(private readonly o: CoordinatorOptions) {
    const { n, r, w, replicas } = o;
    for (const [name, x] of [['n', n], ['r', r], ['w', w]] as const) {
      if (!Number.isInteger(x) || x < 1) throw new ConfigError(`${name} must be a whole number of at least 1`);
    }
    if (n !== replicas.length) throw new ConfigError('n must equal the number of replicas');
    if (r > n || w > n) throw new ConfigError('r and w may not exceed n');
    if (r + w <= n && o.allowEventual !== true) throw new ConfigError('r + w <= n needs allowEventual');
    this.mode = r + w > n ? 'strict' : 'eventual';
  }

  /** Resolves with `need` answers as they come; each answer, also the late ones, goes to onEach. */
  private gather<T>(need: number, call: (r: Replica) => Promise<T>, onEach?: (r: Replica, value: T) => void): Promise<T[]> {
    const { replicas } = this.o;
    return new Promise((resolve, reject) => {
      const values: T[] = [];
      let failed = 0;
      let done = false;
      for (const replica of replicas) {
        call(replica).then(
          (value) => {
            onEach?.(replica, value);
            if (done) return;
            values.push(value);
            if (values.length === need) {
              done = true;
              resolve(values);
            }
          },
          () => {
            if (done) return;
            failed += 1;
            if (failed > replicas.length - need) {
              done = true;
              reject(new QuorumError(`only ${values.length} of ${need} replicas answered`));
            }
          },
        );
      }
    });
  }

  async put(key: string, value: string): Promise<Version> {
    const found = newestOf(await this.gather(this.o.r, (r) => r.read(key)));
    const ts = Math.max(this.o.clock.now(), (found?.version.ts ?? 0) + 1, this.lastTs + 1);
    this.lastTs = ts;
    const version = { ts, writer: this.o.id };
    await this.gather(this.o.w, (r) => r.write(key, { value, version }));
    return version;
  }

  async get(key: string): Promise<ReadResult> {
    let best: Stored | null = null;
    const late: { replica: Replica; held: Stored | null }[] = [];
    let settled = false;
    const answers = await this.gather(this.o.r, (r) => r.read(key), (replica, held) => {
      if (settled && best !== null && (held === null || compareVersions(held.version, best.version) < 0)) {
        replica.write(key, best).catch(() => undefined);
      } else if (!settled) {
        late.push({ replica, held });
      }
    });
    settled = true;
    best = newestOf(answers);
    if (best === null) return { value: null, version: null };
    const found = best;
    // Those that answered before the quorum settled and are behind: repaired too.
    for (const { replica, held } of late) {
      if (held === null || compareVersions(held.version, found.version) < 0) replica.write(key, found).catch(() => undefined);
    }
    const current = answers.filter((a) => a !== null && compareVersions(a.version, found.version) === 0).length;
    if (current < this.o.w) await this.gather(this.o.w, (r) => r.write(key, found));
    return { value: found.value, version: found.version };
  }
}


export function createCoordinator(options: CoordinatorOptions): Coordinator {
  return new QuorumCoordinator(options);
}
