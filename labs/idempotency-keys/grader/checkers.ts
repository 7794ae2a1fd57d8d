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
import { type IdempotencyEvent, type RequestRecord, chargesMade, lastTables, migrateFailures, providerNotes, requestsOf } from './history';
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

/** What is wrong with an error response's body (`{"error": {"type": "...", "message": "..."}}`, the lab's ErrorBody); undefined when nothing. */
function errorBodyProblem(r: RequestRecord): string | undefined {
  const body = r.response === undefined ? undefined : parsed(r.response.body);
  const error: unknown = body !== undefined && 'error' in body ? body.error : undefined;
  if (typeof error !== 'object' || error === null) return 'its body is not {"error": {"type": ..., "message": ...}}';
  const type: unknown = 'type' in error ? error.type : undefined;
  const message: unknown = 'message' in error ? error.message : undefined;
  return typeof type === 'string' && type !== '' && typeof message === 'string' ? undefined : 'its error has no type or no message';
}

const HINT_ERROR_BODY = 'Every error response has the body {"error": {"type": "...", "message": "..."}} (the lab\'s ErrorBody; errorResponse(status, type, message) in the starter builds it).';

/** The first of `requests` whose error body is not the lab's ErrorBody, as a failed check; or undefined. */
function badErrorBody(requests: readonly RequestRecord[]): Verdict | undefined {
  for (const r of requests) {
    const problem = errorBodyProblem(r);
    if (problem !== undefined) {
      return fail(`${r.lane}'s request got ${outcomeText(r)}: ${problem}.`, HINT_ERROR_BODY, culpritsOf(r));
    }
  }
  return undefined;
}

/** What is wrong with a 201's body as the payment the request made (the lab's PaymentBody); undefined when nothing. */
function paymentBodyProblem(r: RequestRecord): string | undefined {
  const body = r.response === undefined ? undefined : parsed(r.response.body);
  const input = r.input.body as { amount?: unknown; currency?: unknown; description?: unknown } | null;
  if (body === undefined) return 'its body is not a JSON object';
  const field = (name: string): unknown => (name in body ? (body as Record<string, unknown>)[name] : undefined);
  const id = field('id');
  if (!((typeof id === 'string' && id !== '') || typeof id === 'number')) return 'its body has no id naming your payment';
  if (field('amount') !== input?.amount || field('currency') !== input?.currency) return "its amount or currency is not the request's";
  if (field('description') !== (input?.description ?? null)) return "its description is not the request's (null when it had none)";
  if (field('status') !== 'succeeded') return 'its status is not "succeeded"';
  return undefined;
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
  const bad = requests.filter((r) => !r.lane.startsWith('valid'));
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
  for (const [lane, length] of [['valid', MAX_KEY_LENGTH], ['valid-1', 1]] as const) {
    const valid = requests.find((r) => r.lane === lane);
    if (valid?.response?.status !== 201) {
      return fail(`A request with a key of exactly ${length} character${length === 1 ? '' : 's'} got ${valid ? outcomeText(valid) : 'nothing'}.`, `Keys may be 1 to ${MAX_KEY_LENGTH} characters long, both ends included: a key of ${length} character${length === 1 ? '' : 's'} is valid.`, culpritsOf(valid));
    }
  }
  const badBody = badErrorBody(bad);
  if (badBody) return badBody;
  return pass(`${bad.length} malformed requests were refused with 400 and an error body, and charged nothing; keys of ${MAX_KEY_LENGTH} characters and of 1 worked.`);
}

