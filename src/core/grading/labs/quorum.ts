/**
 * The Quorum lab's grader: the learner's coordinators (one per simulated client machine,
 * all in the sandboxed process, each with its own connections and clock) run against
 * three replicas — the lab's Redis containers, or in-process replicas without Docker —
 * each behind a fault proxy. Scenarios take replicas down (pause, kill, partition), slow
 * them, and run clients at once; the history records every put and get as a Jepsen-style
 * register operation, and the checkers judge it: per-key linearizability (our own
 * Wing–Gong/Lowe checker, linearizability.ts) and what the replicas hold, read directly.
 *
 * The semantics graded (../shared/GRADING.md, quorum replication): R + W ≤ N refused or
 * flagged as eventual; with one of three replicas down R = W = 2 works and with two down
 * operations fail rather than lie; a write that reached fewer than W replicas must not be
 * seen by one read and missed by a later one (synchronous read repair, ABD); concurrent
 * writes resolve by last-write-wins, reported as such, never merged; replicas converge
 * after a partition heals.
 */
import type { Rng } from '../../random';
import { seededRandom } from '../../random';
import type { HistoryRecorder, Scenario, ScenarioContext } from '../engine';
import { type LabGrader, type LabRun, type OpenedRun } from '../gradeLab';
import { GRADER_CHECKS } from '../graderIds';
import { LearnerProcess } from '../learnerProcess';
import { type HistoryOp, type Operation, checkLinearizable } from '../linearizability';
import { type ReplicaCluster, startDockerReplicas, startInProcessReplicas } from '../quorumCluster';
import type { CheckOutcome, HistoryEvent, HistoryFocus } from '../report';
import { type Stored, type Version, isNewer } from '../replicaStore';
import type { Sandbox } from '../sandbox';

export const QUORUM_LAB_ID = 'quorum';
const N = 3;
/** How long one replica call may wait in the learner's process before it is a ReplicaError. */
export const REPLICA_TIMEOUT_MS = 300;
/** How long one put or get may take before the grader calls it hung (and the process is restarted). */
const OP_TIMEOUT_MS = 5_000;
const CLIENT = (i: number): string => `client-${i}`;
const NEMESIS = 'nemesis';
const GRADER = 'grader';

// ─── The history's vocabulary ────────────────────────────────────────────────────

/** `open`: a coordinator made with these settings. */
export interface OpenInput {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly allowEventual?: boolean;
}

/** A `replicas` note: what each replica held for a key, read directly. */
export interface ReplicasNote {
  readonly key: string;
  /** null: it holds nothing; 'unreachable': it did not answer. */
  readonly held: readonly (Stored | null | 'unreachable')[];
}

export interface RegisterOp {
  readonly process: string;
  readonly f: 'put' | 'get';
  readonly key: string;
  /** put: the value written. */
  readonly value?: string;
  readonly invoke: number;
  readonly complete: number | undefined;
  readonly outcome: 'ok' | 'fail' | 'info';
  /** get: the value read; put: nothing. */
  readonly read?: string | null;
  readonly version?: Version | null;
  readonly detail?: string;
}

/** Every put and get of the history, paired invoke → completion per process. */
export function registerOps(history: readonly HistoryEvent[]): RegisterOp[] {
  const open = new Map<string, { index: number; event: HistoryEvent }>();
  const ops: RegisterOp[] = [];
  const finish = (started: { index: number; event: HistoryEvent }, index: number | undefined, end: HistoryEvent | undefined): void => {
    const input = started.event.value as { key: string; value?: string };
    const result = end?.type === 'ok' ? (end.value as { value?: string | null; version?: Version | null } | undefined) : undefined;
    ops.push({
      process: started.event.process,
      f: started.event.op as 'put' | 'get',
      key: input.key,
      ...(input.value !== undefined ? { value: input.value } : {}),
      invoke: started.index,
      complete: index,
      outcome: end === undefined ? 'info' : (end.type as 'ok' | 'fail' | 'info'),
      ...(started.event.op === 'get' && result !== undefined ? { read: result.value ?? null } : {}),
      ...(result?.version !== undefined ? { version: result.version } : {}),
      ...(end?.detail !== undefined ? { detail: end.detail } : {}),
    });
  };
  history.forEach((e, index) => {
    if (e.op !== 'put' && e.op !== 'get') return;
    if (e.type === 'invoke') {
      const pending = open.get(e.process);
      if (pending) finish(pending, undefined, undefined);
      open.set(e.process, { index, event: e });
      return;
    }
    if (e.type !== 'ok' && e.type !== 'fail' && e.type !== 'info') return;
    const started = open.get(e.process);
    if (!started) return;
    open.delete(e.process);
    finish(started, index, e);
  });
  for (const started of open.values()) finish(started, undefined, undefined);
  return ops.sort((a, b) => a.invoke - b.invoke);
}

/** The `replicas` notes of a history, by key (the last one of each key). */
export function replicaNotes(history: readonly HistoryEvent[]): Map<string, { note: ReplicasNote; index: number }> {
  const notes = new Map<string, { note: ReplicasNote; index: number }>();
  history.forEach((e, index) => {
    if (e.process === GRADER && e.type === 'note' && e.op === 'replicas') {
      const note = e.value as ReplicasNote;
      notes.set(note.key, { note, index });
    }
  });
  return notes;
}

const show = (value: string | null | undefined): string => (value === null || value === undefined ? 'nothing' : `'${value}'`);
const showVersion = (v: Version | null | undefined): string => (v === null || v === undefined ? 'no version' : `version ${v.ts}/${v.writer}`);
const opText = (op: RegisterOp): string =>
  op.f === 'put' ? `${op.process} put ${op.key} = ${show(op.value)}` : `${op.process} get ${op.key} → ${op.outcome === 'ok' ? show(op.read) : op.outcome === 'fail' ? 'failed' : 'no answer'}`;
