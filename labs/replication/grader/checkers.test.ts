/**
 * The Replication checkers on hand-made histories: each passes what it should and fails the
 * failure it names, pointing at the events to blame.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder, type Recorded } from '../../../src/core/grading/history';
import { checkFailover, checkLag, checkLsnOrder, checkMonotonicReads, checkReadYourWrites, checkReadsScale, checkStandbyDown, checkStandbySetUp } from './checkers';
import type { FailoverTruth, LagTruth, LsnTruth, ReplicationEvent, SetUpTruth, SynchronousTruth } from './history';

function history(events: readonly Recorded<ReplicationEvent>[]): readonly ReplicationEvent[] {
  let now = 0;
  const recorder = new HistoryRecorder<ReplicationEvent>(() => (now += 1));
  for (const e of events) recorder.record(e);
  return recorder.events;
}

const onStandby = { ranOn: ['postgres-2'], refusedAsReadOnly: false };
const onPrimary = { ranOn: ['postgres'], refusedAsReadOnly: false };

function write(session: string, key: string, version: number): Recorded<ReplicationEvent>[] {
  return [
    { type: 'invoke', op: 'write', process: `session:${session}`, value: { key, version } },
    { type: 'ok', op: 'write', process: `session:${session}`, value: { ...onPrimary, ms: 3 } },
  ];
}

function read(session: string, key: string, version: number, on: 'primary' | 'standby', standbyIs: 'fresh' | 'behind' | 'catching-up' | 'down' | 'unknown' = 'unknown', ms = 5): Recorded<ReplicationEvent>[] {
  return [
    { type: 'invoke', op: 'read', process: `session:${session}`, value: { key, standbyIs } },
    { type: 'ok', op: 'read', process: `session:${session}`, value: { ...(on === 'standby' ? onStandby : onPrimary), version, from: on, ms } },
  ];
}

const limits = { standby: 'postgres-2', resumedAfterMs: 40 };

describe('checkReadYourWrites', () => {
  it('passes reads that see the session\'s own writes, and fails the first that does not, blaming the write and the read', () => {
    expect(checkReadYourWrites(history([...write('s1', 'a', 1), ...read('s1', 'a', 1, 'primary'), ...read('s2', 'a', 0, 'standby')]), limits).status).toBe('pass');
    const h = history([...write('s1', 'a', 1), ...write('s1', 'a', 2), ...read('s1', 'a', 1, 'standby')]);
    const verdict = checkReadYourWrites(h, limits);
    expect(verdict.status).toBe('fail');
    expect(verdict.actual).toMatch(/wrote version 2 of a, then read version 1 \(answered by postgres-2\)/);
    expect(verdict.culprits).toEqual([2, 3, 4, 5]);
    expect(verdict.focus?.processes).toEqual(['session:s1']);
  });

  it('fails a read the primary answered though the standby caught up early in its wait', () => {
    expect(checkReadYourWrites(history([...write('s1', 'a', 1), ...read('s1', 'a', 1, 'standby', 'catching-up')]), limits).status).toBe('pass');
    const verdict = checkReadYourWrites(history([...write('s1', 'a', 1), ...read('s1', 'a', 1, 'primary', 'catching-up')]), limits);
    expect(verdict.status).toBe('fail');
    expect(verdict.actual).toMatch(/answered by the primary, though the standby's replay resumed 40 ms into the read's wait/);
    expect(verdict.culprits).toEqual([2, 3]);
  });

  it('fails a read that hung, as an unbounded wait', () => {
    const verdict = checkReadYourWrites(
      history([
        ...write('s1', 'a', 1),
        ...read('s1', 'a', 1, 'primary'),
        { type: 'invoke', op: 'read', process: 'session:s1', value: { key: 'a', standbyIs: 'behind' } },
        { type: 'fail', op: 'read', process: 'session:s1', value: { ranOn: [], refusedAsReadOnly: false, message: 'Timeout', ms: 5000, hung: true } },
      ]),
      limits,
    );
    expect(verdict.status).toBe('fail');
    expect(verdict.hint).toMatch(/Bound every wait/);
  });

  it('is unknown when the scenario could not set up its pair', () => {
    expect(checkReadYourWrites(history([{ type: 'note', op: 'precondition', process: 'grader', detail: 'no pair' }]), limits).status).toBe('unknown');
  });
});

describe('checkMonotonicReads', () => {
  it('fails a session that reads an older version than one it read before, not one another session read', () => {
    expect(checkMonotonicReads(history([...read('s1', 'k', 2, 'primary', 'down'), ...read('s2', 'k', 1, 'standby', 'behind'), ...read('s1', 'k', 2, 'primary', 'behind')])).status).toBe('pass');
    const verdict = checkMonotonicReads(history([...read('s1', 'k', 2, 'primary', 'down'), ...read('s1', 'k', 1, 'standby', 'behind')]));
    expect(verdict.status).toBe('fail');
    expect(verdict.actual).toMatch(/read version 2 of k, then version 1/);
  });
});

describe('checkStandbyDown', () => {
  const limits = { answerWithinMs: 2_000, standby: 'postgres-2' };
  it('passes reads answered in time with the standby down', () => {
    expect(checkStandbyDown(history([...read('s1', 'a', 1, 'primary', 'down', 450), ...write('s1', 'a', 2)]), limits).status).toBe('pass');
  });
  it('fails a read that threw, a slow one, and a write sent to the standby', () => {
    expect(
      checkStandbyDown(
        history([
          { type: 'invoke', op: 'read', process: 'session:s1', value: { key: 'a', standbyIs: 'down' } },
          { type: 'fail', op: 'read', process: 'session:s1', value: { ranOn: [], refusedAsReadOnly: false, message: 'Error: connect ECONNREFUSED', ms: 3, hung: false } },
        ]),
        limits,
      ).actual,
    ).toMatch(/threw: Error: connect ECONNREFUSED/);
    expect(checkStandbyDown(history(read('s1', 'a', 1, 'primary', 'down', 2_500)), limits).actual).toMatch(/took 2500 ms/);
    const misrouted = history([
      { type: 'invoke', op: 'write', process: 'session:s1', value: { key: 'a', version: 1 } },
      { type: 'fail', op: 'write', process: 'session:s1', value: { ranOn: ['postgres-2'], refusedAsReadOnly: true, message: 'read-only', ms: 2, hung: false } },
      ...read('s1', 'a', 0, 'primary', 'down'),
    ]);
    expect(checkStandbyDown(misrouted, limits).actual).toMatch(/sent to the standby, which refused it \(25006\)/);
  });
});

describe('checkReadsScale', () => {
  it('passes when most fresh reads are on the standby, fails when the primary answers them', () => {
    const limits = { standby: 'postgres-2', atLeast: 0.8 };
    expect(checkReadsScale(history([...read('s1', 'a', 1, 'standby', 'fresh'), ...read('s1', 'a', 1, 'standby', 'fresh')]), limits).status).toBe('pass');
    const verdict = checkReadsScale(history([...read('s1', 'a', 1, 'standby', 'fresh'), ...read('s1', 'a', 1, 'primary', 'fresh')]), limits);
    expect(verdict.status).toBe('fail');
    expect(verdict.actual).toMatch(/only 1 of 2 reads/);
  });
  it('fails a write that threw, though every read was on the standby', () => {
    const limits = { standby: 'postgres-2', atLeast: 0.8 };
    const verdict = checkReadsScale(
      history([
        { type: 'invoke', op: 'write', process: 'session:s1', value: { key: 'a', version: 1 } },
        { type: 'fail', op: 'write', process: 'session:s1', value: { ranOn: [], refusedAsReadOnly: false, message: 'bind message supplies 1 parameters, but prepared statement "" requires 0', ms: 3, hung: false } },
        ...read('s1', 'a', 0, 'standby', 'fresh'),
      ]),
      limits,
    );
    expect(verdict.status).toBe('fail');
    expect(verdict.actual).toMatch(/session s1's write of a threw: bind message/);
  });
});

describe('checkLag', () => {
  const slack = { slackBytes: 100, slackSeconds: 0.5 };
  const lag = (value: Partial<LagTruth>): Recorded<ReplicationEvent> => ({
    type: 'note',
    op: 'lag',
    process: 'grader',
    value: { phase: 'behind', answered: true, bytesBefore: 5_000, bytesAfter: 5_200, replayLsn: '0/3000000', secondsBefore: 1.2, secondsAfter: 1.3, reported: { bytes: 5_100, seconds: 1.25, primaryLsn: '0/30013EC', replayLsn: '0/3000000' }, ...value },
  });
  it('passes a report within the grader\'s measurement', () => {
    expect(checkLag(history([lag({})]), slack).status).toBe('pass');
  });
  it('fails bytes from the wrong side (received, not replayed), seconds in milliseconds, and a caught-up standby with seconds', () => {
    expect(checkLag(history([lag({ reported: { bytes: 0, seconds: 1.25, primaryLsn: 'x', replayLsn: 'y' } })]), slack).hint).toMatch(/replayed, not what it has received/);
    expect(checkLag(history([lag({ reported: { bytes: 5_100, seconds: 1250, primaryLsn: 'x', replayLsn: 'y' } })]), slack).hint).toMatch(/not milliseconds/);
    expect(checkLag(history([lag({ phase: 'caught-up', bytesBefore: 0, bytesAfter: 0, reported: { bytes: 0, seconds: 42, primaryLsn: 'x', replayLsn: 'y' } })]), slack).actual).toMatch(/0 bytes behind/);
  });
});

describe('checkStandbySetUp', () => {
  const truth = (value: Partial<SetUpTruth>): Recorded<ReplicationEvent> => ({
    type: 'note',
    op: 'set-up',
    process: 'grader',
    value: {
      answered: true,
      standbyInRecovery: true,
      senders: [{ state: 'streaming', slot: 'standby_x', user: 'replicator_x' }],
      slots: [{ name: 'standby_x', type: 'physical', active: true }],
      roleIsSuperuser: false,
      rowReplicated: true,
      writeOnStandby: '25006',
      senderBefore: 40,
      senderAfterAgain: 40,
      againAnswered: true,
      hbaChangedByRunAgain: false,
      passwordOnCommandLine: false,
      ...value,
    },
  });
  it('passes a streaming standby through a slot, and fails each missing part', () => {
    expect(checkStandbySetUp(history([truth({})])).status).toBe('pass');
    expect(checkStandbySetUp(history([truth({ answered: false, error: 'no pg_hba.conf entry' })])).actual).toMatch(/threw: no pg_hba.conf entry/);
    expect(checkStandbySetUp(history([truth({ standbyInRecovery: false })])).actual).toMatch(/not in recovery/);
    expect(checkStandbySetUp(history([truth({ senders: [{ state: 'streaming', slot: null, user: 'r' }] })])).actual).toMatch(/without a replication slot/);
    expect(checkStandbySetUp(history([truth({ roleIsSuperuser: true })])).actual).toMatch(/superuser/);
    expect(checkStandbySetUp(history([truth({ passwordOnCommandLine: true })])).hint).toMatch(/PGPASSWORD/);
    expect(checkStandbySetUp(history([truth({ senderAfterAgain: 41 })])).actual).toMatch(/made it anew/);
    expect(checkStandbySetUp(history([truth({ hbaChangedByRunAgain: true })])).actual).toMatch(/changed pg_hba.conf/);
  });
});

describe('checkFailover', () => {
  const sync = (value: Partial<SynchronousTruth>): Recorded<ReplicationEvent> => ({
    type: 'note',
    op: 'synchronous',
    process: 'grader',
    value: { answered: true, becameSync: true, acknowledged: ['sync-0', 'sync-1'], notOnStandby: [], commitWaited: true, applyWaited: true, offAnswered: true, ...value },
  });
  const over = (value: Partial<FailoverTruth>): Recorded<ReplicationEvent> => ({
    type: 'note',
    op: 'failover',
    process: 'grader',
    value: { answered: true, acknowledged: ['kept-0', 'lost-0', 'lost-1'], lost: ['lost-0', 'lost-1'], reportedLost: ['lost-0', 'lost-1'], promoted: true, staleWrite: 'refused', writesAfter: [onStandby], ...value },
  });
  it('passes exact counts, a fenced old primary and remote_apply that waited', () => {
    expect(checkFailover(history([sync({}), over({})])).status).toBe('pass');
  });
  it('fails a split brain, a miscount either way, and remote_apply that did not wait', () => {
    expect(checkFailover(history([sync({}), over({ staleWrite: 'accepted' })])).actual).toMatch(/old primary took a write/);
    expect(checkFailover(history([sync({}), over({ reportedLost: ['lost-1'] })])).actual).toMatch(/2 acknowledged writes were lost \(lost-0, lost-1\); failover reported 1/);
    expect(checkFailover(history([sync({}), over({ reportedLost: ['kept-0', 'lost-0', 'lost-1'] })])).status).toBe('fail');
    expect(checkFailover(history([sync({ commitWaited: false, notOnStandby: ['sync-waiting'] }), over({})])).actual).toMatch(/not on the standby/);
    expect(checkFailover(history([sync({ becameSync: false }), over({})])).actual).toMatch(/never became synchronous/);
    expect(checkFailover(history([sync({ applyWaited: false }), over({})])).hint).toMatch(/remote_apply', not 'on'/);
  });
});

describe('checkLsnOrder', () => {
  const ok = (value: string) => ({ ok: true as const, value });
  const threw = { ok: false as const, error: 'not an LSN' };
  const truth = (value: Partial<LsnTruth>): Recorded<ReplicationEvent> => ({
    type: 'note',
    op: 'lsn',
    process: 'grader',
    value: {
      answered: true,
      parsed: [
        { text: '16/B374D848', expected: String((0x16n << 32n) + 0xb374d848n), got: ok(String((0x16n << 32n) + 0xb374d848n)) },
        { text: '0/1x', expected: null, got: threw },
      ],
      compared: [{ a: '0/F000000', b: '0/10000000', expected: -1, got: ok('-1') }],
      ...value,
    },
  });
  it('passes positions read and ordered as numbers, and fails a misread, an accepted non-LSN and a misordered pair', () => {
    expect(checkLsnOrder(history([truth({})])).status).toBe('pass');
    expect(checkLsnOrder(history([truth({ parsed: [{ text: '16/B374D848', expected: '97500059720', got: ok('3010779208') }] })])).actual).toMatch(/parseLsn\("16\/B374D848"\) returned 3010779208; that LSN is the position 97500059720/);
    expect(checkLsnOrder(history([truth({ parsed: [{ text: '0/1x', expected: null, got: ok('1') }] })])).actual).toMatch(/parseLsn\("0\/1x"\) returned 1: that text is no LSN/);
    const misordered = checkLsnOrder(history([truth({ compared: [{ a: '0/F000000', b: '0/10000000', expected: -1, got: ok('1') }] })]));
    expect(misordered.actual).toMatch(/compareLsn\("0\/F000000", "0\/10000000"\) said after; the first is before the second/);
    expect(checkLsnOrder(history([truth({ answered: false, error: 'no parseLsn' })])).status).toBe('fail');
    expect(checkLsnOrder(history([])).status).toBe('unknown');
  });
});