/** validation-stores-nothing: every invalid body answers 400 and leaves its key free: a valid request with that key then runs. */
export function checkValidationStoresNothing(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const invalids = requests.filter((r) => r.lane.startsWith('invalid: '));
  if (invalids.length === 0) {
    return undecided('The scenario did not send its requests.');
  }
  for (const invalid of invalids) {
    const what = invalid.lane.slice('invalid: '.length);
    const valid = requests.find((r) => r.lane === `valid: ${what}`);
    const calls = providerNotes(history, invalid.invoked, invalid.ended);
    if (invalid.response?.status !== 400 || calls.length > 0) {
      return fail(
        `A body with ${what} (${clip(JSON.stringify(invalid.input.body) ?? '', 120)}) got ${outcomeText(invalid)}${calls.length > 0 ? ', after calling the provider' : ''}.`,
        'Validate the body (an object; amount a whole number ≥ 1, not text; currency one of eur, usd, gbp; card a non-empty string; description absent or text) and answer 400 before doing anything else.',
        [...culpritsOf(invalid), ...calls.map((c) => c.index)],
      );
    }
    if (!valid) {
      return undecided('The scenario did not send its valid requests.');
    }
    const charged = chargesMade(history, valid.invoked, valid.ended);
    if (valid.response?.status !== 201 || valid.response.replayed || charged.length !== 1) {
      return fail(
        `After the 400 for a body with ${what}, a valid request with the same key got ${outcomeText(valid)}${charged.length !== 1 ? ` (${charged.length} charges)` : ''}.`,
        'The invalid request left its key behind. Validate the body before recording the key (phase 1 starts only for a valid request), so a failed validation stores nothing and the key stays free.',
        [...culpritsOf(invalid, valid), ...charged.map((c) => c.index)],
      );
    }
  }
  const badBody = badErrorBody(invalids);
  if (badBody) return badBody;
  for (const edge of requests.filter((r) => r.lane.startsWith('edge: '))) {
    const charged = chargesMade(history, edge.invoked, edge.ended);
    if (edge.response?.status !== 201 || edge.response.replayed || charged.length !== 1) {
      return fail(
        `A valid body with ${edge.lane.slice('edge: '.length)} (${clip(JSON.stringify(edge.input.body) ?? '', 120)}) got ${outcomeText(edge)}.`,
        'Refuse only what the rules refuse: amount is valid from 1 (a whole number ≥ 1), and description may be any text, the empty text included.',
        [...culpritsOf(edge), ...charged.map((c) => c.index)],
      );
    }
  }
  return pass(`${invalids.length} invalid bodies each got 400 and stored nothing: the same key then ran a valid payment each time; the valid bodies at the rules' edges ran.`);
}

