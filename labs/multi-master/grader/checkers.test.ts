/**
 * The Multi-Master checkers on hand-made histories: the causal order rebuilt from
 * deliveries, and each checker's pass and fail on small runs written out event by event.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder } from '../../../src/core/grading/history';
import { checkAtomicApply, checkCart, checkConvergence, checkCounter, checkIdempotence, checkLwwConflicts, checkLwwWinner, checkRestart, expectedCart, expectedCount } from './checkers';
import { GRADER, Knowledge, type MultiMasterEvent, type OpName, type RegionState, operationsOf } from './history';

/** A history written by hand: every event one tick after the last (or at the same time, with `same`). */
class Run {
  private t = 0;
  readonly h = new HistoryRecorder<MultiMasterEvent>(() => this.t);
  private message = 0;

  tick(same = false): void {
    if (!same) this.t += 1;
  }

  op(region: string, op: OpName, key: string, value?: string, outcome: 'ok' | 'info' = 'ok'): this {
    this.tick();
    this.h.record({ process: region, type: 'invoke', op, value: value === undefined ? { key } : { key, value } });
    this.tick();
    if (outcome === 'ok') this.h.record({ process: region, type: 'ok', op, value: { result: null } });
    else this.h.record({ process: region, type: 'info', op, detail: 'no answer' });
    return this;
  }

  /** A message sent now; returns its id. */
  send(from: string, to: string): string {
    this.tick();
    const id = `m${++this.message}`;
    this.h.record({ process: from, type: 'note', op: 'send', value: { to, body: {} }, message: id });
    return id;
  }

  receive(to: string, id: string, from: string, same = false): this {
    this.tick(same);
    this.h.record({ process: to, type: 'invoke', op: 'receive', value: { from }, message: id });
    this.tick(same);
    this.h.record({ process: to, type: 'ok', op: 'receive' });
    return this;
  }

  state(label: string, regions: readonly Partial<RegionState>[]): this {
    this.tick();
    const full = regions.map((r) => ({ region: r.region ?? '?', profiles: r.profiles ?? {}, conflicts: r.conflicts ?? {}, carts: r.carts ?? {}, likes: r.likes ?? {}, ...(r.openSessions !== undefined ? { openSessions: r.openSessions } : {}) }));
    this.h.record({ process: GRADER, type: 'note', op: 'state', value: { label, regions: full } });
    return this;
  }

  get events(): readonly MultiMasterEvent[] {
    return this.h.events;
  }
}

const three = <T>(kind: 'profiles' | 'carts' | 'likes' | 'conflicts', values: readonly T[]): Partial<RegionState>[] =>
  ['eu', 'us', 'ap'].map((region, i) => ({ region, [kind]: values[i] }) as Partial<RegionState>);

describe('the causal order rebuilt from deliveries', () => {
  it('a write knows what its region received before it, through the sender, and nothing it did not receive', () => {
    const r = new Run();
    r.op('eu', 'setProfile', 'u', 'a');
    const m = r.send('eu', 'us');
    r.send('eu', 'ap');
    r.receive('us', m, 'eu');
    r.op('us', 'setProfile', 'u', 'b');
    r.op('ap', 'setProfile', 'u', 'c');
    const k = new Knowledge(r.events, (o) => o.op === 'setProfile');
    const [a, b, c] = k.operations;
    expect(k.before(a!, b!)).toBe(true);
    expect(k.before(a!, c!)).toBe(false);
    expect(k.before(b!, a!)).toBe(false);
  });

  it('is transitive: a message carries what its sender knew when it sent it', () => {
    const r = new Run();
    r.op('eu', 'addToCart', 'c', 'x');
    r.receive('us', r.send('eu', 'us'), 'eu');
    r.op('us', 'addToCart', 'c', 'y');
    r.receive('ap', r.send('us', 'ap'), 'us');
    r.op('ap', 'removeFromCart', 'c', 'x');
    const k = new Knowledge(r.events, () => true);
    const [x, , remove] = k.operations;
    expect(k.before(x!, remove!)).toBe(true);
  });

  it('goes by the order of events, not their times: a receipt recorded at the same instant as a write is still before it', () => {
    const r = new Run();
    r.op('eu', 'setProfile', 'u', 'a');
    const m = r.send('eu', 'us');
    r.receive('us', m, 'eu', true);
    r.h.record({ process: 'us', type: 'invoke', op: 'setProfile', value: { key: 'u', value: 'b' } });
    r.h.record({ process: 'us', type: 'ok', op: 'setProfile', value: { result: null } });
    const k = new Knowledge(r.events, () => true);
    expect(k.before(k.operations[0]!, k.operations[1]!)).toBe(true);
  });
});

