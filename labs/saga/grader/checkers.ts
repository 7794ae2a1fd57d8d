/**
 * The Saga grader's checkers: pure functions of a scenario's history (history.ts), each
 * judging one property lab.json states. Every order is judged on its own against the
 * services' truth, noted at the end of the scenario, and the calls the services received
 * for it; the concurrent check also holds the stock conserved across the orders.
 *
 * The semantics graded (after Richardson and Temporal): on a refusal before or at the
 * pivot, the completed compensatable steps are undone in reverse order, never a step that
 * did not run, never the pivot; past the pivot only forward retries; technical failures
 * are retried with the same request (a timeout is ambiguous); compensations are retried
 * until they succeed and take effect once; after a crash the log lets every saga finish or
 * be compensated.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { Verdict } from '../../../src/core/grading/report';
import { type CallRecord, type CallRemark, MIGRATE, type OrderRecord, type OrderTruth, RECOVER, RECOVER_AGAIN, RECOVERY, type SagaEvent, arrivalsOf, callsOf, focusOn, remarksOf, ordersOf, truthOf } from './history';
import { MAX_WAIT_MS } from './limits';
import { COMPENSATIONS, PIVOT, type SagaOperation, STEPS } from './steps';

/** A wait in the learner's milliseconds, as a person reads it. */
function formatWait(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} minutes` : ms >= 1_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`;
}

/** The steps whose refusal is final (before or at the pivot): asking again is no retry. */
const FINAL_REFUSALS: ReadonlySet<SagaOperation> = new Set(STEPS.slice(0, PIVOT + 1).map((s) => s.op));

const took = (c: CallRecord): boolean => c.outcome === 'ok' || c.outcome === 'replayed' || c.outcome === 'ambiguous';

/** A broken invariant of one order: what happened, the hint for it, the events to blame. */
export interface Violation {
  readonly actual: string;
  readonly hint: string;
  readonly culprits: readonly number[];
}

const HINT = {
  sameRequest:
    'Give every step and every compensation one requestId per saga (for example `${sagaId}:${step}:do` and `${sagaId}:${step}:undo`) and reuse it on every retry and after a crash: the services then answer a repeat with the first answer and do nothing twice.',
  technical:
    "A technical failure is not a refusal: the service may have done the work. Retry the same call (same requestId), with backoff, until the answer is definite; only a business refusal ('out_of_stock', 'card_declined') makes the saga compensate.",
  reverse: 'Compensate from the last completed step back to the first: release the stock before rejecting the order.',
  notRun: 'Compensate only the steps that completed. The refused step did nothing, and the steps after it never ran.',
  pivot: 'The charge is the pivot: once it succeeded, the saga can only go forward. Retry shipping and approval until they succeed; never compensate, never refund.',
  retryCompensation: 'A compensation has to succeed: when it fails, or is refused, wait and retry it (same requestId) until it does. A saga must never end half-compensated.',
  log: 'Persist the saga in your log before its first call, and each step as started before calling it and as done after, so that recover() finds every unfinished saga (all of them, however many crashes left) and carries it on (or compensates it) from where it stopped.',
  finish: 'Every saga must end completed (all five steps done) or compensated (its completed steps undone); check how your orchestrator handles this case.',
  gaveUp:
    'placeOrder threw before its saga ended, which leaves it half-done. A service failing, even many times in a row, is no reason to stop: retry (with a wait) until the answer is definite, and past the pivot, or for a compensation, until it succeeds.',
  wait: 'Wait before asking again: after a failed answer, `await deps.sleep(ms)` with some time, longer after each failure (for example twice the last, up to a cap), and only then call again. A sleep that is not awaited, a retry loop without one, or waits that get shorter hammer a service that is already down.',
  cap: 'Cap the backoff: let the wait grow after each failure (10, 20, 40, ... ms), but never beyond a limit (a few hundred ms to a few seconds is plenty; a minute at most), for example `Math.min(CAP_MS, 10 * 2 ** attempt)`. Without a cap, a service that was down for a while is asked again only hours after it came back.',
  logged:
    "recover() must carry on every saga your log shows unfinished, also one that made no service call yet (its status 'running', no step recorded): run it from the start. Check the query that finds the unfinished sagas.",
  transaction: 'Never call a service inside db.transaction: commit the log record first, make the call, then record its answer in a transaction of its own.',
  migrate: 'migrate(db) runs again each time the orchestrator starts, on the log it left: create its tables with IF NOT EXISTS, and never drop, empty or rewrite them.',
  recovered: 'recover() returns one { orderId, status } for each saga it finished, with the status it ended in, and [] when no saga is unfinished; a saga it finished must be marked finished in the log, so that the next recover() leaves it alone.',
};

