/**
 * TODO(2): global transaction ids. These tests need no server.
 */
import { describe, expect, it } from 'vitest';
import { gidFor, isOwnGid } from '../src/transfers';

describe('TODO(2) gids', () => {
  it('TODO(2) a gid names the coordinator and the transfer: 2pc:<coordinator>:<transfer>', () => {
    expect(gidFor('c1', 't-42')).toBe('2pc:c1:t-42');
  });

  it('TODO(2) two transfers, or two coordinators, never share a gid', () => {
    const gids = [gidFor('c1', 't1'), gidFor('c1', 't2'), gidFor('c2', 't1'), gidFor('c1', 't11'), gidFor('c11', 't1')];
    expect(new Set(gids).size).toBe(gids.length);
  });

  it('TODO(2) a coordinator knows its own gids', () => {
    expect(isOwnGid('c1', gidFor('c1', 't1'))).toBe(true);
    expect(isOwnGid('east-2', gidFor('east-2', 'x_9'))).toBe(true);
  });

  it("TODO(2) and never takes another's for its own: c1 is not c10, nor any gid made some other way", () => {
    expect(isOwnGid('c1', gidFor('c10', 't1'))).toBe(false);
    expect(isOwnGid('c1', gidFor('c2', 'c1'))).toBe(false);
    expect(isOwnGid('c1', 'c1:t1')).toBe(false);
    expect(isOwnGid('c1', 'pg_dump_c1')).toBe(false);
    expect(isOwnGid('c1', '')).toBe(false);
  });

  it('TODO(2) a gid fits PostgreSQL (at most 200 bytes) for the longest ids', () => {
    expect(Buffer.byteLength(gidFor('c'.repeat(40), 't'.repeat(60)))).toBeLessThanOrEqual(200);
  });
});
