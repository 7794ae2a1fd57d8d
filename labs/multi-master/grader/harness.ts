/**
 * The Multi-Master grader's side of a run: the region stores (stores.ts), the learner's
 * process where the adapter runs the three regions, and the channel between the regions,
 * which is the grader's: every message a region sends waits here until a scenario delivers
 * it (late, out of order, twice), drops a delivery (it stays in flight and comes again), or
 * holds it behind a partition. Everything is recorded in the scenario's history.
 */
import type { HistoryRecorder } from '../../../src/core/grading/history';
import { LearnerProcess } from '../../../src/core/grading/learnerProcess';
import type { Sandbox } from '../../../src/core/grading/sandbox';
import type { Rng } from '../../../src/core/random';
import { GRADER, type MultiMasterEvent, NEMESIS, REGIONS, type RegionState, type StateNote, WRITE_OPS, lane } from './history';
import { GRADING_DATABASE, OP_TIMEOUT_MS, STORE_TIMEOUT_MS } from './limits';
import type { ClockSetting, MultiMasterAdapter, OpResult, RegionOp } from './protocol';
import type { RegionStores } from './stores';

type History = HistoryRecorder<MultiMasterEvent>;

export interface InFlight {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly body: unknown;
}

/** The keys a state read covers, by kind. */
export interface Keys {
  readonly profiles?: readonly string[];
  readonly carts?: readonly string[];
  readonly likes?: readonly string[];
}

/** The key of a pair of regions in `cut`, the same whichever way round. */
const pair = (a: string, b: string): string => [a, b].sort().join('|');

/** Makes region `region` with the learner's createRegion, on its store and clock; throws what createRegion threw. */
async function openRegion(client: LearnerProcess<MultiMasterAdapter>['client'], region: string, clock: ClockSetting): Promise<void> {
  const opened = await client.call('open', [region, clock], OP_TIMEOUT_MS);
  if (!opened.ok) throw new Error(`createRegion threw for region ${region}: ${opened.message}`);
}

export class MultiMasterHarness {
  readonly learner: LearnerProcess<MultiMasterAdapter>;
  /** Messages sent and not yet delivered (a dropped delivery leaves its message here). */
  readonly inFlight = new Map<string, InFlight>();
  /** Every message sent in this scenario, for deliveries again. */
  readonly sent: InFlight[] = [];
  /** Pairs of regions that cannot reach each other ("eu|us", both ways). */
  private readonly cut = new Set<string>();
  private counter = 0;
  private readonly clocks = new Map<string, ClockSetting>();

  constructor(
    sandbox: Sandbox,
    readonly stores: RegionStores,
  ) {
    this.learner = new LearnerProcess<MultiMasterAdapter>(sandbox, async (client) => {
      const result = await client.call('configure', [{ stores: stores.addresses, timeoutMs: STORE_TIMEOUT_MS, database: GRADING_DATABASE }], 10_000);
      if (!result.ok) throw new Error(`The grader could not configure the learner's process: ${result.message}`);
      // A restarted process has lost its regions: make them again, on the clocks they had.
      for (const [region, clock] of this.clocks) await openRegion(client, region, clock);
    });
  }

  /** The start of a scenario: an empty grading database, no message in flight, the three regions made on `clocks`. */
  async begin(history: History, clocks: (region: string) => ClockSetting = () => ({ skewMs: 0 })): Promise<void> {
    await this.learner.ensureRunning();
    await this.learner.client.call('finish', [], 5_000);
    await this.stores.flush();
    this.inFlight.clear();
    this.sent.length = 0;
    this.cut.clear();
    this.clocks.clear();
    for (const region of REGIONS) await this.open(history, region, clocks(region));
  }

  private async open(history: History, region: string, clock: ClockSetting): Promise<void> {
    this.clocks.set(region, clock);
    await openRegion(this.learner.client, region, clock);
    const skew = 'fixed' in clock ? `stopped at ${clock.fixed}` : clock.skewMs === 0 ? 'on time' : `${clock.skewMs > 0 ? '+' : ''}${clock.skewMs} ms`;
    history.record({ process: GRADER, type: 'note', op: 'clock', detail: `${region}'s clock ${skew}` });
  }

