/**
 * The Quorum grader's side of a run: the replicas (replicas.ts) and the learner's process,
 * where the adapter runs one coordinator per simulated client machine. Each operation is
 * recorded in the scenario's history as the vocabulary of history.ts says.
 */
import type { HistoryRecorder } from '../../../src/core/grading/history';
import { LearnerProcess } from '../../../src/core/grading/learnerProcess';
import type { Sandbox } from '../../../src/core/grading/sandbox';
import { GRADER, NEMESIS, type QuorumEvent, type ReplicasNote } from './history';
import { N, OP_TIMEOUT_MS, REPLICA_TIMEOUT_MS } from './limits';
import type { ClockSetting, Declared, OpenInput, QuorumAdapter, ReadAnswer, Stored, Version } from './protocol';
import type { ReplicaCluster } from './replicas';

type History = HistoryRecorder<QuorumEvent>;

/** The longest a scenario waits for the replicas to show what it waits for (see `until`). */
const SETTLE_TIMEOUT_MS = 1_500;

const show = (value: string): string => `'${value}'`;

export class QuorumHarness {
  readonly learner: LearnerProcess<QuorumAdapter>;

  constructor(
    sandbox: Sandbox,
    readonly cluster: ReplicaCluster,
    /** Put before every key on the replicas, by the adapter and here: this run's keys are its own. */
    private readonly namespace: string,
  ) {
    this.learner = new LearnerProcess<QuorumAdapter>(sandbox, async (client) => {
      const result = await client.call('configure', [{ replicas: cluster.addresses, timeoutMs: REPLICA_TIMEOUT_MS, namespace }], 10_000);
      if (!result.ok) {
        throw new Error(`The grader could not configure the learner's process: ${result.message}`);
      }
    });
  }

  /** Makes a coordinator for `client`; records the attempt on `lane` (the `config` lane for the configurations tried). */
  async open(history: History, client: string, input: OpenInput, clock: ClockSetting, lane = client): Promise<{ ok: true; declared: Declared } | { ok: false; message: string }> {
    await this.learner.ensureRunning();
    const given: OpenInput & { readonly replicas: number } = { ...input, replicas: input.replicas ?? N };
    history.record({ process: lane, type: 'invoke', op: 'open', value: given });
    const result = await this.learner.client.call('open', [client, { ...given, clock }], OP_TIMEOUT_MS);
    if (result.ok) {
      const declared: Declared = { mode: result.value.mode, conflictPolicy: result.value.conflictPolicy };
      history.record({ process: lane, type: 'ok', op: 'open', value: declared });
      return { ok: true, declared };
    }
    history.record({ process: lane, type: 'fail', op: 'open', detail: result.message });
    return { ok: false, message: result.message };
  }