/** Compares each later response of a lane with its first, as replays. */
function checkReplays(history: readonly IdempotencyEvent[], expected: readonly (readonly [string, number, string])[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  for (const [lane, firstStatus, hintStatus] of expected) {
    const [first, ...retries] = requests.filter((r) => r.lane === lane);
    if (!first || retries.length === 0) {
      return undecided('The scenario did not send its requests.');
    }
    if (first.response?.status !== firstStatus) {
      return fail(`The first request (${lane}) got ${outcomeText(first)}, not ${firstStatus}.`, hintStatus, culpritsOf(first));
    }
    const shape = firstStatus === 201 ? paymentBodyProblem(first) : errorBodyProblem(first);
    if (shape !== undefined) {
      return fail(
        `The first request (${lane}) got ${outcomeText(first)}: ${shape}.`,
        firstStatus === 201
          ? 'A 201\'s body is the payment (the lab\'s PaymentBody): {"id": "pay_<your payment id>", "amount", "currency", "description" (null when none), "status": "succeeded", "charge": "<the provider\'s charge id>"}.'
          : HINT_ERROR_BODY,
        culpritsOf(first),
      );
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
          `The retry of a request answered ${firstStatus} called the provider again (${calls.length} call${calls.length > 1 ? 's' : ''}) and got ${outcomeText(retry)}.`,
          firstStatus === 201
            ? 'A finished key must answer from storage: look the key up first and, when its request is finished, return the stored status and body without running anything.'
            : `Store the response of every request that ran to its end, errors included: ${firstStatus === 402 ? 'a declined card (402)' : "the provider's refusal of the request (502)"} is a final answer to store with the key. A retry must find it and replay it, not run again.`,
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
  }
  const statuses = expected.map(([, status]) => status).join(' and ');
  return pass(`Each retry got the stored ${statuses} back byte for byte, marked replayed, with no call to the provider.`);
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
  return checkReplays(history, [['client', 201, 'A valid payment should succeed with 201 and the payment as JSON.']]);
}

/** replay-stored-error: retries after a declined card (402) or a refused request (502) get the stored error back byte for byte, marked replayed. */
export function checkReplayStoredError(history: readonly IdempotencyEvent[]): Verdict {
  return checkReplays(history, [
    ['declined', 402, "A declined card (the provider's { kind: 'declined' }) is answered with 402 and an error body."],
    ['rejected', 502, "A request the provider refuses (its { kind: 'rejected' }: a definite answer, nothing was charged) is answered with 502 and an error body, and stored like any final answer."],
  ]);
}

/** params-mismatch: the same key with any other parameter is refused without running, finished or not; the original still gets its answer. */
export function checkParamsMismatch(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests);
  if (broken) return broken;
  const first = requests.find((r) => r.lane === 'first');
  const again = requests.find((r) => r.lane === 'original');
  const mismatches = requests.filter((r) => r.lane.startsWith('mismatch: '));
  const unfinished = ['first', 'mismatch', 'original'].map((step) => requests.find((r) => r.lane === `unfinished: ${step}`));
  const [uFirst, uOther, uOriginal] = unfinished;
  if (!first || !again || mismatches.length === 0 || !uFirst || !uOther || !uOriginal) {
    return undecided('The scenario did not send its requests.');
  }
  if (first.response?.status !== 201) {
    return fail(`The first request got ${outcomeText(first)}.`, 'A valid payment should succeed with 201.', culpritsOf(first));
  }
  const refused = (other: RequestRecord, original: RequestRecord, when: string): Verdict | undefined => {
    const status = other.response?.status;
    const calls = providerNotes(history, other.invoked, other.ended);
    if (status !== 400 && status !== 422) {
      return fail(
        `The same key ${when}, with ${JSON.stringify(other.input.body)} (first used with ${JSON.stringify(original.input.body)}), got ${outcomeText(other)}.`,
        status === 201 && other.response?.replayed
          ? 'Your code replayed the first response for a different request. Store every parameter (amount, currency, card and description) with the key and compare them on every request: different parameters → 422 (idempotency_key_reused), nothing run.'
          : 'Store every parameter (amount, currency, card and description: fingerprint(params)) with the key and compare them whenever the key is seen again, finished or not, before anything else: if they differ, answer 422 without running anything.',
        [...culpritsOf(original, other), ...calls.map((c) => c.index)],
      );
    }
    if (calls.length > 0) {
      return fail(`The mismatching request ${when} was refused with ${status}, but only after calling the provider.`, 'Compare the parameters in phase 1, before any other work.', [...culpritsOf(other), ...calls.map((c) => c.index)]);
    }
    return badErrorBody([other]);
  };
  for (const other of mismatches) {
    const verdict = refused(other, first, `(${other.lane.slice('mismatch: '.length)} changed) after its request finished`);
    if (verdict) return verdict;
  }
  if (again.response?.status !== 201 || again.response.body !== first.response.body) {
    return fail(`Afterwards, the original request got ${outcomeText(again)} instead of its stored response.`, 'Refusing a mismatching request must leave the key as it was: do not overwrite its parameters or its stored response.', culpritsOf(first, again));
  }
  if ((uFirst.response?.status ?? 0) < 500) {
    return fail(`When the provider failed with 500, the request got ${outcomeText(uFirst)}.`, "An unknown outcome is answered 503, and nothing is stored: the key stays at its recovery point.", culpritsOf(uFirst));
  }
  const verdict = refused(uOther, uFirst, 'while its request was unfinished (after a 503)');
  if (verdict) return verdict;
  const charged = chargesMade(history, uFirst.invoked, uOriginal.ended);
  const amount = (uFirst.input.body as { amount?: unknown } | null)?.amount;
  if (uOriginal.response?.status !== 201 || charged.length !== 1 || charged[0]?.note.amount !== amount) {
    return fail(
      `After the refused mismatch, the original request's retry got ${outcomeText(uOriginal)}, with ${charged.length} charge${charged.length === 1 ? ` of ${String(charged[0]?.note.amount)}` : 's'} (its amount is ${String(amount)}).`,
      'A refused request changes nothing: the key keeps its parameters and recovery point, and the original request, retried, finishes with its own amount.',
      [...culpritsOf(uFirst, uOther, uOriginal), ...charged.map((c) => c.index)],
    );
  }
  return pass(`${mismatches.length + 1} requests reusing a key with other parameters (finished or unfinished) were refused without running; the originals still got their answers.`);
}

/** concurrent-same-key: each round of requests sent together with one key (new, free after a 503, or stale after a crash) charges once, and every answer is the stored one or a 409. */
export function checkConcurrent(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests, (r) => r.lane.startsWith('setup'));
  if (broken) return broken;
  const rounds = new Map<string, RequestRecord[]>();
  for (const r of requests.filter((x) => x.lane.includes('/'))) {
    const round = r.lane.split('/')[0] ?? r.lane;
    rounds.set(round, [...(rounds.get(round) ?? []), r]);
  }
  const roundNames = [...rounds.keys()];
  for (const [round, list] of rounds) {
    const from = Math.min(...list.map((r) => r.invoked));
    const to = Math.max(...list.map((r) => r.ended ?? history.length - 1));
    const charged = chargesMade(history, from, to);
    const what = round.includes('free after') ? ', after an unknown outcome had left the key free,' : round.includes('stale after') ? ', after a crash had left the key locked and stale,' : '';
    if (charged.length !== 1) {
      return fail(
        `${list.length} requests with one key${what} sent together in ${round}, made ${charged.length} charges.`,
        charged.length > 1
          ? what !== ''
            ? 'Two requests both took over an existing key. Taking a key over must be atomic too: lock its row (SELECT ... FOR UPDATE in a serializable transaction, 40001 → 409), or UPDATE ... WHERE locked_at IS NULL OR locked_at < $stale and go on only when it changed a row.'
            : 'Two requests both got past your key check. Make recording the key atomic: a UNIQUE index on (user_id, idempotency_key) and an INSERT that fails (23505) or a SERIALIZABLE transaction that fails (40001) for the loser, which then answers 409. A SELECT followed by an INSERT is a race.'
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
        'More than one request ran the payment. Lock the key in phase 1 (locked_at) and answer 409 to a request that finds it locked by a request younger than the lock timeout; take a free or stale key over atomically.',
        culpritsOf(a, b),
      );
    }
    const fresh = answered.filter((r) => r.response?.replayed !== true);
    if (fresh.length > 1) {
      return fail(
        `In ${round}, ${fresh.length} requests with the same key each ran the payment (none of their answers was a replay).`,
        'Only one request may run under a key; the others answer 409 while it runs, and get its stored response once it has finished. Lock the key in phase 1, and take a free or stale key over atomically.',
        culpritsOf(...fresh),
      );
    }
    const conflictBody = badErrorBody(list.filter((r) => r.response?.status === 409));
    if (conflictBody) return conflictBody;
    if (answered.length === 0) {
      return fail(`In ${round}, every request got 409, even the retry sent after the others ended.`, 'The request that took the key must finish and store its response; a later retry then gets it back.', culpritsOf(...list));
    }
  }
  const evidence = tablesProblem(history, requests);
  if (evidence) return evidence;
  return pass(`${roundNames.length} rounds of requests sent together with one key (new, free after a 503, stale after a crash): one charge and one payment row per round; every answer the stored one or 409.`);
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
        `A retry while the first request's lock was ${r.lane === 'fresh' ? 'seconds' : r.lane === 'fresh-85s' ? 'about 85 s (less than the 90 s timeout)' : 'about 30 s'} old got ${outcomeText(r)}${calls.length > 0 ? ', after calling the provider' : ''}.`,
        r.response?.status === 201 || calls.length > 0
          ? 'The retry ran while another request (as far as anyone knows) still held the key. Record locked_at (with deps.clock) when phase 1 takes the key, and answer 409 when a request finds a lock younger than LOCK_TIMEOUT_MS.'
          : 'A key whose lock is younger than LOCK_TIMEOUT_MS is in use: answer 409.',
        [...culpritsOf(r), ...calls.map((c) => c.index)],
      );
    }
  }
  const conflictBody = badErrorBody(fresh);
  if (conflictBody) return conflictBody;
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

