/**
 * The Quorum grader's scenarios, as data: each drives the learner's coordinators against the
 * replicas with its faults, and names the pure checker (checkers.ts) that judges what it
 * recorded. Ids and order are lab.json's checks, then its demonstration.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { HistoryRecorder } from '../../../src/core/grading/history';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Rng } from '../../../src/core/random';
import { checkBetweenPhases, checkConcurrentWrites, checkConfig, checkConvergence, checkLinearizableUnderFaults, checkOneDown, checkOtherQuorums, checkPartialWrite, checkStaleReadDemo, checkTwoDown } from './checkers';
import type { QuorumHarness } from './harness';
import { CLIENT, type CutNote, GRADER, type NemesisStep, type QuorumEvent } from './history';
import { N, REPLICAS, REPLICA_TIMEOUT_MS } from './limits';
import type { ClockSetting, OpenInput, Stored } from './protocol';

type Spec = ScenarioSpec<QuorumHarness, QuorumEvent>;
type History = HistoryRecorder<QuorumEvent>;

const STRICT: OpenInput = { n: N, r: 2, w: 2 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const settings = (i: OpenInput): string => `N = ${i.n}, R = ${i.r}, W = ${i.w}${i.allowEventual === true ? ', allowEventual' : ''}`;

/** Each client's operations in linearizable-under-faults: at least, and at most (at most 160 per key). */
const MIN_OPS_PER_CLIENT = 30;
const MAX_OPS_PER_CLIENT = 120;
const NEMESIS_STEPS = 7;

/** A scenario whose run starts with the learner's process running and ends with every fault healed. */
function quorumScenario(spec: Omit<Spec, 'run'> & { run(h: QuorumHarness, ctx: ScenarioContext<QuorumEvent>): Promise<void> }): Spec {
  return {
    ...spec,
    async run(h, ctx) {
      await h.learner.ensureRunning();
      try {
        await spec.run(h, ctx);
      } finally {
        await h.endScenario();
      }
    },
  };
}

/** Opens `count` coordinators (client-1...), each with its clock. */
async function clients(h: QuorumHarness, history: History, count: number, clock: (i: number) => ClockSetting, input: OpenInput = STRICT): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    const opened = await h.open(history, CLIENT(i), input, clock(i));
    if (!opened.ok) throw new Error(`createCoordinator threw for ${settings(input)}: ${opened.message}`);
    ids.push(CLIENT(i));
  }
  return ids;
}

const noSkew = (): ClockSetting => ({ skewMs: 0 });

/**
 * faults-between-phases: cuts the replicas `cut` (of the first N) off as the next write
 * reaches each, and notes what the next `note.op` on `note.key` must then do, with the
 * replicas its writes can still reach and STRICT's W.
 */
function cutAtWrite(h: QuorumHarness, history: History, cut: readonly number[], note: Omit<CutNote, 'reachable' | 'w'>): void {
  for (const i of cut) h.partitionAtWrite(history, i);
  const reachable = Array.from({ length: N }, (_, i) => i)
    .filter((i) => !cut.includes(i))
    .map((i) => `replica-${i + 1}`);
  history.record({ process: GRADER, type: 'note', op: 'cut', value: { ...note, reachable, w: STRICT.w } });
}

/** The settings other-quorums runs besides R = W = 2, each a case of its own. */
const OTHER_QUORUMS = [
  { case: 'n3-r1-w3', n: 3, r: 1, w: 3 },
  { case: 'n3-r3-w1', n: 3, r: 3, w: 1 },
  { case: 'n5-r3-w3', n: 5, r: 3, w: 3 },
  { case: 'n5-r2-w4', n: 5, r: 2, w: 4 },
] as const;

/**
 * The nemesis of linearizable-under-faults, drawn before the clients start: one fault at a
 * time on each replica in turn, a kill early on (the container is restarted when it heals),
 * and twice a second replica cut off as well, for longer than the replicas' time limit.
 */
