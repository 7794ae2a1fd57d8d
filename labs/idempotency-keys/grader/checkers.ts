/**
 * The Idempotency Keys grader's checkers: pure functions of a scenario's history
 * (history.ts), each judging one property its lab.json check states. The provider's ledger,
 * as its notes in the history, is the truth about what was charged, whatever the learner's
 * code answered. The semantics graded (after Stripe and Brandur Leach's design): one charge
 * per key whatever the retries, races and crashes; a completed request's response replayed
 * byte for byte, errors included; another request's parameters under the same key refused;
 * a key in use answers 409 until its lock goes stale; keys scoped per user and forgotten
 * after 24 hours; invalid requests leave nothing behind.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { Verdict } from '../../../src/core/grading/report';
import { type IdempotencyEvent, type RequestRecord, chargesMade, providerNotes, requestsOf } from './history';
import { MAX_KEY_LENGTH } from './limits';

/** A body parsed as a JSON object; undefined when it is not JSON, or not an object. */
function parsed(body: string): object | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The `charge` field of a response body: the provider's charge id the learner's code answered with. */
function chargeIn(body: object | undefined): unknown {
  return body !== undefined && 'charge' in body ? body.charge : undefined;
}

/** How a request ended, as the messages show it. */
function outcomeText(r: RequestRecord): string {
  if (r.response) {
    return `${r.response.status}${r.response.replayed ? ' (replayed)' : ''} ${clip(r.response.body, 140)}`;
  }
  return `no response: ${r.failure ?? 'unknown'}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The invocation and completion of each request, to blame. */
function culpritsOf(...records: (RequestRecord | undefined)[]): number[] {
  return records.flatMap((r) => (r ? [r.invoked, ...(r.ended !== undefined ? [r.ended] : [])] : []));
}

const HINT_500 =
  'A request ended without a response: your code threw (the web framework would answer 500), or its process died. The history shows the error. If it is a unique violation (23505) or a serialization failure (40001) while the key is being recorded, another request holds the key: answer 409 instead of failing.';

/** The first request that ended without a response, as a failed check; or undefined. */
function noResponse(requests: readonly RequestRecord[], allowed: (r: RequestRecord) => boolean = () => false): Verdict | undefined {
  const broken = requests.find((r) => r.response === undefined && !allowed(r));
  return broken ? fail(`${broken.lane}'s request got no response: ${broken.failure ?? 'unknown'}.`, HINT_500, culpritsOf(broken)) : undefined;
}

// ─── Checkers (pure) ─────────────────────────────────────────────────────────────

/** missing-or-malformed-key: no key, an empty key or one too long is refused with 400 and charges nothing; a key of the longest length works. */
export function checkMalformedKeys(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const bad = requests.filter((r) => r.lane !== 'valid');
  for (const r of bad) {
    const status = r.response?.status;
    if (status !== 400) {
      const charged = chargesMade(history, r.invoked, r.ended);
      return fail(
        `A request with ${r.input.key === null ? 'no key' : r.input.key === '' ? 'an empty key' : `a ${r.lane === 'too-long' ? 'key of 256 characters' : 'malformed key'}`} got ${outcomeText(r)}${charged.length > 0 ? ', and the card was charged' : ''}.`,
        `Check the Idempotency-Key before anything else: undefined, '' or longer than ${MAX_KEY_LENGTH} characters → 400 with an error body, before validating the body or touching the database.`,
        [...culpritsOf(r), ...charged.map((c) => c.index)],
      );
    }
    const charged = chargesMade(history, r.invoked, r.ended);
    if (charged.length > 0) {
      return fail(`A refused request still charged the card.`, 'Refuse a missing or malformed key before calling the provider.', [...culpritsOf(r), ...charged.map((c) => c.index)]);
    }
  }
  const valid = requests.find((r) => r.lane === 'valid');
  if (valid?.response?.status !== 201) {
    return fail(`A request with a key of exactly ${MAX_KEY_LENGTH} characters got ${valid ? outcomeText(valid) : 'nothing'}.`, `Keys may be 1 to ${MAX_KEY_LENGTH} characters long, both ends included: a ${MAX_KEY_LENGTH}-character key is valid.`, culpritsOf(valid));
  }
  return pass(`${bad.length} malformed requests were refused with 400 and charged nothing; the ${MAX_KEY_LENGTH}-character key worked.`);
}

