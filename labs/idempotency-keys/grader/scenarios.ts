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
import { GRADER, type IdempotencyEvent, LEARNER } from './history';
import { KEY_TTL_MS, LOCK_TIMEOUT_MS, MAX_KEY_LENGTH } from './limits';
import type { ProviderFault } from './paymentProvider';

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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A scenario whose run has a fresh provider (its requests recorded in the history), the
 * learner's process running with its clock at now and no crash armed, and a user of its own
 * (the scenario's first random draw).
 */
function paymentScenario(spec: Omit<Spec, 'run'> & { run(h: IdempotencyHarness, ctx: ScenarioContext<IdempotencyEvent>, user: string): Promise<void> }): Spec {
  return {
    ...spec,
    async run(h, ctx) {
      const stop = h.watchProvider(ctx.history);
      try {
        await h.learner.ensureRunning();
        await h.setClock(0);
        await h.learner.arm(null);
        await spec.run(h, ctx, `user_${ctx.rng.int(0, 2 ** 30).toString(36)}`);
      } finally {
        stop();
      }
    },
  };
}

/** A request, then two retries of it: the retries must be replays. */
function replayScenario(id: string, check: Spec['check'], overrides: Partial<PaymentBody>): Spec {
  return paymentScenario({
    id,
    check,
    async run(h, { history, rng }, user) {
      const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng, overrides) };
      for (let i = 0; i < 3; i++) {
        await h.send(history, 'client', request);
      }
    },
  });
}

export const scenarios: readonly Spec[] = [
  paymentScenario({
    id: 'missing-or-malformed-key',
    check: checkMalformedKeys,
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
    },
  }),
  paymentScenario({
    id: 'validation-stores-nothing',
    check: checkValidationStoresNothing,
    async run(h, { history, rng }, user) {
      const key = newKey(rng);
      const invalid = rng.pick<Record<string, unknown>>([
        { amount: -500, currency: 'eur', card: 'tok_visa' },
        { amount: 12.5, currency: 'eur', card: 'tok_visa' },
        { amount: 1200, currency: 'doge', card: 'tok_visa' },
        { amount: 1200, currency: 'eur' },
        { amount: '1200', currency: 'eur', card: 'tok_visa' },
      ]);
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body: invalid });
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body: validBody(rng) });
    },
  }),
  replayScenario('replay-after-success', checkReplayAfterSuccess, {}),
  replayScenario('replay-stored-error', checkReplayStoredError, { card: 'declined' }),
  paymentScenario({
    id: 'params-mismatch',
    check: checkParamsMismatch,
    async run(h, { history, rng }, user) {
      const key = newKey(rng);
      const body = validBody(rng);
      const change = rng.pick<Partial<PaymentBody>>([{ amount: body.amount + 100 }, { currency: body.currency === 'eur' ? 'usd' : 'eur' }, { card: 'tok_mastercard' }]);
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body });
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body: { ...body, ...change } });
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body });
    },
  }),
  paymentScenario({
    id: 'concurrent-same-key',
    needs: ['concurrency'],
    check: checkConcurrent,
    async run(h, { history, rng }, user) {
      const n = 6;
      try {
        for (let round = 1; round <= 4; round++) {
          const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
          // The database a few milliseconds away, as over a network, and its connections
          // already open: the requests meet in the window between reading and writing the key.
          const latencyMs = rng.int(2, 8);
          await h.learner.network(latencyMs, n);
          history.record({ process: GRADER, type: 'fault', op: `database latency ${latencyMs} ms per statement` });
          // A slow provider keeps the first request inside its charge while the others arrive.
          h.provider.failNext({ kind: 'delay', ms: rng.int(150, 300) });
          // Odd rounds send every request at once: they meet while the key is being
          // recorded. Even rounds spread them over the first 120 ms: the later ones arrive
          // while the first request waits for the provider, with its key recorded and locked.
          const spread = round % 2 === 1 ? 0 : 120;
          await Promise.all(
            Array.from({ length: n }, async (_, i) => {
              const wait = spread === 0 ? 0 : rng.int(0, spread);
              if (wait > 0) {
                await sleep(wait);
              }
              await h.send(history, `round ${round}/client-${i + 1}`, request);
            }),
          );
          await h.learner.network(0);
          await h.send(history, `round ${round}/retry`, request);
        }
      } finally {
        await h.learner.network(0).catch(() => undefined);
      }
    },
  }),
  paymentScenario({
    id: 'stale-lock',
    check: checkStaleLock,
    async run(h, { history, rng }, user) {
      const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
      h.provider.failNext({ kind: 'after-charge', action: () => h.kill(history, 'the grader killed the learner process while the provider was charging the card') });
      history.record({ process: GRADER, type: 'fault', op: 'kill the process once the provider has charged' });
      await h.send(history, 'first', request);
      await h.send(history, 'fresh', request);
      await h.setClock(LOCK_TIMEOUT_MS / 3, history);
      await h.send(history, 'fresh-30s', request);
      await h.setClock(LOCK_TIMEOUT_MS + 5_000, history);
      await h.send(history, 'stale', request);
      await h.send(history, 'after', request);
    },
  }),
  paymentScenario({
    id: 'crash-recovery',
    budgetMs: 60_000,
    check: checkCrashRecovery,
    async run(h, { history, rng, signal }, user) {
      await h.learner.arm(null);
      await h.send(history, 'clean', { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) });
      const points = await h.learner.commitPoints();
      history.record({ process: GRADER, type: 'note', op: `a clean request passed ${points} commit point${points === 1 ? '' : 's'}` });
      let clock = 0;
      for (let point = 1; point <= points && !signal.aborted; point++) {
        for (const when of ['before', 'after'] as const) {
          const lane = `${when} commit ${point}`;
          const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
          await h.learner.arm({ point, when });
          history.record({ process: GRADER, type: 'fault', op: `crash ${when} commit point ${point}` });
          await h.send(history, lane, request);
          if (h.learner.ended) {
            history.record({ process: LEARNER, type: 'crash', op: 'process killed', detail: `killed ${when} commit point ${point}` });
            await h.learner.restart();
          } else {
            await h.learner.arm(null);
          }
          clock += LOCK_TIMEOUT_MS + 1_000;
          await h.setClock(clock, history);
          await h.send(history, lane, request);
        }
      }
    },
  }),
  paymentScenario({
    id: 'provider-failure',
    check: checkProviderFailure,
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
    },
  }),
  paymentScenario({
    id: 'per-user-scope',
    check: checkUserScope,
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
    async run(h, { history, rng }, user) {
      const key = newKey(rng);
      const body = validBody(rng);
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body });
      await h.setClock(KEY_TTL_MS + 60 * 60 * 1000, history);
      await h.send(history, 'client', { userId: user, idempotencyKey: key, body: { ...body, amount: body.amount + 1 } });
    },
  }),
];
