/**
 * A history as a timeline, ready to draw: one lane per process, each operation a bar from
 * its invocation to its completion (ok, fail, or info: unknown, drawn open to the end, as
 * it may still take effect), with faults, heals, crashes and notes as marks across all
 * lanes, messages between processes as arrows from their sending to each receipt, and the
 * events a checker blamed highlighted. Pure data: the report webview and
 * any other renderer draw from it.
 */
import type { HistoryEvent } from './report';

export type BarOutcome = 'ok' | 'fail' | 'info' | 'pending';

export interface TimelineBar {
  readonly op: string;
  readonly start: number;
  /** When it completed; for `info` and `pending`, the end of the timeline (it stays open). */
  readonly end: number;
  readonly outcome: BarOutcome;
  /** What it was called with, and what it returned. */
  readonly input?: unknown;
  readonly output?: unknown;
  readonly detail?: string;
  /** Whether the checker blamed its invocation or its completion. */
  readonly highlighted: boolean;
  /** Indexes of its events in the history. */
  readonly events: readonly number[];
}

export interface TimelineLane {
  readonly process: string;
  readonly bars: readonly TimelineBar[];
}

export interface TimelineMark {
  readonly at: number;
  readonly type: 'fault' | 'heal' | 'crash' | 'note';
  readonly process: string;
  readonly op: string;
  readonly detail?: string;
  readonly highlighted: boolean;
  readonly event: number;
}

/** One end of a message's arrow: a lane at a time, and the event there. */
export interface ArrowEnd {
  readonly process: string;
  readonly at: number;
  readonly event: number;
}

/**
 * A message between processes (events that name it, HistoryEvent.message): from its
 * sending to one receipt, or to where a delivery of it was lost (`delivered` false).
 */
export interface TimelineArrow {
  readonly message: string;
  readonly from: ArrowEnd;
  readonly to: ArrowEnd;
  readonly delivered: boolean;
  readonly highlighted: boolean;
}

export interface Timeline {
  readonly start: number;
  readonly end: number;
  readonly lanes: readonly TimelineLane[];
  readonly marks: readonly TimelineMark[];
  /** Messages between lanes, as arrows; none in a history without messages. */
  readonly arrows: readonly TimelineArrow[];
}

/**
 * Pairs each invocation with the next completion of the same process and operation, as
 * Jepsen histories are read (a process has one operation outstanding at a time). Lanes
 * keep the order in which processes first appear.
 */
export function buildTimeline(history: readonly HistoryEvent[], culprits: readonly number[] = []): Timeline {
  const blamed = new Set(culprits);
  const start = history.length > 0 ? Math.min(...history.map((e) => e.at)) : 0;
  const end = history.length > 0 ? Math.max(...history.map((e) => e.at)) : 0;
  const lanes = new Map<string, TimelineBar[]>();
  const open = new Map<string, { index: number; event: HistoryEvent }>();
  const marks: TimelineMark[] = [];
  const arrows: TimelineArrow[] = [];
  const sendings = new Map<string, ArrowEnd>();
  const arrow = (message: string, to: ArrowEnd, delivered: boolean): void => {
    const from = sendings.get(message);
    if (from !== undefined) arrows.push({ message, from, to, delivered, highlighted: blamed.has(from.event) || blamed.has(to.event) });
  };
  const lane = (process: string): TimelineBar[] => {
    let bars = lanes.get(process);
    if (!bars) {
      bars = [];
      lanes.set(process, bars);
    }
    return bars;
  };
  const close = (process: string, outcome: BarOutcome, completion?: { index: number; event: HistoryEvent }): void => {
    const invoked = open.get(process);
    if (!invoked) {
      return;
    }
    open.delete(process);
    const events = completion ? [invoked.index, completion.index] : [invoked.index];
    const stillOpen = outcome === 'info' || outcome === 'pending';
    lane(process).push({
      op: invoked.event.op,
      start: invoked.event.at,
      end: stillOpen || !completion ? end : completion.event.at,
      outcome,
      ...(invoked.event.value !== undefined ? { input: invoked.event.value } : {}),
      ...(completion?.event.value !== undefined ? { output: completion.event.value } : {}),
      ...(completion?.event.detail !== undefined ? { detail: completion.event.detail } : {}),
      highlighted: events.some((i) => blamed.has(i)),
      events,
    });
  };
  history.forEach((event, index) => {
    // A message's first event is its sending; a later note naming it, a delivery that was lost.
    if (event.message !== undefined && event.type === 'note') {
      lane(event.process);
      const end = { process: event.process, at: event.at, event: index };
      if (!sendings.has(event.message)) sendings.set(event.message, end);
      else arrow(event.message, end, false);
      return;
    }
    if (event.message !== undefined && event.type === 'invoke') arrow(event.message, { process: event.process, at: event.at, event: index }, true);
    switch (event.type) {
      case 'invoke':
        // An invocation while one is open: the open one never completed.
        close(event.process, 'pending');
        lane(event.process);
        open.set(event.process, { index, event });
        break;
      case 'ok':
      case 'fail':
      case 'info':
        close(event.process, event.type, { index, event });
        break;
      default:
        marks.push({
          at: event.at,
          type: event.type,
          process: event.process,
          op: event.op,
          ...(event.detail !== undefined ? { detail: event.detail } : {}),
          highlighted: blamed.has(index),
          event: index,
        });
    }
  });
  for (const process of [...open.keys()]) {
    close(process, 'pending');
  }
  return { start, end, lanes: [...lanes].map(([process, bars]) => ({ process, bars })), marks, arrows };
}