describe('checkCounter', () => {
  const likes = (r: Run): Run => r.op('eu', 'like', 'p').op('us', 'like', 'p').op('ap', 'unlike', 'p');

  it('passes when every region counts the acknowledged likes minus unlikes', () => {
    expect(checkCounter(likes(new Run()).state('final', three('likes', [{ p: 1 }, { p: 1 }, { p: 1 }])).events).status).toBe('pass');
  });

  it('fails a count that counted a like twice, even when every region agrees', () => {
    const v = checkCounter(likes(new Run()).state('final', three('likes', [{ p: 2 }, { p: 2 }, { p: 2 }])).events);
    expect(v.status).toBe('fail');
    expect(v.actual).toMatch(/counts 2 likes for p; the acknowledged likes and unlikes add up to 1/);
  });

  it('fails regions that disagree, and allows a failed like to count or not', () => {
    expect(checkCounter(likes(new Run()).state('final', three('likes', [{ p: 1 }, { p: 0 }, { p: 1 }])).events).actual).toMatch(/hold different like counts/);
    const r = likes(new Run()).op('eu', 'like', 'p', undefined, 'info');
    expect(expectedCount(operationsOf(r.events), 'p')).toMatchObject({ low: 1, high: 2 });
    expect(checkCounter(r.state('final', three('likes', [{ p: 2 }, { p: 2 }, { p: 2 }])).events).status).toBe('pass');
  });

  it('is unknown without the final read, and fails a region that could not be read', () => {
    expect(checkCounter(likes(new Run()).events).status).toBe('unknown');
    const r = likes(new Run());
    r.h.record({ process: GRADER, type: 'note', op: 'state', value: { label: 'final', regions: [{ region: 'eu', unreadable: 'StoreError' }] } });
    expect(checkCounter(r.events).actual).toMatch(/region eu could not be read/);
  });
});

