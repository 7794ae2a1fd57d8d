/**
 * The Idempotency Keys lab's grader: the learner's `createPayment` runs in the sandbox on
 * the lab's PostgreSQL and calls the grader's payment provider, whose ledger is the truth
 * about what was charged. Each scenario drives requests (retries, races, crashes, a moved
 * clock) and records them as a history; each checker is a pure function of that history.
 *
 * The semantics graded (../shared/GRADING.md, after Stripe and Brandur Leach's design):
 * one charge per key whatever the retries, races and crashes; a completed request's
 * response replayed byte for byte, errors included; another request's parameters under
 * the same key refused; a key in use answers 409 until its lock goes stale; keys scoped
 * per user and forgotten after 24 hours; invalid requests leave nothing behind.
 */
import type { Rng } from '../../random';
import type { HistoryRecorder, Scenario, ScenarioContext } from '../engine';
import { type LabGrader, type LabRun, type OpenedRun } from '../gradeLab';
import { GRADER_CHECKS } from '../graderIds';
import { PaymentProvider, type ProviderFault, type ProviderRequestRecord } from '../paymentProvider';
import { LearnerProcess } from '../learnerProcess';
import type { CheckOutcome, HistoryEvent } from '../report';
import type { CallResult, Sandbox } from '../sandbox';

export const IDEMPOTENCY_LAB_ID = 'idempotency-keys';

/** The lab's constants, as its src/types.ts states them (a unit test holds the two together). */
export const LOCK_TIMEOUT_MS = 90_000;
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_KEY_LENGTH = 255;

const REQUEST_TIMEOUT_MS = 10_000;
const PROVIDER_TIMEOUT_MS = 3_000;
const POOL_SIZE = 10;
const OP = 'POST /payments';

// ─── The history's vocabulary ────────────────────────────────────────────────────

/** A request as the history records its invocation. */
export interface RequestInput {
  readonly user: string;
  /** The key as shown (a long key is abbreviated), or null when none was sent. */
  readonly key: string | null;
  readonly body: unknown;
}

/** A response as the history records it. */
export interface RecordedResponse {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: string;
}

/** What the provider did, as a note in the history. */
export interface ProviderNote {
  readonly status: number | 'cut';
  readonly replayed: boolean;
  readonly key: string | null;
  /** The charge the request made, if it made one. */
  readonly charge?: string;
  readonly customer?: string;
  readonly amount?: number;
}

/** One request, from its invocation to how it ended. */
export interface RequestRecord {
  readonly lane: string;
  readonly invoked: number;
  readonly ended: number | undefined;
  readonly input: RequestInput;
  /** The response, or undefined when the request ended without one (threw, crashed, timed out). */
  readonly response: RecordedResponse | undefined;
  /** Why there was no response. */
  readonly failure: string | undefined;
}

/** The requests of a history, in order of invocation. */
export function requestsOf(history: readonly HistoryEvent[]): RequestRecord[] {
  const open = new Map<string, { index: number; input: RequestInput }>();
  const done: RequestRecord[] = [];
  history.forEach((e, index) => {
    if (e.op !== OP || e.process === 'provider') {
      return;
    }
    if (e.type === 'invoke') {
      open.set(e.process, { index, input: e.value as RequestInput });
      return;
    }
    const started = open.get(e.process);
    if (!started || (e.type !== 'ok' && e.type !== 'info' && e.type !== 'fail')) {
      return;
    }
    open.delete(e.process);
    done.push({
      lane: e.process,
      invoked: started.index,
      ended: index,
      input: started.input,
      response: e.type === 'ok' ? (e.value as RecordedResponse) : undefined,
      failure: e.type === 'ok' ? undefined : (e.detail ?? 'no response'),
    });
  });
  for (const [lane, started] of open) {
    done.push({ lane, invoked: started.index, ended: undefined, input: started.input, response: undefined, failure: 'it never ended' });
  }
  return done.sort((a, b) => a.invoked - b.invoked);
}

/** The provider's notes, with their indexes. */
export function providerNotes(history: readonly HistoryEvent[], from = 0, to = history.length - 1): { index: number; note: ProviderNote }[] {
  const out: { index: number; note: ProviderNote }[] = [];
  for (let i = Math.max(0, from); i <= Math.min(to, history.length - 1); i++) {
    const e = history[i] as HistoryEvent;
    if (e.process === 'provider' && e.type === 'note') {
      out.push({ index: i, note: e.value as ProviderNote });
    }
  }
  return out;
}

/** Charges really made between two events (inclusive). */
export function chargesMade(history: readonly HistoryEvent[], from = 0, to = history.length - 1): { index: number; note: ProviderNote }[] {
  return providerNotes(history, from, to).filter((p) => p.note.charge !== undefined);
}