/** What the grader saw of an order besides its calls' answers: when the calls arrived, the retries sent without a wait, whether the learner's log mentions it. */
export interface OrderEvidence {
  readonly arrivals?: readonly { readonly op: SagaOperation; readonly index: number }[];
  readonly remarks?: readonly { readonly remark: CallRemark; readonly index: number }[];
  /** Whether the learner's tables mention the order at the end (undefined: not read). */
  readonly logged?: boolean;
}

/** Checks one order against the services' truth and its calls; undefined when it holds. */
export function judgeOrder(order: OrderRecord, calls: readonly CallRecord[], truth: OrderTruth, truthIndex: number, mustAnswer: boolean, evidence: OrderEvidence = {}): Violation | undefined {
  const { input } = order;
  const id = input.orderId;
  const blame = (...more: number[]): number[] => [order.invoked, ...(order.ended !== undefined ? [order.ended] : []), truthIndex, ...more];
  const wanted = Object.fromEntries(input.items.map((i) => [i.sku, i.qty]));
  const reservedAll = Object.entries(wanted).every(([sku, qty]) => truth.reserved[sku] === qty) && Object.keys(truth.reserved).every((sku) => sku in wanted);
  const reservedNone = Object.values(truth.reserved).every((q) => q === 0);
  const compensations = calls.filter((c) => COMPENSATIONS.has(c.op));
  const completedTruth = truth.status === 'approved' && reservedAll && truth.charges === 1 && truth.shipments === 1 && truth.refunds === 0;
  const compensatedTruth = (truth.status === 'rejected' || truth.status === 'none') && reservedNone && truth.charges === 0 && truth.shipments === 0 && truth.refunds === 0;
  const untouched = truth.status === 'none' && reservedNone && truth.charges === 0 && truth.shipments === 0;

  // Compensations only for steps that ran (a compensation of a step that never ran shows first: it explains the numbers below).
  for (const step of STEPS) {
    if (!step.undo) continue;
    const ran = calls.some((c) => c.op === step.op && took(c));
    const undone = calls.filter((c) => c.op === step.undo);
    if (!ran && undone.length > 0) {
      return { actual: `Order ${id}: ${step.undo} was called, but ${step.op} never took effect.`, hint: HINT.notRun, culprits: blame(...undone.map((c) => c.index), ...calls.filter((c) => c.op === step.op).map((c) => c.index)) };
    }
  }
  // One operation of one order sent with several request ids: retries the services cannot recognise.
  const idsPerOp = new Map<SagaOperation, Set<string>>();
  for (const c of calls) {
    idsPerOp.set(c.op, (idsPerOp.get(c.op) ?? new Set()).add(c.requestId));
  }
  const renamed = [...idsPerOp].filter(([, ids]) => ids.size > 1).map(([op]) => op);
  const renamedText = renamed.length > 0 ? ` ${renamed.join(' and ')} ${renamed.length > 1 ? 'were' : 'was'} sent with a new requestId on a retry, so the service could not tell it was the same request.` : '';
  if (truth.charges > 1 || truth.shipments > 1 || Object.entries(truth.reserved).some(([sku, q]) => q > (wanted[sku] ?? 0))) {
    return { actual: `Order ${id} was charged ${truth.charges}×, shipped ${truth.shipments}× and holds ${JSON.stringify(truth.reserved)} of ${JSON.stringify(wanted)}: a step took effect more than once.`, hint: HINT.sameRequest, culprits: blame(...calls.filter(took).map((c) => c.index)) };
  }
  if (Object.values(truth.reserved).some((q) => q < 0)) {
    const releases = calls.filter((c) => c.op === 'inventory.release');
    return { actual: `Order ${id} gave back more stock than it reserved (${JSON.stringify(truth.reserved)}): the release took effect more than once.`, hint: HINT.sameRequest, culprits: blame(...releases.map((c) => c.index)) };
  }
  if (truth.refunds > 0) {
    const refunds = calls.filter((c) => c.op === 'payments.refund');
    return { actual: `Order ${id} was refunded: the pivot (the charge) was compensated.`, hint: HINT.pivot, culprits: blame(...refunds.map((c) => c.index)) };
  }
  const charged = calls.find((c) => c.op === 'payments.charge' && took(c));
  if (charged && compensations.length > 0) {
    const after = compensations.filter((c) => c.index > charged.index);
    if (after.length > 0) {
      return { actual: `Order ${id} was charged, then compensated (${after.map((c) => c.op).join(', ')}).`, hint: HINT.pivot, culprits: blame(charged.index, ...after.map((c) => c.index)) };
    }
  }
  const releases = calls.filter((c) => c.op === 'inventory.release');
  const rejects = calls.filter((c) => c.op === 'orders.reject');
  const firstReject = rejects[0];
  // A release replayed after the reject (a recovery asking again) does nothing: only one that took effect counts.
  const effective = (c: CallRecord): boolean => c.outcome === 'ok' || c.outcome === 'ambiguous';
  const lateRelease = releases.find((r) => firstReject !== undefined && r.index > firstReject.index && effective(r));
  if (lateRelease && firstReject) {
    return { actual: `Order ${id}: the order was rejected before its stock was released (compensations in forward order).`, hint: HINT.reverse, culprits: blame(firstReject.index, lateRelease.index) };
  }
  // The reject must wait for the release: sent while a release that took effect was still under way, the two ran side by side.
  const rejectSent = (evidence.arrivals ?? []).find((a) => a.op === 'orders.reject');
  const releaseAfter = releases.find((r) => rejectSent !== undefined && effective(r) && r.index > rejectSent.index);
  if (rejectSent && releaseAfter) {
    return { actual: `Order ${id}: orders.reject was sent before the release of its stock had answered (the compensations ran side by side, not in reverse order).`, hint: HINT.reverse, culprits: blame(rejectSent.index, releaseAfter.index) };
  }

  if (!completedTruth && !compensatedTruth) {
    if (order.status === undefined && untouched) {
      // The orchestrator died before it did anything: nothing to finish.
    } else {
      const threw = order.failure?.startsWith('placeOrder threw') === true;
      const hint = renamed.length > 0 ? HINT.sameRequest : order.status === 'compensated' && calls.some((c) => COMPENSATIONS.has(c.op) && c.outcome !== 'ok' && c.outcome !== 'replayed') ? HINT.retryCompensation : threw ? HINT.gaveUp : order.status === undefined ? HINT.log : HINT.finish;
      return { actual: `Order ${id} ended half-done: status ${truth.status}, holding ${JSON.stringify(truth.reserved)}, ${truth.charges} charge(s), ${truth.shipments} shipment(s); placeOrder said ${order.status ?? order.failure ?? '?'}.${renamedText}`, hint, culprits: blame(...calls.map((c) => c.index)) };
    }
  }
  if (order.status !== undefined) {
    const told = completedTruth ? 'completed' : 'compensated';
    if (order.status !== told) {
      return { actual: `placeOrder said ${order.status} for ${id}, but the services show it ${told}.`, hint: HINT.finish, culprits: blame() };
    }
  } else if (mustAnswer) {
    return { actual: `placeOrder for ${id} gave no answer: ${order.failure ?? '?'}.`, hint: 'placeOrder must run the saga to its end and return { orderId, status }. The history shows what it threw.', culprits: blame() };
  }
  const real = completedTruth ? 'completed' : untouched ? 'untouched' : 'compensated';
  if (real === 'untouched' && order.status === undefined && evidence.logged === true) {
    return { actual: `Order ${id}: placeOrder was cut short after your log had recorded the saga (your tables mention ${id}), yet no service call was ever made for it: recover() left it unfinished.`, hint: HINT.logged, culprits: blame() };
  }
  if (input.expect !== 'either' && real !== input.expect && !(real === 'untouched' && (order.status === undefined || input.expect === 'compensated'))) {
    const hint = renamed.length > 0 ? HINT.sameRequest : input.expect === 'completed' ? (calls.some((c) => c.outcome === 'ambiguous' || c.outcome === 'technical') ? HINT.technical : input.plan.some((p) => /after the pivot|shipping|approve/.test(p)) ? HINT.pivot : HINT.finish) : HINT.finish;
    return { actual: `Order ${id} (${input.plan.join('; ') || 'no faults'}) ended ${real}; expected ${input.expect}.${renamedText}`, hint, culprits: blame(...calls.filter((c) => c.outcome !== 'ok').map((c) => c.index)) };
  }
  for (const { remark, index } of evidence.remarks ?? []) {
    // A refusal before or at the pivot is final: asking again (a recovery re-asking a started step) replays it and needs no wait.
    if (remark.kind === 'retry-without-wait' && remark.after === 'business' && FINAL_REFUSALS.has(remark.op)) continue;
    if (remark.kind === 'shrinking-wait') {
      return { actual: `Order ${id}: ${remark.op} failed ${remark.waits.length + 1} times in a row, and the waits before asking again only got shorter (${remark.waits.map((w) => Math.round(w * 10) / 10).join(', ')} ms).`, hint: HINT.wait, culprits: blame(index) };
    }
    if (remark.kind === 'long-wait') {
      return {
        actual: `Order ${id}: ${remark.op} failed ${remark.waits.length + 1} times in a row, and before asking again the orchestrator waited ${formatWait(remark.ms)} (deps.sleep(${Math.round(remark.ms)})), over the cap of ${formatWait(MAX_WAIT_MS)}; the waits before it: ${remark.waits.map((w) => Math.round(w)).join(', ') || 'none'} ms.`,
        hint: HINT.cap,
        culprits: blame(index),
      };
    }
    if (remark.kind === 'call-in-transaction') {
      return { actual: `Order ${id}: ${remark.op} was called inside a db.transaction callback: the transaction, its locks and its connection were held for as long as the service took.`, hint: HINT.transaction, culprits: blame(index) };
    }
    const how = remark.sleepPending ? 'while the deps.sleep after it was still pending (not awaited)' : 'without any deps.sleep in between';
    return { actual: `Order ${id}: ${remark.op} was called again after a ${remark.after === 'technical' ? 'technical failure' : 'refusal'}, ${how}.`, hint: HINT.wait, culprits: blame(index) };
  }
  return undefined;
}

