/**
 * The Replication grader's scenarios, one per check of lab.json, in its order. Every
 * scenario but the set-up's starts from a pair the grader makes itself when the learner's
 * did not (harness.ensurePair), so that one broken step fails one check. Lag is made for
 * real: the standby's replay paused, its container paused or stopped, the standby cut off
 * from the primary. Randomness (ctx.rng) picks keys, counts and orders, drawn before acting.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import { checkFailover, checkLag, checkLsnOrder, checkMonotonicReads, checkReadYourWrites, checkReadsScale, checkStandbyDown, checkStandbySetUp } from './checkers';
import { type ReplicationHarness, sqlOn, sqlState } from './harness';
import type { ReplicationEvent } from './history';
import { ADAPTER_LIMIT_MS, ANSWER_WITHIN_MS, LAG_SLACK, RESUME_AFTER_MS, STANDBY_SHARE } from './limits';

type Spec = ScenarioSpec<ReplicationHarness, ReplicationEvent>;
type Context = ScenarioContext<ReplicationEvent>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Begins a scenario on a streaming pair with the kv table; false (and a precondition noted) when the grader could not make one. */
async function onPair(h: ReplicationHarness, ctx: Context): Promise<boolean> {
  await h.begin(ctx);
  try {
    await h.ensurePair();
    await h.makeTable();
    return true;
  } catch (error) {
    h.precondition(`the grader could not make the standby stream: ${(error as Error).message}`);
    return false;
  }
}

const message = (answer: { ok: boolean; error?: { message: string } }): string => answer.error?.message ?? 'an error';

/** An LSN as PostgreSQL writes it: the high and low 32 bits in hexadecimal, without leading zeros. */
function lsnText(position: bigint, lowerCase = false): string {
  const text = `${(position >> 32n).toString(16)}/${(position & 0xffffffffn).toString(16)}`;
  return lowerCase ? text : text.toUpperCase();
}

/** A position anywhere in the 64 bits, or near a boundary of them. */
function randomPosition(rng: Context['rng']): bigint {
  const word = (): bigint => (BigInt(rng.int(0, 0xffff)) << 16n) | BigInt(rng.int(0, 0xffff));
  const high = rng.chance(0.5) ? BigInt(rng.int(0, 0xff)) : word();
  return (high << 32n) | word();
}

/** Texts that are no LSN: each is what a parser that does not check the whole text accepts. */
const NOT_LSNS = ['', '3000060', '0/', '/1', '0/1/2', 'G/0', '0/1x', 'x0/1', '0/0x10', '-1/0', '123456789/0', '0/123456789'];

const lsnOrder: Spec = {
  id: 'lsn-order',
  needs: ['docker-servers'],
  budgetMs: 30_000,
  cases: ['positions-parsed', 'not-lsns-refused', 'positions-compared'],
  async run(h, ctx) {
    await h.begin(ctx);
    const fixed = [0n, 0x3000060n, 0xf000000n, 0x10000000n, 0xffffffffn, 1n << 32n, 0xfn << 32n, 0x10n << 32n, (0x16n << 32n) + 0xb374d848n, 0xffffffffffffffffn];
    const positions = [...fixed, ...Array.from({ length: 8 }, () => randomPosition(ctx.rng))];
    const valid = positions.map((p) => ({ text: lsnText(p, ctx.rng.chance(0.3)), expected: p.toString() }));
    const parse = [...valid, ...NOT_LSNS.map((text) => ({ text, expected: null }))];
    const pairs: { a: string; b: string; expected: -1 | 0 | 1 }[] = [];
    const sign = (x: bigint, y: bigint): -1 | 0 | 1 => (x < y ? -1 : x > y ? 1 : 0);
    const neighbours: [bigint, bigint][] = [
      [0xf000000n, 0x10000000n],
      [0xffffffffn, 1n << 32n],
      [0xfn << 32n, 0x10n << 32n],
      [(9n << 32n) + 0xffffffffn, 0xan << 32n],
    ];
    for (const [x, y] of neighbours) pairs.push({ a: lsnText(x), b: lsnText(y), expected: -1 }, { a: lsnText(y), b: lsnText(x), expected: 1 });
    for (let i = 0; i < 8; i++) {
      const x = positions[ctx.rng.int(0, positions.length - 1)]!;
      const y = ctx.rng.chance(0.3) ? x : positions[ctx.rng.int(0, positions.length - 1)]!;
      pairs.push({ a: lsnText(x, ctx.rng.chance(0.5)), b: lsnText(y, ctx.rng.chance(0.5)), expected: sign(x, y) });
    }
    const answer = await h.learnerLsns(
      parse.map((p) => p.text),
      pairs.map((p) => [p.a, p.b] as const),
    );
    h.record({
      type: 'note',
      op: 'lsn',
      process: 'grader',
      value:
        'error' in answer
          ? { answered: false, error: answer.error, parsed: [], compared: [] }
          : {
              answered: true,
              parsed: parse.map((p, i) => ({ ...p, got: answer.parsed[i] ?? { ok: false, error: 'no answer' } })),
              compared: pairs.map((p, i) => ({ ...p, got: answer.compared[i] ?? { ok: false, error: 'no answer' } })),
            },
    });
  },
  check: checkLsnOrder,
};

