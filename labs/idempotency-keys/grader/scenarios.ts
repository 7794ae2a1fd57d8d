/**
 * The Idempotency Keys grader's scenarios, as data: each drives the learner's createPayment
 * with its requests (retries, races, crashes, provider failures, a moved clock) and names
 * the pure checker (checkers.ts) that judges what it recorded. Ids and order are lab.json's
 * checks. Each scenario draws from its own seeded randomness in a fixed order, so a seed
 * replays the same requests.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Rng } from '../../../src/core/random';
import {
  checkConcurrent,
  checkCrashRecovery,
  checkExpiry,
  checkMalformedKeys,
  checkParamsMismatch,
  checkProviderFailure,
  checkReplayAfterSuccess,
  checkReplayStoredError,
  checkStaleLock,
  checkUserScope,
  checkValidationStoresNothing,
} from './checkers';
import type { IdempotencyHarness } from './harness';
import type { PaymentRequest } from './protocol';
import { GRADER, type IdempotencyEvent, LEARNER } from './history';
import { KEY_TTL_MS, LOCK_TIMEOUT_MS, MAX_KEY_LENGTH } from './limits';
import { type ProviderFault, REVOKED_CARD } from './paymentProvider';

type Spec = ScenarioSpec<IdempotencyHarness, IdempotencyEvent>;

/** A valid body of `POST /payments`, as the lab's PaymentParams describes it. */
interface PaymentBody {
  readonly amount: number;
  readonly currency: 'eur' | 'usd' | 'gbp';
  readonly card: string;
  readonly description?: string;
}

function validBody(rng: Rng, overrides: Partial<PaymentBody> = {}): PaymentBody {
  return { amount: rng.int(100, 50_000), currency: rng.pick(['eur', 'usd', 'gbp'] as const), card: 'tok_visa', ...(rng.chance(0.5) ? { description: `Order #${rng.int(1000, 9999)}` } : {}), ...overrides };
}

function newKey(rng: Rng): string {
  return `key_${rng.int(0, 2 ** 30).toString(36)}${rng.int(0, 2 ** 30).toString(36)}`;
}

/** The unknown outcomes in a row provider-failure's streak has: more than any sensible retry budget. */
const STREAK = 6;

/** A day, in milliseconds. */
const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/**
 * A scenario whose run has a fresh provider (its requests recorded in the history), the
 * learner's process running with no crash armed, a user of its own (the scenario's first
 * random draw), and deps.clock started a seeded number of days ahead of the database's
 * clock (the second): a time taken from SQL's now() or Date.now() is days away from it.
 */
function paymentScenario(spec: Omit<Spec, 'run'> & { run(h: IdempotencyHarness, ctx: ScenarioContext<IdempotencyEvent>, user: string): Promise<void> }): Spec {
  return {
    ...spec,
    async run(h, ctx) {
      const stop = h.watchProvider(ctx.history);
      try {
        await h.ready();
        const user = `user_${ctx.rng.int(0, 2 ** 30).toString(36)}`;
        await h.startClock(ctx.rng.int(2, 40) * DAY_MS + ctx.rng.int(0, DAY_MS), ctx.history);
        await h.learner.arm(null);
        await spec.run(h, ctx, user);
      } finally {
        // What the provider still handles belongs to this scenario, not the next one.
        await h.provider.idle();
        stop();
      }
    },
  };
}

/**
 * Sends `request` with the process killed just after its first point (the first commit:
 * the key recorded, in any design that records it first), and starts a fresh process as a
 * deployed one starts. The key is left unfinished and locked: stale once the clock moves
 * past the lock timeout.
 */
async function crashAfterFirstPoint(h: IdempotencyHarness, history: ScenarioContext<IdempotencyEvent>['history'], lane: string, request: PaymentRequest): Promise<void> {
  await h.learner.arm({ point: 1, when: 'after' });
  history.record({ process: GRADER, type: 'fault', op: 'crash after the first commit point' });
  await h.send(history, lane, request);
  if (h.learner.ended) {
    history.record({ process: LEARNER, type: 'crash', op: 'process killed', detail: 'killed after commit point 1' });
    await h.restartDeployed(history);
  }
  await h.learner.arm(null);
}

