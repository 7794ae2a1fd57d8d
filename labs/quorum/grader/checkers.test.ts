/**
 * The Quorum grader's checkers are pure functions of a history: hand-made histories of
 * puts and gets by a few clients, with faults and what the replicas held, each known to
 * hold or to break one property. Also that each key is judged on its own, and what a
 * report focuses on when a key breaks.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder, type Recorded } from '../../../src/core/grading/history';
import { checkBetweenPhases, checkConcurrentWrites, checkConfig, checkConvergence, checkKeys, checkLinearizableUnderFaults, checkOneDown, checkOtherQuorums, checkPartialWrite, checkStaleReadDemo, checkTwoDown } from './checkers';
import { type CutNote, type PickNote, type QuorumEvent, type QuorumPhaseNote, type ReplicasNote, registerOps } from './history';
import type { OpenInput, Stored, Version } from './protocol';

/** Builds a history as the grader records it, in the grader's own vocabulary. */
class Story {
  private t = 0;
  private readonly recorder = new HistoryRecorder<QuorumEvent>(() => (this.t += 10));

  get events(): readonly QuorumEvent[] {
    return this.recorder.events;
  }

  add(e: Recorded<QuorumEvent>): number {
    return this.recorder.record(e);
  }

  open(client: string, input: OpenInput, answer: { mode: string; conflictPolicy?: string } | string, lane = client): void {
    this.add({ process: lane, type: 'invoke', op: 'open', value: input });
    if (typeof answer === 'string') this.add({ process: lane, type: 'fail', op: 'open', detail: answer });
    else this.add({ process: lane, type: 'ok', op: 'open', value: { conflictPolicy: 'last-write-wins', ...answer } });
  }

  /** A put that completes: ok with its version, or info (a QuorumError; unknown outcome). */
  put(client: string, key: string, value: string, version: Version | 'failed'): [number, number] {
    const i = this.add({ process: client, type: 'invoke', op: 'put', value: { key, value } });
    const j = version === 'failed' ? this.add({ process: client, type: 'info', op: 'put', detail: 'put threw QuorumError: only 1 of 2' }) : this.add({ process: client, type: 'ok', op: 'put', value: { version } });
    return [i, j];
  }

  get(client: string, key: string, read: { value: string | null; version: Version | null } | 'failed'): [number, number] {
    const i = this.add({ process: client, type: 'invoke', op: 'get', value: { key } });
    const j = read === 'failed' ? this.add({ process: client, type: 'fail', op: 'get', detail: 'get threw QuorumError: only 1 of 2' }) : this.add({ process: client, type: 'ok', op: 'get', value: read });
    return [i, j];
  }

  fault(text: string): number {
    return this.add({ process: 'nemesis', type: 'fault', op: text });
  }

  heal(text = 'heal every replica'): number {
    return this.add({ process: 'nemesis', type: 'heal', op: text });
  }

  phase(note: QuorumPhaseNote): number {
    return this.add({ process: 'grader', type: 'note', op: 'expect', value: note });
  }

  cut(note: CutNote): number {
    return this.add({ process: 'grader', type: 'note', op: 'cut', value: note });
  }

  pick(note: PickNote): number {
    return this.add({ process: 'grader', type: 'note', op: 'pick', value: note });
  }

  replicas(key: string, held: readonly (Stored | null | 'unreachable')[]): number {
    return this.add({ process: 'grader', type: 'note', op: 'replicas', value: { key, held } satisfies ReplicasNote });
  }
}

const v = (ts: number, writer = 'client-1'): Version => ({ ts, writer });
const STRICT: OpenInput = { n: 3, r: 2, w: 2 };

describe('registerOps and checkKeys', () => {
  it('pair each invocation with its completion and judge every key on its own', () => {
    const s = new Story();
    s.put('client-1', 'a', 'x', v(1));
    s.put('client-2', 'b', 'y', v(2, 'client-2'));
    s.get('client-1', 'a', { value: 'x', version: v(1) });
    s.get('client-2', 'b', { value: null, version: null });
    const ops = registerOps(s.events);
    expect(ops.map((o) => `${o.f} ${o.key} ${o.outcome}`)).toEqual(['put a ok', 'put b ok', 'get a ok', 'get b ok']);
    const verdicts = checkKeys(s.events);
    expect(verdicts.find((k) => k.key === 'a')?.verdict).toBe('linearizable');
    // b was written (completed), then read as nothing: that key alone breaks.
    const b = verdicts.find((k) => k.key === 'b');
    expect(b?.verdict).toBe('not-linearizable');
    expect(b?.stuck.map((o) => o.f)).toEqual(['get']);
  });

  it('let a failed put take effect or not, but a failed get say nothing', () => {
    const s = new Story();
    s.put('client-1', 'k', 'v1', v(1));
    s.put('client-1', 'k', 'v2', 'failed');
    s.get('client-2', 'k', { value: 'v2', version: v(2) });
    s.get('client-3', 'k', 'failed');
    s.get('client-2', 'k', { value: 'v2', version: v(2) });
    expect(checkKeys(s.events).map((k) => k.verdict)).toEqual(['linearizable']);
  });
});

