import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../../src/core/grading/report';
import { buildTimeline } from '../../src/core/grading/timeline';

const e = (at: number, process: string, type: HistoryEvent['type'], op: string, value?: unknown, detail?: string): HistoryEvent => ({
  at,
  process,
  type,
  op,
  ...(value !== undefined ? { value } : {}),
  ...(detail !== undefined ? { detail } : {}),
});

describe('buildTimeline', () => {
  it('pairs invocations with completions per process, in lanes by first appearance, with faults as marks', () => {
    const history = [
      e(0, 'client-1', 'invoke', 'pay', { key: 'k' }),
      e(1, 'client-2', 'invoke', 'pay', { key: 'k' }),
      e(2, 'harness', 'fault', 'pause postgres'),
      e(5, 'client-1', 'ok', 'pay', { status: 201 }),
      e(6, 'client-2', 'fail', 'pay', undefined, '409 conflict'),
      e(7, 'harness', 'heal', 'unpause postgres'),
    ];
    const t = buildTimeline(history, [4]);
    expect(t.start).toBe(0);
    expect(t.end).toBe(7);
    expect(t.lanes.map((l) => l.process)).toEqual(['client-1', 'client-2']);
    expect(t.lanes[0]?.bars).toEqual([{ op: 'pay', start: 0, end: 5, outcome: 'ok', input: { key: 'k' }, output: { status: 201 }, highlighted: false, events: [0, 3] }]);
    expect(t.lanes[1]?.bars).toEqual([{ op: 'pay', start: 1, end: 6, outcome: 'fail', input: { key: 'k' }, detail: '409 conflict', highlighted: true, events: [1, 4] }]);
    expect(t.marks).toEqual([
      { at: 2, type: 'fault', process: 'harness', op: 'pause postgres', highlighted: false, event: 2 },
      { at: 7, type: 'heal', process: 'harness', op: 'unpause postgres', highlighted: false, event: 5 },
    ]);
  });

  it('draws an unknown outcome (info) and one that never completed open to the end', () => {
    const t = buildTimeline([e(0, 'c', 'invoke', 'charge'), e(3, 'c', 'info', 'charge', undefined, 'timeout'), e(4, 'd', 'invoke', 'charge'), e(9, 'x', 'note', 'done')]);
    const [c, d] = t.lanes;
    expect(c?.bars[0]).toMatchObject({ outcome: 'info', start: 0, end: 9, detail: 'timeout' });
    expect(d?.bars[0]).toMatchObject({ outcome: 'pending', start: 4, end: 9, events: [2] });
  });

  it('a second invocation before a completion leaves the first pending, and a stray completion is ignored', () => {
    const t = buildTimeline([e(0, 'c', 'ok', 'read'), e(1, 'c', 'invoke', 'a'), e(2, 'c', 'invoke', 'b'), e(3, 'c', 'ok', 'b')], [1]);
    expect(t.lanes[0]?.bars.map((b) => [b.op, b.outcome, b.highlighted])).toEqual([
      ['a', 'pending', true],
      ['b', 'ok', false],
    ]);
  });

  it('an empty history is an empty timeline', () => {
    expect(buildTimeline([])).toEqual({ start: 0, end: 0, lanes: [], marks: [], arrows: [] });
  });
});

describe('messages between lanes', () => {
  it('draws each receipt of a message as an arrow from its sending, a lost delivery as one that was not delivered, and no mark for either', () => {
    const history: HistoryEvent[] = [
      { at: 1, process: 'eu', type: 'note', op: 'send', value: { to: 'us' }, message: 'm1' },
      { at: 2, process: 'us', type: 'note', op: 'drop', value: { to: 'us' }, message: 'm1' },
      { at: 3, process: 'us', type: 'invoke', op: 'receive', value: { from: 'eu' }, message: 'm1' },
      { at: 4, process: 'us', type: 'ok', op: 'receive' },
      { at: 5, process: 'ap', type: 'invoke', op: 'receive', message: 'unsent' },
      { at: 6, process: 'ap', type: 'ok', op: 'receive' },
    ];
    const timeline = buildTimeline(history, [3]);
    expect(timeline.marks).toEqual([]);
    expect(timeline.lanes.map((l) => l.process)).toEqual(['eu', 'us', 'ap']);
    expect(timeline.arrows).toEqual([
      { message: 'm1', from: { process: 'eu', at: 1, event: 0 }, to: { process: 'us', at: 2, event: 1 }, delivered: false, highlighted: false },
      { message: 'm1', from: { process: 'eu', at: 1, event: 0 }, to: { process: 'us', at: 3, event: 2 }, delivered: true, highlighted: false },
    ]);
    expect(buildTimeline(history, [2]).arrows.map((a) => a.highlighted)).toEqual([false, true]);
  });
});
