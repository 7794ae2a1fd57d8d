/**
 * Reading Jepsen's plain-text register logs in the shapes they come in besides the
 * tab-separated one of test/unit/linearizability.test.ts: fields separated by spaces (as
 * some of the etcd logs published with porcupine's test data are), newer Jepsen's logger
 * prefix, a missing value, and an error named after a :fail or :info value.
 */
import { describe, expect, it } from 'vitest';
import { HistoryFormatError, parseHistory, parseJepsenLog } from '../../src/core/grading/historyFormats';
import { checkLinearizable } from '../../src/core/grading/linearizability';

describe("Jepsen's plain-text logs", () => {
  it('reads fields separated by spaces as it reads them separated by tabs', () => {
    const tabs = ['INFO  jepsen.util - 1\t:invoke\t:write\t3', 'INFO  jepsen.util - 1\t:ok\t:write\t3', 'INFO  jepsen.util - 0\t:invoke\t:cas\t[3 4]', 'INFO  jepsen.util - 0\t:ok\t:cas\t[3 4]'];
    const spaces = ['INFO  jepsen.util - 1   :invoke :write  3', 'INFO  jepsen.util - 1   :ok     :write  3', 'INFO  jepsen.util - 0   :invoke :cas    [3 4]', 'INFO  jepsen.util - 0   :ok     :cas    [3 4]'];
    const expected = [
      { process: 1, type: 'invoke', f: 'write', value: 3 },
      { process: 1, type: 'ok', f: 'write', value: 3 },
      { process: 0, type: 'invoke', f: 'cas', value: [3, 4] },
      { process: 0, type: 'ok', f: 'cas', value: [3, 4] },
    ];
    expect(parseHistory(tabs.join('\n'))).toEqual(expected);
    expect(parseHistory(spaces.join('\n'))).toEqual(expected);
    // A logger line with spaces that is not an event is still skipped.
    expect(parseHistory(['INFO  jepsen.core - Worker 0 starting', ...spaces].join('\n'))).toEqual(expected);
  });

  it("reads newer Jepsen's prefix (date, thread, then the logger) and the nemesis is still skipped", () => {
    const log = [
      'INFO [2018-02-02 14:35:32,541] jepsen worker 3 - jepsen.util 3\t:invoke\t:read\tnil',
      'INFO [2018-02-02 14:35:32,547] jepsen nemesis - jepsen.util :nemesis\t:info\t:start\tnil',
      'INFO [2018-02-02 14:35:32,549] jepsen worker 3 - jepsen.util 3\t:ok\t:read\t2',
    ].join('\n');
    expect(parseHistory(log)).toEqual([
      { process: 3, type: 'invoke', f: 'read' },
      { process: 3, type: 'ok', f: 'read', value: 2 },
    ]);
  });

  it('reads a missing value as nil, and ignores the error named after a :fail or :info value', () => {
    const log = ['2\t:invoke\t:read', '2\t:fail\t:read\tnil\t:timeout', '4\t:invoke\t:write\t1', '4\t:info\t:write\t1\t:timed-out'].join('\n');
    expect(parseHistory(log)).toEqual([
      { process: 2, type: 'invoke', f: 'read' },
      { process: 2, type: 'fail', f: 'read' },
      { process: 4, type: 'invoke', f: 'write', value: 1 },
      { process: 4, type: 'info', f: 'write', value: 1 },
    ]);
    // After an :ok value, more is an error: the value would be misread.
    expect(() => parseHistory('1\t:invoke\t:write\t1\n1\t:ok\t:write\t1 2', 'x.log')).toThrow('x.log:2: cannot read the value "1 2": unexpected "2"');
    expect(() => parseHistory('')).toThrow(HistoryFormatError);
  });

  it('checks a log written with spaces like the same log written with tabs', () => {
    // A cas that succeeded needs the value 0 that nobody wrote: not linearizable either way.
    const lines = ['0 :invoke :write 1', '0 :ok :write 1', '1 :invoke :cas [0 2]', '1 :ok :cas [0 2]'];
    expect(checkLinearizable(parseHistory(lines.join('\n')), 'cas-register').verdict).toBe('not-linearizable');
    expect(checkLinearizable(parseHistory(lines.map((l) => l.replaceAll(' ', '\t').replace('\t[0\t2]', '\t[0 2]')).join('\n')), 'cas-register').verdict).toBe('not-linearizable');
  });
});

describe('histories that pair a completion with nothing', () => {
  it('refuses a completion with no invoke before it, naming the line (Jepsen) or the event (JSON)', () => {
    expect(() => parseJepsenLog('0\t:invoke\t:read\tnil\n0\t:ok\t:read\t1\n1\t:ok\t:write\t3\n')).toThrow(/the log:3: process 1 completes :write \(:ok\) without having invoked it/);
    const json = JSON.stringify([
      { process: 0, type: 'invoke', f: 'write', key: 'a', value: 1 },
      { process: 0, type: 'ok', f: 'write', key: 'a', value: 1 },
      { process: 0, type: 'ok', f: 'read', key: 'a', value: 1 },
    ]);
    expect(() => parseHistory(json, 'h.json')).toThrow(/h\.json, event 2: process 0 completes :read on key "a" \(:ok\) without having invoked it/);
  });

  it('refuses a completion of another operation than the one invoked, or on another key', () => {
    expect(() => parseJepsenLog('2\t:invoke\t:write\t4\n2\t:ok\t:read\t4\n')).toThrow(/the log:2: process 2 completes :read \(:ok\), but it invoked :write \(the log:1\)/);
    const json = JSON.stringify([
      { process: 'c1', type: 'invoke', f: 'read', key: 'a' },
      { process: 'c1', type: 'ok', f: 'read', key: 'b', value: 7 },
    ]);
    expect(() => parseHistory(json, 'h.json')).toThrow(/event 1: process c1 completes :read on key "b" \(:ok\), but it invoked :read on key "a" \(h\.json, event 0\)/);
  });

  it('accepts an operation left without completion (its outcome unknown) followed by the process\'s next', () => {
    expect(parseJepsenLog('0\t:invoke\t:write\t1\n0\t:invoke\t:read\tnil\n0\t:ok\t:read\t1\n')).toHaveLength(3);
  });
});

describe('long lines', () => {
  // A line of 2 MB that looks like many events and is none: read in one pass over its words.
  // The regular expression it replaces took seconds on 200 KB and about 100 times that on 2 MB.
  it('reads a log with a 2 MB line that only looks like events, skipping it', () => {
    const decoy = `${'- 1 :invoke :read '.repeat(110_000)}y\u2028x`;
    const ops = parseJepsenLog(`${decoy}\n0\t:invoke\t:read\tnil\n0\t:ok\t:read\t5\n`);
    expect(ops).toEqual([
      { process: 0, type: 'invoke', f: 'read' },
      { process: 0, type: 'ok', f: 'read', value: 5 },
    ]);
  });
});
