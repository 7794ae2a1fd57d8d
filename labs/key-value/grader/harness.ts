/**
 * The Key-Value grader's side of a run: the services (stores.ts), the learner's process
 * where the adapter runs the service, and the service's clock, which the grader moves.
 * Every request is recorded on its lane with when it ran on that clock and how long it
 * took; what the grader reads itself (keys and their expiry, loads, the database's truth)
 * goes in as notes.
 */
import type { HistoryRecorder } from '../../../src/core/grading/history';
import { LearnerProcess } from '../../../src/core/grading/learnerProcess';
import type { Sandbox } from '../../../src/core/grading/sandbox';
import { GRADER, type KvEvent, NEMESIS, type OpInput } from './history';
import { BASE_CONFIG, LOAD_DELAY_MS, MEMCACHED_TIMEOUT_MS, OP_TIMEOUT_MS } from './limits';
import type { Gate, KvAdapter, KvOp, OpResult, ServiceConfig } from './protocol';
import type { KvServices } from './stores';

type History = HistoryRecorder<KvEvent>;

export type Outcome = { readonly ok: true; readonly result: OpResult } | { readonly ok: false; readonly message: string };

function inputOf(op: KvOp, t: number): OpInput {
  const input: Record<string, unknown> = { ...op, t };
  delete input['op'];
  return input as unknown as OpInput;
}

export class KvHarness {
  readonly learner: LearnerProcess<KvAdapter>;
  private config: ServiceConfig = BASE_CONFIG;
  private offsetMs = 0;

  constructor(
    sandbox: Sandbox,
    readonly services: KvServices,
  ) {
    this.learner = new LearnerProcess<KvAdapter>(
      sandbox,
      async (client) => {
        const configured = await client.call('configure', [services.adapterConfig(LOAD_DELAY_MS, MEMCACHED_TIMEOUT_MS)], 15_000);
        if (!configured.ok) throw new Error(`The grader could not configure the learner's process: ${configured.message}`);
      },
      // Each time a process becomes the current one (a spare was connected earlier): the service as it is now.
      async (client) => {
        const opened = await client.call('open', [this.config, this.offsetMs], OP_TIMEOUT_MS);
        if (!opened.ok) throw new Error(`Making the service failed: ${opened.message}`);
      },
    );
  }

  /** The service's clock now. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** The start of a scenario: empty stores and table, the service made on `config`. */
  async begin(history: History, config: Partial<ServiceConfig> = {}): Promise<void> {
    await this.learner.ensureRunning();
    await this.learner.client.call('finish', [], 5_000);
    await this.services.flush();
    this.offsetMs = 0;
    await this.open(history, config);
  }

  /** Makes the service again with another configuration (on the same stores). */
  async open(history: History, config: Partial<ServiceConfig>): Promise<void> {
    this.config = { ...BASE_CONFIG, ...config };
    history.record({ process: GRADER, type: 'note', op: 'config', value: this.config });
    const opened = await this.learner.client.call('open', [this.config, this.offsetMs], OP_TIMEOUT_MS);
    if (!opened.ok) throw new Error(`Making the service threw: ${opened.message}`);
  }

  /** Moves the clock so that it reads `into` ms past the start of a window of `windowMs`, at least `min` ahead of now. */
  async toWindowStart(history: History, windowMs: number, into = 20, min = 0): Promise<void> {
    const target = (Math.floor((this.now() + min) / windowMs) + 1) * windowMs + into;
    await this.jump(history, target - this.now());
  }

  /** Moves the clock `ms` ahead. */
  async jump(history: History, ms: number): Promise<void> {
    this.offsetMs += Math.round(ms);
    const set = await this.learner.client.call('setClock', [this.offsetMs], 5_000);
    if (!set.ok) throw new Error(`Moving the clock failed: ${set.message}`);
    history.record({ process: GRADER, type: 'note', op: 'clock', detail: `the clock moves ${Math.round(ms)} ms ahead` });
  }