/** The invalid bodies validation-stores-nothing sends, every one on every run: each field's ways of being wrong. */
const INVALID_BODIES: readonly (readonly [string, string, unknown])[] = [
  ['body-not-object', 'null', null],
  ['body-not-object', 'an array', [{ amount: 1200, currency: 'eur', card: 'tok_visa' }]],
  ['amount-invalid', 'no amount', { currency: 'eur', card: 'tok_visa' }],
  ['amount-invalid', 'a negative amount', { amount: -500, currency: 'eur', card: 'tok_visa' }],
  ['amount-invalid', 'amount 0', { amount: 0, currency: 'eur', card: 'tok_visa' }],
  ['amount-invalid', 'a fractional amount', { amount: 12.5, currency: 'eur', card: 'tok_visa' }],
  ['amount-invalid', 'the amount as text', { amount: '1200', currency: 'eur', card: 'tok_visa' }],
  ['currency-invalid', 'an unknown currency', { amount: 1200, currency: 'doge', card: 'tok_visa' }],
  ['currency-invalid', 'no currency', { amount: 1200, card: 'tok_visa' }],
  ['card-invalid', 'no card', { amount: 1200, currency: 'eur' }],
  ['card-invalid', 'an empty card', { amount: 1200, currency: 'eur', card: '' }],
  ['card-invalid', 'a card that is not text', { amount: 1200, currency: 'eur', card: 4242 }],
  ['description-not-text', 'a description that is not text', { amount: 1200, currency: 'eur', card: 'tok_visa', description: 42 }],
];

/** A request, then two retries of it: the retries must be replays. */
function replayScenario(id: string, check: Spec['check'], cases: readonly string[], groups: readonly (readonly [string, Partial<PaymentBody>])[]): Spec {
  return paymentScenario({
    id,
    check,
    cases,
    async run(h, { history, rng }, user) {
      for (const [lane, overrides] of groups) {
        const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng, overrides) };
        for (let i = 0; i < 3; i++) {
          await h.send(history, lane, request);
        }
      }
    },
  });
}