function parsed(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function describe(r: RequestRecord): string {
  if (r.response) {
    return `${r.response.status}${r.response.replayed ? ' (replayed)' : ''} ${clip(r.response.body, 140)}`;
  }
  return `no response: ${r.failure ?? 'unknown'}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function pass(expected: string, actual: string): CheckOutcome {
  return { status: 'pass', expected, actual };
}

function fail(expected: string, actual: string, hint: string, culprits: readonly number[]): CheckOutcome {
  return { status: 'fail', expected, actual, hint, culprits: [...new Set(culprits)].sort((a, b) => a - b) };
}

function culpritsOf(...records: (RequestRecord | undefined)[]): number[] {
  return records.flatMap((r) => (r ? [r.invoked, ...(r.ended !== undefined ? [r.ended] : [])] : []));
}

const HINT_500 =
  'A request ended without a response: your code threw (the web framework would answer 500), or its process died. The history shows the error. If it is a unique violation (23505) or a serialization failure (40001) while the key is being recorded, another request holds the key: answer 409 instead of failing.';

/** The first request that ended without a response, as a failed check; or undefined. */
function noResponse(requests: readonly RequestRecord[], expected: string, allowed: (r: RequestRecord) => boolean = () => false): CheckOutcome | undefined {
  const broken = requests.find((r) => r.response === undefined && !allowed(r));
  return broken ? fail(expected, `${broken.lane}'s request got no response: ${broken.failure ?? 'unknown'}.`, HINT_500, culpritsOf(broken)) : undefined;
}

// ─── Checkers (pure) ─────────────────────────────────────────────────────────────

const EXPECT = {
  malformed: 'A request without a key, with an empty key or a key longer than 255 characters is refused with 400 and charges nothing; a 255-character key works.',
  validation: 'A request that fails validation answers 400 and stores nothing: the same key then works for a valid request.',
  replaySuccess: 'A retry after success gets the stored response back: same status, the same body byte for byte, marked idempotent-replayed: true, and nothing is charged again.',
  replayError: 'A retry after a declined card gets the stored 402 back, byte for byte, marked replayed, without calling the provider again.',
  mismatch: 'The same key with other parameters is refused (400 or 422) without running; the original parameters still get the stored response.',
  concurrent: 'Concurrent requests with the same key charge once: every response is either the one stored response or a 409.',
  staleLock: 'While the request holding a key is recent, a retry answers 409 and charges nothing; once its lock is older than 90 s, a retry takes it over and finishes with one charge in all.',
  crash: 'Killed at any commit point of a request, then retried once the lock is stale, the request finishes with exactly one charge and its response is stored.',
  provider: 'After a provider failure the key is not stuck and not answered for good: a retry finishes the payment, with one charge in all, and its response names the charge that was made.',
  scope: 'Keys belong to a user: another user sending the same key gets their own payment and their own charge.',
  expiry: 'A key older than 24 hours counts as new: a request with it runs again, even with other parameters.',
};

export function checkMalformedKeys(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.malformed);
  if (broken) return broken;
  const bad = requests.filter((r) => r.lane !== 'valid');
  for (const r of bad) {
    const status = r.response?.status;
    if (status !== 400) {
      const charged = chargesMade(history, r.invoked, r.ended);
      return fail(
        EXPECT.malformed,
        `A request with ${r.input.key === null ? 'no key' : r.input.key === '' ? 'an empty key' : `a ${r.lane === 'too-long' ? 'key of 256 characters' : 'malformed key'}`} got ${describe(r)}${charged.length > 0 ? ', and the card was charged' : ''}.`,
        `Check the Idempotency-Key before anything else: undefined, '' or longer than ${MAX_KEY_LENGTH} characters → 400 with an error body, before validating the body or touching the database.`,
        [...culpritsOf(r), ...charged.map((c) => c.index)],
      );
    }
    const charged = chargesMade(history, r.invoked, r.ended);
    if (charged.length > 0) {
      return fail(EXPECT.malformed, `A refused request still charged the card.`, 'Refuse a missing or malformed key before calling the provider.', [...culpritsOf(r), ...charged.map((c) => c.index)]);
    }
  }
  const valid = requests.find((r) => r.lane === 'valid');
  if (valid?.response?.status !== 201) {
    return fail(EXPECT.malformed, `A request with a key of exactly ${MAX_KEY_LENGTH} characters got ${valid ? describe(valid) : 'nothing'}.`, `Keys may be 1 to ${MAX_KEY_LENGTH} characters long, both ends included: a ${MAX_KEY_LENGTH}-character key is valid.`, culpritsOf(valid));
  }
  return pass(EXPECT.malformed, `${bad.length} malformed requests were refused with 400 and charged nothing; the ${MAX_KEY_LENGTH}-character key worked.`);
}

export function checkValidationStoresNothing(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.validation);
  if (broken) return broken;
  const [invalid, valid] = requests;
  if (!invalid || !valid) {
    return { status: 'unknown', expected: EXPECT.validation, actual: 'The scenario did not send its two requests.' };
  }
  if (invalid.response?.status !== 400) {
    return fail(EXPECT.validation, `An invalid body (${JSON.stringify(invalid.input.body)}) got ${describe(invalid)}.`, 'Validate the body (amount a whole number ≥ 1, currency eur/usd/gbp, card a non-empty string, description text if present) and answer 400 before doing anything else.', culpritsOf(invalid));
  }
  if (valid.response?.status !== 201 || valid.response.replayed) {
    return fail(
      EXPECT.validation,
      `After the 400, a valid request with the same key got ${describe(valid)}.`,
      'The invalid request left its key behind. Validate the body before recording the key (phase 1 starts only for a valid request), so a failed validation stores nothing and the key stays free.',
      culpritsOf(invalid, valid),
    );
  }
  const charged = chargesMade(history);
  if (charged.length !== 1) {
    return fail(EXPECT.validation, `${charged.length} charges were made for one valid request.`, 'Only the valid request may charge.', charged.map((c) => c.index));
  }
  return pass(EXPECT.validation, 'The invalid request got 400; the same key then ran a valid payment.');
}