const standbySetUp: Spec = {
  id: 'standby-set-up',
  needs: ['docker-servers'],
  budgetMs: 240_000,
  cases: ['fresh-pair', 'hba-without-final-newline', 'run-again'],
  async run(h, ctx) {
    await h.begin(ctx);
    const replication = h.learnerReplication();
    await h.hbaWithoutFinalNewline();
    h.remark("the primary's pg_hba.conf ends without a newline after its last line, as some editors leave a file");
    const answer = await h.learnerSetUp(replication);
    const primary = h.primary;
    const standby = h.standby;
    const inRecovery = async (): Promise<boolean> => (await sqlOn<{ r: boolean }>(standby, 'SELECT pg_is_in_recovery() AS r', [], 3_000).catch(() => []))[0]?.r === true;
    const senders = async (): Promise<{ state: string; slot: string | null; user: string; pid: number }[]> =>
      sqlOn<{ state: string; slot: string | null; user: string; pid: number }>(primary, 'SELECT r.state, s.slot_name AS slot, r.usename AS user, r.pid FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid').catch(() => []);
    // A sender goes from startup to catchup to streaming in a moment: a little slack.
    const deadline = Date.now() + 3_000;
    while (answer.ok && !(await senders()).some((s) => s.state === 'streaming') && Date.now() < deadline) await sleep(50);
    const standbyInRecovery = await inRecovery();
    const sendersNow = await senders();
    const slots = (await sqlOn<{ name: string; type: string; active: boolean }>(primary, 'SELECT slot_name AS name, slot_type AS type, active FROM pg_replication_slots').catch(() => [])).map((s) => ({ ...s }));
    const role = await sqlOn<{ s: boolean }>(primary, 'SELECT rolsuper AS s FROM pg_roles WHERE rolname = $1', [replication.user]).catch(() => []);
    const table = `setup_${h.token}`;
    let rowReplicated = false;
    let writeOnStandby = 'not tried';
    if (answer.ok && standbyInRecovery) {
      await sqlOn(primary, `CREATE TABLE ${table} (n int)`);
      await sqlOn(primary, `INSERT INTO ${table} VALUES (1)`);
      const until = Date.now() + 5_000;
      while (!rowReplicated && Date.now() < until) {
        rowReplicated = (await sqlOn<{ n: number }>(standby, `SELECT count(*)::int AS n FROM ${table}`, [], 2_000).catch(() => []))[0]?.n === 1;
        if (!rowReplicated) await sleep(50);
      }
      writeOnStandby = await sqlState(standby, `INSERT INTO ${table} VALUES (2)`);
    } else if (answer.ok) {
      writeOnStandby = await sqlState(standby, `CREATE TABLE ${table} (n int)`);
    }
    const senderBefore = sendersNow.find((s) => s.state === 'streaming')?.pid ?? null;
    let again: Awaited<ReturnType<ReplicationHarness['learnerSetUp']>> | undefined;
    let senderAfterAgain: number | null = null;
    let hbaChangedByRunAgain = false;
    if (answer.ok && senderBefore !== null) {
      h.remark('setUpStandby runs again');
      const hbaBefore = await h.primaryHba();
      again = await h.learnerSetUp(replication);
      senderAfterAgain = (await senders()).find((s) => s.state === 'streaming')?.pid ?? null;
      hbaChangedByRunAgain = (await h.primaryHba()) !== hbaBefore;
    }
    h.record({
      type: 'note',
      op: 'set-up',
      process: 'grader',
      value: {
        answered: answer.ok,
        ...(answer.ok ? {} : { error: message(answer) }),
        standbyInRecovery,
        senders: sendersNow.map((s) => ({ state: s.state, slot: s.slot, user: s.user })),
        slots,
        roleIsSuperuser: role[0]?.s ?? null,
        rowReplicated,
        writeOnStandby,
        senderBefore,
        senderAfterAgain,
        againAnswered: again === undefined ? true : again.ok,
        hbaChangedByRunAgain,
        passwordOnCommandLine: h.adminCalls.some((c) => c.op === 'run' && c.subject.includes(replication.password)),
        ...(again !== undefined && !again.ok ? { againError: message(again) } : {}),
      },
    });
  },
  check: checkStandbySetUp,
};

