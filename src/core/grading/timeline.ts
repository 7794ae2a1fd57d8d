/**
 * A history as a timeline, ready to draw: one lane per process, each operation a bar from
 * its invocation to its completion (ok, fail, or info: unknown, drawn open to the end, as
 * it may still take effect), with faults, heals, crashes and notes as marks across all
 * lanes, and the events a checker blamed highlighted. Pure data: the report webview and
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

export interface Timeline {
  readonly start: number;
  readonly end: number;
  readonly lanes: readonly TimelineLane[];
  readonly marks: readonly TimelineMark[];
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
  return { start, end, lanes: [...lanes].map(([process, bars]) => ({ process, bars })), marks };
}