describe('checkConfig', () => {
  const tried = (answers: Record<string, { mode: string } | string>): readonly QuorumEvent[] => {
    const s = new Story();
    const settings: [string, OpenInput][] = [
      ['strict', { n: 3, r: 2, w: 2 }],
      ['eventual', { n: 3, r: 1, w: 1 }],
      ['allowed', { n: 3, r: 1, w: 1, allowEventual: true }],
      ['too-big', { n: 3, r: 4, w: 2 }],
    ];
    for (const [name, input] of settings) s.open('config-client', input, answers[name] ?? 'ConfigError: refused', 'config');
    return s.events;
  };

  it('passes refusals of R + W ≤ N and impossible settings, and strict quorums as strict', () => {
    expect(checkConfig(tried({ strict: { mode: 'strict' }, allowed: { mode: 'eventual' } })).status).toBe('pass');
  });

  it('fails R + W ≤ N accepted as strict, naming the settings', () => {
    const outcome = checkConfig(tried({ strict: { mode: 'strict' }, eventual: { mode: 'strict' } }));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('N = 3, R = 1, W = 1');
    expect(outcome.hint).toContain('ConfigError');
  });

  it('fails R + W ≤ N refused although allowEventual is true', () => {
    const outcome = checkConfig(tried({ strict: { mode: 'strict' } }));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('allowEventual: true asks for');
  });

  it('fails R + W ≤ N accepted without allowEventual, even flagged as eventual: the opt-in is required', () => {
    const outcome = checkConfig(tried({ strict: { mode: 'strict' }, eventual: { mode: 'eventual' } }));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('without allowEventual');
  });

  it('accepts R + W ≤ N with allowEventual when flagged as eventual, and holds N to the number of replicas given', () => {
    expect(checkConfig(tried({ strict: { mode: 'strict' }, allowed: { mode: 'eventual' } })).status).toBe('pass');
    const five = new Story();
    five.open('config-client', { n: 5, r: 3, w: 3, replicas: 5 }, { mode: 'strict' }, 'config');
    five.open('config-client', { n: 3, r: 2, w: 2, replicas: 5 }, 'ConfigError: N is 3 but 5 replicas', 'config');
    expect(checkConfig(five.events).status).toBe('pass');
    const wrongN = new Story();
    wrongN.open('config-client', { n: 3, r: 2, w: 2, replicas: 5 }, { mode: 'strict' }, 'config');
    expect(checkConfig(wrongN.events).actual).toContain('5 replicas were given');
  });

  it('fails an impossible setting accepted, and a strict quorum refused', () => {
    expect(checkConfig(tried({ strict: { mode: 'strict' }, 'too-big': { mode: 'strict' } })).status).toBe('fail');
    expect(checkConfig(tried({})).actual).toContain('refused N = 3, R = 2, W = 2');
  });
});