/** Compares each later response with the first, as replays. */
function checkReplays(history: readonly HistoryEvent[], expected: string, firstStatus: number, hintStatus: string): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, expected);
  if (broken) return broken;
  const [first, ...retries] = requests;
  if (!first || retries.length === 0) {
    return { status: 'unknown', expected, actual: 'The scenario did not send its requests.' };
  }
  if (first.response?.status !== firstStatus) {
    return fail(expected, `The first request got ${describe(first)}, not ${firstStatus}.`, hintStatus, culpritsOf(first));
  }
  for (const retry of retries) {
    const calls = providerNotes(history, retry.invoked, retry.ended);
    const original = first.response;
    const got = retry.response as RecordedResponse;
    if (calls.length > 0) {
      return fail(
        expected,
        `The retry called the provider again (${calls.length} call${calls.length > 1 ? 's' : ''}) and got ${describe(retry)}.`,
        firstStatus === 402
          ? 'Store the response of every request that ran to its end, errors included: a declined card is a final answer (402) to store with the key. A retry must find it and replay it, not run again.'
          : 'A finished key must answer from storage: look the key up first and, when its request is finished, return the stored status and body without running anything.',
        [...culpritsOf(first, retry), ...calls.map((c) => c.index)],
      );
    }
    if (got.status !== original.status || got.body !== original.body) {
      return fail(
        expected,
        `The retry got ${got.status} ${clip(got.body, 160)}; the first response was ${original.status} ${clip(original.body, 160)}.`,
        got.status === original.status && sameJson(got.body, original.body)
          ? 'The replay has the same data but not the same bytes. Store the body as the exact text you sent (a text column), not as jsonb: jsonb reorders keys and drops spaces, so JSON.stringify of it is other text.'
          : 'Return exactly what was stored: the stored status and the stored body text, unchanged.',
        culpritsOf(first, retry),
      );
    }
    if (!got.replayed) {
      return fail(expected, `The retry got the same response, but without the header idempotent-replayed: true.`, "Mark a response replayed from storage with headers { 'idempotent-replayed': 'true' }, so a client can tell a replay from a fresh run.", culpritsOf(retry));
    }
  }
  if (first.response.replayed) {
    return fail(expected, 'The first response was marked idempotent-replayed, though it ran for the first time.', 'Only a response replayed from storage carries idempotent-replayed: true.', culpritsOf(first));
  }
  return pass(expected, `${retries.length} retr${retries.length > 1 ? 'ies' : 'y'} got the stored ${firstStatus} back byte for byte, marked replayed, with no call to the provider.`);
}

function sameJson(a: string, b: string): boolean {
  const x = parsed(a);
  const y = parsed(b);
  if (x === undefined || y === undefined) return false;
  const canon = (v: unknown): unknown => (Array.isArray(v) ? v.map(canon) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).sort(([p], [q]) => (p < q ? -1 : 1)).map(([k, w]) => [k, canon(w)])) : v);
  return JSON.stringify(canon(x)) === JSON.stringify(canon(y));
}

export function checkReplayAfterSuccess(history: readonly HistoryEvent[]): CheckOutcome {
  return checkReplays(history, EXPECT.replaySuccess, 201, 'A valid payment should succeed with 201 and the payment as JSON.');
}

export function checkReplayStoredError(history: readonly HistoryEvent[]): CheckOutcome {
  return checkReplays(history, EXPECT.replayError, 402, "A declined card (the provider's { kind: 'declined' }) is answered with 402 and an error body.");
}

export function checkParamsMismatch(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.mismatch);
  if (broken) return broken;
  const [first, other, again] = requests;
  if (!first || !other || !again) {
    return { status: 'unknown', expected: EXPECT.mismatch, actual: 'The scenario did not send its three requests.' };
  }
  if (first.response?.status !== 201) {
    return fail(EXPECT.mismatch, `The first request got ${describe(first)}.`, 'A valid payment should succeed with 201.', culpritsOf(first));
  }
  const status = other.response?.status;
  const calls = providerNotes(history, other.invoked, other.ended);
  if (status !== 400 && status !== 422) {
    return fail(
      EXPECT.mismatch,
      `The same key with ${JSON.stringify(other.input.body)} (first used with ${JSON.stringify(first.input.body)}) got ${describe(other)}.`,
      status === 201 && other.response?.replayed
        ? 'Your code replayed the first response for a different request. Store the request parameters with the key and compare them on every request: different parameters → 422 (idempotency_key_reused), nothing run.'
        : 'Store the request parameters with the key and compare them when the key is seen again: if they differ, answer 422 without running anything.',
      [...culpritsOf(first, other), ...calls.map((c) => c.index)],
    );
  }
  if (calls.length > 0) {
    return fail(EXPECT.mismatch, `The mismatching request was refused with ${status}, but only after calling the provider.`, 'Compare the parameters in phase 1, before any other work.', [...culpritsOf(other), ...calls.map((c) => c.index)]);
  }
  if (again.response?.status !== 201 || again.response.body !== first.response.body) {
    return fail(EXPECT.mismatch, `Afterwards, the original request got ${describe(again)} instead of its stored response.`, 'Refusing a mismatching request must leave the key as it was: do not overwrite its parameters or its stored response.', culpritsOf(first, other, again));
  }
  return pass(EXPECT.mismatch, `The mismatching request was refused with ${status} without running; the original still replays.`);
}