const at = (history: readonly HistoryEvent[], index: number | undefined): string => (index === undefined ? 'never' : `${Math.round(history[index]?.at ?? 0)} ms`);

// ─── Linearizability, key by key ──────────────────────────────────────────────────

export interface KeyVerdict {
  readonly key: string;
  readonly verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  /** Not linearizable: the longest order found, then the operations none of which can come next. */
  readonly linearized: readonly RegisterOp[];
  readonly stuck: readonly RegisterOp[];
  readonly ops: readonly RegisterOp[];
  readonly reason?: string;
}

/** Checks each key's register history on its own (puts are writes, gets reads; info puts may take effect late or never). */
export function checkKeys(history: readonly HistoryEvent[], maxSteps = 1_000_000): KeyVerdict[] {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of registerOps(history)) {
    byKey.set(op.key, [...(byKey.get(op.key) ?? []), op]);
  }
  const verdicts: KeyVerdict[] = [];
  for (const [key, ops] of byKey) {
    // The checker's history: invocations and completions in history order, with a map back to our ops.
    const events: { index: number; op: HistoryOp; source: RegisterOp }[] = [];
    for (const op of ops) {
      const f = op.f === 'put' ? 'write' : 'read';
      events.push({ index: op.invoke, op: { process: op.process, type: 'invoke', f, key, ...(op.f === 'put' ? { value: op.value } : {}) }, source: op });
      if (op.complete !== undefined) {
        events.push({ index: op.complete, op: { process: op.process, type: op.outcome, f, key, ...(op.f === 'get' && op.outcome === 'ok' ? { value: op.read ?? null } : {}) }, source: op });
      }
    }
    events.sort((a, b) => a.index - b.index);
    const result = checkLinearizable(
      events.map((e) => e.op),
      'register',
      { maxSteps },
    );
    const back = (o: Operation): RegisterOp => (events[o.call] as (typeof events)[number]).source;
    if (result.verdict === 'not-linearizable') {
      verdicts.push({ key, verdict: 'not-linearizable', linearized: result.linearized.map(back), stuck: result.stuck.map(back), ops });
    } else {
      verdicts.push({ key, verdict: result.verdict, linearized: [], stuck: [], ops, ...(result.verdict === 'unknown' ? { reason: result.reason } : {}) });
    }
  }
  return verdicts;
}

function keyFocus(v: KeyVerdict): HistoryFocus {
  const events = v.ops.flatMap((o) => (o.complete !== undefined ? [o.invoke, o.complete] : [o.invoke]));
  return { label: `key ${v.key}`, processes: [], events };
}

const opEvents = (ops: readonly RegisterOp[]): number[] => ops.flatMap((o) => (o.complete !== undefined ? [o.invoke, o.complete] : [o.invoke]));

/** A read that returned a value older than one an earlier, completed operation had already shown or written. */
function staleRead(v: KeyVerdict): { read: RegisterOp; newer: RegisterOp } | undefined {
  for (const read of v.stuck) {
    if (read.f !== 'get' || read.outcome !== 'ok') continue;
    const readVersion = read.version;
    for (const other of v.ops) {
      if (other === read || other.outcome !== 'ok' || other.complete === undefined || other.complete > read.invoke || other.version === undefined || other.version === null) continue;
      if (readVersion === undefined || readVersion === null || isNewer(other.version, readVersion)) {
        return { read, newer: other };
      }
    }
  }
  return undefined;
}

/** The put with the newest version (the order the replicas keep), or undefined when none has one. */
function newestPut(puts: readonly RegisterOp[]): RegisterOp | undefined {
  let best: RegisterOp | undefined;
  for (const p of puts) {
    if (p.version && (best?.version === undefined || best.version === null || isNewer(p.version, best.version))) best = p;
  }
  return best;
}

const HINT = {
  readRepair:
    'A read found a value that only some replicas held, returned it, and a later read through another quorum did not find it. Before get returns, write the newest value it found back to the replicas and wait for W of them to acknowledge (synchronous read repair): then every later read quorum overlaps a quorum that holds it.',
  newest: 'Wait for R answers and return the newest of them by version (compareVersions), not the first answer that arrives: the first can come from a replica that missed the latest write.',
  versions:
    'A write must get a version newer than every version a quorum holds: ask a read quorum for the newest version first and use ts = max(clock, newest.ts + 1). The local clock alone is not enough: another machine whose clock is ahead wrote a newer-looking version earlier, and the replicas keep that one.',
  tieBreak: 'Two writes got the same version, so the replicas cannot tell which is newer and may keep different ones. Put this coordinator\'s id (options.id) in version.writer: it breaks ties, and every writer\'s versions differ.',
  waitAll:
    'With one replica down, a write needs only W acknowledgements and a read R answers. Send to all N and resolve as soon as W (or R) have answered; do not wait for every replica (Promise.all fails or hangs on the one that is down).',
  failedAcks:
    'A replica call that rejected (ReplicaError) is not an acknowledgement. Count only the calls that resolved, and throw a QuorumError once so many have failed that the quorum can no longer be reached.',
  config:
    'Check the options before anything else: N, R and W must be whole numbers of at least 1, R and W at most N, N equal to replicas.length; and refuse R + W ≤ N (throw a ConfigError) unless allowEventual is true, when the coordinator\'s mode is \'eventual\'.',
  converge:
    'After a get has its R answers, the other replicas still answer, later. Compare every answer, the late ones too, with the newest version found, and write the newest value to each replica that answered with an older one (in the background; it does not delay get). That is how replicas that missed writes during a partition catch up.',
  lww: "Last-write-wins keeps exactly one of the concurrent writes: the one with the highest version, on every replica. Return the stored value as it is: never combine values, and declare conflictPolicy: 'last-write-wins'.",
};

