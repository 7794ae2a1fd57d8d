/**
 * The Two-phase commit grader's scenarios, as data: each moves money between the lab's two
 * banks through the learner's coordinator under the faults it plans (a no vote, the
 * coordinator killed at each of its points, a bank killed or paused around its PREPARE, a
 * lost reply, many transfers at once with connections cut), recovers, notes the truth read
 * from the servers, and names the pure checkers (checkers.ts) that judge it. Ids and order
 * are lab.json's checks. Every random draw comes from the scenario's seeded rng, in a fixed
 * order, so a seed replays the same schedule.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Verdict } from '../../../src/core/grading/report';
import { allOf, checkAnswers, checkAtomicity, checkBlockingDemo, checkCleanup, checkConservation, checkRecoveryReports } from './checkers';
import { BANKS, BANK_A, BANK_B, type BankName, type TwoPhaseHarness } from './harness';
import { AGAIN, type Expectation, type TwoPhaseEvent } from './history';
import { CONCURRENT_TRANSFERS, DOWN_MS, NETWORK_LATENCY_MS, OPENING_BALANCE_CENTS, VOTE_TIMEOUT_MS } from './limits';
import type { PointPlan, TransferArgs } from './protocol';

type Spec = ScenarioSpec<TwoPhaseHarness, TwoPhaseEvent>;
type Context = ScenarioContext<TwoPhaseEvent>;
type Accounts = Record<BankName, string[]>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits for `work`, at most `ms` (its timer cleared either way, so that it holds nothing open). */
async function settleWithin(work: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
const other = (bank: BankName): BankName => (bank === BANK_A ? BANK_B : BANK_A);

/** A transfer between the two banks, from `from`'s account i to the other bank's account j. */
function transferOf(h: TwoPhaseHarness, tag: string, accounts: Accounts, from: BankName, amountCents: number, i = 0, j = 0, toAccount?: string): TransferArgs {
  const to = other(from);
  return {
    id: h.transferId(tag),
    from: { bank: from, account: accounts[from][i] ?? '' },
    to: { bank: to, account: toAccount ?? accounts[to][j] ?? '' },
    amountCents,
  };
}

/** What a point plan says, in the history's words. */
function describe(plan: PointPlan): string {
  const [kind, server] = plan.label.split('@');
  const what: Readonly<Record<string, string>> = {
    prepare: `its PREPARE TRANSACTION at ${server}`,
    'commit-prepared': `its COMMIT PREPARED at ${server}`,
    'rollback-prepared': `its ROLLBACK PREPARED at ${server}`,
    commit: `a transaction's COMMIT at ${server}`,
    write: `a write to ${server === 'log' ? 'the log' : server}`,
  };
  const nth = plan.occurrence > 1 ? ` (the ${plan.occurrence}${plan.occurrence === 2 ? 'nd' : plan.occurrence === 3 ? 'rd' : 'th'})` : '';
  return `${plan.when} ${what[kind ?? ''] ?? plan.label}${nth}`;
}

/** Every point worth a crash, from the labels a clean run passed: just before the first, just after each. */
export function crashPlans(labels: readonly string[]): PointPlan[] {
  const plans: PointPlan[] = [];
  const first = labels[0];
  if (first !== undefined) plans.push({ label: first, occurrence: 1, when: 'before' });
  const seen = new Map<string, number>();
  for (const label of labels) {
    const occurrence = (seen.get(label) ?? 0) + 1;
    seen.set(label, occurrence);
    plans.push({ label, occurrence, when: 'after' });
  }
  return plans;
}

/** Whether a crash at `plan` comes before anything was written to the log (then nothing was decided). */
function beforeTheLog(labels: readonly string[], plan: PointPlan): boolean {
  let passed = 0;
  for (const [i, label] of labels.entries()) {
    if (label === plan.label) passed++;
    if (passed === plan.occurrence) {
      const logged = labels.slice(0, plan.when === 'after' ? i + 1 : i).some((l) => l.endsWith('@log'));
      return !logged;
    }
  }
  return false;
}

/**
 * A scenario that begins with accounts of its own and ends with a recovery and the truth.
 * Budgets are many times what the reference takes (0.2–5 s): code that waits for ever is
 * cut off there, and its check is unknown.
 */
function scenario(
  spec: Omit<Spec, 'run' | 'check'> & {
    readonly accounts: Readonly<Record<BankName, readonly string[]>>;
    readonly checkers: readonly ((h: readonly TwoPhaseEvent[]) => Verdict)[];
    run(h: TwoPhaseHarness, ctx: Context, accounts: Accounts, tag: string): Promise<void>;
  },
): Spec {
  const { accounts: names, checkers, run, ...rest } = spec;
  return {
    needs: ['docker-servers'],
    ...rest,
    async run(h, ctx) {
      const tag = `${spec.id.split('-').map((w) => w[0]).join('')}${ctx.rng.int(0, 36 ** 3).toString(36)}`;
      const accounts = await h.begin(ctx.history, tag, names);
      await run(h, ctx, accounts, tag);
      await h.recover(ctx.history, AGAIN);
      await h.recordTruth(ctx.history);
    },
    check: (history) => allOf(history, checkers),
  };
}

/** Runs a clean transfer and returns the points it passed. */
async function cleanRun(h: TwoPhaseHarness, ctx: Context, t: TransferArgs, expect: Expectation): Promise<string[]> {
  await h.arm({});
  await h.transfer(ctx.history, t, expect, ['no fault: the grader counts the points of a clean transfer'], { probe: true });
  return h.points();
}

/** Kills the coordinator at `plan` during `t`, then starts a fresh one and recovers. */
async function crashAndRecover(h: TwoPhaseHarness, ctx: Context, t: TransferArgs, plan: PointPlan, expect: Expectation): Promise<void> {
  const armed = describe(plan);
  await h.arm({ crash: plan });
  await h.transfer(ctx.history, t, expect, [`the coordinator is killed ${armed}`], { armed });
  if (!h.learner.ended) {
    h.note(ctx.history, `the code did not reach the point "${armed}" this time`);
  }
  await h.restartAsDeployed(ctx.history);
  await h.noteInDoubt(ctx.history);
  await h.recover(ctx.history);
}

const noVotes = scenario({
  id: 'no-vote-aborts',
  cases: ['all-yes-commits', 'insufficient-funds', 'unknown-receiving-account', 'unknown-sending-account', 'vote-past-time-limit', 'serialization-failure'],
  // The slow vote has accounts of its own: its prepared transaction lands late and holds their locks until recovery.
  accounts: { [BANK_A]: ['a1', 'a2', 'a3'], [BANK_B]: ['b1', 'b2', 'b3'] },
  checkers: [checkAtomicity, checkAnswers, checkCleanup, checkConservation],
  budgetMs: 20_000,
  async run(h, ctx, accounts, tag) {
    const from = (): BankName => ctx.rng.pick(BANKS);
    const cases: (() => Promise<void>)[] = [
      async () => {
        const t = transferOf(h, tag, accounts, from(), ctx.rng.int(100, 2_000), 0, 0);
        await h.transfer(ctx.history, t, 'committed', [], { probe: true });
      },
      async () => {
        const t = transferOf(h, tag, accounts, from(), OPENING_BALANCE_CENTS + ctx.rng.int(1, 5_000), 1, 1);
        await h.transfer(ctx.history, t, 'aborted', [`${t.from.account} at ${t.from.bank} has less than ${t.amountCents} cents: its bank votes no (the CHECK constraint)`], { probe: true });
      },
      async () => {
        const f = from();
        const missing = `${tag}-nobody${ctx.rng.int(1, 99)}`;
        const t = transferOf(h, tag, accounts, f, ctx.rng.int(100, 2_000), 1, 0, missing);
        await h.transfer(ctx.history, t, 'aborted', [`${missing} does not exist at ${t.to.bank}: its bank votes no`], { probe: true });
      },
      async () => {
        const f = from();
        const missing = `${tag}-nobody${ctx.rng.int(100, 199)}`;
        const t = { ...transferOf(h, tag, accounts, f, ctx.rng.int(100, 2_000), 0, 1), from: { bank: f, account: missing } };
        await h.transfer(ctx.history, t, 'aborted', [`${missing} does not exist at ${f}: its bank votes no`], { probe: true });
      },
      async () => {
        const f = from();
        const t = transferOf(h, tag, accounts, f, ctx.rng.int(100, 2_000), 2, 2);
        const slow = ctx.rng.pick([t.from, t.to]);
        const unlock = await h.lockAccount(ctx.history, slow.bank as BankName, slow.account);
        try {
          // Far past the vote's limit: a coordinator that waits for the vote does not answer in time.
          await h.transfer(ctx.history, t, 'aborted', [`${slow.bank} cannot vote within ${VOTE_TIMEOUT_MS} ms: another transaction holds ${slow.account}'s row lock`], { timeoutMs: VOTE_TIMEOUT_MS * 8 });
        } finally {
          await unlock();
        }
      },
      async () => {
        // The banks run at repeatable read for this one: the row changes under the learner's
        // transaction while it waits for its lock, and its UPDATE fails with 40001.
        const t = transferOf(h, tag, accounts, from(), ctx.rng.int(100, 2_000), 1, 1);
        const contested = ctx.rng.pick([t.from, t.to]);
        const committed = await h.concurrentChange(ctx.history, contested.bank as BankName, contested.account, Math.round(VOTE_TIMEOUT_MS / 4));
        await h.transfer(ctx.history, t, 'either', [`${contested.bank} runs at repeatable read, and another transaction changes ${contested.account} under the vote: a serialization failure (40001) there is a no`], { banksIsolation: 'repeatable read', probe: true });
        await committed();
      },
    ];
    for (const run of ctx.rng.shuffle(cases)) {
      await run();
    }
    await h.noteInDoubt(ctx.history);
    await h.recover(ctx.history);
  },
});

const coordinatorCrash = scenario({
  id: 'coordinator-crash',
  cases: ['killed-at-each-point-committing', 'killed-at-each-point-aborting'],
  accounts: { [BANK_A]: ['a1'], [BANK_B]: ['b1'] },
  checkers: [checkAtomicity, checkCleanup, checkConservation, checkRecoveryReports],
  budgetMs: 30_000,
  async run(h, ctx, accounts, tag) {
    for (const kind of ctx.rng.shuffle(['commit', 'abort'] as const)) {
      const from = ctx.rng.pick(BANKS);
      const amount = (): number => (kind === 'commit' ? ctx.rng.int(10, 200) : OPENING_BALANCE_CENTS * 3 + ctx.rng.int(1, 999));
      const expected: Expectation = kind === 'commit' ? 'committed' : 'aborted';
      const labels = await cleanRun(h, ctx, transferOf(h, tag, accounts, from, amount()), expected);
      for (const plan of crashPlans(labels)) {
        if (ctx.signal.aborted) return;
        const expect: Expectation = kind === 'abort' || beforeTheLog(labels, plan) ? 'aborted' : 'either';
        await crashAndRecover(h, ctx, transferOf(h, tag, accounts, from, amount()), plan, expect);
      }
    }
  },
});

const participantFailure = scenario({
  id: 'participant-failure',
  cases: ['bank-killed-before-prepare', 'bank-killed-after-prepare', 'bank-paused-during-vote'],
  accounts: { [BANK_A]: ['a1', 'a2', 'a3'], [BANK_B]: ['b1', 'b2', 'b3'] },
  checkers: [checkAtomicity, checkAnswers, checkCleanup, checkConservation],
  needs: ['container-faults'],
  budgetMs: 30_000,
  async run(h, ctx, accounts, tag) {
    const parts = [
      { i: 0, when: 'before' as const, fault: 'kill' as const, expect: 'aborted' as const },
      { i: 1, when: 'after' as const, fault: 'kill' as const, expect: 'committed' as const },
      { i: 2, when: 'before' as const, fault: 'pause' as const, expect: 'aborted' as const },
    ];
    for (const part of ctx.rng.shuffle(parts)) {
      const victim = ctx.rng.pick(BANKS);
      const t = transferOf(h, tag, accounts, ctx.rng.pick(BANKS), ctx.rng.int(100, 2_000), part.i, part.i);
      const what = `${victim} is ${part.fault === 'kill' ? 'killed' : 'paused'} ${part.when} its PREPARE TRANSACTION${part.fault === 'kill' ? `, and back ${DOWN_MS} ms later` : ` for ${DOWN_MS} ms, past the vote's limit`}`;
      let healing: Promise<void> = Promise.resolve();
      const { held } = await h.holding(
        { label: `prepare@${victim}`, occurrence: 1, when: part.when },
        () => h.transfer(ctx.history, t, part.expect, [what], { probe: part.fault === 'kill', probeAfter: () => healing }),
        async () => {
          const fault = part.fault === 'kill' ? await h.kill(ctx.history, victim) : await h.pause(ctx.history, victim);
          healing = (async () => {
            await sleep(DOWN_MS);
            await h.heal(ctx.history, victim, fault, part.fault === 'kill' ? `${victim} started again` : `${victim} resumed`);
          })();
        },
      );
      await healing;
      if (!held) h.note(ctx.history, `the code never sent a PREPARE TRANSACTION to ${victim}, so the fault was not applied`);
    }
    await h.noteInDoubt(ctx.history);
    await h.recover(ctx.history);
  },
});

const lostReply = scenario({
  id: 'lost-commit-reply',
  cases: ['reply-lost-at-each-bank'],
  accounts: { [BANK_A]: ['a1'], [BANK_B]: ['b1'] },
  checkers: [checkAnswers, checkAtomicity, checkConservation],
  budgetMs: 20_000,
  async run(h, ctx, accounts, tag) {
    for (const bank of ctx.rng.shuffle([...BANKS])) {
      const t = transferOf(h, tag, accounts, ctx.rng.pick(BANKS), ctx.rng.int(100, 2_000));
      h.loseCommitReply(ctx.history, bank);
      try {
        await h.transfer(ctx.history, t, 'committed', [`the reply to COMMIT PREPARED at ${bank} is lost: the bank committed, and the connection is reset`], { probe: true });
      } finally {
        h.servers.injector.proxy(h.servers.serviceName(bank)).heal();
      }
    }
    await h.noteInDoubt(ctx.history);
    await h.recover(ctx.history);
  },
});

const recoveryScope = scenario({
  id: 'recovery-scope',
  cases: ['in-doubt-undecided', 'in-doubt-decided', 'committed-at-one-bank', 'other-coordinator-prepared', 'recovery-run-twice'],
  accounts: { [BANK_A]: ['a0', 'a1', 'a2', 'a3'], [BANK_B]: ['b0', 'b1', 'b2', 'b3'] },
  checkers: [checkCleanup, checkAtomicity, checkRecoveryReports],
  budgetMs: 20_000,
  async run(h, ctx, accounts, tag) {
    const from = ctx.rng.pick(BANKS);
    const labels = await cleanRun(h, ctx, transferOf(h, tag, accounts, from, ctx.rng.int(10, 500), 0, 0), 'committed');
    const plans = crashPlans(labels);
    const lastBeforeLog = plans.filter((p) => p.when === 'after' && beforeTheLog(labels, p)).at(-1);
    const afterLog = plans.find((p) => p.when === 'after' && !beforeTheLog(labels, p));
    const firstCommit = plans.find((p) => p.when === 'after' && p.label.startsWith('commit-prepared@'));
    const picked = [lastBeforeLog, afterLog, firstCommit].filter((p): p is PointPlan => p !== undefined);
    // Each in doubt at once: each transfer its own accounts, so none waits for another's locks.
    for (const [n, plan] of picked.entries()) {
      const armed = describe(plan);
      await h.arm({ crash: plan });
      const t = transferOf(h, tag, accounts, from, ctx.rng.int(10, 500), n + 1, n + 1);
      await h.transfer(ctx.history, t, beforeTheLog(labels, plan) ? 'aborted' : 'either', [`the coordinator is killed ${armed}; recovery waits until the others are in doubt too`], { armed });
      await h.learner.ensureRunning();
    }
    await h.restartAsDeployed(ctx.history);
    await h.noteInDoubt(ctx.history);
    await h.recover(ctx.history);
  },
});

const concurrent = scenario({
  id: 'concurrent-transfers',
  cases: ['shared-accounts-at-once', 'connections-reset', 'lost-reply-among-them'],
  accounts: { [BANK_A]: Array.from({ length: CONCURRENT_TRANSFERS }, (_, i) => `a${i + 1}`), [BANK_B]: Array.from({ length: CONCURRENT_TRANSFERS }, (_, i) => `b${i + 1}`) },
  checkers: [checkConservation, checkAtomicity, checkAnswers, checkCleanup],
  needs: ['concurrency'],
  budgetMs: 30_000,
  async run(h, ctx, accounts, tag) {
    // At one bank three accounts shared by every transfer; at the other each transfer its own. (Two
    // transfers sharing accounts at both banks can each hold one lock and wait for the other's:
    // a deadlock across servers, which only the vote's time limit ends. That is 2PC's, and the
    // scenario keeps it out: here, transfers race for the shared accounts and must not lose updates.)
    const shared = ctx.rng.pick(BANKS);
    const transfers = Array.from({ length: CONCURRENT_TRANSFERS }, (_, n) => {
      const from = ctx.rng.pick(BANKS);
      const s = ctx.rng.int(0, 2);
      return transferOf(h, tag, accounts, from, ctx.rng.int(200, 4_000), from === shared ? s : n, from === shared ? n : s);
    });
    const resets = [{ at: ctx.rng.int(150, 450), bank: ctx.rng.pick(BANKS) }];
    await h.warm(CONCURRENT_TRANSFERS);
    const lostAt = ctx.rng.pick(BANKS);
    h.loseCommitReply(ctx.history, lostAt);
    // A few milliseconds each way, as between machines: transactions overlap as they would there.
    for (const bank of BANKS) h.latency(ctx.history, bank, NETWORK_LATENCY_MS);
    const faults = (async () => {
      let now = 0;
      for (const r of [...resets].sort((x, y) => x.at - y.at)) {
        await sleep(r.at - now);
        now = r.at;
        h.resetConnections(ctx.history, r.bank);
      }
    })();
    await Promise.all(transfers.map((t) => h.transfer(ctx.history, t, 'either', [`at once with the others; the connections to ${resets.map((r) => r.bank).join(', ')} reset meanwhile`])));
    await faults;
    for (const bank of BANKS) h.servers.injector.proxy(h.servers.serviceName(bank)).heal();
    await h.recoverUntilSettled(ctx.history);
  },
});

const blockingDemo = scenario({
  id: 'blocking-demo',
  teaching: true,
  accounts: { [BANK_A]: ['a1'], [BANK_B]: ['b1'] },
  checkers: [checkBlockingDemo],
  budgetMs: 20_000,
  async run(h, ctx, accounts, tag) {
    const from = ctx.rng.pick(BANKS);
    const labels = await cleanRun(h, ctx, transferOf(h, tag, accounts, from, ctx.rng.int(10, 500)), 'committed');
    // The coordinator is stopped at its first step after the votes: both banks have prepared, nothing is decided yet.
    const first = labels.findIndex((l) => !l.startsWith('prepare@'));
    const label = labels[first];
    if (first < 1 || label === undefined) {
      h.note(ctx.history, 'the coordinator did not prepare before its next step, so there was no moment between its prepares and its decision to stop it at');
      return;
    }
    const plan: PointPlan = { label, occurrence: labels.slice(0, first + 1).filter((l) => l === label).length, when: 'before' };
    const t = transferOf(h, tag, accounts, from, ctx.rng.int(10, 500));
    await h.holding(
      plan,
      () => h.transfer(ctx.history, t, 'aborted', [`the coordinator stops ${describe(plan)}: both banks have prepared, nothing is decided; then it is killed`]),
      async () => {
        await h.noteStates(ctx.history);
        const since = performance.now();
        const other = await h.otherUpdate(ctx.history, from, t.from.account);
        await sleep(250);
        await h.noteLockWait(ctx.history, from, t.from.account, other.pid, since);
        await sleep(250);
        await h.restartAsDeployed(ctx.history);
        await h.noteInDoubt(ctx.history);
        await h.recover(ctx.history);
        await settleWithin(other.done, 5_000);
        await h.noteStates(ctx.history);
      },
    );
  },
});

export const scenarios: readonly Spec[] = [noVotes, coordinatorCrash, participantFailure, lostReply, recoveryScope, concurrent, blockingDemo];
