/**
 * The Saga grader's checkers are pure functions of a history: hand-made histories of one
 * or two orders, ending with the services' truth, each known to hold or to break one
 * invariant. Also what a report keeps of a long history when a check focuses it.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder, type Recorded } from '../../../src/core/grading/history';
import type { HistoryEvent } from '../../../src/core/grading/report';
import { focusedEvents } from '../../../src/core/grading/reportModel';
import { checkCompensateInReverse, checkConcurrentOrders, checkCrashRecovery, checkForwardAfterPivot, checkTechnicalRetried } from './checkers';
import { type CallRemark, type OrderTruth, type PlaceInput, type SagaEvent, type TruthNote, focusOn, ordersOf, shrinkingBackoff } from './history';
import type { SagaOperation } from './steps';

type Outcome = 'ok' | 'business' | 'technical' | 'ambiguous' | 'replayed';

/** Builds a history as the grader records it, in the grader's own vocabulary: the order's lane, its service calls, the truth. */
class Story {
  private t = 0;
  private readonly recorder = new HistoryRecorder<SagaEvent>(() => (this.t += 1));

  get events(): readonly SagaEvent[] {
    return this.recorder.events;
  }

  add(e: Recorded<SagaEvent>): number {
    return this.recorder.record(e);
  }

  fault(orderId: string, text: string): number {
    return this.add({ process: 'grader', type: 'fault', op: `order ${orderId}: ${text}` });
  }

  place(orderId: string, expect: PlaceInput['expect'], items: PlaceInput['items'] = [{ sku: 'sku1', qty: 2 }]): number {
    const input: PlaceInput = { orderId, customerId: 'cust-1', items, total: 1000, address: '1 Market Street', expect, plan: [] };
    return this.add({ process: `order:${orderId}`, type: 'invoke', op: 'placeOrder', value: input });
  }

  answered(orderId: string, status: 'completed' | 'compensated'): number {
    return this.add({ process: `order:${orderId}`, type: 'ok', op: 'placeOrder', value: { orderId, status } });
  }

  killed(orderId: string): number {
    return this.add({ process: `order:${orderId}`, type: 'info', op: 'placeOrder', detail: "The learner's process was killed" });
  }

  /** A call of `op` as the services record it: its arrival, then its answer (ok, fail or info by the outcome). */
  call(orderId: string, op: SagaOperation, outcome: Outcome = 'ok', requestId = `${orderId}:${op}`): number {
    const process = `svc:${orderId}`;
    this.add({ process, type: 'invoke', op, value: { requestId, attempt: 1 } });
    switch (outcome) {
      case 'ok':
      case 'replayed':
        return this.add({ process, type: 'ok', op, value: { outcome, attempt: 1, requestId } });
      case 'business':
        return this.add({ process, type: 'fail', op, value: { outcome, attempt: 1, requestId } });
      case 'technical':
      case 'ambiguous':
        return this.add({ process, type: 'info', op, value: { outcome, attempt: 1, requestId } });
    }
  }

  recovery(): number {
    const start = this.add({ process: 'recovery', type: 'invoke', op: 'recover' });
    this.add({ process: 'recovery', type: 'ok', op: 'recover', value: [] });
    return start;
  }

  truth(orders: OrderTruth[], stock: TruthNote['stock'] = [], logged?: string[]): number {
    return this.add({ process: 'grader', type: 'note', op: 'truth', value: { orders, stock, ...(logged ? { logged } : {}) } });
  }

  /** What the adapter remarked about a call of the order. */
  remark(remark: CallRemark): number {
    return this.add({ process: `svc:${remark.orderId}`, type: 'note', op: remark.kind, value: remark });
  }

  /** A restarted orchestrator's migrate(db), ok or failing with `error`. */
  migrate(error?: string): number {
    const start = this.add({ process: 'recovery', type: 'invoke', op: 'migrate' });
    if (error === undefined) this.add({ process: 'recovery', type: 'ok', op: 'migrate' });
    else this.add({ process: 'recovery', type: 'info', op: 'migrate', detail: error });
    return start;
  }

  /** A recover() (or the last one, `again`) that answers `answer` after `during` ran. */
  recovered(answer: unknown, again = false, during: () => void = () => undefined): number {
    const op = again ? 'recover-again' : 'recover';
    const start = this.add({ process: 'recovery', type: 'invoke', op });
    during();
    this.add({ process: 'recovery', type: 'ok', op, value: answer });
    return start;
  }
}