export function checkConcurrent(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.concurrent);
  if (broken) return broken;
  const rounds = new Map<string, RequestRecord[]>();
  for (const r of requests) {
    const round = r.lane.split('/')[0] ?? r.lane;
    rounds.set(round, [...(rounds.get(round) ?? []), r]);
  }
  const roundNames = [...rounds.keys()];
  for (const [round, list] of rounds) {
    const from = Math.min(...list.map((r) => r.invoked));
    const to = Math.max(...list.map((r) => r.ended ?? history.length - 1));
    const charged = chargesMade(history, from, to);
    if (charged.length !== 1) {
      return fail(
        EXPECT.concurrent,
        `${list.length} requests with one key, sent together in ${round}, made ${charged.length} charges.`,
        charged.length > 1
          ? 'Two requests both got past your key check. Make recording the key atomic: a UNIQUE index on (user_id, idempotency_key) and an INSERT that fails (23505) or a SERIALIZABLE transaction that fails (40001) for the loser, which then answers 409. A SELECT followed by an INSERT is a race.'
          : 'Not one request charged the card.',
        [...charged.map((c) => c.index), ...culpritsOf(...list)],
      );
    }
    const answered = list.filter((r) => r.response?.status !== 409);
    const distinct = new Map<string, RequestRecord[]>();
    for (const r of answered) {
      const k = `${r.response?.status} ${r.response?.body}`;
      distinct.set(k, [...(distinct.get(k) ?? []), r]);
    }
    if (distinct.size > 1) {
      const [a, b] = [...distinct.values()].map((v) => v[0]);
      return fail(
        EXPECT.concurrent,
        `In ${round}, requests with the same key got different answers: ${a ? describe(a) : ''} and ${b ? describe(b) : ''}.`,
        'More than one request ran the payment. Lock the key in phase 1 (locked_at) and answer 409 to a request that finds it locked by a request younger than the lock timeout.',
        culpritsOf(a, b),
      );
    }
    const fresh = answered.filter((r) => r.response?.replayed !== true);
    if (fresh.length > 1) {
      return fail(
        EXPECT.concurrent,
        `In ${round}, ${fresh.length} requests with the same key each ran the payment (none of their answers was a replay).`,
        'Only one request may run under a key; the others answer 409 while it runs, and get its stored response once it has finished. Lock the key in phase 1.',
        culpritsOf(...fresh),
      );
    }
    if (answered.length === 0) {
      return fail(EXPECT.concurrent, `In ${round}, every request got 409, even the retry sent after the others ended.`, 'The request that took the key must finish and store its response; a later retry then gets it back.', culpritsOf(...list));
    }
  }
  return pass(EXPECT.concurrent, `${roundNames.length} rounds of ${requests.length / Math.max(1, roundNames.length)} requests each: one charge per round; every answer the stored one or 409.`);
}

export function checkStaleLock(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.staleLock, (r) => r.lane === 'first');
  if (broken) return broken;
  const fresh = requests.filter((r) => r.lane.startsWith('fresh'));
  const stale = requests.find((r) => r.lane === 'stale');
  const after = requests.find((r) => r.lane === 'after');
  if (fresh.length === 0 || !stale || !after) {
    return { status: 'unknown', expected: EXPECT.staleLock, actual: 'The scenario did not get as far as its retries (was the first request killed while the provider charged?).' };
  }
  for (const r of fresh) {
    const calls = providerNotes(history, r.invoked, r.ended);
    if (r.response?.status !== 409 || calls.length > 0) {
      return fail(
        EXPECT.staleLock,
        `A retry while the first request's lock was ${r.lane === 'fresh' ? 'seconds' : 'about 30 s'} old got ${describe(r)}${calls.length > 0 ? ', after calling the provider' : ''}.`,
        r.response?.status === 201 || calls.length > 0
          ? 'The retry ran while another request (as far as anyone knows) still held the key. Record locked_at (with deps.clock) when phase 1 takes the key, and answer 409 when a request finds a lock younger than LOCK_TIMEOUT_MS.'
          : 'A key whose lock is younger than LOCK_TIMEOUT_MS is in use: answer 409.',
        [...culpritsOf(r), ...calls.map((c) => c.index)],
      );
    }
  }
  if (stale.response?.status !== 201) {
    return fail(
      EXPECT.staleLock,
      `Once the lock was older than 90 s, the retry got ${describe(stale)}.`,
      'A lock older than LOCK_TIMEOUT_MS belongs to a request that died: take it over (set locked_at to now) and resume from the recovery point. Compare times from deps.clock.now(), not now() in SQL: the grader moves deps.clock forward, and the database clock does not move.',
      culpritsOf(stale),
    );
  }
  const charged = chargesMade(history);
  if (charged.length !== 1) {
    return fail(
      EXPECT.staleLock,
      `The card was charged ${charged.length} times: once by the request that died, and again after the takeover.`,
      'Call the provider with an idempotency key of your own that is the same on every attempt of this request (derived from your key row or payment id, never random), so the retry gets the first charge back.',
      [...charged.map((c) => c.index), ...culpritsOf(stale)],
    );
  }
  const made = charged[0]?.note.charge;
  const body = parsed(stale.response.body);
  if (body?.['charge'] !== made) {
    return fail(EXPECT.staleLock, `The response names the charge ${JSON.stringify(body?.['charge'])}, but the charge made was ${made ?? '?'}.`, "Answer with the provider's charge id (result.charge.id) in the body's charge field.", [...culpritsOf(stale), ...charged.map((c) => c.index)]);
  }
  if (after.response?.status !== 201 || after.response.body !== stale.response.body) {
    return fail(EXPECT.staleLock, `A last retry got ${describe(after)} instead of the stored response.`, 'Store the response when the taken-over request finishes.', culpritsOf(stale, after));
  }
  return pass(EXPECT.staleLock, `Retries got 409 while the lock was fresh; after 90 s one took it over and finished with the first charge (${made ?? '?'}).`);
}

