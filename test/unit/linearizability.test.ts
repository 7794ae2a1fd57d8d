/**
 * The linearizability checker on hand-made histories, each known to be linearizable or
 * not (the classic cases: a stale read after a write completed, a new-old inversion
 * between two reads, unknown writes, compare-and-set, keys checked apart), and a search
 * cut short by its budget answering unknown.
 */
import { describe, expect, it } from 'vitest';
import { type HistoryOp, checkLinearizable, operationsOf } from '../../src/core/grading/linearizability';

const inv = (process: number, f: HistoryOp['f'], value?: unknown, key?: string): HistoryOp => ({ process, type: 'invoke', f, ...(value !== undefined ? { value } : {}), ...(key !== undefined ? { key } : {}) });
const ok = (process: number, f: HistoryOp['f'], value?: unknown, key?: string): HistoryOp => ({ process, type: 'ok', f, ...(value !== undefined ? { value } : {}), ...(key !== undefined ? { key } : {}) });
const info = (process: number, f: HistoryOp['f'], value?: unknown): HistoryOp => ({ process, type: 'info', f, ...(value !== undefined ? { value } : {}) });
const fail = (process: number, f: HistoryOp['f'], value?: unknown): HistoryOp => ({ process, type: 'fail', f, ...(value !== undefined ? { value } : {}) });

describe('a register', () => {
  it('a write then a read of it is linearizable; a read of the old value after the write completed is not', () => {
    expect(checkLinearizable([inv(0, 'write', 1), ok(0, 'write', 1), inv(1, 'read'), ok(1, 'read', 1)], 'register').verdict).toBe('linearizable');
    const stale = checkLinearizable([inv(0, 'write', 1), ok(0, 'write', 1), inv(1, 'read'), ok(1, 'read', null)], 'register');
    expect(stale.verdict).toBe('not-linearizable');
    if (stale.verdict === 'not-linearizable') {
      expect(stale.linearized.map((o) => o.f)).toEqual(['write']);
      expect(stale.stuck.map((o) => [o.f, o.output])).toEqual([['read', null]]);
    }
  });

  it('a read concurrent with a write may see either value', () => {
    for (const seen of [null, 1]) {
      expect(checkLinearizable([inv(0, 'write', 1), inv(1, 'read'), ok(1, 'read', seen), ok(0, 'write', 1)], 'register').verdict).toBe('linearizable');
    }
    expect(checkLinearizable([inv(0, 'write', 1), inv(1, 'read'), ok(1, 'read', 2), ok(0, 'write', 1)], 'register').verdict).toBe('not-linearizable');
  });

  it('two reads during one write cannot see the new value and then the old (new-old inversion)', () => {
    const history = [inv(0, 'write', 1), inv(1, 'read'), ok(1, 'read', 1), inv(2, 'read'), ok(2, 'read', null), ok(0, 'write', 1)];
    expect(checkLinearizable(history, 'register').verdict).toBe('not-linearizable');
    const inOrder = [inv(0, 'write', 1), inv(1, 'read'), ok(1, 'read', null), inv(2, 'read'), ok(2, 'read', 1), ok(0, 'write', 1)];
    expect(checkLinearizable(inOrder, 'register').verdict).toBe('linearizable');
  });

  it('a write with an unknown outcome may take effect late or never, but not be undone', () => {
    const unknownWrite = [inv(0, 'write', 1), info(0, 'write', 1)];
    expect(checkLinearizable([...unknownWrite, inv(1, 'read'), ok(1, 'read', null), inv(1, 'read'), ok(1, 'read', 1)], 'register').verdict).toBe('linearizable');
    expect(checkLinearizable([...unknownWrite, inv(1, 'read'), ok(1, 'read', 1), inv(1, 'read'), ok(1, 'read', null)], 'register').verdict).toBe('not-linearizable');
    // A failed write did not happen: reading its value is not linearizable.
    expect(checkLinearizable([inv(0, 'write', 1), fail(0, 'write', 1), inv(1, 'read'), ok(1, 'read', 1)], 'register').verdict).toBe('not-linearizable');
  });

  it('a process that invokes again without a completion left the first operation unknown', () => {
    const ops = operationsOf([inv(0, 'write', 1), inv(0, 'write', 2), ok(0, 'write', 2)]);
    expect(ops.map((o) => [o.input, o.ret])).toEqual([
      [1, Infinity],
      [2, 2],
    ]);
  });
});