/** What went wrong with the recoveries of a scenario as a whole: a migrate that failed on the existing log, a recover() whose answer is not what it did. */
function judgeRecoveries(history: readonly SagaEvent[], truths: readonly OrderTruth[], truthIndex: number): Violation | undefined {
  const statusOf = new Map(truths.map((t) => [t.orderId, t.status === 'approved' ? 'completed' : 'compensated']));
  const open = new Map<string, number>();
  for (const [index, e] of history.entries()) {
    if (e.process !== RECOVERY) continue;
    if (e.type === 'invoke') {
      open.set(e.op, index);
      continue;
    }
    const started = open.get(e.op) ?? index;
    if (e.op === MIGRATE && e.type === 'info') {
      return { actual: `migrate(db) failed when the restarted orchestrator ran it again on its existing log: ${e.detail ?? '?'}`, hint: HINT.migrate, culprits: [started, index] };
    }
    if ((e.op === RECOVER || e.op === RECOVER_AGAIN) && e.type === 'ok') {
      const answer: unknown = e.value;
      if (!Array.isArray(answer)) {
        return { actual: `recover() returned ${JSON.stringify(answer) ?? 'undefined'}, not a list of { orderId, status }.`, hint: HINT.recovered, culprits: [started, index] };
      }
      for (const item of answer) {
        const orderId: unknown = typeof item === 'object' && item !== null && 'orderId' in item ? item.orderId : undefined;
        const status: unknown = typeof item === 'object' && item !== null && 'status' in item ? item.status : undefined;
        const real = typeof orderId === 'string' ? statusOf.get(orderId) : undefined;
        if (real !== undefined && status !== real) {
          return { actual: `recover() said ${JSON.stringify(item)}, but the services show order ${String(orderId)} ${real}.`, hint: HINT.recovered, culprits: [started, index, truthIndex] };
        }
      }
      // A saga it worked on (a service call of its order while it ran) was unfinished: its outcome is in the answer.
      const listed = new Set(answer.flatMap((item: unknown) => (typeof item === 'object' && item !== null && 'orderId' in item && typeof item.orderId === 'string' ? [item.orderId] : [])));
      const workedOn = history.slice(started, index).flatMap((c, i) => (c.process.startsWith('svc:') && c.type === 'invoke' ? [{ orderId: c.process.slice('svc:'.length), index: started + i }] : []));
      const missing = workedOn.find((w) => statusOf.has(w.orderId) && !listed.has(w.orderId));
      if (missing) {
        return { actual: `recover() carried on order ${missing.orderId} (it called its services) but did not return its outcome: it returned ${JSON.stringify(answer.slice(0, 3))}${answer.length > 3 ? ' ...' : ''}.`, hint: HINT.recovered, culprits: [started, missing.index, index] };
      }
      if (e.op === RECOVER_AGAIN) {
        const calls = history.slice(started, index).flatMap((c, i) => (c.process.startsWith('svc:') && c.type === 'invoke' ? [started + i] : []));
        if (answer.length > 0 || calls.length > 0) {
          return {
            actual: `A last recover(), in a fresh process after every saga had been recovered, still found work: it returned ${JSON.stringify(answer.slice(0, 3))}${answer.length > 3 ? ` (and ${answer.length - 3} more)` : ''} and made ${calls.length} service call(s). A saga recover() finished was not marked finished in the log.`,
            hint: HINT.recovered,
            culprits: [started, index, ...calls],
          };
        }
      }
    }
  }
  return undefined;
}