export function checkCrashRecovery(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const lanes = [...new Set(requests.map((r) => r.lane))].filter((l) => l !== 'clean');
  const clean = requests.find((r) => r.lane === 'clean');
  if (!clean) {
    return { status: 'unknown', expected: EXPECT.crash, actual: 'The clean request did not run.' };
  }
  if (clean.response?.status !== 201) {
    return fail(EXPECT.crash, `Without any crash, the request got ${describe(clean)}.`, 'First make a plain payment work: 201 with the payment as JSON.', culpritsOf(clean));
  }
  let crashes = 0;
  for (const lane of lanes) {
    const list = requests.filter((r) => r.lane === lane);
    const from = Math.min(...list.map((r) => r.invoked));
    const to = Math.max(...list.map((r) => r.ended ?? history.length - 1));
    const charged = chargesMade(history, from, to);
    const crashed = history.slice(from, to + 1).some((e) => e.type === 'crash');
    crashes += crashed ? 1 : 0;
    const retries = list.slice(1);
    const broken = retries.find((r) => r.response === undefined);
    if (broken) {
      return fail(EXPECT.crash, `After a crash at ${lane}, a retry got no response: ${broken.failure ?? '?'}.`, HINT_500, culpritsOf(broken));
    }
    const final = list[list.length - 1];
    if (final?.response?.status !== 201) {
      return fail(
        EXPECT.crash,
        `Killed at ${lane}, then retried with the lock stale, the request ended with ${final ? describe(final) : 'nothing'}.`,
        final?.response?.status === 409
          ? 'The key stayed locked after the crash. A lock older than LOCK_TIMEOUT_MS (by deps.clock) must be taken over, and the request resumed from its recovery point.'
          : 'After a crash, the retry must resume from the last recovery point your code recorded and finish the payment.',
        culpritsOf(...list),
      );
    }
    if (charged.length !== 1) {
      return fail(
        EXPECT.crash,
        `Killed at ${lane}, then retried: the card was charged ${charged.length} times for one payment.`,
        charged.length > 1
          ? 'The retry charged again. Either the provider call is inside a transaction that the crash rolled back (so the retry does not know the charge was asked for), or its idempotency key differs between attempts. Give the provider call a phase of its own, after a committed recovery point, with a key derived from that recovery point (the key row or payment id).'
          : 'The payment succeeded without any charge.',
        [...charged.map((c) => c.index), ...culpritsOf(...list)],
      );
    }
    const body = parsed(final.response.body);
    if (body?.['charge'] !== charged[0]?.note.charge) {
      return fail(EXPECT.crash, `Killed at ${lane}, the retry answered with charge ${JSON.stringify(body?.['charge'])}, but the charge made was ${charged[0]?.note.charge ?? '?'}.`, "Answer with the provider's charge id in the body's charge field.", culpritsOf(final));
    }
  }
  if (crashes === 0) {
    return { status: 'unknown', expected: EXPECT.crash, actual: 'No crash point was reached, so recovery could not be tested (does the request write anything to the database?).' };
  }
  return pass(EXPECT.crash, `${crashes} crashes at commit points, each retried after the lock went stale: one charge per payment every time.`);
}

export function checkProviderFailure(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.provider);
  if (broken) return broken;
  for (const kind of ['error', 'cut']) {
    const list = requests.filter((r) => r.lane.startsWith(kind));
    const [failed, retry] = list;
    if (!failed || !retry) {
      return { status: 'unknown', expected: EXPECT.provider, actual: 'The scenario did not send its requests.' };
    }
    const what = kind === 'error' ? 'failed with 500 before charging' : 'charged the card, then the connection broke before the answer';
    const status = failed.response?.status ?? 0;
    if (status < 500) {
      return fail(
        EXPECT.provider,
        `When the provider ${what}, the request got ${describe(failed)}.`,
        "The provider's { kind: 'unknown' } means nobody knows whether the card was charged: answer 503 (a 5xx), and do not store that answer.",
        culpritsOf(failed),
      );
    }
    const from = failed.invoked;
    const to = retry.ended ?? history.length - 1;
    const charged = chargesMade(history, from, to);
    if (retry.response?.status !== 201) {
      return fail(
        EXPECT.provider,
        `When the provider ${what}, the request got ${status}, and an immediate retry got ${describe(retry)}.`,
        retry.response?.status === 409
          ? 'The key stayed locked after the failed attempt ended. Release the lock (locked_at = NULL) when a request ends without finishing, so the client can retry at once.'
          : retry.response?.replayed
            ? `Your code stored the failure as the final answer, but the outcome was unknown${kind === 'cut' ? ' (and here the card was charged)' : ''}. Store only definite answers; after an unknown outcome, leave the key at its recovery point, unlocked, so a retry asks the provider again with the same key.`
            : 'A retry after an unknown outcome must call the provider again with the same provider key and finish the payment.',
        culpritsOf(failed, retry),
      );
    }
    if (charged.length !== 1) {
      return fail(EXPECT.provider, `When the provider ${what}, the attempt and its retry made ${charged.length} charges.`, 'Retry the provider with the same provider idempotency key, so it can answer with the charge it already made.', [...charged.map((c) => c.index), ...culpritsOf(failed, retry)]);
    }
    const body = parsed(retry.response.body);
    if (body?.['charge'] !== charged[0]?.note.charge) {
      return fail(EXPECT.provider, `The retry answered with charge ${JSON.stringify(body?.['charge'])}, but the charge made was ${charged[0]?.note.charge ?? '?'}.`, "Answer with the provider's charge id in the body's charge field.", culpritsOf(retry));
    }
  }
  return pass(EXPECT.provider, 'After a 500 and after a broken connection, the key stayed retryable and the retry finished with one charge.');
}