/** validation-stores-nothing: an invalid body answers 400 and leaves its key free for a valid request. */
export function checkValidationStoresNothing(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const [invalid, valid] = requests;
  if (!invalid || !valid) {
    return undecided('The scenario did not send its two requests.');
  }
  if (invalid.response?.status !== 400) {
    return fail(`An invalid body (${JSON.stringify(invalid.input.body)}) got ${outcomeText(invalid)}.`, 'Validate the body (amount a whole number ≥ 1, currency eur/usd/gbp, card a non-empty string, description text if present) and answer 400 before doing anything else.', culpritsOf(invalid));
  }
  if (valid.response?.status !== 201 || valid.response.replayed) {
    return fail(
      `After the 400, a valid request with the same key got ${outcomeText(valid)}.`,
      'The invalid request left its key behind. Validate the body before recording the key (phase 1 starts only for a valid request), so a failed validation stores nothing and the key stays free.',
      culpritsOf(invalid, valid),
    );
  }
  const charged = chargesMade(history);
  if (charged.length !== 1) {
    return fail(`${charged.length} charges were made for one valid request.`, 'Only the valid request may charge.', charged.map((c) => c.index));
  }
  return pass('The invalid request got 400; the same key then ran a valid payment.');
}

/** Compares each later response with the first, as replays. */
function checkReplays(history: readonly IdempotencyEvent[], firstStatus: number, hintStatus: string): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const [first, ...retries] = requests;
  if (!first || retries.length === 0) {
    return undecided('The scenario did not send its requests.');
  }
  if (first.response?.status !== firstStatus) {
    return fail(`The first request got ${outcomeText(first)}, not ${firstStatus}.`, hintStatus, culpritsOf(first));
  }
  for (const retry of retries) {
    const calls = providerNotes(history, retry.invoked, retry.ended);
    const original = first.response;
    const got = retry.response;
    if (got === undefined) {
      // Unreachable: noResponse above let no request without a response through.
      continue;
    }
    if (calls.length > 0) {
      return fail(
        `The retry called the provider again (${calls.length} call${calls.length > 1 ? 's' : ''}) and got ${outcomeText(retry)}.`,
        firstStatus === 402
          ? 'Store the response of every request that ran to its end, errors included: a declined card is a final answer (402) to store with the key. A retry must find it and replay it, not run again.'
          : 'A finished key must answer from storage: look the key up first and, when its request is finished, return the stored status and body without running anything.',
        [...culpritsOf(first, retry), ...calls.map((c) => c.index)],
      );
    }
    if (got.status !== original.status || got.body !== original.body) {
      return fail(
        `The retry got ${got.status} ${clip(got.body, 160)}; the first response was ${original.status} ${clip(original.body, 160)}.`,
        got.status === original.status && sameJson(got.body, original.body)
          ? 'The replay has the same data but not the same bytes. Store the body as the exact text you sent (a text column), not as jsonb: jsonb reorders keys and drops spaces, so JSON.stringify of it is other text.'
          : 'Return exactly what was stored: the stored status and the stored body text, unchanged.',
        culpritsOf(first, retry),
      );
    }
    if (!got.replayed) {
      return fail(`The retry got the same response, but without the header idempotent-replayed: true.`, "Mark a response replayed from storage with headers { 'idempotent-replayed': 'true' }, so a client can tell a replay from a fresh run.", culpritsOf(retry));
    }
  }
  if (first.response.replayed) {
    return fail('The first response was marked idempotent-replayed, though it ran for the first time.', 'Only a response replayed from storage carries idempotent-replayed: true.', culpritsOf(first));
  }
  return pass(`${retries.length} retr${retries.length > 1 ? 'ies' : 'y'} got the stored ${firstStatus} back byte for byte, marked replayed, with no call to the provider.`);
}

/** Whether two bodies hold the same JSON data, whatever the order of their keys and their spacing. */
function sameJson(a: string, b: string): boolean {
  const x = parsed(a);
  const y = parsed(b);
  if (x === undefined || y === undefined) return false;
  const canon = (v: unknown): unknown => (Array.isArray(v) ? v.map(canon) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).sort(([p], [q]) => (p < q ? -1 : 1)).map(([k, w]) => [k, canon(w)])) : v);
  return JSON.stringify(canon(x)) === JSON.stringify(canon(y));
}

/** replay-after-success: retries get the stored 201 back byte for byte, marked replayed, with no call to the provider. */
export function checkReplayAfterSuccess(history: readonly IdempotencyEvent[]): Verdict {
  return checkReplays(history, 201, 'A valid payment should succeed with 201 and the payment as JSON.');
}