/** crash-recovery: killed just after each point (each commit, each provider call), or with several requests under way, and retried once the lock is stale by a process started as a deployed one, every payment ends with exactly one charge and the learner's tables hold nothing unfinished. */
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
  const migrate = migrateFailures(history)[0];
  if (migrate) {
    return fail(
      `${migrate.detail}.`,
      'A restarted server runs its set-up again on the database it left: migrate must leave existing tables and rows as they are (CREATE TABLE IF NOT EXISTS, CREATE UNIQUE INDEX IF NOT EXISTS; never DROP or TRUNCATE).',
      [migrate.index],
    );
  }
  let crashes = 0;
  for (const lane of lanes) {
    const list = requests.filter((r) => r.lane === lane);
    // Requests under way together (several/1, several/2...) share a window: each charge is
    // told apart by its amount, which differs between them.
    const group = lane.includes('/') ? requests.filter((r) => r.lane.split('/')[0] === lane.split('/')[0]) : list;
    const from = Math.min(...group.map((r) => r.invoked));
    const to = Math.max(...group.map((r) => r.ended ?? history.length - 1));
    const amount = (list[0]?.input.body as { amount?: unknown } | null)?.amount;
    const charged = chargesMade(history, from, to).filter((c) => group === list || c.note.amount === amount);
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
  const evidence = tablesProblem(history, requests);
  if (evidence) return evidence;
  return pass(`${crashes} crashes (just after each commit and provider call, and with several requests under way), each retried by a restarted process once the lock was stale: one charge per payment, and nothing left unfinished in your tables.`);
}