// ─── The harness ──────────────────────────────────────────────────────────────────

class QuorumHarness {
  readonly learner: LearnerProcess;

  constructor(
    sandbox: Sandbox,
    readonly cluster: ReplicaCluster,
    /** Put before every key on the replicas, by the adapter and here: this run's keys are its own. */
    private readonly namespace: string,
  ) {
    this.learner = new LearnerProcess(sandbox, async (call) => {
      const result = await call('configure', [{ replicas: cluster.addresses, timeoutMs: REPLICA_TIMEOUT_MS, namespace }], 10_000);
      if (!result.ok) {
        throw new Error(`The grader could not configure the learner's process: ${result.message}`);
      }
    });
  }

  get sandbox(): Sandbox {
    return this.learner.sandbox;
  }

  /** Makes a coordinator for `client`; records the attempt on the `config` lane when `lane` says so. */
  async open(history: HistoryRecorder, client: string, input: OpenInput, clock: { skewMs: number } | { fixed: number }, lane = client): Promise<{ ok: true; mode: unknown; conflictPolicy: unknown } | { ok: false; message: string }> {
    await this.learner.ensureRunning();
    history.record(lane, 'invoke', 'open', input);
    const result = await this.sandbox.call<{ mode: unknown; conflictPolicy: unknown }>('open', [client, { ...input, clock }], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record(lane, 'ok', 'open', { mode: result.value.mode, conflictPolicy: result.value.conflictPolicy });
      return { ok: true, mode: result.value.mode, conflictPolicy: result.value.conflictPolicy };
    }
    history.record(lane, 'fail', 'open', undefined, result.message);
    return { ok: false, message: result.message };
  }

  async put(history: HistoryRecorder, client: string, key: string, value: string): Promise<Version | undefined> {
    history.record(client, 'invoke', 'put', { key, value });
    const result = await this.sandbox.call<Version>('put', [client, key, value], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record(client, 'ok', 'put', { version: result.value });
      return result.value;
    }
    // A put that failed may still have reached some replicas: its outcome is unknown.
    history.record(client, 'info', 'put', undefined, result.message);
    return undefined;
  }

  /** A write that reached one replica only: another coordinator's, which crashed midway. */
  async plant(history: HistoryRecorder, i: number, key: string, record: Stored, writer: string): Promise<void> {
    history.record(writer, 'invoke', 'put', { key, value: record.value });
    await this.cluster.plant(i, this.namespace + key, record);
    history.record(writer, 'info', 'put', undefined, `this coordinator crashed when its write of ${show(record.value)} (${showVersion(record.version)}) had reached replica-${i + 1} only, fewer than W = 2`);
  }

  async get(history: HistoryRecorder, client: string, key: string): Promise<{ value: string | null; version: Version | null } | undefined> {
    history.record(client, 'invoke', 'get', { key });
    const result = await this.sandbox.call<{ value: string | null; version: Version | null }>('get', [client, key], OP_TIMEOUT_MS);
    if (result.ok) {
      history.record(client, 'ok', 'get', result.value);
      return result.value;
    }
    history.record(client, 'fail', 'get', undefined, result.message);
    return undefined;
  }

  async fault(history: HistoryRecorder, i: number, kind: 'pause' | 'kill' | 'partition' | 'reset'): Promise<void> {
    const description = await this.cluster.fault(i, kind);
    history.record(NEMESIS, 'fault', description);
  }

  latency(history: HistoryRecorder, i: number, ms: number, jitterMs = 0): void {
    history.record(NEMESIS, 'fault', this.cluster.latency(i, ms, jitterMs));
  }

  async heal(history: HistoryRecorder, i: number): Promise<void> {
    await this.cluster.heal(i);
    history.record(NEMESIS, 'heal', `heal replica-${i + 1}`);
  }

  async healAll(history: HistoryRecorder): Promise<void> {
    await this.cluster.healAll();
    history.record(NEMESIS, 'heal', 'heal every replica');
  }

  /** Reads what each replica holds for the keys, directly, into the history. */
  async inspect(history: HistoryRecorder, keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const held = await this.cluster.inspect(this.namespace + key);
      history.record(GRADER, 'note', 'replicas', { key, held: held.map((h) => (h === undefined ? 'unreachable' : h)) } satisfies ReplicasNote);
    }
  }
}