  /** Runs one request on lane `process`; records it, and returns its result or why it failed. */
  async op(history: History, process: string, op: KvOp, timeoutMs = OP_TIMEOUT_MS): Promise<Outcome> {
    history.record({ process, type: 'invoke', op: op.op, value: inputOf(op, this.now()) });
    const started = performance.now();
    const result = await this.learner.client.call('run', [op], timeoutMs);
    const end = { t: this.now(), ms: Math.round((performance.now() - started) * 10) / 10 };
    if (result.ok) {
      history.record({ process, type: 'ok', op: op.op, value: { ...end, result: result.value ?? null } });
      return { ok: true, result: result.value };
    }
    history.record({ process, type: 'fail', op: op.op, value: end, detail: result.message });
    return { ok: false, message: result.message };
  }

  /** Runs requests at the same time, each on its own lane. */
  burst(history: History, requests: readonly { readonly process: string; readonly op: KvOp }[], timeoutMs = OP_TIMEOUT_MS): Promise<Outcome[]> {
    return Promise.all(requests.map((r) => this.op(history, r.process, r.op, timeoutMs)));
  }

  /** A request that must succeed: a failure ends the scenario with the learner's error. */
  async must(history: History, process: string, op: KvOp): Promise<OpResult> {
    const done = await this.op(history, process, op);
    if (!done.ok) throw new Error(`${op.op} failed: ${done.message}`);
    return done.result;
  }

  case(history: History, name: string): void {
    history.record({ process: GRADER, type: 'note', op: 'case', value: { name } });
  }

  async probeKeys(history: History): Promise<void> {
    history.record({ process: GRADER, type: 'note', op: 'keys', value: { keys: await this.services.keys() } });
  }

  async setTruth(history: History, id: string, value: string): Promise<void> {
    await this.services.setTruth(id, value);
    history.record({ process: GRADER, type: 'note', op: 'truth', value: { id, value } });
  }

  async takeLoads(): Promise<Record<string, number>> {
    const taken = await this.learner.client.call('takeLoads', [], 5_000);
    if (!taken.ok) throw new Error(`Counting loads failed: ${taken.message}`);
    return taken.value;
  }

  async hold(gate: Gate): Promise<void> {
    const held = await this.learner.client.call('hold', [gate], 5_000);
    if (!held.ok) throw new Error(`Holding ${gate.kind} failed: ${held.message}`);
  }

  async waitHeld(timeoutMs = 3_000): Promise<boolean> {
    const waited = await this.learner.client.call('waitHeld', [timeoutMs], timeoutMs + 2_000);
    return waited.ok && waited.value;
  }

  async release(): Promise<void> {
    await this.learner.client.call('release', [], 5_000);
  }

  async arm(crashAfter: number | null): Promise<void> {
    const armed = await this.learner.client.call('arm', [crashAfter], 5_000);
    if (!armed.ok) throw new Error(`Arming failed: ${armed.message}`);
  }

  async replies(): Promise<number> {
    const counted = await this.learner.client.call('replies', [], 5_000);
    if (!counted.ok) throw new Error(`Counting replies failed: ${counted.message}`);
    return counted.value;
  }

  async noteOpenSessions(history: History): Promise<void> {
    const open = await this.learner.client.call('openSessions', [], 5_000);
    if (open.ok) history.record({ process: GRADER, type: 'note', op: 'sessions-open', value: { count: open.value } });
  }

  /** Restarts the learner's process (it made the service again on the same configuration and clock). */
  async restartLearner(): Promise<void> {
    await this.learner.restart();
  }

  /** Records how the process ended if it did by itself, and starts a new one. */
  async reviveIfDead(history: History): Promise<void> {
    const reason = this.learner.sandbox.endReason;
    if (reason === undefined) return;
    if (reason.kind === 'crashed' || reason.kind === 'exited' || reason.kind === 'out-of-memory') history.record({ process: 'service', type: 'crash', op: 'died', detail: reason.message });
    await this.learner.restart();
  }

  async fault(history: History, apply: () => Promise<string> | string): Promise<void> {
    const what = await apply();
    history.record({ process: NEMESIS, type: 'fault', op: what.split(' ')[0] ?? 'fault', detail: what });
  }

  async healAll(history: History): Promise<void> {
    await this.services.healAll();
    history.record({ process: NEMESIS, type: 'heal', op: 'heal', detail: 'Redis answers again' });
  }

  /** The end of every scenario: faults healed, nothing held, the service dropped. */
  async endScenario(): Promise<void> {
    await this.services.healAll();
    if (!this.learner.ended) {
      await this.learner.client.call('release', [], 5_000);
      await this.learner.client.call('finish', [], 5_000);
    }
  }
}
