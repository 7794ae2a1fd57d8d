/**
 * The merges on their own, without any server: each must be commutative (the order of
 * two states does not matter), associative, and idempotent (a state merged again changes
 * nothing), or the regions cannot converge whatever the channel does.
 */
import { describe, expect, it } from 'vitest';
import { type Cart, type Counts, type Profile, type Write, cartItems, compareVectors, countValue, mergeCarts, mergeCounts, mergeProfile, wins } from '../src/regions';

describe('TODO(1) the PN-Counter merge', () => {
  const a: Counts = { p: { eu: 3, us: 1 }, n: { eu: 1 } };
  const b: Counts = { p: { eu: 2, ap: 4 }, n: { us: 2 } };

  it('TODO(1) keeps the larger count of each region, likes and unlikes apart', () => {
    expect(mergeCounts(a, b)).toEqual({ p: { eu: 3, us: 1, ap: 4 }, n: { eu: 1, us: 2 } });
    expect(countValue(mergeCounts(a, b))).toBe(3 + 1 + 4 - 1 - 2);
  });

  it('TODO(1) is commutative and idempotent: an old or repeated state changes nothing', () => {
    const ab = mergeCounts(a, b);
    expect(mergeCounts(b, a)).toEqual(ab);
    expect(mergeCounts(ab, a)).toEqual(ab);
    expect(mergeCounts(ab, ab)).toEqual(ab);
    expect(countValue({ p: {}, n: {} })).toBe(0);
  });
});

describe('TODO(2) the OR-Set merge', () => {
  const held: Cart = { adds: { 'eu:1': 'milk', 'us:1': 'eggs' }, removed: [] };
  const removedElsewhere: Cart = { adds: { 'eu:1': 'milk' }, removed: ['eu:1'] };

  it('TODO(2) a remove removes the tags it saw; an add it had not seen survives', () => {
    const readdedHere: Cart = { adds: { ...held.adds, 'eu:2': 'milk' }, removed: [] };
    expect(cartItems(mergeCarts(held, removedElsewhere))).toEqual(['eggs']);
    expect(cartItems(mergeCarts(readdedHere, removedElsewhere))).toEqual(['eggs', 'milk']);
  });

  it('TODO(2) is commutative and idempotent, and lists each item once', () => {
    const merged = mergeCarts(held, removedElsewhere);
    expect(cartItems(mergeCarts(removedElsewhere, held))).toEqual(cartItems(merged));
    expect(mergeCarts(merged, merged)).toEqual(merged);
    expect(cartItems({ adds: { 'eu:1': 'tea', 'us:7': 'tea' }, removed: [] })).toEqual(['tea']);
  });
});

describe('TODO(3) version vectors and last-write-wins', () => {
  const w = (value: string, ts: number, region: string, vv: Record<string, number>): Write => ({ value, ts, region, vv });
  const empty: Profile = { current: null, seen: {}, conflicts: [] };

  it('TODO(3) compareVectors tells before, after, equal and concurrent apart, entry by entry', () => {
    expect(compareVectors({ eu: 1 }, { eu: 2 })).toBe('before');
    expect(compareVectors({ eu: 2, us: 1 }, { eu: 2 })).toBe('after');
    expect(compareVectors({ eu: 1, us: 0 }, { eu: 1 })).toBe('equal');
    expect(compareVectors({ eu: 2 }, { us: 1 })).toBe('concurrent');
    // Sums say nothing: 3 against 2, and still concurrent.
    expect(compareVectors({ eu: 3 }, { eu: 1, us: 1 })).toBe('concurrent');
  });

  it('TODO(3) wins compares ts, then the region id, the same way everywhere', () => {
    expect(wins(w('a', 5, 'ap', {}), w('b', 4, 'us', {}))).toBe(true);
    expect(wins(w('a', 5, 'us', {}), w('b', 5, 'ap', {}))).toBe(!wins(w('b', 5, 'ap', {}), w('a', 5, 'us', {})));
  });

  it('TODO(3) a write made after another replaces it without a conflict; an old one changes nothing', () => {
    const first = mergeProfile(empty, w('first', 10, 'eu', { eu: 1 }));
    const second = mergeProfile(first, w('second', 5, 'us', { eu: 1, us: 1 }));
    expect(second.current?.value).toBe('second');
    expect(second.conflicts).toEqual([]);
    expect(mergeProfile(second, w('first', 10, 'eu', { eu: 1 }))).toEqual(second);
  });

  it('TODO(3) concurrent writes: the same winner in either order, the loser listed once', () => {
    const x = w('x', 10, 'eu', { eu: 1 });
    const y = w('y', 12, 'us', { us: 1 });
    const one = mergeProfile(mergeProfile(empty, x), y);
    const other = mergeProfile(mergeProfile(empty, y), x);
    expect(one.current?.value).toBe('y');
    expect(other.current?.value).toBe('y');
    expect(one.conflicts).toEqual(['x']);
    expect(mergeProfile(one, x).conflicts).toEqual(['x']);
  });
});