const STRICT: OpenInput = { n: N, r: 2, w: 2 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quorumScenario(h: QuorumHarness, s: Omit<Scenario, 'run'> & { run(ctx: ScenarioContext): Promise<void> }): Scenario {
  return {
    ...s,
    async run(ctx) {
      await h.learner.ensureRunning();
      try {
        await s.run(ctx);
      } finally {
        await h.cluster.healAll();
        await h.sandbox.call('finish', [], 5_000);
      }
    },
  };
}

export const QUORUM_CHECKS = GRADER_CHECKS.quorum;

function title(id: string): string {
  return QUORUM_CHECKS.find((c) => c.id === id)?.title ?? id;
}

const pass = (id: string, actual: string): CheckOutcome => ({ status: 'pass', expected: title(id), actual });
const fail = (id: string, actual: string, hint: string, culprits: readonly number[], focus?: HistoryFocus, moreFocus?: readonly HistoryFocus[]): CheckOutcome => ({
  status: 'fail',
  expected: title(id),
  actual,
  hint,
  culprits: [...new Set(culprits)].sort((a, b) => a - b),
  ...(focus !== undefined ? { focus } : {}),
  ...(moreFocus !== undefined && moreFocus.length > 0 ? { moreFocus } : {}),
});
const unknownOutcome = (id: string, actual: string): CheckOutcome => ({ status: 'unknown', expected: title(id), actual });

/** Judges every key's history for linearizability: the shared part of several checks. */
function judgeLinearizable(id: string, history: readonly HistoryEvent[], hintFor: (v: KeyVerdict) => string): CheckOutcome | undefined {
  const verdicts = checkKeys(history);
  const broken = verdicts.filter((v) => v.verdict === 'not-linearizable');
  if (broken.length > 0) {
    const first = broken[0] as KeyVerdict;
    const stale = staleRead(first);
    const lastShown = first.linearized.slice(-3).map(opText).join('; ');
    const actual = stale
      ? `Key ${first.key}: ${opText(stale.read)} at ${at(history, stale.read.complete)}, but ${opText(stale.newer)}${stale.newer.f === 'get' ? '' : ` (${showVersion(stale.newer.version)})`} had already completed at ${at(history, stale.newer.complete)}: a read went back to an older value.`
      : `Key ${first.key} has no linearizable order: the search placed ${first.linearized.length} of its ${first.ops.length} operations${lastShown !== '' ? ` (ending … ${lastShown})` : ''}, and none of these can come next: ${first.stuck.map(opText).join('; ')}.`;
    const more = broken.length > 1 ? ` ${broken.length - 1} more key${broken.length > 2 ? 's' : ''} (${broken.slice(1).map((v) => v.key).join(', ')}) also broke; each has its own timeline below.` : '';
    return fail(
      id,
      actual + more,
      hintFor(first),
      [...opEvents(first.stuck), ...(stale ? opEvents([stale.newer]) : [])],
      keyFocus(first),
      broken.slice(1).map(keyFocus),
    );
  }
  const undecided = verdicts.find((v) => v.verdict === 'unknown');
  if (undecided) {
    return unknownOutcome(id, `The checker could not decide key ${undecided.key} within its budget (${undecided.reason ?? ''}); it is not assumed to be fine.`);
  }
  return undefined;
}

/** Which hint fits a non-linearizable key: a stale read after a partial write, or a version problem. */
function linearizabilityHint(v: KeyVerdict): string {
  const stale = staleRead(v);
  if (stale && stale.newer.f === 'put' && stale.read.version !== undefined && stale.read.version !== null && stale.newer.version && stale.newer.version.ts < stale.read.version.ts) {
    return HINT.versions;
  }
  if (stale?.newer.f === 'get') return HINT.readRepair;
  const puts = v.ops.filter((o) => o.f === 'put' && o.outcome === 'ok' && o.version);
  const seen = new Set<string>();
  for (const p of puts) {
    const k = `${p.version?.ts}/${p.version?.writer}`;
    if (seen.has(k)) return HINT.tieBreak;
    seen.add(k);
  }
  return `${HINT.newest} ${HINT.versions}`;
}

// ─── Checkers (pure) ──────────────────────────────────────────────────────────────

interface OpenRecord {
  readonly input: OpenInput;
  readonly invoke: number;
  readonly complete: number;
  readonly accepted: boolean;
  readonly mode?: unknown;
  readonly detail?: string;
}

function opensOf(history: readonly HistoryEvent[], lane: string): OpenRecord[] {
  const out: OpenRecord[] = [];
  let pending: { index: number; input: OpenInput } | undefined;
  history.forEach((e, index) => {
    if (e.process !== lane || e.op !== 'open') return;
    if (e.type === 'invoke') {
      pending = { index, input: e.value as OpenInput };
    } else if (pending) {
      const value = e.value as { mode?: unknown } | undefined;
      out.push({ input: pending.input, invoke: pending.index, complete: index, accepted: e.type === 'ok', ...(value?.mode !== undefined ? { mode: value.mode } : {}), ...(e.detail !== undefined ? { detail: e.detail } : {}) });
      pending = undefined;
    }
  });
  return out;
}

const settings = (i: OpenInput): string => `N = ${i.n}, R = ${i.r}, W = ${i.w}${i.allowEventual === true ? ', allowEventual' : ''}`;

export function checkConfig(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'quorum-config';
  const opens = opensOf(history, 'config');
  if (opens.length === 0) return unknownOutcome(id, 'No configuration was tried.');
  for (const o of opens) {
    const { n, r, w } = o.input;
    const valid = [n, r, w].every((x) => Number.isInteger(x) && x >= 1) && r <= n && w <= n && n === N;
    const blame = [o.invoke, o.complete];
    if (!valid) {
      if (o.accepted) return fail(id, `createCoordinator accepted ${settings(o.input)}, which cannot work${n !== N ? ` (${N} replicas were given)` : ''}.`, HINT.config, blame);
      continue;
    }
    if (r + w > n) {
      if (!o.accepted) return fail(id, `createCoordinator refused ${settings(o.input)}, a valid strict quorum: ${o.detail ?? ''}`, HINT.config, blame);
      if (o.mode !== 'strict') return fail(id, `With ${settings(o.input)} (R + W > N) the coordinator's mode is ${JSON.stringify(o.mode)}, not 'strict'.`, HINT.config, blame);
      continue;
    }
    // R + W ≤ N: refused, or accepted and flagged as eventual.
    if (o.accepted && o.mode !== 'eventual') {
      return fail(id, `createCoordinator accepted ${settings(o.input)} as mode ${JSON.stringify(o.mode)}: R + W = ${r + w} ≤ N = ${n}, so a read quorum can miss the latest write, and nothing tells the caller.`, HINT.config, blame);
    }
  }
  const eventual = opens.find((o) => o.input.allowEventual === true && o.input.r + o.input.w <= o.input.n);
  return pass(id, `Strict quorums were accepted as 'strict'; R + W ≤ N was ${eventual?.accepted === true ? "accepted as 'eventual' when allowed" : 'refused'}; impossible settings were refused (${opens.length} configurations tried).`);
}

export function checkOneDown(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'one-replica-down';
  const ops = registerOps(history);
  if (ops.length === 0) return unknownOutcome(id, 'No operation ran.');
  const faults = history.map((e, i) => ({ e, i })).filter(({ e }) => e.type === 'fault');
  for (const op of ops) {
    if (op.outcome !== 'ok') {
      const during = [...faults].reverse().find(({ i }) => i < op.invoke);
      return fail(id, `${opText(op)} failed while only one replica was down${during ? ` (${during.e.op})` : ''}: ${op.detail ?? 'no answer'}. Two replicas answered, which is a quorum for R = W = 2.`, op.detail !== undefined && /did not finish within/.test(op.detail) ? HINT.waitAll : `${HINT.waitAll} ${HINT.failedAcks}`, [op.invoke, ...(op.complete !== undefined ? [op.complete] : []), ...(during ? [during.i] : [])]);
    }
  }
  return judgeLinearizable(id, history, linearizabilityHint) ?? pass(id, `${ops.length} reads and writes succeeded and read the latest value, with each of the three replicas down in turn.`);
}

export function checkTwoDown(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'two-replicas-down';
  const ops = registerOps(history);
  const downAt = history.findIndex((e) => e.type === 'fault');
  const healAt = history.findIndex((e, i) => i > downAt && e.type === 'heal');
  if (downAt < 0 || healAt < 0) return unknownOutcome(id, 'The replicas were not taken down as planned.');
  for (const op of ops) {
    if (op.invoke < downAt || op.invoke > healAt) continue;
    if (op.outcome === 'ok') {
      return fail(id, `${opText(op)} succeeded while two of the three replicas were down: ${op.f === 'put' ? 'only one replica can have acknowledged it, fewer than W = 2' : 'only one replica can have answered, fewer than R = 2'}. It should have failed with a QuorumError.`, HINT.failedAcks, [downAt, op.invoke, ...(op.complete !== undefined ? [op.complete] : [])]);
    }
    if (op.detail !== undefined && /did not finish within/.test(op.detail)) {
      return fail(id, `${opText(op)} did not return within ${OP_TIMEOUT_MS / 1000} s while two replicas were down: it should fail with a QuorumError as soon as two replicas have failed (each call fails after the replica's time limit of ${REPLICA_TIMEOUT_MS} ms).`, HINT.failedAcks, [downAt, op.invoke]);
    }
  }
  return judgeLinearizable(id, history, linearizabilityHint) ?? pass(id, 'With two replicas down, the write and the read failed instead of answering; after healing, the value read was consistent.');
}

export function checkPartialWrite(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'partial-write';
  const ops = registerOps(history);
  if (ops.filter((o) => o.f === 'get').length < 2) return unknownOutcome(id, 'The scenario did not run to the end.');
  const broken = judgeLinearizable(id, history, (v) => (staleRead(v)?.newer.f === 'get' ? HINT.readRepair : linearizabilityHint(v)));
  if (broken) return broken;
  const reads = ops.filter((o) => o.f === 'get' && o.outcome === 'ok');
  return pass(id, `The write of v2 reached one replica only; the reads that followed (${reads.map((r) => show(r.read)).join(', ')}) never went back to an older value.`);
}

export function checkLinearizableUnderFaults(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'linearizable-under-faults';
  const ops = registerOps(history);
  if (ops.length === 0) return unknownOutcome(id, 'No operation ran.');
  const hung = ops.find((o) => o.detail !== undefined && /did not finish within/.test(o.detail));
  if (hung) {
    return fail(id, `${opText(hung)} did not return within ${OP_TIMEOUT_MS / 1000} s: an operation must succeed or fail with a QuorumError once enough replicas answered or failed.`, HINT.waitAll, opEvents([hung]));
  }
  const okOps = ops.filter((o) => o.outcome === 'ok').length;
  if (okOps < ops.length / 3) {
    return fail(id, `Only ${okOps} of ${ops.length} operations succeeded, although at most two replicas were ever down and mostly one.`, HINT.waitAll, []);
  }
  const faults = history.filter((e) => e.type === 'fault').length;
  const keys = new Set(ops.map((o) => o.key)).size;
  return judgeLinearizable(id, history, linearizabilityHint) ?? pass(id, `${ops.length} operations by 4 clients on ${keys} keys (${okOps} succeeded), under ${faults} faults: every key's history is linearizable.`);
}

export function checkConcurrentWrites(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'concurrent-writes';
  const opens = history.map((e, i) => ({ e, i })).filter(({ e }) => e.op === 'open' && e.type === 'ok');
  const policy = opens.find(({ e }) => (e.value as { conflictPolicy?: unknown } | undefined)?.conflictPolicy !== 'last-write-wins');
  if (policy) {
    return fail(id, `The coordinator declares conflictPolicy ${JSON.stringify((policy.e.value as { conflictPolicy?: unknown }).conflictPolicy)}, so a lost concurrent write would go unreported.`, HINT.lww, [policy.i]);
  }
  const ops = registerOps(history);
  const notes = replicaNotes(history);
  const rounds = [...new Set(ops.map((o) => o.key))];
  if (rounds.length === 0) return unknownOutcome(id, 'No write ran.');
  const told: string[] = [];
  for (const key of rounds) {
    const puts = ops.filter((o) => o.key === key && o.f === 'put');
    const gets = ops.filter((o) => o.key === key && o.f === 'get');
    const focus: HistoryFocus = { label: `key ${key}`, processes: [], events: opEvents([...puts, ...gets]) };
    const failedPut = puts.find((p) => p.outcome !== 'ok');
    if (failedPut) return fail(id, `${opText(failedPut)} failed although every replica was up: ${failedPut.detail ?? ''}`, HINT.waitAll, opEvents([failedPut]), focus);
    const byVersion = new Map<string, RegisterOp>();
    for (const p of puts) {
      const k = `${p.version?.ts}/${p.version?.writer}`;
      const same = byVersion.get(k);
      if (same && same.value !== p.value) {
        return fail(id, `${opText(same)} and ${opText(p)} were both given ${showVersion(p.version)}: the replicas cannot tell which is newer, so each may keep a different one.`, HINT.tieBreak, opEvents([same, p]), focus);
      }
      byVersion.set(k, p);
    }
    const winner = newestPut(puts) as RegisterOp;
    const note = notes.get(key);
    if (!note) return unknownOutcome(id, `The replicas of ${key} could not be read.`);
    const held = note.note.held;
    const names = held.map((h, i) => `replica-${i + 1} holds ${h === 'unreachable' ? 'nothing it would say (unreachable)' : h === null ? 'nothing' : `${show(h.value)} (${showVersion(h.version)})`}`).join(', ');
    const agree = held.every((h) => h !== 'unreachable' && h !== null && h.value === winner.value && h.version.ts === winner.version?.ts && h.version.writer === winner.version.writer);
    if (!agree) {
      const merged = held.some((h) => h !== 'unreachable' && h !== null && !puts.some((p) => p.value === h.value));
      return fail(
        id,
        `After ${puts.length} concurrent writes to ${key}, ${names}; the newest write was ${opText(winner)} with ${showVersion(winner.version)}.${merged ? ' A replica holds a value no client wrote: a merge.' : ''}`,
        merged ? HINT.lww : HINT.tieBreak,
        [...opEvents(puts), note.index],
        focus,
      );
    }
    const wrongRead = gets.find((g) => g.outcome !== 'ok' || g.read !== winner.value);
    if (wrongRead) {
      return fail(id, `Every replica holds ${show(winner.value)}, but ${opText(wrongRead)}.`, HINT.lww, [...opEvents([wrongRead]), note.index], focus);
    }
    told.push(`${key}: ${show(winner.value)} (${showVersion(winner.version)}) won over ${puts.length - 1} concurrent writes`);
  }
  return pass(id, `Last-write-wins, as your coordinator declares: ${told.join('; ')}, on every replica. The other writes were overwritten without an error; that loss is what last-write-wins means.`);
}

export function checkConvergence(history: readonly HistoryEvent[]): CheckOutcome {
  const id = 'convergence';
  const ops = registerOps(history);
  const notes = replicaNotes(history);
  if (notes.size === 0) return unknownOutcome(id, 'The replicas could not be read after healing.');
  for (const [key, { note, index }] of notes) {
    const puts = ops.filter((o) => o.key === key && o.f === 'put' && o.outcome === 'ok' && o.version);
    const newest = newestPut(puts);
    if (!newest) return unknownOutcome(id, `No write of ${key} succeeded, so there is nothing to converge to.`);
    const behind = note.held.map((h, i) => ({ h, i })).filter(({ h }) => h === 'unreachable' || h === null || h.version.ts !== newest.version?.ts || h.version.writer !== newest.version.writer);
    if (behind.length > 0) {
      const reads = ops.filter((o) => o.key === key && o.f === 'get');
      const describe = behind.map(({ h, i }) => `replica-${i + 1} holds ${h === 'unreachable' ? '(unreachable)' : h === null ? 'nothing' : `${show(h.value)} (${showVersion(h.version)})`}`).join(', ');
      return fail(id, `After the partition healed and ${key} was read, ${describe}, while the newest write was ${opText(newest)} (${showVersion(newest.version)}).`, HINT.converge, [...opEvents([newest, ...reads]), index], { label: `key ${key}`, processes: [], events: [...opEvents([newest, ...reads]), index] });
    }
  }
  return pass(id, `After the partition healed and each key was read once, all three replicas held the newest version of all ${notes.size} keys.`);
}

/** The demonstration: a stale read with R = W = 1. Never a fail: 'pass' when it showed one. */
export function checkStaleReadDemo(history: readonly HistoryEvent[]): CheckOutcome {
  const expected = 'With R + W ≤ N, a read can miss a write that was already acknowledged';
  const refused = opensOf(history, CLIENT(1)).find((o) => !o.accepted);
  if (refused) {
    return { status: 'unknown', expected, actual: `Your coordinator refused N = 3, R = 1, W = 1 even with allowEventual (${refused.detail ?? ''}), so there was no stale read to show.` };
  }
  const verdict = checkKeys(history).find((v) => v.verdict === 'not-linearizable');
  const stale = verdict ? staleRead(verdict) : undefined;
  if (!verdict || !stale) {
    return { status: 'unknown', expected, actual: 'This run read the latest value anyway: no stale read to show. Run the grade again for another schedule.' };
  }
  return {
    status: 'pass',
    expected,
    actual: `Not graded, just shown: with N = 3, R = 1, W = 1 (R + W = 2 ≤ N), ${opText(stale.newer)} was acknowledged at ${at(history, stale.newer.complete)} by one replica while the other two were cut off. Then ${opText(stale.read)}: the one replica it asked had missed the write. R + W > N rules this out, because every read quorum then includes a replica of every write quorum.`,
    culprits: opEvents([stale.read, stale.newer]),
    focus: keyFocus(verdict),
  };
}

// ─── Scenarios ────────────────────────────────────────────────────────────────────

function buildScenarios(h: QuorumHarness): Scenario[] {
  const clients = async (history: HistoryRecorder, count: number, clock: (i: number) => { skewMs: number } | { fixed: number }, input: OpenInput = STRICT): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 1; i <= count; i++) {
      const opened = await h.open(history, CLIENT(i), input, clock(i));
      if (!opened.ok) throw new Error(`createCoordinator threw for ${settings(input)}: ${opened.message}`);
      ids.push(CLIENT(i));
    }
    return ids;
  };
  const noSkew = (): { skewMs: number } => ({ skewMs: 0 });

  return [
    quorumScenario(h, {
      id: 'quorum-config',
      title: title('quorum-config'),
      check: checkConfig,
      async run({ history }) {
        const tries: OpenInput[] = [
          { n: 3, r: 2, w: 2 },
          { n: 3, r: 1, w: 3 },
          { n: 3, r: 3, w: 1 },
          { n: 3, r: 1, w: 1 },
          { n: 3, r: 1, w: 2 },
          { n: 3, r: 1, w: 1, allowEventual: true },
          { n: 3, r: 4, w: 2 },
          { n: 3, r: 0, w: 3 },
          { n: 3, r: 2, w: 1.5 },
          { n: 4, r: 3, w: 2 },
        ];
        for (const input of tries) {
          await h.open(history, 'config-client', input, { skewMs: 0 }, 'config');
        }
      },
    }),
    quorumScenario(h, {
      id: 'one-replica-down',
      title: title('one-replica-down'),
      check: checkOneDown,
      async run({ history }) {
        const [c1] = await clients(history, 1, noSkew);
        const key = 'down1:k';
        await h.put(history, c1 as string, key, 'v0');
        const kinds = ['pause', 'partition', 'pause'] as const;
        for (let i = 0; i < N; i++) {
          await h.fault(history, i, kinds[i] as 'pause' | 'partition');
          await h.put(history, c1 as string, key, `v${i + 1}`);
          await h.get(history, c1 as string, key);
          await h.heal(history, i);
        }
      },
    }),
    quorumScenario(h, {
      id: 'two-replicas-down',
      title: title('two-replicas-down'),
      check: checkTwoDown,
      async run({ history }) {
        const [c1] = await clients(history, 1, noSkew);
        const key = 'down2:k';
        await h.put(history, c1 as string, key, 'before');
        await h.fault(history, 1, 'pause');
        await h.fault(history, 2, 'partition');
        await h.put(history, c1 as string, key, 'during');
        await h.get(history, c1 as string, key);
        await h.healAll(history);
        // A fresh coordinator: the first one's connections lost bytes in the partition.
        await clients(history, 1, noSkew);
        await h.get(history, c1 as string, key);
      },
    }),
    quorumScenario(h, {
      id: 'partial-write',
      title: title('partial-write'),
      check: checkPartialWrite,
      async run({ history }) {
        const [c1, c2, c3] = await clients(history, 3, noSkew);
        const key = 'partial:k';
        const v1 = await h.put(history, c1 as string, key, 'v1');
        if (v1 === undefined) return;
        // Another coordinator wrote v2 and crashed when its write had reached replica-1 only.
        await h.plant(history, 0, key, { value: 'v2', version: { ts: v1.ts + 1000, writer: 'client-9' } }, 'client-9');
        await h.heal(history, 1);
        await h.heal(history, 2);
        // client-2 reads through replicas 1 and 2 (replica-3 cut off; replica-2 slow, so
        // whatever it is sent after the read's answers is still on its way when get returns).
        await h.open(history, c2 as string, STRICT, { skewMs: 0 });
        await h.fault(history, 2, 'partition');
        h.latency(history, 1, 40);
        await h.get(history, c2 as string, key);
        // What was still on its way to replica-2 after get returned is lost: the partition
        // lasts long enough for those bytes to reach the proxy and be dropped there.
        await h.fault(history, 1, 'partition');
        await sleep(100);
        await h.heal(history, 1);
        await h.heal(history, 2);
        // client-3 reads through replicas 2 and 3; replica-3 answers first.
        await h.open(history, c3 as string, STRICT, { skewMs: 0 });
        await h.fault(history, 0, 'partition');
        h.latency(history, 1, 40);
        await h.get(history, c3 as string, key);
        await h.heal(history, 0);
      },
    }),
    quorumScenario(h, {
      id: 'linearizable-under-faults',
      title: title('linearizable-under-faults'),
      budgetMs: 60_000,
      check: checkLinearizableUnderFaults,
      async run({ history, rng, signal }) {
        const ids = await clients(history, 4, (i) => ({ skewMs: i === 1 ? 0 : rng.int(-100, 100) }));
        const keys = ['lin:a', 'lin:b', 'lin:c'];
        // The clients work while the nemesis runs its schedule (and at least MIN_OPS each).
        let nemesisDone = false;
        const worker = async (client: string, own: Rng): Promise<void> => {
          for (let n = 1; n <= MAX_OPS_PER_CLIENT && (!nemesisDone || n <= MIN_OPS_PER_CLIENT) && !signal.aborted; n++) {
            const key = own.pick(keys);
            if (own.chance(0.5)) {
              await h.put(history, client, key, `${client.replace('client-', 'c')}-${n}`);
            } else {
              await h.get(history, client, key);
            }
            await sleep(own.int(5, 30));
          }
        };
        // A fixed schedule: one fault at a time on each replica in turn, a kill early on (the
        // container is restarted when it heals), and twice a second replica cut off as well.
        const nemesis = async (): Promise<void> => {
          for (let step = 0; step < NEMESIS_STEPS && !signal.aborted; step++) {
            const i = step % N;
            const second = step === 3 || step === 6 ? (i + 1) % N : undefined;
            const kind = step === 1 ? 'kill' : second !== undefined ? 'pause' : rng.pick(['pause', 'partition', 'partition', 'latency', 'reset'] as const);
            if (kind === 'latency') {
              h.latency(history, i, rng.int(20, 80), rng.int(0, 40));
            } else {
              await h.fault(history, i, kind);
            }
            if (second !== undefined) await h.fault(history, second, 'partition');
            // Two down outlast the replicas' time limit, so operations fail rather than wait.
            await sleep(second !== undefined ? rng.int(400, 600) : rng.int(100, 250));
            if (second !== undefined) await h.heal(history, second);
            await h.heal(history, i);
            await sleep(rng.int(20, 60));
          }
          nemesisDone = true;
        };
        const workers = Promise.all(ids.map((c) => worker(c, rng.fork(c))));
        await Promise.all([workers, nemesis()]);
      },
    }),
    quorumScenario(h, {
      id: 'concurrent-writes',
      title: title('concurrent-writes'),
      check: checkConcurrentWrites,
      async run({ history }) {
        for (let round = 1; round <= 3; round++) {
          const key = `lww:k${round}`;
          // Five machines whose clocks read the same instant: only the tie-break orders their writes.
          const ids = await clients(history, 5, () => ({ fixed: 1_000_000 + round }));
          // Jitter shuffles the order in which the writes reach each replica.
          for (let i = 0; i < N; i++) h.latency(history, i, 0, 15);
          await Promise.all(ids.map((c) => h.put(history, c, key, `${c}-w${round}`)));
          await h.healAll(history);
          for (const c of ids) await h.get(history, c, key);
          await sleep(50);
          await h.inspect(history, [key]);
        }
      },
    }),
    quorumScenario(h, {
      id: 'convergence',
      title: title('convergence'),
      check: checkConvergence,
      async run({ history }) {
        const [c1] = await clients(history, 1, noSkew);
        const keys = Array.from({ length: 6 }, (_, i) => `conv:k${i + 1}`);
        for (const key of keys) await h.put(history, c1 as string, key, 'v0');
        await sleep(30);
        await h.fault(history, 2, 'partition');
        for (const key of keys) await h.put(history, c1 as string, key, 'v1');
        // Long enough that the copies still on their way to replica-3 are dropped, not delivered late.
        await sleep(150);
        await h.heal(history, 2);
        // A reader whose quorum is replicas 1 and 2 (replica-3 answers last): only the late,
        // stale answers of replica-3 show that it missed the writes.
        const [c2] = await clients(history, 2, noSkew).then((ids) => ids.slice(1));
        h.latency(history, 2, 30);
        for (const key of keys) await h.get(history, c2 as string, key);
        await sleep(300);
        await h.healAll(history);
        await sleep(50);
        await h.inspect(history, keys);
      },
    }),
    quorumScenario(h, {
      id: 'stale-read-demo',
      title: 'With R = 1 and W = 1, a read misses an acknowledged write',
      teaching: true,
      check: checkStaleReadDemo,
      async run({ history }) {
        const eventual: OpenInput = { n: 3, r: 1, w: 1, allowEventual: true };
        const writer = await h.open(history, CLIENT(1), eventual, { skewMs: 0 });
        if (!writer.ok) return;
        const reader = await h.open(history, CLIENT(2), eventual, { skewMs: 0 });
        if (!reader.ok) return;
        const key = 'demo:k';
        await h.put(history, CLIENT(1), key, 'old');
        await sleep(50);
        // The new write reaches replica-1 only; W = 1 is satisfied.
        await h.fault(history, 1, 'partition');
        await h.fault(history, 2, 'partition');
        await h.put(history, CLIENT(1), key, 'new');
        // The partition outlasts the copies of 'new' still on their way to replicas 2 and 3
        // (on connections opened for the write), so they are dropped, not delivered late.
        await sleep(150);
        await h.healAll(history);
        await h.open(history, CLIENT(2), eventual, { skewMs: 0 });
        await h.fault(history, 0, 'partition');
        await h.get(history, CLIENT(2), key);
        await h.heal(history, 0);
      },
    }),
  ];
}