describe('the OR-Set against the causal history', () => {
  it('an add concurrent with a remove survives; an add the remove saw does not', () => {
    const r = new Run();
    r.op('eu', 'addToCart', 'c', 'milk');
    r.receive('us', r.send('eu', 'us'), 'eu');
    r.op('us', 'removeFromCart', 'c', 'milk');
    r.op('eu', 'addToCart', 'c', 'milk');
    expect([...expectedCart(r.events, 'c').must]).toEqual(['milk']);
    const seen = new Run();
    seen.op('eu', 'addToCart', 'c', 'milk');
    seen.receive('us', seen.send('eu', 'us'), 'eu');
    seen.op('us', 'removeFromCart', 'c', 'milk');
    expect([...expectedCart(seen.events, 'c').must]).toEqual([]);
  });

  it('fails an item a remove had seen, and a surviving add that is missing', () => {
    const r = new Run();
    r.op('eu', 'addToCart', 'c', 'tea');
    r.receive('us', r.send('eu', 'us'), 'eu');
    r.op('us', 'removeFromCart', 'c', 'tea');
    r.op('ap', 'addToCart', 'c', 'jam');
    const extra = checkCart(new Run().op('eu', 'addToCart', 'c', 'tea').events);
    expect(extra.status).toBe('unknown');
    const back = checkCart(r.state('final', three('carts', [{ c: ['jam', 'tea'] }, { c: ['jam', 'tea'] }, { c: ['jam', 'tea'] }])).events);
    expect(back.status).toBe('fail');
    expect(back.actual).toMatch(/'tea' was removed by us removeFromCart\(c, 'tea'\)/);
    const r2 = new Run();
    r2.op('ap', 'addToCart', 'c', 'jam');
    const missing = checkCart(r2.state('final', three('carts', [{ c: [] }, { c: [] }, { c: [] }])).events);
    expect(missing.actual).toMatch(/'jam' must be there/);
  });

  it('atomic-apply fails a region that left sessions open', () => {
    const r = new Run();
    r.op('eu', 'addToCart', 'c', 'jam');
    r.state('final', ['eu', 'us', 'ap'].map((region) => ({ region, carts: { c: ['jam'] }, openSessions: region === 'us' ? 3 : 0 })));
    const v = checkAtomicApply(r.events);
    expect(v.status).toBe('fail');
    expect(v.actual).toMatch(/region us still had 3 session\(s\) open/);
  });

  it('passes the exact set, and the restart and atomic-apply checks read carts the same way', () => {
    const r = new Run();
    r.op('eu', 'addToCart', 'c', 'jam').op('eu', 'like', 'p');
    r.state('final', ['eu', 'us', 'ap'].map((region) => ({ region, carts: { c: ['jam'] }, likes: { p: 1 } })));
    expect(checkCart(r.events).status).toBe('pass');
    expect(checkRestart(r.events).status).toBe('pass');
    expect(checkAtomicApply(r.events).status).toBe('pass');
  });
});