  /** Runs one region operation on `laneN` of the region; returns its result, or why it failed. Collects what it sent. */
  async op(history: History, region: string, op: RegionOp, laneN = 1): Promise<{ ok: true; result: OpResult } | { ok: false; message: string }> {
    const process = lane(region, laneN);
    history.record({ process, type: 'invoke', op: op.op, value: 'value' in op ? { key: op.key, value: op.value } : { key: op.key } });
    const result = await this.learner.client.call('run', [region, op], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process, type: 'ok', op: op.op, value: { result: result.value ?? null } });
    } else {
      // A write that failed may still have taken effect; a read that failed did nothing.
      history.record({ process, type: WRITE_OPS.includes(op.op) ? 'info' : 'fail', op: op.op, detail: result.message });
    }
    await this.collect(history);
    return result.ok ? { ok: true, result: result.value } : { ok: false, message: result.message };
  }

  /** Takes what the regions sent since the last time into the channel, each message as a `send` on its sender's lane. */
  async collect(history: History): Promise<void> {
    const drained = await this.learner.client.call('drain', [], OP_TIMEOUT_MS);
    if (!drained.ok) return;
    for (const m of drained.value) {
      const id = `m${++this.counter}`;
      const flight: InFlight = { id, from: m.from, to: m.to, body: m.body };
      this.inFlight.set(id, flight);
      this.sent.push(flight);
      history.record({ process: m.from, type: 'note', op: 'send', value: { to: m.to, body: m.body }, message: id });
    }
  }

  /**
   * Delivers a message to its region; resolves whether its receive resolved. A message
   * delivered leaves the channel unless `again` (a duplicate follows); one whose receive
   * failed stays and is delivered again later.
   */
  async deliver(history: History, message: InFlight, options: { again?: boolean; laneN?: number } = {}): Promise<boolean> {
    const process = lane(message.to, options.laneN ?? 1);
    history.record({ process, type: 'invoke', op: 'receive', value: { from: message.from }, message: message.id });
    const result = await this.learner.client.call('deliver', [message.to, message.from, message.body], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process, type: 'ok', op: 'receive' });
      if (options.again !== true) this.inFlight.delete(message.id);
    } else {
      history.record({ process, type: 'fail', op: 'receive', detail: result.message });
    }
    await this.collect(history);
    return result.ok;
  }

  /** Notes what `key` must end as in every region, and why. */
  expect(history: History, key: string, value: string, why: string): void {
    history.record({ process: GRADER, type: 'note', op: 'expect', value: { key, value, why } });
  }

  /** The channel loses this delivery: the message stays in flight, to come again. */
  drop(history: History, message: InFlight): void {
    history.record({ process: message.to, type: 'note', op: 'drop', value: { to: message.to }, message: message.id });
  }

  reachable(from: string, to: string): boolean {
    return !this.cut.has(pair(from, to));
  }

  /** Cuts `side` off from the other regions: nothing passes between them until healed. */
  partition(history: History, side: readonly string[]): void {
    for (const a of side) for (const b of REGIONS) if (!side.includes(b)) this.cut.add(pair(a, b));
    history.record({ process: NEMESIS, type: 'fault', op: `partition ${side.join(', ')} from ${REGIONS.filter((r) => !side.includes(r)).join(', ')}` });
  }

  healPartitions(history: History): void {
    if (this.cut.size === 0) return;
    this.cut.clear();
    history.record({ process: NEMESIS, type: 'heal', op: 'heal the partition' });
  }

  /** The messages in flight that can pass now, in the order they were sent. */
  deliverable(filter: (m: InFlight) => boolean = () => true): InFlight[] {
    return [...this.inFlight.values()].filter((m) => this.reachable(m.from, m.to) && filter(m));
  }

  /**
   * Delivers what can pass, one at a time in a shuffled order, until nothing is left that
   * can (deliveries may send more); a failed receive is retried, at most `rounds` times over.
   */
  async deliverAll(history: History, rng: Rng, filter: (m: InFlight) => boolean = () => true, rounds = 20): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      const ready = this.deliverable(filter);
      if (ready.length === 0) return;
      for (const m of rng.shuffle(ready)) if (this.inFlight.has(m.id)) await this.deliver(history, m);
    }
  }

  async pause(history: History, region: string): Promise<void> {
    history.record({ process: NEMESIS, type: 'fault', op: await this.stores.pause(region) });
  }

  /** Kills the region's store and leaves it down until healed (the region itself keeps running). */
  async killStore(history: History, region: string): Promise<void> {
    history.record({ process: NEMESIS, type: 'fault', op: await this.stores.kill(region) });
  }

  async heal(history: History, region: string): Promise<void> {
    await this.stores.heal(region);
    history.record({ process: NEMESIS, type: 'heal', op: `heal ${region}'s store` });
  }

  /**
   * A region that crashes and starts again: its store is killed (it keeps what it
   * acknowledged), started again, and the region is made anew with createRegion on it:
   * whatever it kept in memory is gone.
   */
  async restart(history: History, region: string): Promise<void> {
    await this.killStore(history, region);
    await this.stores.heal(region);
    const clock = this.clocks.get(region) ?? { skewMs: 0 };
    await this.open(history, region, clock);
    history.record({ process: NEMESIS, type: 'heal', op: `${region} started again: its store back, the region made anew by createRegion` });
  }

  /** Reads every region's view of `keys` through the learner's reads, into one `state` note. */
  async readState(history: History, label: string, keys: Keys): Promise<StateNote> {
    const regions: StateNote['regions'][number][] = [];
    for (const region of REGIONS) {
      try {
        const read = async <T>(op: RegionOp, what: (v: OpResult) => T): Promise<T> => {
          const result = await this.learner.client.call('run', [region, op], OP_TIMEOUT_MS);
          if (!result.ok) throw new Error(`${op.op}(${JSON.stringify(op.key)}) failed: ${result.message}`);
          return what(result.value);
        };
        const profiles: Record<string, string | null> = {};
        const conflicts: Record<string, readonly string[]> = {};
        const carts: Record<string, readonly string[]> = {};
        const likes: Record<string, number> = {};
        for (const key of keys.profiles ?? []) {
          profiles[key] = await read({ op: 'getProfile', key }, (v) => (typeof v === 'string' ? v : null));
          conflicts[key] = await read({ op: 'conflicts', key }, (v) => (Array.isArray(v) ? [...(v as string[])].sort() : []));
        }
        for (const key of keys.carts ?? []) carts[key] = await read({ op: 'getCart', key }, (v) => (Array.isArray(v) ? [...(v as string[])].sort() : []));
        for (const key of keys.likes ?? []) likes[key] = await read({ op: 'likes', key }, (v) => (typeof v === 'number' ? v : Number.NaN));
        const state: RegionState = { region, profiles, conflicts, carts, likes };
        regions.push(state);
      } catch (error) {
        regions.push({ region, unreadable: error instanceof Error ? error.message : String(error) });
      }
    }
    await this.collect(history);
    const open = await this.learner.client.call('openSessions', [], OP_TIMEOUT_MS);
    const withSessions = regions.map((r) => ('unreadable' in r || !open.ok ? r : { ...r, openSessions: open.value[r.region] ?? 0 }));
    const note: StateNote = { label, regions: withSessions };
    history.record({ process: GRADER, type: 'note', op: 'state', value: note });
    return note;
  }

  /** Heals everything and delivers every message left; then reads the final state. */
  async settle(history: History, rng: Rng, keys: Keys, label = 'final'): Promise<StateNote> {
    await this.stores.healAll();
    this.healPartitions(history);
    await this.deliverAll(history, rng);
    return this.readState(history, label, keys);
  }

  /** Ends a scenario: every fault healed, the regions dropped. */
  async endScenario(): Promise<void> {
    await this.stores.healAll();
    this.clocks.clear();
    await this.learner.client.call('finish', [], 5_000);
  }
}
