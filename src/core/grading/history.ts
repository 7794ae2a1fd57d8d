/**
 * Histories with a vocabulary. Every lab's grader records what happens as events of its
 * own kinds (a `put` invoked with a key and a value, a `put` that completed with a
 * version, a fault...), each declared once as a type in the lab's history module; the
 * recorder accepts only those, and the lab's checkers read them back narrowed by `type`
 * and `op`, never by casting a value. On the wire and in the report an event is the plain
 * `HistoryEvent` (report.ts).
 */
import type { HistoryEvent, HistoryEventType } from './report';

export type { HistoryEvent, HistoryEventType } from './report';

/** What every event has besides its kind and value. */
interface EventBase {
  /** Milliseconds since the scenario started. */
  readonly at: number;
  readonly process: string;
  readonly detail?: string;
  /** The message this event sends or receives (report.ts). */
  readonly message?: string;
}

/** An event of type `T` and operation `Op` that carries a value of type `V`. */
export type ValueEvent<T extends HistoryEventType, Op extends string, V> = EventBase & { readonly type: T; readonly op: Op; readonly value: V };

/** An event of type `T` and operation `Op` without a value (a failed call, a fault, a heal). */
export type PlainEvent<T extends HistoryEventType, Op extends string> = EventBase & { readonly type: T; readonly op: Op; readonly value?: undefined };

/** A fault the grader injected; `op` describes it ("pause replica-2"). */
export type FaultEvent = PlainEvent<'fault', string>;
/** A fault undone. */
export type HealEvent = PlainEvent<'heal', string>;
/** A process the grader killed or that died; `detail` says how. */
export type CrashEvent = PlainEvent<'crash', string>;
/** A remark in the timeline ("clock moved to +90 s"). */
export type RemarkEvent = PlainEvent<'note', string>;

/** An event as it is recorded: everything but the time, which the recorder adds. */
export type Recorded<E extends HistoryEvent> = E extends unknown ? Omit<E, 'at'> : never;

/** Records what happens during a scenario, timed from its start. */
export class HistoryRecorder<E extends HistoryEvent = HistoryEvent> {
  private readonly list: E[] = [];
  private readonly started: number;

  /** `now` tells the time in milliseconds (performance.now by default; a hand-made history in a test counts its own). */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.started = now();
  }

  get events(): readonly E[] {
    return this.list;
  }

  /** Records the event and returns its index in the history. */
  record(event: Recorded<E>): number {
    const at = Math.round((this.now() - this.started) * 10) / 10;
    // Omit<E, 'at'> plus `at` is E again; TypeScript cannot see that through the distribution.
    this.list.push({ at, ...event } as unknown as E);
    return this.list.length - 1;
  }
}