const lagReported: Spec = {
  id: 'lag-reported',
  needs: ['docker-servers'],
  budgetMs: 120_000,
  cases: ['caught-up', 'replay-paused'],
  async run(h, ctx) {
    const rows = ctx.rng.int(10, 40);
    const idleMs = ctx.rng.int(300, 700);
    if (!(await onPair(h, ctx))) return;
    const measure = async (phase: 'behind' | 'caught-up'): Promise<void> => {
      const before = await h.bytesBehind();
      const secondsBefore = await h.secondsBehind();
      const answer = await h.learnerLag();
      const after = await h.bytesBehind();
      const secondsAfter = await h.secondsBehind();
      const reported = answer.ok ? (answer.value as Record<string, unknown> | null) : null;
      h.record({
        type: 'note',
        op: 'lag',
        process: 'grader',
        value: {
          phase,
          answered: answer.ok,
          ...(answer.ok ? {} : { error: message(answer) }),
          ...(reported !== null && typeof reported === 'object' ? { reported: { bytes: reported.bytes, seconds: reported.seconds, primaryLsn: reported.primaryLsn, replayLsn: reported.replayLsn } } : {}),
          bytesBefore: before.bytes,
          bytesAfter: after.bytes,
          replayLsn: before.replay,
          secondsBefore,
          secondsAfter,
        },
      });
    };
    await h.writeDirect('lag-first');
    await h.caughtUp();
    await measure('caught-up');
    await h.pauseReplay();
    await sleep(idleMs);
    for (let i = 0; i < rows; i++) await h.writeDirect(`lag-${i}`);
    await measure('behind');
    await h.resumeReplay();
    await h.caughtUp();
  },
  check: (history) => checkLag(history, LAG_SLACK),
};

const readYourWrites: Spec = {
  id: 'read-your-writes',
  needs: ['docker-servers'],
  budgetMs: 120_000,
  cases: ['replay-paused', 'lsn-crossing', 'catches-up-during-wait', 'standby-latency'],
  async run(h, ctx) {
    const sessionsCount = ctx.rng.int(2, 3);
    const rounds = ctx.rng.int(3, 5);
    const latencyMs = ctx.rng.int(5, 25);
    if (!(await onPair(h, ctx))) return;
    const router = await h.openRouter();
    const sessions: string[] = [];
    for (let i = 0; i < sessionsCount; i++) sessions.push(await h.openSession(router));
    // The LSNs cross from 0/Fxxxxxx to 0/10xxxxxx while the standby's replay is paused before the crossing.
    const positioned = await h.walToSegment(15);
    await h.caughtUp();
    await h.pauseReplay();
    if (positioned) {
      await h.writeDirect('crossing');
      await sqlOn(h.primary, 'SELECT pg_switch_wal()');
      h.remark(`the primary's WAL crosses into 0/10000000 (${await h.primaryLsn()}); the standby replayed up to 0/Fxxxxxx`);
    }
    for (const s of sessions) {
      if ((await h.write(s, `own-${s}`)) !== undefined) await h.read(s, `own-${s}`, 'behind');
    }
    // The standby catches up while a read waits for it.
    await h.resumeReplay();
    await h.caughtUp();
    await h.pauseReplay();
    const waiter = sessions[0]!;
    await h.write(waiter, `soon-${waiter}`);
    const resumed = await h.resumeReplayIn(RESUME_AFTER_MS);
    await h.read(waiter, `soon-${waiter}`, 'catching-up');
    await resumed.done.catch(() => undefined);
    await h.resumeReplay();
    await h.caughtUp();
    // Latency to the standby: its replay is a few milliseconds behind every write.
    h.standby.proxy.latency(latencyMs);
    h.fault(h.standby, `latency ${latencyMs} ms`);
    try {
      for (let r = 0; r < rounds; r++) {
        for (const s of ctx.rng.shuffle([...sessions])) {
          const key = `k${ctx.rng.int(1, 4)}`;
          if (ctx.rng.chance(0.6)) await h.write(s, key);
          await h.read(s, key, 'unknown');
        }
      }
    } finally {
      h.standby.proxy.heal('latency');
      h.heal(h.standby, 'latency');
    }
    // Replay paused again, reads right after writes of keys other sessions read too.
    await h.pauseReplay();
    for (const s of sessions) {
      await h.write(s, 'shared');
      await h.read(s, 'shared', 'behind');
    }
    await h.resumeReplay();
  },
  check: (history) => checkReadYourWrites(history, { standby: 'postgres-2', resumedAfterMs: RESUME_AFTER_MS }),
};

