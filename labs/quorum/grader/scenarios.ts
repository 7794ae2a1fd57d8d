/**
 * The Quorum grader's scenarios, as data: each drives the learner's coordinators against the
 * replicas with its faults, and names the pure checker (checkers.ts) that judges what it
 * recorded. Ids and order are lab.json's checks, then its demonstration.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { HistoryRecorder } from '../../../src/core/grading/history';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Rng } from '../../../src/core/random';
import { checkConcurrentWrites, checkConfig, checkConvergence, checkLinearizableUnderFaults, checkOneDown, checkPartialWrite, checkStaleReadDemo, checkTwoDown } from './checkers';
import type { QuorumHarness } from './harness';
import { CLIENT, type NemesisStep, type QuorumEvent } from './history';
import { N } from './limits';
import type { ClockSetting, OpenInput } from './protocol';

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
    async run(h, { history }) {
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
  quorumScenario({
    id: 'one-replica-down',
    check: checkOneDown,
    async run(h, { history }) {
      const [c1 = CLIENT(1)] = await clients(h, history, 1, noSkew);
      const key = 'down1:k';
      await h.put(history, c1, key, 'v0');
      const kinds = ['pause', 'partition', 'pause'] as const;
      for (let i = 0; i < N; i++) {
        await h.fault(history, i, kinds[i % kinds.length] ?? 'pause');
        await h.put(history, c1, key, `v${i + 1}`);
        await h.get(history, c1, key);
        await h.heal(history, i);
      }
    },
  }),
  quorumScenario({
    id: 'two-replicas-down',
    check: checkTwoDown,
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
    async run(h, { history }) {
      for (let round = 1; round <= 3; round++) {
        const key = `lww:k${round}`;
        // Five machines whose clocks read the same instant: only the tie-break orders their writes.
        const ids = await clients(h, history, 5, () => ({ fixed: 1_000_000 + round }));
        // Jitter shuffles the order in which the writes reach each replica.
        for (let i = 0; i < N; i++) h.latency(history, i, 0, 15);
        await Promise.all(ids.map((c) => h.put(history, c, key, `${c}-w${round}`)));
        await h.healAll(history);
        for (const c of ids) await h.get(history, c, key);
        await h.inspect(history, [key]);
      }
    },
  }),
  quorumScenario({
    id: 'convergence',
    check: checkConvergence,
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