/** Each client's operations in linearizable-under-faults: at least, and at most (at most 160 per key). */
const MIN_OPS_PER_CLIENT = 30;
const MAX_OPS_PER_CLIENT = 120;
const NEMESIS_STEPS = 7;

export const quorumGrader: LabGrader = {
  labId: QUORUM_LAB_ID,
  entry: 'src/quorum.ts',
  adapter: 'quorum.cjs',
  contract: { createCoordinator: 'function' },
  memoryMb: 256,
  needsDatabase: false,
  usesLabServices: true,
  checkIds: QUORUM_CHECKS,
  engineLabel: (backend) => (backend === 'docker' ? 'Redis replicas in Docker' : 'in-process replicas (no Docker)'),
  async open(run: LabRun): Promise<OpenedRun> {
    const random = seededRandom(0x51);
    let cluster: ReplicaCluster;
    if (run.backend === 'docker') {
      if (run.labServices === undefined) {
        throw new Error("Grading quorum on Docker needs the lab's three Redis containers: start its databases first.");
      }
      cluster = await startDockerReplicas(run.labServices, random, run.logger);
    } else {
      cluster = await startInProcessReplicas(N, run.runName, random, run.logger);
    }
    const harness = new QuorumHarness(run.sandbox, cluster, `${run.runName}:`);
    const close = async (): Promise<void> => {
      await cluster.close();
    };
    try {
      await cluster.prepare();
      await harness.learner.connect();
    } catch (error) {
      await close().catch(() => undefined);
      throw error;
    }
    return { scenarios: buildScenarios(harness), close };
  },
};