  /**
   * A put by `client`'s coordinator, recorded on `lane` (the client's own by default; an
   * operation run at the same time as another of the same coordinator gets a lane of its own,
   * since a lane holds one operation at a time).
   */
  async put(history: History, client: string, key: string, value: string, lane = client): Promise<Version | undefined> {
    history.record({ process: lane, type: 'invoke', op: 'put', value: { key, value } });
    const result = await this.learner.client.call('put', [client, key, value], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process: lane, type: 'ok', op: 'put', value: { version: result.value } });
      return result.value;
    }
    // A put that failed may still have reached some replicas: its outcome is unknown.
    history.record({ process: lane, type: 'info', op: 'put', detail: result.message });
    return undefined;
  }

  /** A write that reached one replica only: another coordinator's, which crashed midway. */
  async plant(history: History, i: number, key: string, record: Stored, writer: string): Promise<void> {
    history.record({ process: writer, type: 'invoke', op: 'put', value: { key, value: record.value } });
    await this.cluster.plant(i, this.namespace + key, record);
    history.record({ process: writer, type: 'info', op: 'put', detail: `this coordinator crashed when its write of ${show(record.value)} (version ${record.version.ts}/${record.version.writer}) had reached replica-${i + 1} only, fewer than W = 2` });
  }

  /**
   * Places records on the first replicas directly (not through the learner's code; null
   * leaves a replica alone) and notes that the next get of `key` must return `expect`.
   */
  async place(history: History, key: string, placed: readonly (Stored | null)[], expect: string): Promise<void> {
    for (const [i, record] of placed.entries()) {
      if (record !== null) await this.cluster.plant(i, this.namespace + key, record);
    }
    history.record({ process: GRADER, type: 'note', op: 'pick', value: { key, placed, expect } });
  }

  async get(history: History, client: string, key: string, lane = client): Promise<ReadAnswer | undefined> {
    history.record({ process: lane, type: 'invoke', op: 'get', value: { key } });
    const result = await this.learner.client.call('get', [client, key], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process: lane, type: 'ok', op: 'get', value: result.value });
      return result.value;
    }
    history.record({ process: lane, type: 'fail', op: 'get', detail: result.message });
    return undefined;
  }

  async fault(history: History, i: number, kind: 'pause' | 'kill' | 'partition' | 'reset'): Promise<void> {
    const description = await this.cluster.fault(i, kind);
    history.record({ process: NEMESIS, type: 'fault', op: description });
  }

  latency(history: History, i: number, ms: number, jitterMs = 0): void {
    history.record({ process: NEMESIS, type: 'fault', op: this.cluster.latency(i, ms, jitterMs) });
  }

  /** Notes which of the first N replicas a write has reached since they were cut off at their next write. */
  writesArrived(history: History, key: string): void {
    const reached = Array.from({ length: N }, (_, i) => i).filter((i) => this.cluster.writeArrived(i)).map((i) => `replica-${i + 1}`);
    history.record({ process: GRADER, type: 'note', op: 'writes', value: { key, reached } });
  }

  /** Cuts replica i off as the next write reaches it, after whatever reads came first (FaultProxy.dropFrom). */
  partitionAtWrite(history: History, i: number): void {
    history.record({ process: NEMESIS, type: 'fault', op: this.cluster.partitionAtWrite(i) });
  }

  async heal(history: History, i: number): Promise<void> {
    await this.cluster.heal(i);
    history.record({ process: NEMESIS, type: 'heal', op: `heal replica-${i + 1}` });
  }

  async healAll(history: History): Promise<void> {
    await this.cluster.healAll();
    history.record({ process: NEMESIS, type: 'heal', op: 'heal every replica' });
  }

  /** What each of the first `replicas` replicas holds for each key, read directly (undefined: it did not answer). */
  private async held(keys: readonly string[], replicas = N): Promise<(Stored | null | undefined)[][]> {
    return (await Promise.all(keys.map((key) => this.cluster.inspect(this.namespace + key)))).map((held) => held.slice(0, replicas));
  }

  /**
   * Waits until what the replicas hold of `keys` satisfies `done`, reading them directly
   * every few milliseconds, for at most `timeoutMs`. The scenarios wait on what they need to
   * see (a write's last copies landed, a repair done) rather than for a fixed time: as long
   * as that takes on a loaded machine, and no longer. Returns whether it came.
   */
  async until(keys: readonly string[], done: (held: (Stored | null | undefined)[][]) => boolean, timeoutMs = SETTLE_TIMEOUT_MS, replicas = N): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (done(await this.held(keys, replicas))) return true;
      if (performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits until every replica holds `value` for each of `keys` (the copies a write quorum did not wait for have landed). */
  everywhere(keys: readonly string[], value: string, replicas = N): Promise<boolean> {
    return this.until(keys, (held) => held.every((each) => each.every((h) => h !== undefined && h !== null && h.value === value)), SETTLE_TIMEOUT_MS, replicas);
  }

  /**
   * Reads what each replica holds for the keys, directly, into the history: once the
   * replicas agree on each key (repairs under way have landed), or once `timeoutMs` has
   * passed (a repair that never comes is what the checker then sees).
   */
  async inspect(history: History, keys: readonly string[], timeoutMs = SETTLE_TIMEOUT_MS, replicas = N): Promise<void> {
    const agree = (replicas: (Stored | null | undefined)[]): boolean => {
      const [first] = replicas;
      return first !== undefined && first !== null && replicas.every((h) => h !== undefined && h !== null && h.value === first.value && h.version.ts === first.version.ts && h.version.writer === first.version.writer);
    };
    await this.until(keys, (held) => held.every(agree), timeoutMs, replicas);
    const held = await this.held(keys, replicas);
    keys.forEach((key, k) => {
      const note: ReplicasNote = { key, held: (held[k] ?? []).map((h) => (h === undefined ? 'unreachable' : h)) };
      history.record({ process: GRADER, type: 'note', op: 'replicas', value: note });
    });
  }

  /** Ends a scenario: every fault healed, every coordinator's connections closed. */
  async endScenario(): Promise<void> {
    await this.cluster.healAll();
    await this.learner.client.call('finish', [], 5_000);
  }
}