/** replay-stored-error: retries after a declined card get the stored 402 back, byte for byte, marked replayed. */
export function checkReplayStoredError(history: readonly IdempotencyEvent[]): Verdict {
  return checkReplays(history, 402, "A declined card (the provider's { kind: 'declined' }) is answered with 402 and an error body.");
}

/** params-mismatch: the same key with other parameters is refused without running; the original still replays. */
export function checkParamsMismatch(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const [first, other, again] = requests;
  if (!first || !other || !again) {
    return undecided('The scenario did not send its three requests.');
  }
  if (first.response?.status !== 201) {
    return fail(`The first request got ${outcomeText(first)}.`, 'A valid payment should succeed with 201.', culpritsOf(first));
  }
  const status = other.response?.status;
  const calls = providerNotes(history, other.invoked, other.ended);
  if (status !== 400 && status !== 422) {
    return fail(
      `The same key with ${JSON.stringify(other.input.body)} (first used with ${JSON.stringify(first.input.body)}) got ${outcomeText(other)}.`,
      status === 201 && other.response?.replayed
        ? 'Your code replayed the first response for a different request. Store the request parameters with the key and compare them on every request: different parameters → 422 (idempotency_key_reused), nothing run.'
        : 'Store the request parameters with the key and compare them when the key is seen again: if they differ, answer 422 without running anything.',
      [...culpritsOf(first, other), ...calls.map((c) => c.index)],
    );
  }
  if (calls.length > 0) {
    return fail(`The mismatching request was refused with ${status}, but only after calling the provider.`, 'Compare the parameters in phase 1, before any other work.', [...culpritsOf(other), ...calls.map((c) => c.index)]);
  }
  if (again.response?.status !== 201 || again.response.body !== first.response.body) {
    return fail(`Afterwards, the original request got ${outcomeText(again)} instead of its stored response.`, 'Refusing a mismatching request must leave the key as it was: do not overwrite its parameters or its stored response.', culpritsOf(first, other, again));
  }
  return pass(`The mismatching request was refused with ${status} without running; the original still replays.`);
}

/** concurrent-same-key: each round of requests sent together with one key charges once, and every answer is the stored one or a 409. */
export function checkConcurrent(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
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
        `In ${round}, requests with the same key got different answers: ${a ? outcomeText(a) : ''} and ${b ? outcomeText(b) : ''}.`,
        'More than one request ran the payment. Lock the key in phase 1 (locked_at) and answer 409 to a request that finds it locked by a request younger than the lock timeout.',
        culpritsOf(a, b),
      );
    }
    const fresh = answered.filter((r) => r.response?.replayed !== true);
    if (fresh.length > 1) {
      return fail(
        `In ${round}, ${fresh.length} requests with the same key each ran the payment (none of their answers was a replay).`,
        'Only one request may run under a key; the others answer 409 while it runs, and get its stored response once it has finished. Lock the key in phase 1.',
        culpritsOf(...fresh),
      );
    }
    if (answered.length === 0) {
      return fail(`In ${round}, every request got 409, even the retry sent after the others ended.`, 'The request that took the key must finish and store its response; a later retry then gets it back.', culpritsOf(...list));
    }
  }
  return pass(`${roundNames.length} rounds of ${requests.length / Math.max(1, roundNames.length)} requests each: one charge per round; every answer the stored one or 409.`);
}