const monotonicReads: Spec = {
  id: 'monotonic-reads',
  needs: ['docker-servers'],
  budgetMs: 120_000,
  cases: ['primary-read-then-standby-behind', 'other-session-reads-stale-standby'],
  async run(h, ctx) {
    const rounds = ctx.rng.int(2, 3);
    if (!(await onPair(h, ctx))) return;
    const router = await h.openRouter();
    for (let round = 0; round < rounds; round++) {
      const key = `m${round}`;
      const reader = await h.openSession(router);
      await h.writeDirect(key);
      await h.caughtUp();
      await h.read(reader, key, 'fresh');
      await h.pauseReplay();
      await h.writeDirect(key);
      // The standby hangs: the reader's next read is answered by the primary, with the newer version.
      await h.pauseStandby();
      await h.read(reader, key, 'down');
      await h.unpauseStandby();
      // The standby is back, still behind: the reader has seen the newer version.
      for (let i = 0; i < ctx.rng.int(1, 3); i++) await h.read(reader, key, 'behind');
      const other = await h.openSession(router);
      await h.read(other, key, 'behind');
      await h.resumeReplay();
      await h.caughtUp();
    }
  },
  check: checkMonotonicReads,
};

const standbyDown: Spec = {
  id: 'standby-down',
  needs: ['docker-servers'],
  budgetMs: 120_000,
  cases: ['standby-paused', 'standby-stopped'],
  async run(h, ctx) {
    const keys = ctx.rng.int(2, 3);
    if (!(await onPair(h, ctx))) return;
    const router = await h.openRouter();
    const s = await h.openSession(router);
    for (let i = 0; i < keys; i++) await h.writeDirect(`d${i}`);
    await h.caughtUp();
    await h.pauseStandby();
    for (let i = 0; i < keys; i++) {
      await h.read(s, `d${i}`, 'down');
      await h.write(s, `d${i}`);
    }
    await h.unpauseStandby();
    await h.stopStandby();
    for (let i = 0; i < keys; i++) {
      await h.read(s, `d${i}`, 'down');
      await h.write(s, `d${i}`);
      await h.read(s, `d${i}`, 'down');
    }
    await h.startStandby();
    await h.caughtUp(30_000);
  },
  check: (history) => checkStandbyDown(history, { answerWithinMs: ANSWER_WITHIN_MS, standby: 'postgres-2' }),
};

const readsScale: Spec = {
  id: 'reads-scale',
  needs: ['docker-servers'],
  budgetMs: 60_000,
  cases: ['standby-caught-up', 'statements-without-parameters'],
  async run(h, ctx) {
    const sessionsCount = ctx.rng.int(2, 4);
    const reads = ctx.rng.int(5, 8);
    if (!(await onPair(h, ctx))) return;
    const router = await h.openRouter();
    // Every other session's statements are written with their values in the text, and no parameters.
    for (let i = 0; i < sessionsCount; i++) {
      const s = await h.openSession(router);
      await h.write(s, `scale-${i}`, ADAPTER_LIMIT_MS, i % 2 === 1);
      await h.caughtUp();
      for (let r = 0; r < reads; r++) await h.read(s, `scale-${i}`, 'fresh', ADAPTER_LIMIT_MS, i % 2 === 1);
    }
  },
  check: (history) => checkReadsScale(history, { standby: 'postgres-2', atLeast: STANDBY_SHARE }),
};