export function checkUserScope(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.scope);
  if (broken) return broken;
  const [a, b] = requests;
  if (!a || !b) {
    return { status: 'unknown', expected: EXPECT.scope, actual: 'The scenario did not send its requests.' };
  }
  if (a.response?.status !== 201) {
    return fail(EXPECT.scope, `The first user's request got ${describe(a)}.`, 'A valid payment should succeed with 201.', culpritsOf(a));
  }
  const charged = chargesMade(history);
  const customers = new Set(charged.map((c) => c.note.customer));
  if (b.response?.status !== 201 || b.response.replayed || b.response.body === a.response.body || charged.length !== 2 || customers.size !== 2) {
    return fail(
      EXPECT.scope,
      `${b.input.user} sent the key ${a.input.user} had used and got ${describe(b)}; ${charged.length} charge${charged.length === 1 ? ' was' : 's were'} made.`,
      "Scope keys to the user: the unique index and every lookup are on (user_id, idempotency_key), not the key alone. Otherwise one user's key replays (or blocks) another user's payment.",
      [...culpritsOf(a, b), ...charged.map((c) => c.index)],
    );
  }
  return pass(EXPECT.scope, 'Two users with the same key each got their own payment and charge.');
}

export function checkExpiry(history: readonly HistoryEvent[]): CheckOutcome {
  const requests = requestsOf(history);
  const broken = noResponse(requests, EXPECT.expiry);
  if (broken) return broken;
  const [first, later] = requests;
  if (!first || !later) {
    return { status: 'unknown', expected: EXPECT.expiry, actual: 'The scenario did not send its requests.' };
  }
  if (first.response?.status !== 201) {
    return fail(EXPECT.expiry, `The first request got ${describe(first)}.`, 'A valid payment should succeed with 201.', culpritsOf(first));
  }
  const charged = chargesMade(history, later.invoked, later.ended);
  if (later.response?.status !== 201 || later.response.replayed || charged.length !== 1) {
    return fail(
      EXPECT.expiry,
      `25 hours later, the same key with ${JSON.stringify(later.input.body)} got ${describe(later)}${charged.length === 0 ? ', and nothing was charged' : ''}.`,
      'A key older than KEY_TTL_MS (24 h, measured with deps.clock from when the key was first recorded) is forgotten: treat the request as new (delete or replace the old key row), whatever its parameters.',
      [...culpritsOf(first, later), ...charged.map((c) => c.index)],
    );
  }
  return pass(EXPECT.expiry, 'After 24 hours the key ran a new payment.');
}

// ─── Running the learner's code ──────────────────────────────────────────────────

interface Request {
  readonly userId: string;
  readonly idempotencyKey: string | undefined;
  readonly body: unknown;
}

function shownKey(key: string | undefined): string | null {
  if (key === undefined) return null;
  return key.length > 40 ? `${key.slice(0, 16)}… (${key.length} characters)` : key;
}

function isApiResponse(value: unknown): value is { status: number; headers: Record<string, unknown>; body: string } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Number.isInteger(v['status']) && typeof v['body'] === 'string' && (v['headers'] === undefined || (typeof v['headers'] === 'object' && v['headers'] !== null));
}

function providerOp(r: ProviderRequestRecord): string {
  if (r.charge !== undefined) {
    return r.status === 'cut' ? `charged ${r.charge.id}, answer cut` : `charged ${r.charge.id}`;
  }
  if (r.replayed) return `replayed ${String(r.status)}`;
  return r.status === 402 ? 'declined 402' : String(r.status);
}

/** The grader's side of one run: the learner's process, the provider, the clock. */
class Harness {
  private clockOffsetMs = 0;
  readonly learner: LearnerProcess;

  constructor(
    private readonly sandbox: Sandbox,
    readonly provider: PaymentProvider,
    config: { databaseUrl: string; schema: string },
  ) {
    this.learner = new LearnerProcess(
      sandbox,
      async (call) => {
        const result = await call('configure', [{ ...config, providerUrl: provider.url, poolSize: POOL_SIZE, providerTimeoutMs: PROVIDER_TIMEOUT_MS }], 20_000);
        if (!result.ok) {
          throw new Error(`The grader could not connect the learner's process to the database: ${result.message}`);
        }
      },
      async (call) => void (await call('setClock', [this.clockOffsetMs], 5_000)),
    );
  }

