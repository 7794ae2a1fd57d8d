/**
 * TODO(1): WAL positions. No server needed.
 */
import { describe, expect, it } from 'vitest';
import { compareLsn, parseLsn } from '../src/replication';

describe('TODO(1) LSNs', () => {
  it('TODO(1) parseLsn reads the high and the low 32 bits, in hexadecimal', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/3000060')).toBe(0x3000060n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('0/b374d848')).toBe(0xb374d848n);
  });

  it('TODO(1) parseLsn refuses what is not an LSN', () => {
    for (const bad of ['', '3000060', '0/', '/1', '0/XYZ', '0/3000060/1', '1/123456789']) {
      expect(() => parseLsn(bad), bad).toThrow();
    }
  });

  it('TODO(1) compareLsn orders positions as numbers, not as text', () => {
    expect(compareLsn('0/3000060', '0/3000060')).toBe(0);
    expect(compareLsn('0/3000060', '0/3000061')).toBeLessThan(0);
    // As text, 'F' sorts after '1' and the shorter string first: both wrong here.
    expect(compareLsn('0/F000000', '0/10000000')).toBeLessThan(0);
    expect(compareLsn('0/FFFFFFFF', '1/0')).toBeLessThan(0);
    expect(compareLsn('A/0', '9/FFFFFFFF')).toBeGreaterThan(0);
    expect(compareLsn('0/a0', '0/A0')).toBe(0);
  });
});