describe('availability', () => {
  it('one replica down: a failed operation fails the check and names the fault', () => {
    const s = new Story();
    s.open('client-1', STRICT, { mode: 'strict' });
    s.put('client-1', 'k', 'v0', v(1));
    const fault = s.fault('pause replica-1 (its container is frozen)');
    const [, failed] = s.put('client-1', 'k', 'v1', 'failed');
    const outcome = checkOneDown(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('pause replica-1');
    expect(outcome.culprits).toEqual(expect.arrayContaining([fault, failed]));
  });

  it('one replica down: every operation succeeding with the latest value passes', () => {
    const s = new Story();
    s.put('client-1', 'k', 'v0', v(1));
    s.fault('pause replica-1');
    s.put('client-1', 'k', 'v1', v(2));
    s.get('client-1', 'k', { value: 'v1', version: v(2) });
    s.heal('heal replica-1');
    expect(checkOneDown(s.events).status).toBe('pass');
  });

  it('two replicas down: an answer is a failure; failing is a pass', () => {
    const answered = new Story();
    answered.put('client-1', 'k', 'before', v(1));
    answered.fault('pause replica-2');
    answered.fault('partition replica-3');
    answered.put('client-1', 'k', 'during', 'failed');
    const [, lied] = answered.get('client-1', 'k', { value: 'before', version: v(1) });
    answered.heal();
    const outcome = checkTwoDown(answered.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.culprits).toContain(lied);

    const refused = new Story();
    refused.put('client-1', 'k', 'before', v(1));
    refused.fault('pause replica-2');
    refused.fault('partition replica-3');
    refused.put('client-1', 'k', 'during', 'failed');
    refused.get('client-1', 'k', 'failed');
    refused.heal();
    refused.get('client-1', 'k', { value: 'during', version: v(2) });
    expect(checkTwoDown(refused.events).status).toBe('pass');
  });
});

describe('checkPartialWrite', () => {
  const story = (laterRead: string): { events: readonly QuorumEvent[]; stale: number[] } => {
    const s = new Story();
    s.put('client-1', 'partial:k', 'v1', v(1));
    s.put('client-9', 'partial:k', 'v2', 'failed');
    s.get('client-2', 'partial:k', { value: 'v2', version: v(1001, 'client-9') });
    const stale = s.get('client-3', 'partial:k', laterRead === 'v1' ? { value: 'v1', version: v(1) } : { value: 'v2', version: v(1001, 'client-9') });
    return { events: s.events, stale };
  };

  it('fails a read that goes back to the older value, blaming it and focusing on the key', () => {
    const { events, stale } = story('v1');
    const outcome = checkPartialWrite(events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('went back to an older value');
    expect(outcome.hint).toContain('read repair');
    expect(outcome.culprits).toEqual(expect.arrayContaining(stale));
    expect(outcome.focus).toMatchObject({ label: 'key partial:k', processes: [] });
    expect(outcome.focus?.events).toEqual(expect.arrayContaining(stale));
  });

  it('passes when the later read sees the newer value too', () => {
    expect(checkPartialWrite(story('v2').events).status).toBe('pass');
  });
});

describe('checkLinearizableUnderFaults', () => {
  it('draws one timeline per key that broke', () => {
    const s = new Story();
    for (const key of ['a', 'b']) {
      s.put('client-1', key, 'x', v(5));
      s.get('client-2', key, { value: null, version: null });
    }
    s.put('client-1', 'c', 'y', v(5));
    s.get('client-2', 'c', { value: 'y', version: v(5) });
    const outcome = checkLinearizableUnderFaults(s.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.focus?.label).toBe('key a');
    expect(outcome.moreFocus?.map((f) => f.label)).toEqual(['key b']);
    expect(outcome.actual).toContain('1 more key (b)');
  });

  it('fails an operation that hung', () => {
    const s = new Story();
    s.add({ process: 'client-1', type: 'invoke', op: 'put', value: { key: 'a', value: 'x' } });
    s.add({ process: 'client-1', type: 'info', op: 'put', detail: 'put did not finish within 5000 ms, so its process was killed.' });
    expect(checkLinearizableUnderFaults(s.events).actual).toContain('did not return');
  });

  it('says unknown when the search runs out of budget, never pass', () => {
    // Many concurrent writes of distinct values, all unknown, and reads that fit none: a wide search.
    const s = new Story();
    for (let i = 0; i < 14; i++) s.add({ process: `w${i}`, type: 'invoke', op: 'put', value: { key: 'k', value: `v${i}` } });
    s.get('r', 'k', { value: 'nobody-wrote-this', version: v(99) });
    const verdicts = checkKeys(s.events, 10);
    expect(verdicts[0]?.verdict).toBe('unknown');
  });
});

describe('checkConcurrentWrites', () => {
  const round = (versions: Version[], held: (Stored | null | 'unreachable')[], reads?: string[]): readonly QuorumEvent[] => {
    const s = new Story();
    versions.forEach((_, i) => s.open(`client-${i + 1}`, STRICT, { mode: 'strict' }));
    versions.forEach((version, i) => s.put(`client-${i + 1}`, 'lww:k1', `w${i + 1}`, version));
    const winner = held[0] !== 'unreachable' && held[0] !== null && held[0] !== undefined ? held[0].value : null;
    versions.forEach((_, i) => s.get(`client-${i + 1}`, 'lww:k1', { value: reads?.[i] ?? winner, version: null }));
    s.replicas('lww:k1', held);
    return s.events;
  };
  const stored = (value: string, version: Version): Stored => ({ value, version });

  it('passes one winner everywhere, the newest version, and says last-write-wins lost the others', () => {
    const w3 = stored('w3', v(7, 'client-3'));
    const outcome = checkConcurrentWrites(round([v(7, 'client-1'), v(7, 'client-2'), v(7, 'client-3')], [w3, w3, w3]));
    expect(outcome.status).toBe('pass');
    expect(outcome.actual).toMatch(/Last-write-wins.*'w3'.*won over 2 concurrent writes/);
  });

  it('fails two writes given the same version', () => {
    const w1 = stored('w1', v(7, ''));
    const outcome = checkConcurrentWrites(round([v(7, ''), v(7, '')], [w1, w1, w1]));
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toContain('options.id');
  });

  it('fails replicas that disagree, and a merged value', () => {
    const a = stored('w1', v(7, 'client-1'));
    const b = stored('w2', v(7, 'client-2'));
    expect(checkConcurrentWrites(round([v(7, 'client-1'), v(7, 'client-2')], [b, a, b])).status).toBe('fail');
    const merged = stored('w1+w2', v(7, 'client-2'));
    const outcome = checkConcurrentWrites(round([v(7, 'client-1'), v(7, 'client-2')], [merged, merged, merged]));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('a merge');
  });

  it('fails a coordinator that does not declare last-write-wins', () => {
    const s = new Story();
    s.open('client-1', STRICT, { mode: 'strict', conflictPolicy: 'merge' });
    expect(checkConcurrentWrites(s.events).actual).toContain('"merge"');
  });
});

describe('checkConvergence', () => {
  it('fails a replica still behind after healing and the reads, and passes when all caught up', () => {
    const behind = new Story();
    behind.put('client-1', 'conv:k1', 'v0', v(1));
    behind.fault('partition replica-3');
    behind.put('client-1', 'conv:k1', 'v1', v(2));
    behind.heal('heal replica-3');
    behind.get('client-2', 'conv:k1', { value: 'v1', version: v(2) });
    const new1 = { value: 'v1', version: v(2) };
    behind.replicas('conv:k1', [new1, new1, { value: 'v0', version: v(1) }]);
    const outcome = checkConvergence(behind.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain("replica-3 holds 'v0'");

    const caughtUp = new Story();
    caughtUp.put('client-1', 'conv:k1', 'v1', v(2));
    caughtUp.replicas('conv:k1', [new1, new1, new1]);
    expect(checkConvergence(caughtUp.events).status).toBe('pass');
  });
});

describe('checkStaleReadDemo', () => {
  it('shows a stale read as a pass (not graded) and says unknown when there was none, or when R = W = 1 was refused', () => {
    const stale = new Story();
    stale.open('client-1', { n: 3, r: 1, w: 1, allowEventual: true }, { mode: 'eventual' });
    stale.put('client-1', 'demo:k', 'old', v(1));
    stale.put('client-1', 'demo:k', 'new', v(2));
    stale.get('client-2', 'demo:k', { value: 'old', version: v(1) });
    const shown = checkStaleReadDemo(stale.events);
    expect(shown.status).toBe('pass');
    expect(shown.actual).toContain("client-2 get demo:k → 'old'");

    const fresh = new Story();
    fresh.put('client-1', 'demo:k', 'new', v(2));
    fresh.get('client-2', 'demo:k', { value: 'new', version: v(2) });
    expect(checkStaleReadDemo(fresh.events).status).toBe('unknown');

    const refused = new Story();
    refused.open('client-1', { n: 3, r: 1, w: 1, allowEventual: true }, 'ConfigError: never eventual');
    expect(checkStaleReadDemo(refused.events).actual).toContain('refused');
  });
});

describe('checkOtherQuorums', () => {
  const story = (down: readonly number[], put: Version | 'failed', get: { value: string; version: Version } | 'failed'): readonly QuorumEvent[] => {
    const s = new Story();
    s.phase({ key: 'q:n3-r1-w3', n: 3, r: 1, w: 3, down: [] });
    s.put('client-1', 'q:n3-r1-w3', 'one', v(1));
    s.phase({ key: 'q:n3-r1-w3', n: 3, r: 1, w: 3, down });
    s.put('client-1', 'q:n3-r1-w3', 'two', put);
    s.get('client-2', 'q:n3-r1-w3', get);
    return s.events;
  };

  it('passes operations that succeed when their quorums can answer and fail when they cannot', () => {
    expect(checkOtherQuorums(story([2], 'failed', 'failed')).status).toBe('pass');
    // A get with R = 1 may answer with one replica down when no repair is needed.
    expect(checkOtherQuorums(story([2], 'failed', { value: 'one', version: v(1) })).status).toBe('pass');
  });

  it('fails a put acknowledged with fewer than W replicas up (W read as R, or as a majority)', () => {
    const outcome = checkOtherQuorums(story([2], v(2), { value: 'two', version: v(2) }));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('fewer than W = 3');
    expect(outcome.hint).toContain('W for every write phase');
  });

  it('fails an operation that failed while every replica it needed was up', () => {
    const outcome = checkOtherQuorums(story([], 'failed', { value: 'one', version: v(1) }));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('enough for both R = 1 and W = 3');
  });

  it('fails a read that answered with fewer than R replicas up', () => {
    const s = new Story();
    s.phase({ key: 'q:n3-r3-w1', n: 3, r: 3, w: 1, down: [0] });
    s.get('client-1', 'q:n3-r3-w1', { value: null, version: null });
    expect(checkOtherQuorums(s.events).actual).toContain('fewer than R = 3');
  });
});

describe('checkBetweenPhases', () => {
  const story = (put: Version | 'failed', get: { value: string; version: Version } | 'failed'): readonly QuorumEvent[] => {
    const s = new Story();
    s.put('client-1', 'mid:put', 'before', v(1));
    s.cut({ key: 'mid:put', op: 'put', reachable: ['replica-1'], w: 2, expect: 'fail' });
    s.put('client-1', 'mid:put', 'cut-write', put);
    s.put('client-1', 'mid:repair', 'v1', v(5));
    s.cut({ key: 'mid:repair', op: 'get', reachable: ['replica-1'], w: 2, expect: 'fail', unsafe: 'v2' });
    s.get('client-3', 'mid:repair', get);
    return s.events;
  };

  it('passes a put and a get that fail when their write phase reaches one replica, and a get that read a safe value', () => {
    expect(checkBetweenPhases(story('failed', 'failed')).status).toBe('pass');
    expect(checkBetweenPhases(story('failed', { value: 'v1', version: v(5) })).status).toBe('pass');
  });

  it('fails a put that returned although its write reached one replica', () => {
    const outcome = checkBetweenPhases(story(v(2), 'failed'));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain("put mid:put = 'cut-write' succeeded");
  });

  it('fails a get whose answers agreed when it failed, or wrote to a replica, with every replica cut off at its next write', () => {
    const agreed = (get: { value: string; version: Version } | 'failed', reached: string[]): readonly QuorumEvent[] => {
      const s = new Story();
      s.put('client-1', 'mid:agreed', 'same', v(1));
      s.cut({ key: 'mid:agreed', op: 'get', reachable: [], w: 2, expect: 'ok' });
      s.get('client-1', 'mid:agreed', get);
      s.add({ process: 'grader', type: 'note', op: 'writes', value: { key: 'mid:agreed', reached } });
      return s.events;
    };
    expect(checkBetweenPhases(agreed({ value: 'same', version: v(1) }, [])).status).toBe('pass');
    const failed = checkBetweenPhases(agreed('failed', []));
    expect(failed.status).toBe('fail');
    expect(failed.actual).toContain('nothing to write back');
    const wrote = checkBetweenPhases(agreed({ value: 'same', version: v(1) }, ['replica-3']));
    expect(wrote.status).toBe('fail');
    expect(wrote.actual).toContain('wrote to replica-3');
  });

  it('fails a get that returned the value its failed read repair could not make safe', () => {
    const outcome = checkBetweenPhases(story('failed', { value: 'v2', version: v(1005, 'client-9') }));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain('read repair');
    expect(outcome.hint).toContain('second quorum');
  });
});

describe('checkConcurrentWrites on differing answers', () => {
  const picked = (read: string): readonly QuorumEvent[] => {
    const s = new Story();
    s.pick({ key: 'lww:answers-differ-in-digits', placed: [{ value: 'b-older', version: v(99_999, 'client-9') }, { value: 'a-newest', version: v(100_000) }], expect: 'a-newest' });
    s.get('client-6', 'lww:answers-differ-in-digits', { value: read, version: read === 'a-newest' ? v(100_000) : v(99_999, 'client-9') });
    s.put('client-1', 'lww:k1', 'x', v(3));
    s.get('client-1', 'lww:k1', { value: 'x', version: v(3) });
    s.replicas('lww:k1', [{ value: 'x', version: v(3) }, { value: 'x', version: v(3) }, { value: 'x', version: v(3) }]);
    return s.events;
  };

  it('passes the newest version chosen, and fails another, naming the rule', () => {
    expect(checkConcurrentWrites(picked('a-newest')).status).toBe('pass');
    const outcome = checkConcurrentWrites(picked('b-older'));
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toContain("the newest version is 'a-newest'");
    expect(outcome.hint).toContain('as text');
  });
});