export const scenarios: readonly Spec[] = [
  paymentScenario({
    id: 'missing-or-malformed-key',
    check: checkMalformedKeys,
    cases: ['missing-key', 'empty-key', 'key-256', 'key-255-works', 'key-1-works'],
    async run(h, { history, rng }, user) {
      const body = validBody(rng);
      const cases: [string, string | undefined][] = rng.shuffle([
        ['missing', undefined],
        ['empty', ''],
        ['too-long', 'k'.repeat(MAX_KEY_LENGTH + 1)],
      ]);
      for (const [lane, key] of cases) {
        await h.send(history, lane, { userId: user, idempotencyKey: key, body });
      }
      await h.send(history, 'valid', { userId: user, idempotencyKey: `${newKey(rng)}`.padEnd(MAX_KEY_LENGTH, 'x'), body });
      await h.send(history, 'valid-1', { userId: user, idempotencyKey: rng.pick(['k', 'x', '7', 'é']), body: validBody(rng) });
    },
  }),
  paymentScenario({
    id: 'validation-stores-nothing',
    check: checkValidationStoresNothing,
    cases: ['body-not-object', 'amount-invalid', 'currency-invalid', 'card-invalid', 'description-not-text', 'same-key-then-valid', 'valid-boundaries'],
    async run(h, { history, rng }, user) {
      // Every way of being invalid, each with a key of its own, then a valid body with that key.
      for (const [, what, invalid] of rng.shuffle([...INVALID_BODIES])) {
        const key = newKey(rng);
        await h.send(history, `invalid: ${what}`, { userId: user, idempotencyKey: key, body: invalid });
        await h.send(history, `valid: ${what}`, { userId: user, idempotencyKey: key, body: validBody(rng) });
      }
      // The valid bodies at the edges of the rules: the smallest amount, an empty description.
      for (const [what, body] of [
        ['amount 1', validBody(rng, { amount: 1 })],
        ['an empty description', validBody(rng, { description: '' })],
      ] as const) {
        await h.send(history, `edge: ${what}`, { userId: user, idempotencyKey: newKey(rng), body });
      }
    },
  }),
  replayScenario('replay-after-success', checkReplayAfterSuccess, ['retries-replay-201', 'clock-days-ahead'], [['client', {}]]),
  replayScenario('replay-stored-error', checkReplayStoredError, ['declined-402', 'rejected-502'], [
    ['declined', { card: 'declined' }],
    ['rejected', { card: REVOKED_CARD }],
  ]),
  paymentScenario({
    id: 'params-mismatch',
    check: checkParamsMismatch,
    cases: ['amount-changed', 'currency-changed', 'card-changed', 'description-changed', 'description-removed', 'original-still-replays', 'unfinished-after-unknown'],
    async run(h, { history, rng }, user) {
      const key = newKey(rng);
      const body = validBody(rng, { description: `Order #${rng.int(1000, 9999)}` });
      const withoutDescription: PaymentBody = { amount: body.amount, currency: body.currency, card: body.card };
      const changes: [string, PaymentBody][] = [
        ['amount', { ...body, amount: body.amount + rng.int(1, 100) }],
        ['currency', { ...body, currency: body.currency === 'eur' ? 'usd' : 'eur' }],
        ['card', { ...body, card: 'tok_mastercard' }],
        ['description', { ...body, description: `${body.description ?? ''} (gift)` }],
        ['no description', withoutDescription],
      ];
      await h.send(history, 'first', { userId: user, idempotencyKey: key, body });
      for (const [what, other] of rng.shuffle(changes)) {
        await h.send(history, `mismatch: ${what}`, { userId: user, idempotencyKey: key, body: other });
      }
      await h.send(history, 'original', { userId: user, idempotencyKey: key, body });
      // The same key while it is unfinished: its first attempt ended with an unknown outcome
      // (503, the key free and at its recovery point), then another amount comes with it.
      const second = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
      h.provider.failNext({ kind: 'error-before-charge' });
      history.record({ process: GRADER, type: 'fault', op: 'the provider fails with 500 before charging' });
      await h.send(history, 'unfinished: first', second);
      await h.send(history, 'unfinished: mismatch', { ...second, body: { ...second.body, amount: second.body.amount + rng.int(1, 100) } });
      await h.send(history, 'unfinished: original', second);
    },
  }),
  paymentScenario({
    id: 'concurrent-same-key',
    needs: ['concurrency'],
    budgetMs: 60_000,
    check: checkConcurrent,
    cases: ['new-key-together', 'while-locked', 'free-after-unknown', 'stale-after-crash', 'one-payment-row'],
    async run(h, { history, rng }, user) {
      const n = 6;
      const burst = async (round: string, request: PaymentRequest, whileLocked: boolean): Promise<void> => {
        // The database a few milliseconds away, as over a network, and its connections
        // already open: the requests meet in the window between reading and writing the key.
        const latencyMs = rng.int(2, 8);
        await h.learner.network(latencyMs, n);
        history.record({ process: GRADER, type: 'fault', op: `database latency ${latencyMs} ms per statement` });
        // A slow provider keeps the first request inside its charge while the others arrive.
        h.provider.failNext({ kind: 'delay', ms: rng.int(250, 400) });
        const send = (i: number): Promise<unknown> => h.send(history, `${round}/client-${i + 1}`, request);
        if (whileLocked) {
          // The others are sent once the first request is inside the provider call: its key
          // recorded and locked, whatever the timing of the machine.
          const arrived = h.provider.nextArrival();
          const first = send(0);
          await Promise.race([arrived, first]);
          await Promise.all([first, ...Array.from({ length: n - 1 }, (_, i) => send(i + 1))]);
        } else {
          await Promise.all(Array.from({ length: n }, (_, i) => send(i)));
        }
        await h.learner.network(0);
        h.provider.clearFaults();
        await h.send(history, `${round}/retry`, request);
      };
      try {
        // A new key, every request at once: they meet while the key is being recorded.
        await burst('round 1 (a new key, at once)', { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) }, false);
        // A new key, the others sent while the first request waits for the provider, its key
        // recorded and locked.
        await burst('round 2 (a new key, while locked)', { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) }, true);
        // An existing key, free after an unknown outcome (503): every retry at once.
        const free = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
        h.provider.failNext({ kind: 'error-before-charge' });
        history.record({ process: GRADER, type: 'fault', op: 'the provider fails with 500 before charging' });
        await h.send(history, 'setup free', free);
        await burst('round 3 (free after a 503)', free, false);
        // An existing key, stale after a crash: the retries race to take it over.
        const stale = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
        await crashAfterFirstPoint(h, history, 'setup stale', stale);
        await h.setClock(LOCK_TIMEOUT_MS + 1_000, history);
        await burst('round 4 (stale after a crash)', stale, false);
      } finally {
        await h.learner.network(0).catch(() => undefined);
      }
      await h.readTables(history, user);
    },
  }),
  paymentScenario({
    id: 'stale-lock',
    check: checkStaleLock,
    cases: ['fresh-409', 'fresh-just-under-timeout', 'stale-taken-over', 'one-charge-in-all'],
    async run(h, { history, rng }, user) {
      const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
      h.provider.failNext({ kind: 'after-charge', action: () => h.kill(history, 'the grader killed the learner process while the provider was charging the card') });
      history.record({ process: GRADER, type: 'fault', op: 'kill the process once the provider has charged' });
      await h.send(history, 'first', request);
      await h.send(history, 'fresh', request);
      await h.setClock(LOCK_TIMEOUT_MS / 3, history);
      await h.send(history, 'fresh-30s', request);
      await h.setClock(LOCK_TIMEOUT_MS - 5_000, history);
      await h.send(history, 'fresh-85s', request);
      await h.setClock(LOCK_TIMEOUT_MS + 5_000, history);
      await h.send(history, 'stale', request);
      await h.send(history, 'after', request);
    },
  }),
  paymentScenario({
    id: 'crash-recovery',
    budgetMs: 60_000,
    check: checkCrashRecovery,
    cases: ['after-each-commit', 'after-provider-call', 'several-unfinished-keys', 'migrate-again-on-restart', 'tables-finished'],
    async run(h, { history, rng, signal }, user) {
      await h.send(history, 'clean', { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) });
      // Every point the clean request reached (each commit, each provider call): just before
      // a point is the world just after the one before it, so "just after" each covers all.
      const plan = await h.learner.crashPlan();
      history.record({ process: GRADER, type: 'note', op: `a clean request passed ${plan.length} point${plan.length === 1 ? '' : 's'} (${plan.map((p) => p.kind).join(', ')})` });
      let clock = 0;
      for (const { point, kind } of plan) {
        if (signal.aborted) break;
        const lane = `after ${kind === 'call' ? 'provider call' : 'commit'} (point ${point})`;
        const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
        await h.learner.arm({ point, when: 'after' });
        history.record({ process: GRADER, type: 'fault', op: `crash just after point ${point} (${kind})` });
        await h.send(history, lane, request);
        if (h.learner.ended) {
          history.record({ process: LEARNER, type: 'crash', op: 'process killed', detail: `killed just after point ${point} (${kind})` });
          await h.restartDeployed(history);
        }
        await h.learner.arm(null);
        clock += LOCK_TIMEOUT_MS + 1_000;
        await h.setClock(clock, history);
        await h.send(history, lane, request);
      }
      // Several requests in flight at once when the process dies: two wait for the
      // provider, a third has just been charged, the fourth is wherever it got to.
      // Amounts that differ between them, so that each charge in the provider's ledger names its request.
      const several = Array.from({ length: 4 }, (_, i) => ({ userId: user, idempotencyKey: newKey(rng), body: validBody(rng, { amount: rng.int(25, 12_500) * 4 + i }) }));
      h.provider.failNext(
        { kind: 'delay', ms: 400 },
        { kind: 'delay', ms: 400 },
        { kind: 'after-charge', action: () => h.kill(history, 'the grader killed the learner process with several requests under way') },
      );
      history.record({ process: GRADER, type: 'fault', op: 'kill the process while several requests are under way' });
      await Promise.all(several.map((request, i) => h.send(history, `several/${i + 1}`, request)));
      await h.provider.idle();
      h.provider.clearFaults();
      clock += LOCK_TIMEOUT_MS + 1_000;
      await h.setClock(clock, history);
      for (const [i, request] of several.entries()) {
        await h.send(history, `several/${i + 1}`, request);
      }
      await h.readTables(history, user);
    },
  }),
  paymentScenario({
    id: 'provider-failure',
    check: checkProviderFailure,
    cases: ['error-500-before-charge', 'cut-after-charge', 'unknown-streak', 'tables-finished'],
    async run(h, { history, rng }, user) {
      const faults: [string, ProviderFault, string][] = [
        ['error', { kind: 'error-before-charge' }, 'the provider fails with 500 before charging'],
        ['cut', { kind: 'cut-after-charge' }, 'the provider charges, then the connection breaks'],
      ];
      for (const [lane, fault, what] of faults) {
        const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
        h.provider.failNext(fault);
        history.record({ process: GRADER, type: 'fault', op: what });
        await h.send(history, lane, request);
        await h.send(history, `${lane} retry`, request);
      }
      // A streak of unknown outcomes longer than any sensible retry budget, one of them after
      // the charge was made: every attempt stays retryable, and the one after the streak finishes.
      const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
      const streak: ProviderFault[] = Array.from({ length: STREAK }, (_, i) => (i === 1 ? { kind: 'cut-after-charge' } : { kind: 'error-before-charge' }));
      h.provider.failNext(...streak);
      history.record({ process: GRADER, type: 'fault', op: `${STREAK} unknown outcomes in a row: 500, charged then cut, then 500s` });
      for (let attempt = 1; attempt <= STREAK + 2; attempt++) {
        const response = await h.send(history, 'streak', request);
        if (response?.status === 201) break;
      }
      h.provider.clearFaults();
      await h.send(history, 'streak', request);
      await h.readTables(history, user);
    },
  }),
  paymentScenario({
    id: 'per-user-scope',
    check: checkUserScope,
    cases: ['other-user-same-key'],
    async run(h, { history, rng }, user) {
      const key = newKey(rng);
      const body = validBody(rng);
      await h.send(history, 'user A', { userId: user, idempotencyKey: key, body });
      await h.send(history, 'user B', { userId: `${user}_b`, idempotencyKey: key, body });
    },
  }),
  paymentScenario({
    id: 'expired-key',
    check: checkExpiry,
    cases: ['replays-before-ttl', 'new-after-ttl', 'ttl-from-first-record', 'clock-days-ahead'],
    async run(h, { history, rng }, user) {
      const key = newKey(rng);
      const body = validBody(rng);
      await h.send(history, 'first', { userId: user, idempotencyKey: key, body });
      await h.setClock(KEY_TTL_MS - HOUR_MS, history);
      await h.send(history, 'before ttl', { userId: user, idempotencyKey: key, body });
      await h.setClock(KEY_TTL_MS + HOUR_MS, history);
      await h.send(history, 'after ttl', { userId: user, idempotencyKey: key, body: { ...body, amount: body.amount + 1 } });
      // A key recorded at T, its request killed, taken over at T + 2 h: it expires at T + 24 h
      // (from when it was first recorded), not 24 h after the takeover.
      const t = KEY_TTL_MS + 2 * HOUR_MS;
      await h.setClock(t, history);
      const other = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
      await crashAfterFirstPoint(h, history, 'taken over: first', other);
      await h.setClock(t + 2 * HOUR_MS, history);
      await h.send(history, 'taken over: takeover', other);
      await h.setClock(t + KEY_TTL_MS + HOUR_MS, history);
      await h.send(history, 'taken over: after ttl', { ...other, body: { ...other.body, amount: other.body.amount + 1 } });
    },
  }),
];