describe('a register with compare-and-set', () => {
  it('a cas that succeeded needs its expected value; a failed one did not happen', () => {
    const base = [inv(0, 'write', 1), ok(0, 'write', 1)];
    expect(checkLinearizable([...base, inv(1, 'cas', [1, 2]), ok(1, 'cas', [1, 2]), inv(2, 'read'), ok(2, 'read', 2)], 'cas-register').verdict).toBe('linearizable');
    expect(checkLinearizable([...base, inv(1, 'cas', [3, 2]), ok(1, 'cas', [3, 2])], 'cas-register').verdict).toBe('not-linearizable');
    expect(checkLinearizable([...base, inv(1, 'cas', [3, 2]), fail(1, 'cas', [3, 2]), inv(2, 'read'), ok(2, 'read', 1)], 'cas-register').verdict).toBe('linearizable');
  });

  it('a cas with an unknown outcome may never take effect, even when its expected value never comes', () => {
    // Jepsen's :info: the cas may have happened or not. Here it cannot have (the register
    // never holds 7), so it did not, and the reads of 1 are fine.
    const history = [inv(0, 'write', 1), ok(0, 'write', 1), inv(1, 'cas', [7, 2]), inv(2, 'read'), ok(2, 'read', 1), info(1, 'cas', [7, 2]), inv(2, 'read'), ok(2, 'read', 1)];
    expect(checkLinearizable(history, 'cas-register').verdict).toBe('linearizable');
    // One that took effect is seen to: 1 then 2 then 1 needs the cas to be undone.
    const undone = [inv(0, 'write', 1), ok(0, 'write', 1), inv(1, 'cas', [1, 2]), info(1, 'cas', [1, 2]), inv(2, 'read'), ok(2, 'read', 2), inv(2, 'read'), ok(2, 'read', 1)];
    expect(checkLinearizable(undone, 'cas-register').verdict).toBe('not-linearizable');
    // A history of unknown outcomes only is linearizable: none of them need have happened.
    expect(checkLinearizable([inv(0, 'cas', [5, 6]), info(0, 'cas', [5, 6])], 'cas-register').verdict).toBe('linearizable');
  });

  it('the register model refuses a cas instead of guessing', () => {
    const result = checkLinearizable([inv(1, 'cas', [null, 2]), ok(1, 'cas', [null, 2])], 'register');
    expect(result.verdict).toBe('unknown');
  });
});

describe('keys of registers', () => {
  it('checks each key apart and names the key with no order', () => {
    const history = [
      inv(0, 'write', 1, 'a'),
      ok(0, 'write', 1, 'a'),
      inv(1, 'write', 5, 'b'),
      ok(1, 'write', 5, 'b'),
      inv(2, 'read', undefined, 'a'),
      ok(2, 'read', 1, 'a'),
      inv(3, 'read', undefined, 'b'),
      ok(3, 'read', null, 'b'),
    ];
    const result = checkLinearizable(history, 'kv');
    expect(result.verdict).toBe('not-linearizable');
    if (result.verdict === 'not-linearizable') expect(result.key).toBe('b');
    // As one register, b's write would hide a's value: keys matter.
    expect(checkLinearizable(history.slice(0, 6), 'kv').verdict).toBe('linearizable');
  });
});

describe('the budget', () => {
  it('answers unknown, never linearizable, when the search runs out of steps', () => {
    // Many concurrent writes and a read of a value nobody wrote: the search must try every order.
    const history: HistoryOp[] = [];
    for (let p = 0; p < 12; p++) history.push(inv(p, 'write', p));
    history.push(inv(99, 'read'), ok(99, 'read', 42));
    for (let p = 0; p < 12; p++) history.push(ok(p, 'write', p));
    expect(checkLinearizable(history, 'register', { maxSteps: 1000 }).verdict).toBe('unknown');
    expect(checkLinearizable(history, 'register').verdict).toBe('not-linearizable');
  });
});

describe('reading histories', () => {
  it("reads Jepsen's plain-text register log, skipping the nemesis and other lines", async () => {
    const { parseHistory } = await import('../../src/core/grading/historyFormats');
    const log = [
      'INFO  jepsen.core - Worker 0 starting',
      'INFO  jepsen.util - 0\t:invoke\t:write\t3',
      'INFO  jepsen.util - 1\t:invoke\t:read\tnil',
      'INFO  jepsen.util - :nemesis\t:info\t:start\tnil',
      'INFO  jepsen.util - 0\t:ok\t:write\t3',
      'INFO  jepsen.util - 1\t:ok\t:read\t3',
      'INFO  jepsen.util - 2\t:invoke\t:cas\t[3 4]',
      'INFO  jepsen.util - 2\t:fail\t:cas\t[3 4]',
      'INFO  jepsen.util - 1\t:invoke\t:read\tnil',
      'INFO  jepsen.util - 1\t:ok\t:read\t4',
    ].join('\n');
    const history = parseHistory(log, 'etcd.log');
    expect(history).toHaveLength(8);
    expect(history[4]).toEqual({ process: 2, type: 'invoke', f: 'cas', value: [3, 4] });
    // The cas failed, so nobody wrote 4: the last read is not linearizable.
    expect(checkLinearizable(history, 'cas-register').verdict).toBe('not-linearizable');
    expect(checkLinearizable(history.slice(0, 6), 'cas-register').verdict).toBe('linearizable');
  });

  it('reads the JSON format and names the event that is wrong', async () => {
    const { HistoryFormatError, parseHistory } = await import('../../src/core/grading/historyFormats');
    const json = JSON.stringify({ history: [{ process: 0, type: 'invoke', f: 'write', key: 'a', value: 1 }, { process: 0, type: 'ok', f: 'write', key: 'a', value: 1 }] });
    expect(parseHistory(json)).toHaveLength(2);
    expect(() => parseHistory('[{"process":0,"type":"done","f":"read"}]', 'h.json')).toThrow(HistoryFormatError);
    expect(() => parseHistory('[{"process":0,"type":"done","f":"read"}]', 'h.json')).toThrow('h.json, event 0: "type" must be invoke, ok, fail or info, not "done".');
    expect(() => parseHistory('INFO  jepsen.util - 0\t:invoke\t:append\t1', 'x.log')).toThrow('x.log:1: the operation :append is not :read, :write or :cas.');
  });
});