const failover: Spec = {
  id: 'failover',
  needs: ['docker-servers'],
  budgetMs: 180_000,
  cases: ['remote-apply-replay-paused', 'remote-apply-cut-off', 'asynchronous-failover', 'stale-client-write'],
  async run(h, ctx) {
    const kept = ctx.rng.int(2, 3);
    const lostCount = ctx.rng.int(2, 3);
    if (!(await onPair(h, ctx))) return;
    // Synchronous first: every acknowledged write is on the standby, and a commit waits while it is cut off.
    {
      const router = await h.openRouter();
      const s = await h.openSession(router);
      const on = await h.learnerSetSynchronous(true);
      let becameSync = false;
      if (on.ok) {
        await h.until(async () => (await sqlOn<{ s: string }>(h.primary, 'SELECT sync_state AS s FROM pg_stat_replication')).some((r) => r.s === 'sync'), 5_000, 'not sync').then(
          () => (becameSync = true),
          () => undefined,
        );
      }
      const acknowledged: string[] = [];
      let commitWaited = false;
      let applyWaited = false;
      let notOnStandby: string[] = [];
      if (becameSync) {
        for (let i = 0; i < kept; i++) if ((await h.write(s, `sync-${i}`)) !== undefined) acknowledged.push(`sync-${i}`);
        // Replay paused: the standby receives the commit but does not apply it; remote_apply waits.
        await h.pauseReplay();
        applyWaited = (await h.write(s, 'sync-apply', 800)) === undefined;
        await h.resumeReplay();
        if (!applyWaited) acknowledged.push('sync-apply');
        const conninfo = await h.cutOff();
        const waiting = await h.write(s, 'sync-waiting', 1_500);
        commitWaited = waiting === undefined;
        if (!commitWaited) acknowledged.push('sync-waiting');
        const onStandby = await h.keysOn(h.standby, acknowledged);
        notOnStandby = acknowledged.filter((k) => !onStandby.has(k));
        await h.reconnect(conninfo);
      }
      const off = await h.learnerSetSynchronous(false);
      h.record({
        type: 'note',
        op: 'synchronous',
        process: 'grader',
        value: {
          answered: on.ok,
          ...(on.ok ? {} : { error: message(on) }),
          becameSync,
          acknowledged,
          notOnStandby,
          commitWaited,
          applyWaited,
          offAnswered: off.ok,
          ...(off.ok ? {} : { offError: message(off) }),
        },
      });
      if (!on.ok || !becameSync || !off.ok) return;
      await h.until(async () => (await sqlOn<{ s: string }>(h.primary, 'SELECT sync_state AS s FROM pg_stat_replication')).every((r) => r.s !== 'sync'), 5_000, 'the standby is still synchronous after setSynchronous(primary, false)');
    }
    // Asynchronous: the standby is cut off, the primary acknowledges writes it never ships, then hangs.
    const router = await h.openRouter();
    const s = await h.openSession(router);
    const acknowledged: string[] = [];
    for (let i = 0; i < kept; i++) if ((await h.write(s, `kept-${i}`)) !== undefined) acknowledged.push(`kept-${i}`);
    await h.caughtUp();
    await h.cutOff();
    for (let i = 0; i < lostCount; i++) if ((await h.write(s, `lost-${i}`)) !== undefined) acknowledged.push(`lost-${i}`);
    const oldPrimary = h.primary;
    const standby = h.standby;
    await oldPrimary.pause();
    h.fault(oldPrimary, 'container paused (the primary hangs)');
    const answer = await h.learnerFailover(router);
    const promoted = (await sqlOn<{ r: boolean }>(standby, 'SELECT pg_is_in_recovery() AS r').catch(() => []))[0]?.r === false;
    await oldPrimary.unpause();
    const staleWrite = await h.staleWrite(oldPrimary);
    h.remark(`a client that still points at the old primary writes there: ${staleWrite}`);
    const onNew = await h.keysOn(standby, acknowledged).catch(() => new Set<string>());
    const lostWrites = answer.ok ? (answer.value as { lostWrites?: unknown } | null)?.lostWrites : undefined;
    const reportedLost = Array.isArray(lostWrites) ? lostWrites.map((w) => String((w as { params?: unknown[] } | null)?.params?.[0] ?? '?')) : null;
    const writesAfter = [];
    if (answer.ok) {
      for (let i = 0; i < 2; i++) {
        const version = await h.write(s, `after-${i}`);
        writesAfter.push(version === undefined ? { ranOn: [], refusedAsReadOnly: h.lastWriteRouting.refusedAsReadOnly } : h.lastWriteRouting);
      }
    }
    h.record({
      type: 'note',
      op: 'failover',
      process: 'grader',
      value: {
        answered: answer.ok,
        ...(answer.ok ? {} : { error: message(answer) }),
        acknowledged,
        lost: acknowledged.filter((k) => !onNew.has(k)),
        reportedLost,
        promoted,
        staleWrite,
        writesAfter,
      },
    });
  },
  check: checkFailover,
};

export const scenarios: readonly Spec[] = [lsnOrder, standbySetUp, lagReported, readYourWrites, monotonicReads, standbyDown, readsScale, failover];