/** Judges every order of the history against the services' truth: the shared part of every check. */
function judgeAll(history: readonly SagaEvent[], mustAnswer: boolean, what: string): Verdict {
  const found = truthOf(history);
  const orders = ordersOf(history);
  if (!found || orders.length === 0) {
    return undecided("The scenario did not get as far as reading the services' state.");
  }
  const logged = found.truth.logged;
  for (const order of orders) {
    const id = order.input.orderId;
    const truth = found.truth.orders.find((t) => t.orderId === id);
    if (!truth) continue;
    const evidence: OrderEvidence = { arrivals: arrivalsOf(history, id), remarks: remarksOf(history, id), ...(logged !== undefined ? { logged: logged.includes(id) } : {}) };
    const violation = judgeOrder(order, callsOf(history, id), truth, found.index, mustAnswer, evidence);
    if (violation) {
      return fail(violation.actual, violation.hint, violation.culprits, { focus: focusOn(history, id) });
    }
  }
  const recoveries = judgeRecoveries(history, found.truth.orders, found.index);
  if (recoveries) {
    return fail(recoveries.actual, recoveries.hint, recoveries.culprits);
  }
  return pass(`${orders.length} ${what}: every one ended as it should, each effect once.`);
}

export const checkCompensateInReverse = (h: readonly SagaEvent[]): Verdict => judgeAll(h, true, 'orders refused at a step');
export const checkTechnicalRetried = (h: readonly SagaEvent[]): Verdict => judgeAll(h, true, 'orders with technical failures');
export const checkAmbiguous = (h: readonly SagaEvent[]): Verdict => judgeAll(h, true, 'orders with a step that timed out after committing');
export const checkForwardAfterPivot = (h: readonly SagaEvent[]): Verdict => judgeAll(h, true, 'orders failing after the pivot');
export const checkCompensationRetried = (h: readonly SagaEvent[]): Verdict => judgeAll(h, true, 'orders with failing compensations');
export const checkCrashRecovery = (h: readonly SagaEvent[]): Verdict => judgeAll(h, false, 'sagas killed at a commit point and recovered');
export const checkRandomSchedules = (h: readonly SagaEvent[]): Verdict => judgeAll(h, true, 'sagas under random fault schedules');

/** The concurrent check: every order's invariants, then the stock conserved across them. */
export function checkConcurrentOrders(history: readonly SagaEvent[]): Verdict {
  const each = judgeAll(history, true, 'concurrent orders');
  if (each.status !== 'pass') return each;
  const found = truthOf(history);
  if (!found) return undecided('No truth recorded.');
  for (const s of found.truth.stock) {
    const held = found.truth.orders.reduce((sum, o) => sum + (o.reserved[s.sku] ?? 0), 0);
    if (s.initial - s.available !== held) {
      return fail(`Stock of ${s.sku} is not conserved: ${s.initial} at the start, ${s.available} on the shelf, ${held} held by orders.`, HINT.sameRequest, [found.index]);
    }
  }
  return each;
}