  /** Moves the learner's clock and the provider's to `offsetMs` from now (recorded in the history when given one). */
  async setClock(offsetMs: number, history?: HistoryRecorder): Promise<void> {
    this.clockOffsetMs = offsetMs;
    this.provider.setClockOffset(offsetMs);
    await this.sandbox.call('setClock', [offsetMs], 5_000);
    history?.record('grader', 'note', `clock moved to +${formatDuration(offsetMs)}`);
  }

  /** Resets the provider for a scenario and records its requests into the history. */
  watchProvider(history: HistoryRecorder): () => void {
    this.provider.reset();
    this.clockOffsetMs = 0;
    return this.provider.onRequest((r) => {
      const note: ProviderNote = {
        status: r.status,
        replayed: r.replayed,
        key: r.idempotencyKey ?? null,
        ...(r.charge !== undefined ? { charge: r.charge.id, customer: r.charge.customer, amount: r.charge.amount } : {}),
      };
      history.record('provider', 'note', providerOp(r), note);
    });
  }

  /** Sends one request as `lane` and records it; resolves however it ends. */
  async send(history: HistoryRecorder, lane: string, request: Request): Promise<RecordedResponse | undefined> {
    await this.learner.ensureRunning();
    const input: RequestInput = { user: request.userId, key: shownKey(request.idempotencyKey), body: request.body };
    history.record(lane, 'invoke', OP, input);
    const result: CallResult = await this.sandbox.call('createPayment', [request], REQUEST_TIMEOUT_MS);
    if (!result.ok) {
      const detail = result.kind === 'threw' ? `createPayment threw ${result.error.name}: ${result.error.message} (the web framework answers 500)` : result.message;
      history.record(lane, 'info', OP, undefined, detail);
      return undefined;
    }
    if (!isApiResponse(result.value)) {
      history.record(lane, 'info', OP, undefined, `createPayment returned ${clip(JSON.stringify(result.value) ?? String(result.value), 200)}, not an ApiResponse { status, headers, body: string }`);
      return undefined;
    }
    const headers = result.value.headers ?? {};
    const replayedHeader = Object.entries(headers).find(([name]) => name.toLowerCase() === 'idempotent-replayed');
    const response: RecordedResponse = { status: result.value.status, replayed: replayedHeader !== undefined && String(replayedHeader[1]) === 'true', body: result.value.body };
    history.record(lane, 'ok', OP, response);
    return response;
  }
}

function formatDuration(ms: number): string {
  if (ms >= 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 1000)} s`;
}

// ─── Scenarios ───────────────────────────────────────────────────────────────────

function validBody(rng: Rng, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { amount: rng.int(100, 50_000), currency: rng.pick(['eur', 'usd', 'gbp']), card: 'tok_visa', ...(rng.chance(0.5) ? { description: `Order #${rng.int(1000, 9999)}` } : {}), ...overrides };
}