/** provider-failure: after a 500, a cut connection, or a long streak of unknown outcomes, the key stays retryable and the retry finishes the payment with one charge and names it. */
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
    const verdict = retried(history, failed, retry, `When the provider ${what}, the request got ${status}, and an immediate retry got ${outcomeText(retry)}.`, kind === 'cut');
    if (verdict) return verdict;
    const unknownBody = badErrorBody([failed]);
    if (unknownBody) return unknownBody;
  }
  const streak = requests.filter((r) => r.lane === 'streak');
  const done = streak.findIndex((r) => r.response?.status === 201);
  if (streak.length === 0) {
    return undecided('The scenario did not send its streak.');
  }
  const attempts = done < 0 ? streak : streak.slice(0, done + 1);
  for (const [i, r] of attempts.entries()) {
    const status = r.response?.status ?? 0;
    if (status === 201) break;
    if (status < 500 || r.response?.replayed) {
      const previous = attempts[i - 1] ?? r;
      return fail(
        `In a streak of unknown outcomes from the provider, attempt ${i + 1} got ${outcomeText(r)}.`,
        status === 409
          ? 'The key stayed locked after an attempt that ended with an unknown outcome. Every attempt that ends without finishing, a retry resuming at payment_created included, must set locked_at back to NULL.'
          : "However many unknown outcomes come in a row, none is an answer: answer 503 each time, store nothing final and keep no count that turns into a final answer; the key stays at payment_created, and the retry after the streak finishes.",
        culpritsOf(previous, r),
      );
    }
  }
  const last = streak[done];
  if (!last) {
    return fail(`After a streak of unknown outcomes, ${streak.length} attempts never got 201: the last got ${outcomeText(streak[streak.length - 1] ?? streak[0] as RequestRecord)}.`, 'Each retry after an unknown outcome asks the provider again, with the same provider key, until it answers.', culpritsOf(...streak));
  }
  const first = streak[0] as RequestRecord;
  const verdict = retried(history, first, last, `After a streak of unknown outcomes, the attempt that got through got ${outcomeText(last)}.`, true);
  if (verdict) return verdict;
  const replay = streak[done + 1];
  if (replay && (replay.response?.status !== 201 || replay.response.body !== last.response?.body || !replay.response.replayed)) {
    return fail(`After the streak, a retry of the finished payment got ${outcomeText(replay)} instead of its stored response.`, 'Store the response when the payment finishes, and replay it.', culpritsOf(last, replay));
  }
  const evidence = tablesProblem(history, requests);
  if (evidence) return evidence;
  return pass(`After a 500, a broken connection and ${attempts.length - 1} unknown outcomes in a row, the key stayed retryable and the retry finished with one charge each time.`);
}

