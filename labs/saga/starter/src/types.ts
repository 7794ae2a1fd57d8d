/**
 * The contract between your saga code and the world around it: the order it receives,
 * the services it calls (the grader runs them), and what it is handed to do its work.
 * The visible tests and the grader call the exports of src/saga.ts with these types.
 * You do not need to change this file.
 */
import type { Db } from './db';

/** An order as the web shop hands it to the Place Order saga. */
export interface OrderRequest {
  /** Unique per order; the saga's id can be the same. */
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  /** What to charge, in cents. */
  readonly total: number;
  readonly address: string;
}

/** How a saga ended. */
export interface SagaOutcome {
  readonly orderId: string;
  /** completed: every step done. compensated: a step failed for good and the completed steps were undone. */
  readonly status: 'completed' | 'compensated';
}

/**
 * What a service answered. Like any call over a network, it has three outcomes:
 * - ok: it happened;
 * - business: it was refused (out of stock, card declined), definitely, and nothing was done;
 * - technical: no definite answer (the service was down, the connection broke, it timed
 *   out). The work MAY HAVE BEEN DONE. Retry with the same requestId to find out safely.
 */
export type ServiceResult =
  | { readonly ok: true; readonly result: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly kind: 'business'; readonly reason: string }
  | { readonly ok: false; readonly kind: 'technical'; readonly reason: string };

/**
 * Every call takes a `requestId` of your choosing. The services are not idempotent by
 * themselves (reserving twice reserves twice), but a call with a requestId they have seen
 * gets the first answer back and does nothing again. Use one id per step and one per
 * compensation of each saga, the same on every retry.
 */
export interface Services {
  readonly orders: {
    create(call: { requestId: string; orderId: string; customerId: string; total: number }): Promise<ServiceResult>;
    /** Compensation of create. For an order that was never created it does nothing and succeeds. */
    reject(call: { requestId: string; orderId: string }): Promise<ServiceResult>;
    approve(call: { requestId: string; orderId: string }): Promise<ServiceResult>;
  };
  readonly inventory: {
    /** Refused with 'out_of_stock' when any item is short; then nothing is reserved. */
    reserve(call: { requestId: string; orderId: string; items: readonly { sku: string; qty: number }[] }): Promise<ServiceResult>;
    /** Compensation of reserve: puts the items back on the shelf (every time it is called with a new requestId). */
    release(call: { requestId: string; orderId: string; items: readonly { sku: string; qty: number }[] }): Promise<ServiceResult>;
  };
  readonly payments: {
    /** Refused with 'card_declined' for some customers. */
    charge(call: { requestId: string; orderId: string; customerId: string; amount: number }): Promise<ServiceResult>;
    refund(call: { requestId: string; orderId: string }): Promise<ServiceResult>;
  };
  readonly shipping: {
    schedule(call: { requestId: string; orderId: string; address: string }): Promise<ServiceResult>;
  };
}

/** Everything your saga code is handed. */
export interface Deps {
  /** The orchestrator's own database: keep the saga log here. */
  readonly db: Db;
  readonly services: Services;
  /** Waits `ms` milliseconds (use it for backoff; the grader makes time pass faster). */
  sleep(ms: number): Promise<void>;
}