/** stale-lock: a retry answers 409 while the lock is fresh, and takes a stale one over to finish with the one charge. */
export function checkStaleLock(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests, (r) => r.lane === 'first');
  if (broken) return broken;
  const fresh = requests.filter((r) => r.lane.startsWith('fresh'));
  const stale = requests.find((r) => r.lane === 'stale');
  const after = requests.find((r) => r.lane === 'after');
  if (fresh.length === 0 || !stale || !after) {
    return undecided('The scenario did not get as far as its retries (was the first request killed while the provider charged?).');
  }
  for (const r of fresh) {
    const calls = providerNotes(history, r.invoked, r.ended);
    if (r.response?.status !== 409 || calls.length > 0) {
      return fail(
        `A retry while the first request's lock was ${r.lane === 'fresh' ? 'seconds' : 'about 30 s'} old got ${outcomeText(r)}${calls.length > 0 ? ', after calling the provider' : ''}.`,
        r.response?.status === 201 || calls.length > 0
          ? 'The retry ran while another request (as far as anyone knows) still held the key. Record locked_at (with deps.clock) when phase 1 takes the key, and answer 409 when a request finds a lock younger than LOCK_TIMEOUT_MS.'
          : 'A key whose lock is younger than LOCK_TIMEOUT_MS is in use: answer 409.',
        [...culpritsOf(r), ...calls.map((c) => c.index)],
      );
    }
  }
  if (stale.response?.status !== 201) {
    return fail(
      `Once the lock was older than 90 s, the retry got ${outcomeText(stale)}.`,
      'A lock older than LOCK_TIMEOUT_MS belongs to a request that died: take it over (set locked_at to now) and resume from the recovery point. Compare times from deps.clock.now(), not now() in SQL: the grader moves deps.clock forward, and the database clock does not move.',
      culpritsOf(stale),
    );
  }
  const charged = chargesMade(history);
  if (charged.length !== 1) {
    return fail(
      `The card was charged ${charged.length} times: once by the request that died, and again after the takeover.`,
      'Call the provider with an idempotency key of your own that is the same on every attempt of this request (derived from your key row or payment id, never random), so the retry gets the first charge back.',
      [...charged.map((c) => c.index), ...culpritsOf(stale)],
    );
  }
  const made = charged[0]?.note.charge;
  const answeredCharge = chargeIn(parsed(stale.response.body));
  if (answeredCharge !== made) {
    return fail(`The response names the charge ${JSON.stringify(answeredCharge)}, but the charge made was ${made ?? '?'}.`, "Answer with the provider's charge id (result.charge.id) in the body's charge field.", [...culpritsOf(stale), ...charged.map((c) => c.index)]);
  }
  if (after.response?.status !== 201 || after.response.body !== stale.response.body) {
    return fail(`A last retry got ${outcomeText(after)} instead of the stored response.`, 'Store the response when the taken-over request finishes.', culpritsOf(stale, after));
  }
  return pass(`Retries got 409 while the lock was fresh; after 90 s one took it over and finished with the first charge (${made ?? '?'}).`);
}

/** crash-recovery: killed at each commit point and retried once the lock is stale, every payment ends with exactly one charge. */
export function checkCrashRecovery(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const lanes = [...new Set(requests.map((r) => r.lane))].filter((l) => l !== 'clean');
  const clean = requests.find((r) => r.lane === 'clean');
  if (!clean) {
    return undecided('The clean request did not run.');
  }
  if (clean.response?.status !== 201) {
    return fail(`Without any crash, the request got ${outcomeText(clean)}.`, 'First make a plain payment work: 201 with the payment as JSON.', culpritsOf(clean));
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
      return fail(`After a crash at ${lane}, a retry got no response: ${broken.failure ?? '?'}.`, HINT_500, culpritsOf(broken));
    }
    const final = list[list.length - 1];
    if (final?.response?.status !== 201) {
      return fail(
        `Killed at ${lane}, then retried with the lock stale, the request ended with ${final ? outcomeText(final) : 'nothing'}.`,
        final?.response?.status === 409
          ? 'The key stayed locked after the crash. A lock older than LOCK_TIMEOUT_MS (by deps.clock) must be taken over, and the request resumed from its recovery point.'
          : 'After a crash, the retry must resume from the last recovery point your code recorded and finish the payment.',
        culpritsOf(...list),
      );
    }
    if (charged.length !== 1) {
      return fail(
        `Killed at ${lane}, then retried: the card was charged ${charged.length} times for one payment.`,
        charged.length > 1
          ? 'The retry charged again. Either the provider call is inside a transaction that the crash rolled back (so the retry does not know the charge was asked for), or its idempotency key differs between attempts. Give the provider call a phase of its own, after a committed recovery point, with a key derived from that recovery point (the key row or payment id).'
          : 'The payment succeeded without any charge.',
        [...charged.map((c) => c.index), ...culpritsOf(...list)],
      );
    }
    const answeredCharge = chargeIn(parsed(final.response.body));
    if (answeredCharge !== charged[0]?.note.charge) {
      return fail(`Killed at ${lane}, the retry answered with charge ${JSON.stringify(answeredCharge)}, but the charge made was ${charged[0]?.note.charge ?? '?'}.`, "Answer with the provider's charge id in the body's charge field.", culpritsOf(final));
    }
  }
  if (crashes === 0) {
    return undecided('No crash point was reached, so recovery could not be tested (does the request write anything to the database?).');
  }
  return pass(`${crashes} crashes at commit points, each retried after the lock went stale: one charge per payment every time.`);
}

