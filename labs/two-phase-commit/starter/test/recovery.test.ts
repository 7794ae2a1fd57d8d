/**
 * TODO(6): recovery. Each test leaves the banks as a coordinator that died would have left
 * them (transactions prepared by hand, decisions written or not), then runs recover().
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DECISIONS_TABLE, gidFor, migrate, recover } from '../src/transfers';
import { BANK_A, BANK_B, SERVERS, type World, openWorld, prepareByHand } from './servers';

let world: World | undefined;
afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

/** Alice and Carol at bank A have 10 000 and 5 000, Bob at bank B 0; the log is migrated. */
async function open(): Promise<World> {
  world = await openWorld({ [BANK_A]: { alice: 10_000, carol: 5_000 }, [BANK_B]: { bob: 0 } });
  await migrate(world.log);
  return world;
}

/**
 * Phase 1 of a transfer of `cents` from alice to bob, done by hand at both banks. (A
 * prepared transaction keeps its row locks: a second one on alice's row would wait for the
 * first to finish, so other transactions here use carol.)
 */
async function preparedAtBoth(w: World, gid: string, cents: number): Promise<void> {
  await prepareByHand(w.a, gid, 'alice', -cents);
  await prepareByHand(w.b, gid, 'bob', cents);
}

const decide = (w: World, gid: string): Promise<unknown> => w.log.query(`INSERT INTO ${DECISIONS_TABLE} (gid) VALUES ($1)`, [gid]);

describe.skipIf(SERVERS === undefined)('TODO(6) recovery', () => {
  it('TODO(6) a transfer prepared at both banks and decided before the crash is committed at both', async () => {
    const w = await open();
    const gid = gidFor(w.coordinator.id, w.transferId(1));
    await preparedAtBoth(w, gid, 4_000);
    await decide(w, gid);
    expect(await recover(w.coordinator)).toEqual({ committed: [gid], rolledBack: [] });
    expect(await w.balances(w.a)).toEqual({ alice: 6_000, carol: 5_000 });
    expect(await w.balances(w.b)).toEqual({ bob: 4_000 });
    expect([...(await w.prepared(w.a)), ...(await w.prepared(w.b))]).toEqual([]);
  });

  it('TODO(6) one prepared without a decision is rolled back at both (presumed abort)', async () => {
    const w = await open();
    const gid = gidFor(w.coordinator.id, w.transferId(2));
    await preparedAtBoth(w, gid, 4_000);
    expect(await recover(w.coordinator)).toEqual({ committed: [], rolledBack: [gid] });
    expect(await w.balances(w.a)).toEqual({ alice: 10_000, carol: 5_000 });
    expect(await w.balances(w.b)).toEqual({ bob: 0 });
    expect([...(await w.prepared(w.a)), ...(await w.prepared(w.b))]).toEqual([]);
  });

  it('TODO(6) a commit the crash left half done (one bank committed, the other still prepared) is finished', async () => {
    const w = await open();
    const gid = gidFor(w.coordinator.id, w.transferId(3));
    await preparedAtBoth(w, gid, 2_500);
    await decide(w, gid);
    await w.a.query(`COMMIT PREPARED '${gid}'`);
    expect(await recover(w.coordinator)).toEqual({ committed: [gid], rolledBack: [] });
    expect(await w.balances(w.a)).toEqual({ alice: 7_500, carol: 5_000 });
    expect(await w.balances(w.b)).toEqual({ bob: 2_500 });
  });

  it("TODO(6) another coordinator's prepared transactions are never touched", async () => {
    const w = await open();
    const mine = gidFor(w.coordinator.id, w.transferId(4));
    const theirs = gidFor(`${w.coordinator.id}0`, w.transferId(4));
    await preparedAtBoth(w, mine, 100);
    await prepareByHand(w.a, theirs, 'carol', -200);
    expect(await recover(w.coordinator)).toEqual({ committed: [], rolledBack: [mine] });
    expect(await w.prepared(w.a)).toEqual([theirs]);
  });

  it('TODO(6) run again, recovery finds nothing to do', async () => {
    const w = await open();
    const committed = gidFor(w.coordinator.id, w.transferId(5));
    const abandoned = gidFor(w.coordinator.id, w.transferId(6));
    await preparedAtBoth(w, committed, 1_000);
    await decide(w, committed);
    await prepareByHand(w.a, abandoned, 'carol', -1_000);
    const first = await recover(w.coordinator);
    expect({ committed: [...first.committed].sort(), rolledBack: [...first.rolledBack].sort() }).toEqual({ committed: [committed], rolledBack: [abandoned] });
    expect(await recover(w.coordinator)).toEqual({ committed: [], rolledBack: [] });
    expect(await w.balances(w.a)).toEqual({ alice: 9_000, carol: 5_000 });
    expect(await w.balances(w.b)).toEqual({ bob: 1_000 });
  });
});