const completedTruth = (orderId: string): OrderTruth => ({ orderId, status: 'approved', reserved: { sku1: 2 }, charges: 1, refunds: 0, shipments: 1 });
const compensatedTruth = (orderId: string): OrderTruth => ({ orderId, status: 'rejected', reserved: {}, charges: 0, refunds: 0, shipments: 0 });

function happy(s: Story, id: string): void {
  s.place(id, 'completed');
  for (const op of ['orders.create', 'inventory.reserve', 'payments.charge', 'shipping.schedule', 'orders.approve'] as const) s.call(id, op);
  s.answered(id, 'completed');
}

function declined(s: Story, id: string, compensations: readonly SagaOperation[] = ['inventory.release', 'orders.reject']): void {
  s.place(id, 'compensated');
  s.call(id, 'orders.create');
  s.call(id, 'inventory.reserve');
  s.call(id, 'payments.charge', 'business');
  for (const op of compensations) s.call(id, op);
  s.answered(id, 'compensated');
}

describe('judging one saga against the services\' truth', () => {
  it('passes a saga that completed with each effect once, and one compensated in reverse order', () => {
    const s = new Story();
    happy(s, 'a');
    declined(s, 'b');
    s.truth([completedTruth('a'), compensatedTruth('b')]);
    expect(checkCompensateInReverse(s.events).status).toBe('pass');
  });

  it('fails compensations in forward order, blaming the reject and the release after it', () => {
    const s = new Story();
    declined(s, 'b', ['orders.reject', 'inventory.release']);
    s.truth([compensatedTruth('b')]);
    const outcome = checkCompensateInReverse(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/rejected before its stock was released/);
    expect(outcome.hint).toMatch(/last completed step back to the first/);
    const blamed = (outcome.culprits ?? []).map((i) => s.events[i]?.op);
    expect(blamed).toEqual(expect.arrayContaining(['orders.reject', 'inventory.release']));
  });

  it('fails the compensation of a step that never took effect', () => {
    const s = new Story();
    s.place('c', 'compensated');
    s.call('c', 'orders.create');
    s.call('c', 'inventory.reserve', 'business');
    s.call('c', 'inventory.release');
    s.call('c', 'orders.reject');
    s.answered('c', 'compensated');
    s.truth([{ ...compensatedTruth('c'), reserved: { sku1: -2 } }]);
    const outcome = checkCompensateInReverse(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/gave back more stock than it reserved|inventory\.release was called, but inventory\.reserve never took effect/);
  });

  it('fails a refund: the pivot is never compensated', () => {
    const s = new Story();
    s.place('d', 'completed');
    for (const op of ['orders.create', 'inventory.reserve', 'payments.charge'] as const) s.call('d', op);
    s.call('d', 'shipping.schedule', 'business');
    s.call('d', 'payments.refund');
    s.call('d', 'inventory.release');
    s.call('d', 'orders.reject');
    s.answered('d', 'compensated');
    s.truth([{ orderId: 'd', status: 'rejected', reserved: {}, charges: 1, refunds: 1, shipments: 0 }]);
    const outcome = checkForwardAfterPivot(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/refunded/);
    expect(outcome.hint).toMatch(/pivot/);
  });

  it('fails a step that took effect twice (a new request id per retry)', () => {
    const s = new Story();
    s.place('e', 'completed');
    s.call('e', 'orders.create');
    s.call('e', 'inventory.reserve');
    s.call('e', 'payments.charge', 'ambiguous');
    s.call('e', 'payments.charge');
    s.call('e', 'shipping.schedule');
    s.call('e', 'orders.approve');
    s.answered('e', 'completed');
    s.truth([{ ...completedTruth('e'), charges: 2 }]);
    const outcome = checkTechnicalRetried(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/charged 2×/);
    expect(outcome.hint).toMatch(/requestId/);
  });

  it('names a retry sent with a new request id as the cause, when the service took it for a new request', () => {
    const s = new Story();
    s.place('j', 'completed');
    s.call('j', 'orders.create', 'ambiguous', 'j:create:1');
    s.call('j', 'orders.create', 'business', 'j:create:2');
    s.answered('j', 'compensated');
    s.truth([{ orderId: 'j', status: 'pending', reserved: {}, charges: 0, refunds: 0, shipments: 0 }]);
    const outcome = checkTechnicalRetried(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/orders\.create was sent with a new requestId on a retry/);
    expect(outcome.hint).toMatch(/reuse it on every retry/);
  });

  it('fails a saga that says compensated while the services show it half-done', () => {
    const s = new Story();
    s.place('f', 'compensated');
    s.call('f', 'orders.create');
    s.call('f', 'inventory.reserve');
    s.call('f', 'payments.charge', 'business');
    s.call('f', 'inventory.release', 'technical');
    s.call('f', 'orders.reject');
    s.answered('f', 'compensated');
    s.truth([{ orderId: 'f', status: 'rejected', reserved: { sku1: 2 }, charges: 0, refunds: 0, shipments: 0 }]);
    const outcome = checkCompensateInReverse(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/half-done/);
    expect(outcome.hint).toMatch(/compensation has to succeed/);
  });

  it('after a crash, accepts a saga that never started and one that recovery finished, but not one left half-done', () => {
    const ok = new Story();
    ok.place('g', 'completed');
    ok.killed('g');
    ok.place('h', 'completed');
    ok.call('h', 'orders.create');
    ok.killed('h');
    for (const op of ['inventory.reserve', 'payments.charge', 'shipping.schedule', 'orders.approve'] as const) ok.call('h', op);
    ok.truth([{ orderId: 'g', status: 'none', reserved: {}, charges: 0, refunds: 0, shipments: 0 }, completedTruth('h')]);
    expect(checkCrashRecovery(ok.events).status).toBe('pass');

    const bad = new Story();
    bad.place('i', 'completed');
    bad.call('i', 'orders.create');
    bad.call('i', 'inventory.reserve');
    bad.killed('i');
    bad.truth([{ orderId: 'i', status: 'pending', reserved: { sku1: 2 }, charges: 0, refunds: 0, shipments: 0 }]);
    const outcome = checkCrashRecovery(bad.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toMatch(/recover\(\)/);
    expect(outcome.focus?.label).toBe('order i');
  });

  it('reads an answer that is not a SagaOutcome as no answer, and says what placeOrder returned', () => {
    const s = new Story();
    s.place('k', 'completed');
    for (const op of ['orders.create', 'inventory.reserve', 'payments.charge', 'shipping.schedule', 'orders.approve'] as const) s.call('k', op);
    s.add({ process: 'order:k', type: 'ok', op: 'placeOrder', value: 'done' });
    s.truth([completedTruth('k')]);
    expect(ordersOf(s.events).map((o) => [o.status, o.failure])).toEqual([[undefined, 'placeOrder returned "done"']]);
    const outcome = checkTechnicalRetried(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toBe('placeOrder for k gave no answer: placeOrder returned "done".');
  });

  it('is unknown when the scenario never read the truth', () => {
    const s = new Story();
    happy(s, 'a');
    expect(checkCompensateInReverse(s.events).status).toBe('unknown');
  });
});

describe('how the calls were made', () => {
  it('fails a retry sent without a wait, or while the wait was still pending, naming which', () => {
    for (const sleepPending of [false, true]) {
      const s = new Story();
      s.place('w', 'completed');
      s.call('w', 'orders.create', 'technical');
      const note = s.remark({ kind: 'retry-without-wait', orderId: 'w', op: 'orders.create', requestId: 'w:orders.create', after: 'technical', sleepPending });
      for (const op of ['orders.create', 'inventory.reserve', 'payments.charge', 'shipping.schedule', 'orders.approve'] as const) s.call('w', op);
      s.answered('w', 'completed');
      s.truth([completedTruth('w')]);
      const outcome = checkTechnicalRetried(s.events);
      expect(outcome.status).toBe('fail');
      expect(outcome.actual).toMatch(sleepPending ? /still pending \(not awaited\)/ : /without any deps\.sleep/);
      expect(outcome.hint).toMatch(/await deps\.sleep/);
      expect(outcome.culprits).toContain(note);
    }
  });

  it('accepts asking a refused step again without a wait: its refusal is final, and the answer replays it', () => {
    const s = new Story();
    declined(s, 'z');
    s.remark({ kind: 'retry-without-wait', orderId: 'z', op: 'payments.charge', requestId: 'z:2:do', after: 'business', sleepPending: false });
    s.truth([compensatedTruth('z')]);
    expect(checkCompensateInReverse(s.events).status).toBe('pass');
  });

  it('tells a backoff that shrinks from one that waits at its cap and starts again from its floor', () => {
    // backoff-shrinks: halving from the cap, then flat at 1 ms.
    expect(shrinkingBackoff([200, 100, 50, 25, 12.5, 6.25, 3.125, 1.5625, 1])).toBe(true);
    expect(shrinkingBackoff([10, 5, 2.5, 1.25, 0.625, 0.3125, 0.15625])).toBe(true);
    // The reference past the pivot: refusals waited at the cap, then a technical failure retried from 10 ms (seed 10).
    expect(shrinkingBackoff([200, 200, 200, 200, 200, 200, 200, 10])).toBe(false);
    expect(shrinkingBackoff([200, 200, 200, 200, 200, 200, 10, 20, 40])).toBe(false);
    // Too short a streak to judge, a wait that grew, a fall of less than three quarters.
    expect(shrinkingBackoff([200, 100, 50, 25, 12.5, 6.25])).toBe(false);
    expect(shrinkingBackoff([200, 100, 50, 60, 12.5, 6.25, 3, 1])).toBe(false);
    expect(shrinkingBackoff([200, 190, 180, 170, 160, 150, 140, 130])).toBe(false);
  });

  it('fails waits that only got shorter over a streak of failures', () => {
    const s = new Story();
    happy(s, 'y');
    s.remark({ kind: 'shrinking-wait', orderId: 'y', op: 'inventory.reserve', requestId: 'y:1:do', waits: [200, 100, 50, 25, 12.5, 6.25, 3.125, 1.5625] });
    s.truth([completedTruth('y')]);
    const outcome = checkTechnicalRetried(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/failed 9 times in a row, and the waits before asking again only got shorter \(200, 100, 50/);
  });

  it('fails a wait over the cap, and names the waits that led to it', () => {
    const s = new Story();
    happy(s, 'u');
    s.remark({ kind: 'long-wait', orderId: 'u', op: 'shipping.schedule', requestId: 'u:3:do', ms: 81_920, waits: [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10_240, 20_480, 40_960] });
    s.truth([completedTruth('u')]);
    const outcome = checkTechnicalRetried(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/shipping\.schedule failed 14 times in a row, and before asking again the orchestrator waited 81\.9 s \(deps\.sleep\(81920\)\), over the cap of 60 s; the waits before it: 10, 20, 40/);
    expect(outcome.hint).toMatch(/Cap the backoff/);
  });

  it('fails a call made inside a transaction', () => {
    const s = new Story();
    happy(s, 't');
    s.remark({ kind: 'call-in-transaction', orderId: 't', op: 'payments.charge', requestId: 't:2:do' });
    s.truth([completedTruth('t')]);
    const outcome = checkConcurrentOrders(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/payments\.charge was called inside a db\.transaction/);
  });

  it('fails a reject sent while the release was still under way, though the release answered first', () => {
    const s = new Story();
    s.place('p', 'compensated');
    s.call('p', 'orders.create');
    s.call('p', 'inventory.reserve');
    s.call('p', 'payments.charge', 'business');
    s.add({ process: 'svc:p', type: 'invoke', op: 'inventory.release', value: { requestId: 'p:1:undo', attempt: 1 } });
    const reject = s.add({ process: 'svc:p', type: 'invoke', op: 'orders.reject', value: { requestId: 'p:0:undo', attempt: 1 } });
    const release = s.add({ process: 'svc:p', type: 'ok', op: 'inventory.release', value: { outcome: 'ok', attempt: 1, requestId: 'p:1:undo' } });
    s.add({ process: 'svc:p', type: 'ok', op: 'orders.reject', value: { outcome: 'ok', attempt: 1, requestId: 'p:0:undo' } });
    s.answered('p', 'compensated');
    s.truth([compensatedTruth('p')]);
    const outcome = checkCompensateInReverse(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/sent before the release of its stock had answered/);
    expect(outcome.culprits).toEqual(expect.arrayContaining([reject, release]));
  });

  it('accepts a release replayed after the reject (a recovery asking again): it did nothing', () => {
    const s = new Story();
    declined(s, 'q');
    s.call('q', 'inventory.release', 'replayed');
    s.call('q', 'orders.reject', 'replayed');
    s.truth([compensatedTruth('q')]);
    expect(checkCrashRecovery(s.events).status).toBe('pass');
  });
});

describe('the recoveries', () => {
  const untouched = (orderId: string): OrderTruth => ({ orderId, status: 'none', reserved: {}, charges: 0, refunds: 0, shipments: 0 });

  it('fails a saga killed early that the learner\'s log recorded and recover() never ran; excuses it when the log does not mention it', () => {
    const story = (logged: string[]): Story => {
      const s = new Story();
      s.place('u', 'completed');
      s.killed('u');
      s.migrate();
      s.recovered([]);
      s.truth([untouched('u')], [], logged);
      return s;
    };
    const outcome = checkCrashRecovery(story(['u']).events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/your tables mention u/);
    expect(outcome.hint).toMatch(/no step recorded/);
    expect(checkCrashRecovery(story([]).events).status).toBe('pass');
  });

  it('fails a migrate that throws when a restarted orchestrator runs it again', () => {
    const s = new Story();
    happy(s, 'm');
    const start = s.migrate('relation "sagas" already exists');
    s.truth([completedTruth('m')]);
    const outcome = checkCrashRecovery(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/migrate\(db\) failed .*already exists/);
    expect(outcome.hint).toMatch(/IF NOT EXISTS/);
    expect(outcome.culprits).toContain(start);
  });

  it('fails a recover() whose answer the services contradict, or that is not a list', () => {
    const wrong = new Story();
    declined(wrong, 'r');
    wrong.recovered([{ orderId: 'r', status: 'completed' }]);
    wrong.truth([compensatedTruth('r')]);
    expect(checkCrashRecovery(wrong.events).actual).toMatch(/recover\(\) said .*"completed".* but the services show order r compensated/);

    const none = new Story();
    happy(none, 'n');
    none.recovered(undefined);
    none.truth([completedTruth('n')]);
    expect(checkCrashRecovery(none.events).actual).toMatch(/not a list/);
  });

  it('fails a recover() that carried a saga on but did not return its outcome', () => {
    const s = new Story();
    s.place('x', 'completed');
    s.call('x', 'orders.create');
    s.killed('x');
    s.recovered([], false, () => {
      for (const op of ['orders.create', 'inventory.reserve', 'payments.charge', 'shipping.schedule', 'orders.approve'] as const) s.call('x', op);
    });
    s.truth([completedTruth('x')]);
    const outcome = checkCrashRecovery(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/carried on order x .* but did not return its outcome/);
  });

  it('fails a last recover() that still finds work, and passes one that finds none', () => {
    const busy = new Story();
    happy(busy, 'v');
    busy.recovered([{ orderId: 'v', status: 'completed' }], true, () => busy.call('v', 'orders.approve', 'replayed'));
    busy.truth([completedTruth('v')]);
    const outcome = checkCrashRecovery(busy.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/still found work: it returned .* and made 1 service call/);

    const quiet = new Story();
    happy(quiet, 'v');
    quiet.recovered([], true);
    quiet.truth([completedTruth('v')]);
    expect(checkCrashRecovery(quiet.events).status).toBe('pass');
  });
});

describe('the concurrent orders', () => {
  it('fails stock that is not conserved across the orders, though each order looks right', () => {
    const s = new Story();
    happy(s, 'a');
    s.truth([completedTruth('a')], [{ sku: 'sku1', initial: 30, available: 27 }]);
    const outcome = checkConcurrentOrders(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/Stock of sku1 is not conserved: 30 at the start, 27 on the shelf, 2 held/);
  });

  it('passes when what left the shelf is what the orders hold', () => {
    const s = new Story();
    happy(s, 'a');
    declined(s, 'b');
    s.truth([completedTruth('a'), compensatedTruth('b')], [{ sku: 'sku1', initial: 30, available: 28 }]);
    expect(checkConcurrentOrders(s.events).status).toBe('pass');
  });
});

describe('focusing a long history on the saga that broke', () => {
  it("keeps that order's lanes and planned faults, the recoveries meanwhile and the blamed events; drops the other orders", () => {
    const s = new Story();
    const fault = s.fault('b', 'payments.charge: ambiguous');
    s.fault('a', 'orders.create: technical');
    happy(s, 'a');
    declined(s, 'b');
    const recoveryStart = s.recovery();
    happy(s, 'c');
    const truth = s.truth([]);
    // The recovery ran after b had ended: outside b's window.
    const focus = focusOn(s.events, 'b');
    expect(focus.events).toEqual([fault]);
    const kept = focusedEvents(s.events, focus, [truth]);
    const processes = new Set(kept.map((i) => s.events[i]?.process));
    expect(processes).toEqual(new Set(['grader', 'order:b', 'svc:b']));
    expect(kept).toContain(fault);
    expect(kept).toContain(truth);
    expect(kept).not.toContain(recoveryStart);
  });

  it('keeps a context operation invoked within the window whole, its completion included', () => {
    const events: HistoryEvent[] = [
      { at: 1, process: 'order:x', type: 'invoke', op: 'placeOrder' },
      { at: 2, process: 'recovery', type: 'invoke', op: 'recover' },
      { at: 3, process: 'order:x', type: 'info', op: 'placeOrder' },
      { at: 9, process: 'recovery', type: 'ok', op: 'recover' },
      { at: 10, process: 'recovery', type: 'invoke', op: 'recover' },
      { at: 11, process: 'recovery', type: 'ok', op: 'recover' },
    ];
    expect(focusedEvents(events, { label: 'order x', processes: ['order:x'], context: ['recovery'] }, [])).toEqual([0, 1, 2, 3]);
  });
});