/** The retry after an unknown outcome: 201, one charge since the failed attempt began, named in its body. */
function retried(history: readonly IdempotencyEvent[], failed: RequestRecord, retry: RequestRecord, what: string, maybeCharged: boolean): Verdict | undefined {
  const charged = chargesMade(history, failed.invoked, retry.ended ?? history.length - 1);
  if (retry.response?.status !== 201) {
    return fail(
      what,
      retry.response?.status === 409
        ? 'The key stayed locked after the failed attempt ended. Release the lock (locked_at = NULL) when a request ends without finishing, so the client can retry at once.'
        : retry.response?.replayed
          ? `Your code stored the failure as the final answer, but the outcome was unknown${maybeCharged ? ' (and the card may well have been charged)' : ''}. Store only definite answers; after an unknown outcome, leave the key at its recovery point, unlocked, so a retry asks the provider again with the same key.`
          : 'A retry after an unknown outcome must call the provider again with the same provider key and finish the payment.',
      culpritsOf(failed, retry),
    );
  }
  if (charged.length !== 1) {
    return fail(`The failed attempts and their retry made ${charged.length} charges.`, 'Retry the provider with the same provider idempotency key, so it can answer with the charge it already made.', [...charged.map((c) => c.index), ...culpritsOf(failed, retry)]);
  }
  const answeredCharge = chargeIn(parsed(retry.response.body));
  if (answeredCharge !== charged[0]?.note.charge) {
    return fail(`The retry answered with charge ${JSON.stringify(answeredCharge)}, but the charge made was ${charged[0]?.note.charge ?? '?'}.`, "Answer with the provider's charge id in the body's charge field.", culpritsOf(retry));
  }
  return undefined;
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

/** expired-key: a key is replayed until 24 hours after it was first recorded (a takeover does not restart that), and counts as new after, even with other parameters. */
export function checkExpiry(history: readonly IdempotencyEvent[]): Verdict {
  const requests = requestsOf(history);
  const broken = noResponse(requests, (r) => r.lane === 'taken over: first');
  if (broken) return broken;
  const lane = (name: string): RequestRecord | undefined => requests.find((r) => r.lane === name);
  const [first, before, after, takenFirst, takeover, takenAfter] = ['first', 'before ttl', 'after ttl', 'taken over: first', 'taken over: takeover', 'taken over: after ttl'].map(lane);
  if (!first || !before || !after || !takenFirst || !takeover || !takenAfter) {
    return undecided('The scenario did not send its requests.');
  }
  if (first.response?.status !== 201) {
    return fail(`The first request got ${outcomeText(first)}.`, 'A valid payment should succeed with 201.', culpritsOf(first));
  }
  const beforeCalls = providerNotes(history, before.invoked, before.ended);
  if (before.response?.status !== 201 || !before.response.replayed || before.response.body !== first.response.body || beforeCalls.length > 0) {
    return fail(
      `23 hours later, the same request got ${outcomeText(before)}${beforeCalls.length > 0 ? ', after calling the provider' : ''} instead of the stored response.`,
      'A key is kept for KEY_TTL_MS (24 h) from when it was first recorded: until then it replays. Measure its age with deps.clock.now() against the created_at you stored from deps.clock (SQL now() and Date.now() are not the clock the grader moves).',
      [...culpritsOf(first, before), ...beforeCalls.map((c) => c.index)],
    );
  }
  const hint = 'A key older than KEY_TTL_MS (24 h, measured with deps.clock from when the key was first recorded) is forgotten: treat the request as new (delete or replace the old key row), whatever its parameters.';
  for (const [later, what] of [
    [after, '25 hours later, the same key'],
    [takenAfter, 'A key first recorded 25 hours earlier and taken over 23 hours earlier (after a crash), sent again'],
  ] as const) {
    const charged = chargesMade(history, later.invoked, later.ended);
    if (later.response?.status !== 201 || later.response.replayed || charged.length !== 1) {
      return fail(
        `${what} with ${JSON.stringify(later.input.body)} got ${outcomeText(later)}${charged.length === 0 ? ', and nothing was charged' : ''}.`,
        later === takenAfter ? `${hint} Taking a stale lock over sets locked_at (and last_run_at), never created_at: the key's age counts from its first recording.` : hint,
        [...culpritsOf(first, later), ...charged.map((c) => c.index)],
      );
    }
  }
  if (takeover.response?.status !== 201) {
    return fail(`After a crash, the retry that took the stale key over got ${outcomeText(takeover)}.`, 'A lock older than LOCK_TIMEOUT_MS is taken over, and the request resumed.', culpritsOf(takenFirst, takeover));
  }
  return pass('The key replayed at 23 hours and ran anew after 24 hours, counted from its first recording even after a takeover.');
}

/**
 * What the learner's own tables (read after recovery) say is wrong: a key of the scenario
 * still unfinished, a payment row no key refers to (an orphan a crash left), or the payment
 * of a finished key still pending. Undefined when they hold nothing half-done.
 */
export function tablesProblem(history: readonly IdempotencyEvent[], requests: readonly RequestRecord[]): Verdict | undefined {
  const read = lastTables(history);
  if (!read) {
    return undecided("The learner's tables were not read after recovery.");
  }
  const { tables, index } = read;
  if (!tables.ok) {
    return fail(
      `The grader could not read your tables as the lab names them: ${tables.message}.`,
      "Keep the tables and columns the starter names: idempotency_keys (user_id, idempotency_key, recovery_point, locked_at, payment_id...) and payments (id, user_id, amount, status, charge_id...). After a crash the grader reads them to see that nothing was left half-done.",
      [index],
    );
  }
  const byKey = (key: string): RequestRecord[] => requests.filter((r) => r.input.key === key);
  const sent = new Set(requests.map((r) => r.input.key));
  for (const row of tables.keys) {
    if (sent.has(row.key) && row.recoveryPoint !== 'finished') {
      return fail(
        `After every request was retried until it answered, your idempotency_keys row for ${row.key} is still at '${row.recoveryPoint}'.`,
        'The request that finished the payment must record it in the key\'s row (recovery_point finished, the response stored) in the same transaction as the outcome: a key the retry answered is finished in your tables too.',
        [index, ...culpritsOf(...byKey(row.key))],
      );
    }
  }
  const referenced = new Set(tables.keys.flatMap((k) => (k.paymentId !== null ? [k.paymentId] : [])));
  const orphans = tables.payments.filter((p) => !referenced.has(p.id));
  if (orphans.length > 0) {
    return fail(
      `${orphans.length} row${orphans.length === 1 ? '' : 's'} of your payments table (id ${orphans.map((p) => p.id).join(', ')}, ${orphans.map((p) => p.status).join(', ')}) belong${orphans.length === 1 ? 's' : ''} to no key: a crash left ${orphans.length === 1 ? 'it' : 'them'} behind and a retry made another.`,
      "Phase 2 inserts the payment and records it in the key's row (payment_id, recovery_point payment_created) in ONE transaction: a crash between two separate statements leaves a payment the retry does not know about, and it creates a second one.",
      [index],
    );
  }
  const payments = new Map(tables.payments.map((p) => [p.id, p]));
  for (const row of tables.keys) {
    const payment = row.paymentId !== null ? payments.get(row.paymentId) : undefined;
    const asked = byKey(row.key)[0]?.input.body as { amount?: unknown; description?: unknown } | null | undefined;
    if (payment !== undefined && asked !== undefined && asked !== null && (payment.amount !== asked.amount || (payment.description !== undefined && payment.description !== (asked.description ?? null)))) {
      return fail(
        `Your payments row for ${row.key} (id ${payment.id}) holds amount ${String(payment.amount)} and description ${JSON.stringify(payment.description ?? null)}; the request asked for ${String(asked.amount)} and ${JSON.stringify(asked.description ?? null)}.`,
        "Phase 2's payments row is the request's payment: its amount, currency and description (NULL when it has none) as the request gave them.",
        [index, ...culpritsOf(...byKey(row.key))],
      );
    }
    if (sent.has(row.key) && row.recoveryPoint === 'finished' && payment?.status === 'pending') {
      return fail(
        `Your idempotency_keys row for ${row.key} is finished, but its payment (id ${payment.id}) is still 'pending' in your payments table.`,
        "Phase 3 records the provider's answer in payments and stores the response with the key in ONE transaction: a crash between the two leaves a finished key whose payment never learns its outcome.",
        [index, ...culpritsOf(...byKey(row.key))],
      );
    }
  }
  return undefined;
}