export function nemesisSchedule(rng: Rng): NemesisStep[] {
  const steps: NemesisStep[] = [];
  for (let step = 0; step < NEMESIS_STEPS; step++) {
    const replica = step % N;
    const also = step === 3 || step === 6 ? (replica + 1) % N : undefined;
    const fault = step === 1 ? 'kill' : also !== undefined ? 'pause' : rng.pick(['pause', 'partition', 'partition', 'latency', 'reset'] as const);
    const latency = fault === 'latency' ? { latencyMs: rng.int(20, 80), jitterMs: rng.int(0, 40) } : {};
    // Two down outlast the replicas' time limit, so operations fail rather than wait.
    const holdMs = also !== undefined ? rng.int(400, 600) : rng.int(100, 250);
    steps.push({ replica, fault, ...latency, ...(also !== undefined ? { also } : {}), holdMs, restMs: rng.int(20, 60) });
  }
  return steps;
}

export const scenarios: readonly Spec[] = [
  quorumScenario({
    id: 'quorum-config',
    check: checkConfig,
    cases: ['strict-quorums', 'eventual-without-opt-in', 'eventual-with-opt-in', 'impossible-settings', 'n-other-than-replicas', 'n-five'],
    async run(h, { history }) {
      const tries: OpenInput[] = [
        // strict-quorums
        { n: 3, r: 2, w: 2 },
        { n: 3, r: 1, w: 3 },
        { n: 3, r: 3, w: 1 },
        // eventual-without-opt-in
        { n: 3, r: 1, w: 1 },
        { n: 3, r: 1, w: 2 },
        { n: 3, r: 1, w: 1, allowEventual: false },
        // eventual-with-opt-in
        { n: 3, r: 1, w: 1, allowEventual: true },
        // impossible-settings
        { n: 3, r: 4, w: 2 },
        { n: 3, r: 0, w: 3 },
        { n: 3, r: 2, w: 1.5 },
        { n: 3, r: 2, w: 4 },
        { n: 3, r: -1, w: 3 },
        { n: 3, r: 0, w: 1, allowEventual: true },
        { n: 3, r: 1, w: 0, allowEventual: true },
        // n-other-than-replicas
        { n: 4, r: 3, w: 2 },
        { n: 3, r: 2, w: 2, replicas: REPLICAS },
        // n-five
        { n: 5, r: 3, w: 3, replicas: REPLICAS },
        { n: 5, r: 2, w: 4, replicas: REPLICAS },
        { n: 5, r: 2, w: 3, replicas: REPLICAS },
        { n: 5, r: 2, w: 3, allowEventual: true, replicas: REPLICAS },
        { n: 5, r: 6, w: 1, replicas: REPLICAS },
      ];
      for (const input of tries) {
        await h.open(history, 'config-client', input, { skewMs: 0 }, 'config');
      }
    },
  }),
  quorumScenario({
    id: 'one-replica-down',
    check: checkOneDown,
    cases: ['each-replica-down', 'stale-replica-answers-first', 'long-outage'],
    async run(h, { history }) {
      const [c1 = CLIENT(1)] = await clients(h, history, 1, noSkew);
      const key = 'down1:k';
      await h.put(history, c1, key, 'v0');
      // A killed replica fails its calls at once; a paused or cut-off one only at its time limit.
      const kinds = ['kill', 'partition', 'pause'] as const;
      // each-replica-down
      for (let i = 0; i < N; i++) {
        await h.fault(history, i, kinds[i % kinds.length] ?? 'pause');
        await h.put(history, c1, key, `v${i + 1}`);
        await h.get(history, c1, key);
        await h.heal(history, i);
      }
      // stale-replica-answers-first: replica-3 misses a completed write, then answers
      // before the two that hold it (they are slowed), twice.
      const stale = 'down1:stale';
      await h.put(history, c1, stale, 'old');
      await h.everywhere([stale], 'old');
      await h.fault(history, 2, 'partition');
      await h.put(history, c1, stale, 'new');
      await h.heal(history, 2);
      const [, c2 = CLIENT(2)] = await clients(h, history, 2, noSkew);
      h.latency(history, 0, 40);
      h.latency(history, 1, 40);
      await h.get(history, c2, stale);
      await h.get(history, c2, key);
      await h.healAll(history);
      // long-outage: replica-3 stays cut off for ten operations, longer than any sensible
      // retry budget, then comes back; then replica-1 goes down, and replica-3 is needed.
      const [, , c3 = CLIENT(3)] = await clients(h, history, 3, noSkew);
      await h.fault(history, 2, 'partition');
      for (let n = 1; n <= 5; n++) {
        await h.put(history, c3, key, `outage-${n}`);
        await h.get(history, c3, key);
        // Long enough for the calls to replica-3 to fail (time out) before the next operation.
        await sleep(REPLICA_TIMEOUT_MS + 50);
      }
      await h.heal(history, 2);
      await h.fault(history, 0, 'pause');
      await h.put(history, c3, key, 'after-outage');
      await h.get(history, c3, key);
      await h.heal(history, 0);
    },
  }),
  quorumScenario({
    id: 'two-replicas-down',
    check: checkTwoDown,
    cases: ['one-paused-one-cut-off'],
    async run(h, { history }) {
      const [c1 = CLIENT(1)] = await clients(h, history, 1, noSkew);
      const key = 'down2:k';
      await h.put(history, c1, key, 'before');
      await h.fault(history, 1, 'pause');
      await h.fault(history, 2, 'partition');
      await h.put(history, c1, key, 'during');
      await h.get(history, c1, key);
      await h.healAll(history);
      // A fresh coordinator: the first one's connections lost bytes in the partition.
      await clients(h, history, 1, noSkew);
      await h.get(history, c1, key);
    },
  }),
  quorumScenario({
    id: 'partial-write',
    check: checkPartialWrite,
    cases: ['write-left-on-one-replica'],
    async run(h, { history }) {
      const [c1 = CLIENT(1), c2 = CLIENT(2), c3 = CLIENT(3)] = await clients(h, history, 3, noSkew);
      const key = 'partial:k';
      const v1 = await h.put(history, c1, key, 'v1');
      if (v1 === undefined) return;
      // Another coordinator wrote v2 and crashed when its write had reached replica-1 only.
      await h.plant(history, 0, key, { value: 'v2', version: { ts: v1.ts + 1000, writer: 'client-9' } }, 'client-9');
      await h.heal(history, 1);
      await h.heal(history, 2);
      // client-2 reads through replicas 1 and 2 (replica-3 cut off; replica-2 slow, so
      // whatever it is sent after the read's answers is still on its way when get returns).
      await h.open(history, c2, STRICT, { skewMs: 0 });
      await h.fault(history, 2, 'partition');
      h.latency(history, 1, 40);
      await h.get(history, c2, key);
      // What was still on its way to replica-2 after get returned is lost: healing a
      // partition drops what is still arriving first (FaultProxy.settle).
      await h.fault(history, 1, 'partition');
      await h.heal(history, 1);
      await h.heal(history, 2);
      // client-3 reads through replicas 2 and 3; replica-3 answers first.
      await h.open(history, c3, STRICT, { skewMs: 0 });
      await h.fault(history, 0, 'partition');
      h.latency(history, 1, 40);
      await h.get(history, c3, key);
      await h.heal(history, 0);
    },
  }),
  quorumScenario({
    id: 'linearizable-under-faults',
    budgetMs: 60_000,
    check: checkLinearizableUnderFaults,
    cases: ['skewed-clocks-under-a-nemesis'],
    async run(h, { history, rng, signal }) {
      const ids = await clients(h, history, 4, (i) => ({ skewMs: i === 1 ? 0 : rng.int(-100, 100) }));
      const schedule = nemesisSchedule(rng);
      history.record({ process: 'grader', type: 'note', op: 'schedule', value: schedule });
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
      const nemesis = async (): Promise<void> => {
        for (const step of schedule) {
          if (signal.aborted) break;
          if (step.fault === 'latency') {
            h.latency(history, step.replica, step.latencyMs ?? 0, step.jitterMs ?? 0);
          } else {
            await h.fault(history, step.replica, step.fault);
          }
          if (step.also !== undefined) await h.fault(history, step.also, 'partition');
          await sleep(step.holdMs);
          if (step.also !== undefined) await h.heal(history, step.also);
          await h.heal(history, step.replica);
          await sleep(step.restMs);
        }
        nemesisDone = true;
      };
      const workers = Promise.all(ids.map((c) => worker(c, rng.fork(c))));
      await Promise.all([workers, nemesis()]);
    },
  }),
  quorumScenario({
    id: 'concurrent-writes',
    check: checkConcurrentWrites,
    cases: ['clock-sets-the-time', 'five-writers-one-instant', 'timestamps-gain-a-digit', 'values-sort-against-writers', 'answers-differ-on-writer', 'answers-differ-in-digits', 'one-coordinator-five-writes'],
    async run(h, { history }) {
      for (let round = 1; round <= 3; round++) {
        const key = `lww:k${round}`;
        // timestamps-gain-a-digit: the clocks read 9999 (99999, 999999): the first write
        // takes that, the concurrent ones the next, one digit longer.
        const instant = 10 ** (3 + round) - 1;
        // five-writers-one-instant: five machines whose clocks read the same instant: only
        // the tie-break orders their writes.
        const ids = await clients(h, history, 5, () => ({ fixed: instant }));
        // clock-sets-the-time: the first write of a fresh key takes its ts from options.clock.
        history.record({ process: GRADER, type: 'note', op: 'clock', value: { key, now: instant } });
        await h.put(history, CLIENT(1), key, `zz-first-r${round}`);
        await h.everywhere([key], `zz-first-r${round}`);
        // Jitter shuffles the order in which the writes reach each replica.
        for (let i = 0; i < N; i++) h.latency(history, i, 0, 15);
        // values-sort-against-writers: client-1's value sorts last and client-5's first, so
        // ordering by value instead of by writer keeps the wrong one.
        await Promise.all(ids.map((c, i) => h.put(history, c, key, `${String.fromCharCode(0x79 - i)}-w${round}`)));
        await h.healAll(history);
        for (const c of ids) await h.get(history, c, key);
        await h.inspect(history, [key]);
      }
      // answers-differ: the two replicas a read can reach hold different records, and only a
      // comparison of versions (ts as numbers, then writer) picks the newest. The records
      // are placed directly, as writes of crashed coordinators would have left them.
      const picks: { case: string; placed: [Stored, Stored]; expect: string }[] = [
        { case: 'answers-differ-on-writer', placed: [{ value: 'a-newest', version: { ts: 7_000_000, writer: 'client-8' } }, { value: 'z-older', version: { ts: 7_000_000, writer: 'client-2' } }], expect: 'a-newest' },
        { case: 'answers-differ-in-digits', placed: [{ value: 'b-older', version: { ts: 99_999, writer: 'client-9' } }, { value: 'a-newest', version: { ts: 100_000, writer: 'client-1' } }], expect: 'a-newest' },
      ];
      for (const pick of picks) {
        const key = `lww:${pick.case}`;
        await h.place(history, key, pick.placed, pick.expect);
        await h.fault(history, 2, 'partition');
        await h.open(history, CLIENT(6), STRICT, { skewMs: 0 });
        await h.get(history, CLIENT(6), key);
        await h.healAll(history);
      }
      // one-coordinator-five-writes: one coordinator runs five puts of one key at once.
      const key = 'lww:one-coordinator';
      await h.open(history, CLIENT(1), STRICT, { fixed: 5_000_000 });
      for (let i = 0; i < N; i++) h.latency(history, i, 0, 15);
      await Promise.all(Array.from({ length: 5 }, (_, i) => h.put(history, CLIENT(1), key, `${String.fromCharCode(0x79 - i)}-same`, `${CLIENT(1)}/${i + 1}`)));
      await h.healAll(history);
      await h.get(history, CLIENT(1), key);
      await h.inspect(history, [key]);
    },
  }),
  quorumScenario({
    id: 'convergence',
    check: checkConvergence,
    cases: ['late-stale-answers-repaired'],
    async run(h, { history }) {
      const [c1 = CLIENT(1)] = await clients(h, history, 1, noSkew);
      const keys = Array.from({ length: 6 }, (_, i) => `conv:k${i + 1}`);
      for (const key of keys) await h.put(history, c1, key, 'v0');
      // Every replica holds v0 before replica-3 is cut off: only the v1 writes pass it by.
      await h.everywhere(keys, 'v0');
      await h.fault(history, 2, 'partition');
      for (const key of keys) await h.put(history, c1, key, 'v1');
      // Healing drops the copies still on their way to replica-3 first (FaultProxy.settle).
      await h.heal(history, 2);
      // A reader whose quorum is replicas 1 and 2 (replica-3 answers last): only the late,
      // stale answers of replica-3 show that it missed the writes.
      const [, c2 = CLIENT(2)] = await clients(h, history, 2, noSkew);
      h.latency(history, 2, 30);
      for (const key of keys) await h.get(history, c2, key);
      // The late, stale answers arrive and are repaired in the background: the replicas are
      // read once they agree, or once a repair has had ample time not to come.
      await h.inspect(history, keys);
      await h.healAll(history);
    },
  }),
  quorumScenario({
    id: 'other-quorums',
    budgetMs: 45_000,
    check: checkOtherQuorums,
    cases: OTHER_QUORUMS.map((q) => q.case),
    async run(h, { history, rng }) {
      for (const q of OTHER_QUORUMS) {
        const key = `q:${q.case}`;
        const input: OpenInput = { n: q.n, r: q.r, w: q.w, replicas: q.n };
        const phase = (down: readonly number[]): void => void history.record({ process: GRADER, type: 'note', op: 'expect', value: { key, n: q.n, r: q.r, w: q.w, down } });
        // Two coordinators, so that reads and writes go through different quorums.
        const c1 = await h.open(history, CLIENT(1), input, noSkew());
        const c2 = await h.open(history, CLIENT(2), input, noSkew());
        if (!c1.ok || !c2.ok) throw new Error(`createCoordinator threw for ${settings(input)}: ${c1.ok ? '' : c1.message}${c2.ok ? '' : c2.message}`);
        phase([]);
        await h.put(history, CLIENT(1), key, `${q.case}-1`);
        await h.get(history, CLIENT(2), key);
        // As many replicas down as the settings survive, then one more: each time a drawn set.
        const most = Math.max(q.r, q.w);
        for (const count of [q.n - most, q.n - most + 1]) {
          const down = rng.shuffle(Array.from({ length: q.n }, (_, i) => i)).slice(0, count).sort((a, b) => a - b);
          for (const i of down) await h.fault(history, i, rng.pick(['pause', 'partition'] as const));
          phase(down);
          await h.put(history, CLIENT(1), key, `${q.case}-down${count}`);
          await h.get(history, CLIENT(2), key);
          await h.get(history, CLIENT(1), key);
          await h.healAll(history);
          // Fresh coordinators: connections that lost bytes in a partition are not reused.
          await h.open(history, CLIENT(1), input, noSkew());
          await h.open(history, CLIENT(2), input, noSkew());
          phase([]);
          await h.get(history, CLIENT(2), key);
        }
      }
    },
  }),
  quorumScenario({
    id: 'faults-between-phases',
    check: checkBetweenPhases,
    cases: ['agreeing-read-writes-nothing', 'one-replica-cut-at-write', 'put-write-phase-cut', 'read-repair-cut'],
    async run(h, { history }) {
      const [c1 = CLIENT(1)] = await clients(h, history, 1, noSkew);
      // agreeing-read-writes-nothing: every replica holds the same version, and every one is
      // cut off as a write reaches it: a get has nothing to repair, so it answers, and no
      // write of it reaches a replica, now or in the background.
      const agreed = 'mid:agreed';
      await h.put(history, c1, agreed, 'same');
      await h.everywhere([agreed], 'same');
      cutAtWrite(h, history, [0, 1, 2], { key: agreed, op: 'get', expect: 'ok' });
      await h.get(history, c1, agreed);
      // The late answer of the third replica has come (it is not slowed), and any repair with it.
      await sleep(100);
      h.writesArrived(history, agreed);
      await h.healAll(history);
      // one-replica-cut-at-write: each replica in turn cut off as a write reaches it, after it
      // answered the read: two replicas still take the write, so put and get succeed.
      for (let i = 0; i < N; i++) {
        const key = `mid:one-cut-${i + 1}`;
        await h.open(history, c1, STRICT, { skewMs: 0 });
        await h.put(history, c1, key, 'first');
        await h.everywhere([key], 'first');
        cutAtWrite(h, history, [i], { key, op: 'put', expect: 'ok' });
        await h.put(history, c1, key, 'second');
        await h.get(history, c1, key);
        await h.healAll(history);
      }
      // put-write-phase-cut: replicas 2 and 3 answer the put's read, then are cut off as
      // its write reaches them: only replica-1 can acknowledge it.
      const putKey = 'mid:put';
      await h.put(history, c1, putKey, 'before');
      await h.everywhere([putKey], 'before');
      cutAtWrite(h, history, [1, 2], { key: putKey, op: 'put', expect: 'fail' });
      await h.put(history, c1, putKey, 'cut-write');
      await h.healAll(history);
      // A reader through replicas 2 and 3, then through all.
      await h.open(history, CLIENT(2), STRICT, { skewMs: 0 });
      await h.fault(history, 0, 'partition');
      await h.get(history, CLIENT(2), putKey);
      await h.healAll(history);
      await h.open(history, CLIENT(2), STRICT, { skewMs: 0 });
      await h.get(history, CLIENT(2), putKey);
      // read-repair-cut: a write that reached replica-1 only; a reader finds it there and must
      // write it back, but replicas 2 and 3 are cut off as that write reaches them.
      const getKey = 'mid:repair';
      await h.open(history, c1, STRICT, { skewMs: 0 });
      const v1 = await h.put(history, c1, getKey, 'v1');
      if (v1 === undefined) return;
      await h.everywhere([getKey], 'v1');
      await h.plant(history, 0, getKey, { value: 'v2', version: { ts: v1.ts + 1000, writer: 'client-9' } }, 'client-9');
      await h.open(history, CLIENT(3), STRICT, { skewMs: 0 });
      // replica-3 answers last, so the read's quorum is replicas 1 and 2: v2 on one of them.
      h.latency(history, 2, 40);
      cutAtWrite(h, history, [1, 2], { key: getKey, op: 'get', expect: 'fail', unsafe: 'v2' });
      await h.get(history, CLIENT(3), getKey);
      await h.healAll(history);
      // Then a reader through replicas 2 and 3: if the get above returned v2, this one must too.
      await h.open(history, CLIENT(4), STRICT, { skewMs: 0 });
      await h.fault(history, 0, 'partition');
      await h.get(history, CLIENT(4), getKey);
      await h.healAll(history);
    },
  }),
  quorumScenario({
    id: 'stale-read-demo',
    teaching: true,
    check: checkStaleReadDemo,
    async run(h, { history }) {
      const eventual: OpenInput = { n: 3, r: 1, w: 1, allowEventual: true };
      const writer = await h.open(history, CLIENT(1), eventual, { skewMs: 0 });
      if (!writer.ok) return;
      const reader = await h.open(history, CLIENT(2), eventual, { skewMs: 0 });
      if (!reader.ok) return;
      const key = 'demo:k';
      await h.put(history, CLIENT(1), key, 'old');
      await h.everywhere([key], 'old');
      // The new write reaches replica-1 only; W = 1 is satisfied.
      await h.fault(history, 1, 'partition');
      await h.fault(history, 2, 'partition');
      await h.put(history, CLIENT(1), key, 'new');
      // Healing drops the copies of 'new' still on their way to replicas 2 and 3 first
      // (FaultProxy.settle), so they are not delivered late.
      await h.healAll(history);
      await h.open(history, CLIENT(2), eventual, { skewMs: 0 });
      await h.fault(history, 0, 'partition');
      await h.get(history, CLIENT(2), key);
      await h.heal(history, 0);
    },
  }),
];