describe('last-write-wins', () => {
  /** eu writes a; us receives it and writes b (later); ap writes c concurrently with both. */
  const run = (): Run => {
    const r = new Run();
    r.op('eu', 'setProfile', 'u', 'a');
    r.receive('us', r.send('eu', 'us'), 'eu');
    r.op('us', 'setProfile', 'u', 'b');
    r.op('ap', 'setProfile', 'u', 'c');
    return r;
  };
  const final = (value: string, reports: readonly (readonly string[])[]): Partial<RegionState>[] =>
    ['eu', 'us', 'ap'].map((region, i) => ({ region, profiles: { u: value }, conflicts: { u: reports[i] ?? [] } }));

  it('passes a maximal winner, and fails a write that a later write had seen', () => {
    expect(checkLwwWinner(run().state('final', final('b', [])).events).status).toBe('pass');
    expect(checkLwwWinner(run().state('final', final('c', [])).events).status).toBe('pass');
    const lost = checkLwwWinner(run().state('final', final('a', [])).events);
    expect(lost.status).toBe('fail');
    expect(lost.actual).toMatch(/us setProfile\(u, 'b'\) was made after us had received it, and was lost/);
  });

  it('fails a value no write wrote, and regions that disagree', () => {
    expect(checkLwwWinner(run().state('final', final('a+c', [])).events).actual).toMatch(/which no write wrote/);
    const split = ['eu', 'us', 'ap'].map((region, i) => ({ region, profiles: { u: i === 0 ? 'b' : 'c' } }));
    expect(checkLwwWinner(run().state('final', split).events).actual).toMatch(/hold different profiles/);
  });

  it("holds the winner of concurrent writes to what the grader's clocks decide", () => {
    const r = new Run();
    r.op('us', 'setProfile', 'v', 'behind');
    r.op('eu', 'setProfile', 'v', 'ahead');
    r.h.record({ process: GRADER, type: 'note', op: 'expect', value: { key: 'v', value: 'ahead', why: "eu's clock was ahead" } });
    const won = (value: string) => ['eu', 'us', 'ap'].map((region) => ({ region, profiles: { v: value } }));
    expect(checkLwwWinner(new Run().state('final', won('ahead')).events).status).toBe('pass');
    expect(checkLwwWinner(r.state('final', won('ahead')).events).status).toBe('pass');
    const wrong = new Run();
    wrong.op('us', 'setProfile', 'v', 'behind');
    wrong.op('eu', 'setProfile', 'v', 'ahead');
    wrong.h.record({ process: GRADER, type: 'note', op: 'expect', value: { key: 'v', value: 'ahead', why: "eu's clock was ahead" } });
    const v = checkLwwWinner(wrong.state('final', won('behind')).events);
    expect(v.status).toBe('fail');
    expect(v.actual).toMatch(/'ahead' had to win: eu's clock was ahead/);
  });

  it('requires the concurrent loser to be reported, and accepts a report of a write later replaced', () => {
    expect(checkLwwConflicts(run().state('final', final('c', [[], [], []])).events).actual).toMatch(/us setProfile\(u, 'b'\) was discarded for 'c'/);
    expect(checkLwwConflicts(run().state('final', final('c', [[], ['b'], []])).events).status).toBe('pass');
    // 'a' lost to 'c' at some region before 'b' replaced it: concurrent with 'c', so it may be listed.
    expect(checkLwwConflicts(run().state('final', final('c', [['a'], ['b'], []])).events).status).toBe('pass');
  });

  it('fails a report of a write replaced only by a later one, of the winner, and a value listed twice', () => {
    const chain = new Run();
    chain.op('eu', 'setProfile', 'u', 'a');
    chain.receive('us', chain.send('eu', 'us'), 'eu');
    chain.op('us', 'setProfile', 'u', 'b');
    const update = checkLwwConflicts(chain.state('final', final('b', [['a'], [], []])).events);
    expect(update.actual).toMatch(/lists 'a', but it was replaced only by writes made after it/);
    expect(checkLwwConflicts(run().state('final', final('c', [[], ['b', 'c'], []])).events).actual).toMatch(/it is the value every region holds/);
    expect(checkLwwConflicts(run().state('final', final('c', [[], ['b', 'b'], []])).events).actual).toMatch(/more than once/);
  });
});

describe('idempotence and convergence', () => {
  it('fails any change between the reads before and after the second deliveries', () => {
    const same = new Run().state('before', three('likes', [{ p: 1 }, { p: 1 }, { p: 1 }])).state('after', three('likes', [{ p: 1 }, { p: 1 }, { p: 1 }]));
    expect(checkIdempotence(same.events).status).toBe('pass');
    const changed = new Run().state('before', three('likes', [{ p: 1 }, { p: 1 }, { p: 1 }])).state('after', three('likes', [{ p: 1 }, { p: 2 }, { p: 1 }]));
    expect(checkIdempotence(changed.events).actual).toMatch(/region us's like count p changed from 1 to 2/);
    const reports = new Run().state('before', three('conflicts', [{ u: ['x'] }, {}, {}])).state('after', three('conflicts', [{ u: ['x', 'y'] }, {}, {}]));
    expect(checkIdempotence(reports.events).actual).toMatch(/conflicts\(u\) changed/);
  });

  it('fails regions that disagree, and says why a receive must reject when deliveries failed', () => {
    expect(checkConvergence(new Run().state('final', three('carts', [{ c: ['a'] }, { c: ['a'] }, { c: ['a'] }])).events).status).toBe('pass');
    const r = new Run();
    r.h.record({ process: 'eu', type: 'invoke', op: 'receive', value: { from: 'us' }, message: 'm1' });
    r.h.record({ process: 'eu', type: 'fail', op: 'receive', detail: 'StoreError' });
    const v = checkConvergence(r.state('final', three('carts', [{ c: [] }, { c: ['a'] }, { c: ['a'] }])).events);
    expect(v.status).toBe('fail');
    expect(v.hint).toMatch(/receive must reject then/);
  });
});