function newKey(rng: Rng): string {
  return `key_${rng.int(0, 2 ** 30).toString(36)}${rng.int(0, 2 ** 30).toString(36)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A scenario whose run has the harness and a fresh provider, with the provider's requests in the history. */
function scenario(h: Harness, s: Omit<Scenario, 'run'> & { run(ctx: ScenarioContext, user: string): Promise<void> }): Scenario {
  return {
    ...s,
    async run(ctx) {
      const stop = h.watchProvider(ctx.history);
      try {
        await h.learner.ensureRunning();
        await h.setClock(0);
        await h.learner.arm(null);
        await s.run(ctx, `user_${ctx.rng.int(0, 2 ** 30).toString(36)}`);
      } finally {
        stop();
      }
    },
  };
}

export const IDEMPOTENCY_CHECKS = GRADER_CHECKS['idempotency-keys'];

/** A request, then two retries of it: the retries must be replays. */
function replayScenario(h: Harness, id: string, check: Scenario['check'], overrides: Record<string, unknown>): Scenario {
  return scenario(h, {
    id,
    title: title(id),
    check,
    async run({ history, rng }, user) {
      const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng, overrides) };
      for (let i = 0; i < 3; i++) {
        await h.send(history, 'client', request);
      }
    },
  });
}

function title(id: string): string {
  return IDEMPOTENCY_CHECKS.find((c) => c.id === id)?.title ?? id;
}

function buildScenarios(h: Harness): Scenario[] {
  const kill = async (history: HistoryRecorder, why: string): Promise<void> => {
    history.record('learner', 'crash', 'process killed', undefined, why);
    await h.learner.restart();
  };
  return [
    scenario(h, {
      id: 'missing-or-malformed-key',
      title: title('missing-or-malformed-key'),
      check: checkMalformedKeys,
      async run({ history, rng }, user) {
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
    scenario(h, {
      id: 'validation-stores-nothing',
      title: title('validation-stores-nothing'),
      check: checkValidationStoresNothing,
      async run({ history, rng }, user) {
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
    replayScenario(h, 'replay-after-success', checkReplayAfterSuccess, {}),
    replayScenario(h, 'replay-stored-error', checkReplayStoredError, { card: 'declined' }),
    scenario(h, {
      id: 'params-mismatch',
      title: title('params-mismatch'),
      check: checkParamsMismatch,
      async run({ history, rng }, user) {
        const key = newKey(rng);
        const body = validBody(rng);
        const change = rng.pick<Record<string, unknown>>([{ amount: (body['amount'] as number) + 100 }, { currency: body['currency'] === 'eur' ? 'usd' : 'eur' }, { card: 'tok_mastercard' }]);
        await h.send(history, 'client', { userId: user, idempotencyKey: key, body });
        await h.send(history, 'client', { userId: user, idempotencyKey: key, body: { ...body, ...change } });
        await h.send(history, 'client', { userId: user, idempotencyKey: key, body });
      },
    }),
    scenario(h, {
      id: 'concurrent-same-key',
      title: title('concurrent-same-key'),
      needs: ['concurrency'],
      check: checkConcurrent,
      async run({ history, rng }, user) {
        const n = 6;
        try {
          for (let round = 1; round <= 4; round++) {
            const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
            // The database a few milliseconds away, as over a network, and its connections
            // already open: the requests meet in the window between reading and writing the key.
            const latencyMs = rng.int(2, 8);
            await h.learner.network(latencyMs, n);
            history.record('grader', 'fault', `database latency ${latencyMs} ms per statement`);
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
    scenario(h, {
      id: 'stale-lock',
      title: title('stale-lock'),
      check: checkStaleLock,
      async run({ history, rng }, user) {
        const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
        h.provider.failNext({ kind: 'after-charge', action: () => kill(history, 'the grader killed the learner process while the provider was charging the card') });
        history.record('grader', 'fault', 'kill the process once the provider has charged');
        await h.send(history, 'first', request);
        await h.send(history, 'fresh', request);
        await h.setClock(LOCK_TIMEOUT_MS / 3, history);
        await h.send(history, 'fresh-30s', request);
        await h.setClock(LOCK_TIMEOUT_MS + 5_000, history);
        await h.send(history, 'stale', request);
        await h.send(history, 'after', request);
      },
    }),
    scenario(h, {
      id: 'crash-recovery',
      title: title('crash-recovery'),
      budgetMs: 60_000,
      check: checkCrashRecovery,
      async run({ history, rng, signal }, user) {
        await h.learner.arm(null);
        await h.send(history, 'clean', { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) });
        const points = await h.learner.commitPoints();
        history.record('grader', 'note', `a clean request passed ${points} commit point${points === 1 ? '' : 's'}`);
        let clock = 0;
        for (let point = 1; point <= points && !signal.aborted; point++) {
          for (const when of ['before', 'after'] as const) {
            const lane = `${when} commit ${point}`;
            const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
            await h.learner.arm({ point, when });
            history.record('grader', 'fault', `crash ${when} commit point ${point}`);
            await h.send(history, lane, request);
            if (h.learner.ended) {
              history.record('learner', 'crash', 'process killed', undefined, `killed ${when} commit point ${point}`);
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
    scenario(h, {
      id: 'provider-failure',
      title: title('provider-failure'),
      check: checkProviderFailure,
      async run({ history, rng }, user) {
        const faults: [string, ProviderFault, string][] = [
          ['error', { kind: 'error-before-charge' }, 'the provider fails with 500 before charging'],
          ['cut', { kind: 'cut-after-charge' }, 'the provider charges, then the connection breaks'],
        ];
        for (const [lane, fault, what] of faults) {
          const request = { userId: user, idempotencyKey: newKey(rng), body: validBody(rng) };
          h.provider.failNext(fault);
          history.record('grader', 'fault', what);
          await h.send(history, `${lane}`, request);
          await h.send(history, `${lane} retry`, request);
        }
      },
    }),
    scenario(h, {
      id: 'per-user-scope',
      title: title('per-user-scope'),
      check: checkUserScope,
      async run({ history, rng }, user) {
        const key = newKey(rng);
        const body = validBody(rng);
        await h.send(history, 'user A', { userId: user, idempotencyKey: key, body });
        await h.send(history, 'user B', { userId: `${user}_b`, idempotencyKey: key, body });
      },
    }),
    scenario(h, {
      id: 'expired-key',
      title: title('expired-key'),
      check: checkExpiry,
      async run({ history, rng }, user) {
        const key = newKey(rng);
        const body = validBody(rng);
        await h.send(history, 'client', { userId: user, idempotencyKey: key, body });
        await h.setClock(KEY_TTL_MS + 60 * 60 * 1000, history);
        await h.send(history, 'client', { userId: user, idempotencyKey: key, body: { ...body, amount: (body['amount'] as number) + 1 } });
      },
    }),
  ];
}

export const idempotencyKeysGrader: LabGrader = {
  labId: IDEMPOTENCY_LAB_ID,
  entry: 'src/payments.ts',
  adapter: 'idempotency-keys.cjs',
  contract: { migrate: 'function', createPayment: 'function' },
  memoryMb: 256,
  needsDatabase: true,
  checkIds: IDEMPOTENCY_CHECKS,
  async open(run: LabRun): Promise<OpenedRun> {
    const provider = await PaymentProvider.start();
    const harness = new Harness(run.sandbox, provider, { databaseUrl: run.databaseUrl ?? '', schema: run.runName });
    const close = async (): Promise<void> => {
      await harness.learner.finish();
      await provider.close();
    };
    try {
      await harness.learner.setUp();
    } catch (error) {
      await close().catch(() => undefined);
      throw error;
    }
    return { scenarios: buildScenarios(harness), close };
  },
};