/** provider-failure: after a 500 or a cut connection, an immediate retry finishes the payment with one charge and names it. */
export function checkProviderFailure(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  for (const kind of ['error', 'cut']) {
    const list = requests.filter((r) => r.lane.startsWith(kind));
    const [failed, retry] = list;
    if (!failed || !retry) {
      return undecided('The scenario did not send its requests.');
    }
    const what = kind === 'error' ? 'failed with 500 before charging' : 'charged the card, then the connection broke before the answer';
    const status = failed.response?.status ?? 0;
    if (status < 500) {
      return fail(
        `When the provider ${what}, the request got ${outcomeText(failed)}.`,
        "The provider's { kind: 'unknown' } means nobody knows whether the card was charged: answer 503 (a 5xx), and do not store that answer.",
        culpritsOf(failed),
      );
    }
    const from = failed.invoked;
    const to = retry.ended ?? history.length - 1;
    const charged = chargesMade(history, from, to);
    if (retry.response?.status !== 201) {
      return fail(
        `When the provider ${what}, the request got ${status}, and an immediate retry got ${outcomeText(retry)}.`,
        retry.response?.status === 409
          ? 'The key stayed locked after the failed attempt ended. Release the lock (locked_at = NULL) when a request ends without finishing, so the client can retry at once.'
          : retry.response?.replayed
            ? `Your code stored the failure as the final answer, but the outcome was unknown${kind === 'cut' ? ' (and here the card was charged)' : ''}. Store only definite answers; after an unknown outcome, leave the key at its recovery point, unlocked, so a retry asks the provider again with the same key.`
            : 'A retry after an unknown outcome must call the provider again with the same provider key and finish the payment.',
        culpritsOf(failed, retry),
      );
    }
    if (charged.length !== 1) {
      return fail(`When the provider ${what}, the attempt and its retry made ${charged.length} charges.`, 'Retry the provider with the same provider idempotency key, so it can answer with the charge it already made.', [...charged.map((c) => c.index), ...culpritsOf(failed, retry)]);
    }
    const answeredCharge = chargeIn(parsed(retry.response.body));
    if (answeredCharge !== charged[0]?.note.charge) {
      return fail(`The retry answered with charge ${JSON.stringify(answeredCharge)}, but the charge made was ${charged[0]?.note.charge ?? '?'}.`, "Answer with the provider's charge id in the body's charge field.", culpritsOf(retry));
    }
  }
  return pass('After a 500 and after a broken connection, the key stayed retryable and the retry finished with one charge.');
}

/** per-user-scope: another user with the same key gets a payment and a charge of their own. */
export function checkUserScope(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const [a, b] = requests;
  if (!a || !b) {
    return undecided('The scenario did not send its requests.');
  }
  if (a.response?.status !== 201) {
    return fail(`The first user's request got ${outcomeText(a)}.`, 'A valid payment should succeed with 201.', culpritsOf(a));
  }
  const charged = chargesMade(history);
  const customers = new Set(charged.map((c) => c.note.customer));
  if (b.response?.status !== 201 || b.response.replayed || b.response.body === a.response.body || charged.length !== 2 || customers.size !== 2) {
    return fail(
      `${b.input.user} sent the key ${a.input.user} had used and got ${outcomeText(b)}; ${charged.length} charge${charged.length === 1 ? ' was' : 's were'} made.`,
      "Scope keys to the user: the unique index and every lookup are on (user_id, idempotency_key), not the key alone. Otherwise one user's key replays (or blocks) another user's payment.",
      [...culpritsOf(a, b), ...charged.map((c) => c.index)],
    );
  }
  return pass('Two users with the same key each got their own payment and charge.');
}

/** expired-key: a key older than 24 hours runs a new payment, even with other parameters. */
export function checkExpiry(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const [first, later] = requests;
  if (!first || !later) {
    return undecided('The scenario did not send its requests.');
  }
  if (first.response?.status !== 201) {
    return fail(`The first request got ${outcomeText(first)}.`, 'A valid payment should succeed with 201.', culpritsOf(first));
  }
  const charged = chargesMade(history, later.invoked, later.ended);
  if (later.response?.status !== 201 || later.response.replayed || charged.length !== 1) {
    return fail(
      `25 hours later, the same key with ${JSON.stringify(later.input.body)} got ${outcomeText(later)}${charged.length === 0 ? ', and nothing was charged' : ''}.`,
      'A key older than KEY_TTL_MS (24 h, measured with deps.clock from when the key was first recorded) is forgotten: treat the request as new (delete or replace the old key row), whatever its parameters.',
      [...culpritsOf(first, later), ...charged.map((c) => c.index)],
    );
  }
  return pass('After 24 hours the key ran a new payment.');
}

