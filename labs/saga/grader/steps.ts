/**
 * The Place Order saga as the lab's README defines it: the services' operations, and the
 * saga's steps in order with their kinds and compensations. Pure data, shared by the
 * grader's services, its scenarios and its checkers.
 */

/** Every operation the grader's services offer, as `<service>.<operation>` (the path of its POST). */
export const SAGA_OPERATIONS = [
  'orders.create',
  'orders.reject',
  'orders.approve',
  'inventory.reserve',
  'inventory.release',
  'payments.charge',
  'payments.refund',
  'shipping.schedule',
] as const;
export type SagaOperation = (typeof SAGA_OPERATIONS)[number];

export type StepKind = 'compensatable' | 'pivot' | 'retriable';

export interface SagaStep {
  readonly op: SagaOperation;
  readonly kind: StepKind;
  /** The compensation, for a compensatable step. */
  readonly undo?: SagaOperation;
}

/** The Place Order saga's steps, in order. */
export const STEPS: readonly SagaStep[] = [
  { op: 'orders.create', kind: 'compensatable', undo: 'orders.reject' },
  { op: 'inventory.reserve', kind: 'compensatable', undo: 'inventory.release' },
  { op: 'payments.charge', kind: 'pivot' },
  { op: 'shipping.schedule', kind: 'retriable' },
  { op: 'orders.approve', kind: 'retriable' },
];

/** The index of the pivot (the charge) in STEPS: a refusal at or before it compensates, after it only forward retries. */
export const PIVOT = STEPS.findIndex((s) => s.kind === 'pivot');

/**
 * The operations that undo a step. payments.refund is among them although the saga has no
 * compensation for the pivot: a refund shows that the pivot was compensated.
 */
export const COMPENSATIONS: ReadonlySet<SagaOperation> = new Set<SagaOperation>(['orders.reject', 'inventory.release', 'payments.refund']);

