/**
 * The Two-phase commit grader's side of a run: the lab's three PostgreSQL containers (bank A,
 * bank B, the coordinator's log) behind the fault injector's proxies, reached by the
 * learner's process through the proxies and by the grader directly, as their owner; and
 * the learner's process, where the adapter runs transfer() and recover() as coordinator
 * `c<run>`. Each scenario gets accounts of its own; what happens is recorded in its history
 * as history.ts says, and its end is the truth read from the servers.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { HistoryRecorder } from '../../../src/core/grading/history';
import { LearnerSetupError } from '../../../src/core/grading/labGrader';
import { LearnerProcess } from '../../../src/core/grading/learnerProcess';
import type { Sandbox } from '../../../src/core/grading/sandbox';
import { type AppliedFault, FaultInjector } from '../../../src/core/services/faults';
import type { ServiceConnection } from '../../../src/core/services/labServices';
import type { LabServicesForGrading } from '../../../src/core/services/labServicesController';
import type { RuntimeLogger } from '../../../src/core/services/runtime';
import { identifier, installAudit, notePrepare, preparedGids, readAudit, readPrepares } from './audit';
import { type BankTruth, COORDINATOR, type Expectation, GRADER, IN_DOUBT, LOCK_WAIT, type LockWaitNote, MIGRATE, RECOVER, RECOVERY, TRANSFER, TRUTH, type TruthNote, type TwoPhaseEvent, UNFINISHED, UPDATE, bankLane, otherLane, transferLane } from './history';
import { CALL_TIMEOUT_MS, HOLD_WAIT_MS, OPENING_BALANCE_CENTS, POOL_SIZE, VOTE_TIMEOUT_MS } from './limits';
import type { ArmPlan, PointPlan, TransferArgs, TwoPhaseAdapter } from './protocol';

type History = HistoryRecorder<TwoPhaseEvent>;

export const BANK_A = 'bank-a';
export const BANK_B = 'bank-b';
export const BANKS = [BANK_A, BANK_B] as const;
export type BankName = (typeof BANKS)[number];
const LOG = 'log';
/** The learner's decision log, as the lab's README names it. */
const DECISIONS_TABLE = 'twopc_decisions';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The three servers: the grader's direct connections, and the fault injector in front of the learner's. */
export class TwoPhaseServers {
  private constructor(
    readonly injector: FaultInjector,
    /** By role: bank-a, bank-b, log. */
    private readonly services: Readonly<Record<string, ServiceConnection>>,
  ) {}

  static async start(lab: LabServicesForGrading, random: () => number, logger: RuntimeLogger): Promise<TwoPhaseServers> {
    const services = lab.connections.filter((c) => c.service === 'postgres').sort((a, b) => a.index - b.index);
    if (services.length < 3) {
      throw new Error(`Grading two-phase-commit needs the lab's three PostgreSQL servers; ${services.length} ${services.length === 1 ? 'is' : 'are'} running.`);
    }
    const injector = await FaultInjector.create(lab.runtime, {
      services,
      ...(lab.network !== undefined ? { network: lab.network } : {}),
      ...(lab.journalDir !== undefined ? { journalDir: lab.journalDir } : {}),
      random,
      logger,
      readinessTimeoutMs: 30_000,
    });
    const [a, b, log] = services as [ServiceConnection, ServiceConnection, ServiceConnection];
    return new TwoPhaseServers(injector, { [BANK_A]: a, [BANK_B]: b, [LOG]: log });
  }

  private service(role: string): ServiceConnection {
    const s = this.services[role];
    if (s === undefined) throw new Error(`There is no server ${role}.`);
    return s;
  }

  /** The container's name in the lab (`postgres-2`), as the injector knows it. */
  serviceName(role: string): string {
    return this.service(role).name;
  }

  /** Where the learner's process connects to `role`: through its proxy. */
  learnerUrl(role: string): string {
    const s = this.service(role);
    const { host, port } = this.injector.proxyAddress(s.name);
    const url = new URL(s.url);
    url.hostname = host;
    url.port = String(port);
    return url.toString();
  }

  /** A direct connection to `role`, as its owner, where the container is now. */
  async connect(role: string): Promise<pg.Client> {
    const s = this.service(role);
    const { host, port } = this.injector.proxy(s.name).currentTarget;
    const client = new pg.Client({ host, port, user: s.user, password: s.password, database: s.database, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Runs `work` on a direct connection to `role`, closed after. */
  async with<T>(role: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.connect(role);
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  close(): Promise<void> {
    return this.injector.close();
  }
}

/** What the run made on the servers, by name. */
export interface RunSchemas {
  readonly bank: string;
  readonly audit: string;
  readonly log: string;
}

export function runSchemas(runName: string): RunSchemas {
  return { bank: identifier(`${runName}_bank`), audit: identifier(`${runName}_audit`), log: identifier(`${runName}_log`) };
}

/** A scenario's own accounts and transfers. */
interface ScenarioState {
  readonly accounts: Map<BankName, string[]>;
  readonly transfers: string[];
  readonly preparedBefore: Map<BankName, string[]>;
  readonly decidedBefore: Set<string>;
  initialTotalCents: number;
}

export class TwoPhaseHarness {
  readonly learner: LearnerProcess<TwoPhaseAdapter>;
  /** This run's token: in the coordinator's id and every transfer id. */
  readonly token = randomBytes(3).toString('hex');
  readonly coordinatorId = `c${this.token}`;
  private transferCount = 0;
  private scenario: ScenarioState | undefined;
  /** The prepared transaction of "another coordinator" planted at each bank, and how many were planted. */
  private readonly planted = new Map<BankName, string>();
  private plantedCount = 0;
  /** What noteStates last saw prepared at each bank. */
  private readonly seenPrepared = new Map<BankName, Set<string>>();
  /** When the run began, by each server's clock: what was prepared since is this run's. */
  private readonly startedAt = new Map<string, string>();

  constructor(
    sandbox: Sandbox,
    readonly servers: TwoPhaseServers,
    readonly schemas: RunSchemas,
  ) {
    this.learner = new LearnerProcess<TwoPhaseAdapter>(sandbox, async (client) => {
      const config = {
        banks: BANKS.map((name) => ({ name, url: servers.learnerUrl(name) })),
        log: { name: LOG, url: servers.learnerUrl(LOG) },
        bankSchema: schemas.bank,
        auditSchema: schemas.audit,
        logSchema: schemas.log,
        voteTimeoutMs: VOTE_TIMEOUT_MS,
        poolSize: POOL_SIZE,
      };
      const result = await client.call('configure', [config], 20_000);
      if (!result.ok) {
        throw new Error(`The grader could not connect the learner's process to the servers: ${result.message}`);
      }
    });
  }

  /** Makes the run's schemas (the banks' accounts with the audit, the log's), then connects the learner's process and runs its migrate(log). */
  async setUp(): Promise<void> {
    for (const role of [...BANKS, LOG]) {
      await this.servers.with(role, async (c) => {
        this.startedAt.set(role, String((await c.query<{ t: string }>("SELECT (now() - interval '1 second')::text AS t")).rows[0]?.t));
        if (role === LOG) {
          await c.query(`CREATE SCHEMA ${this.schemas.log}`);
          return;
        }
        await c.query(`CREATE SCHEMA ${this.schemas.bank}`);
        await c.query(`CREATE TABLE ${this.schemas.bank}.accounts (id text PRIMARY KEY, balance_cents bigint NOT NULL CHECK (balance_cents >= 0))`);
        await installAudit(c, this.schemas.bank, this.schemas.audit);
      });
    }
    await this.learner.connect();
    const migrated = await this.learner.client.call('migrate', [], 30_000);
    if (!migrated.ok) {
      throw new LearnerSetupError(`migrate(log) failed, so no check could run: ${migrated.message}`, migrated.kind === 'threw' ? migrated.error.stack : undefined, this.learner.sandbox.output());
    }
  }

  /** Ends the run: every transaction it left prepared is rolled back, then its schemas are dropped. */
  async close(): Promise<void> {
    if (!this.learner.ended) {
      await this.learner.client.call('finish', [], 5_000).catch(() => undefined);
    }
    for (const role of [...BANKS, LOG]) {
      await this.servers
        .with(role, async (c) => {
          const since = this.startedAt.get(role);
          if (since !== undefined) {
            const left = await c.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND prepared >= $1::timestamptz', [since]);
            for (const { gid } of left.rows) {
              await c.query(`ROLLBACK PREPARED ${pg.escapeLiteral(gid)}`).catch(() => undefined);
            }
          }
          await c.query("SET lock_timeout = '10s'");
          for (const schema of role === LOG ? [this.schemas.log] : [this.schemas.bank, this.schemas.audit]) {
            await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          }
        })
        .catch(() => undefined);
    }
  }

  /** A new transfer id of this run: `t<token>-<tag><n>`. */
  transferId(tag: string): string {
    this.transferCount++;
    return `t${this.token}-${tag}${this.transferCount}`;
  }

  private get state(): ScenarioState {
    if (this.scenario === undefined) throw new Error('A scenario must begin() before it transfers.');
    return this.scenario;
  }

  /**
   * Begins a scenario: its accounts (each `<tag>-<name>` with OPENING_BALANCE_CENTS), the
   * other coordinator's prepared transactions planted again where they are gone, and what was
   * prepared and decided before it. Returns the accounts' full names by bank.
   */
  async begin(history: History, tag: string, names: Readonly<Record<BankName, readonly string[]>>): Promise<Record<BankName, string[]>> {
    await this.learner.ensureRunning();
    await this.arm({});
    this.seenPrepared.clear();
    const accounts = new Map<BankName, string[]>();
    const preparedBefore = new Map<BankName, string[]>();
    let total = 0;
    for (const bank of BANKS) {
      const ids = names[bank].map((n) => `${tag}-${n}`);
      accounts.set(bank, ids);
      await this.servers.with(bank, async (c) => {
        for (const id of ids) {
          await c.query(`INSERT INTO ${this.schemas.bank}.accounts (id, balance_cents) VALUES ($1, $2)`, [id, OPENING_BALANCE_CENTS]);
          total += OPENING_BALANCE_CENTS;
        }
        const prepared = await preparedGids(c);
        const planted = this.planted.get(bank);
        if (planted === undefined || !prepared.includes(planted)) {
          // Another coordinator's transaction, in doubt: its id is this one's with a 0 after it.
          this.plantedCount++;
          const gid = `2pc:${this.coordinatorId}0:p${this.plantedCount}`;
          await c.query('BEGIN');
          await c.query(`INSERT INTO ${this.schemas.audit}.others (gid) VALUES ($1)`, [gid]);
          await c.query(`PREPARE TRANSACTION ${pg.escapeLiteral(gid)}`);
          this.planted.set(bank, gid);
          history.record({ process: bankLane(bank), type: 'note', op: `another coordinator (${this.coordinatorId}0) has ${gid} prepared here` });
        }
        preparedBefore.set(bank, await preparedGids(c));
      });
    }
    this.scenario = { accounts, transfers: [], preparedBefore, decidedBefore: new Set(await this.decided().catch(() => [])), initialTotalCents: total };
    return { [BANK_A]: accounts.get(BANK_A) ?? [], [BANK_B]: accounts.get(BANK_B) ?? [] };
  }

  /** The gids in the learner's decision log. */
  private async decided(): Promise<string[]> {
    return this.servers.with(LOG, async (c) => (await c.query<{ gid: string }>(`SELECT gid::text AS gid FROM ${this.schemas.log}.${DECISIONS_TABLE}`)).rows.map((r) => r.gid));
  }

  async arm(plan: ArmPlan): Promise<void> {
    await this.learner.ensureRunning();
    const result = await this.learner.client.call('arm', [plan], 5_000);
    if (!result.ok) throw new Error(`The grader could not arm the learner's process: ${result.message}`);
  }

  /** The points the learner's code passed since the last arm. */
  async points(): Promise<string[]> {
    const result = await this.learner.client.call('points', [], 5_000);
    return result.ok ? result.value : [];
  }

  /**
   * Runs transfer(); `armed` says where the grader armed a kill, which names the end of a
   * transfer the kill cut short. Returns what it answered, if it did.
   */
  async transfer(history: History, t: TransferArgs, expect: Expectation, plan: readonly string[], options: { readonly armed?: string; readonly timeoutMs?: number; readonly probe?: boolean; readonly probeAfter?: () => Promise<void>; readonly banksIsolation?: 'repeatable read' } = {}): Promise<unknown> {
    await this.learner.ensureRunning();
    this.state.transfers.push(t.id);
    const process = transferLane(t.id);
    const before = options.probe === true ? await this.preparedSince() : undefined;
    history.record({ process, type: 'invoke', op: TRANSFER, value: { ...t, expect, plan } });
    const result = await this.learner.client.call('transfer', options.banksIsolation !== undefined ? [this.coordinatorId, t, options.banksIsolation] : [this.coordinatorId, t], options.timeoutMs ?? CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process, type: 'ok', op: TRANSFER, value: result.value });
      if (before !== undefined) {
        // (A bank the grader brought down is back first: what it holds is read once it answers.)
        await options.probeAfter?.();
        // Phase 2 is over when transfer() answers: nothing of it (a gid naming it, prepared since it began) may still wait at a bank.
        const now = await this.preparedSince();
        const prepared = Object.fromEntries(Object.entries(now).map(([bank, gids]) => [bank, gids.filter((g) => !(before[bank] ?? []).includes(g) && g.includes(t.id))]));
        if (Object.values(prepared).some((gids) => gids.length > 0)) {
          history.record({ process: GRADER, type: 'note', op: UNFINISHED, value: { transfer: t.id, prepared } });
        }
      }
      return result.value;
    }
    const end = this.learner.sandbox.endReason;
    if (result.kind !== 'threw' && options.armed !== undefined && end?.kind === 'exited') {
      history.record({ process, type: 'info', op: TRANSFER, detail: `the grader killed the coordinator ${options.armed}` });
      history.record({ process: COORDINATOR, type: 'crash', op: 'coordinator killed', detail: options.armed });
    } else if (result.kind === 'threw') {
      history.record({ process, type: 'fail', op: TRANSFER, detail: result.message });
    } else {
      history.record({ process, type: 'info', op: TRANSFER, detail: result.message });
    }
    return undefined;
  }

  /** The gids prepared at each bank now that were not when the scenario began. */
  async preparedSince(): Promise<Record<string, string[]>> {
    const state = this.state;
    const found: Record<string, string[]> = {};
    for (const bank of BANKS) {
      const before = new Set(state.preparedBefore.get(bank) ?? []);
      found[bank] = (await this.servers.with(bank, preparedGids)).filter((gid) => !before.has(gid));
    }
    return found;
  }

  /** Notes what is in doubt before a recovery: the gids prepared since the scenario began, each once. */
  async noteInDoubt(history: History): Promise<void> {
    const gids = [...new Set(Object.values(await this.preparedSince()).flat())].sort();
    history.record({ process: RECOVERY, type: 'note', op: IN_DOUBT, value: gids });
  }

  /** Runs recover() and returns its answer. */
  async recover(history: History, label = RECOVER): Promise<unknown> {
    await this.learner.ensureRunning();
    history.record({ process: RECOVERY, type: 'invoke', op: RECOVER, ...(label !== RECOVER ? { detail: label } : {}) });
    const result = await this.learner.client.call('recover', [this.coordinatorId], CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process: RECOVERY, type: 'ok', op: RECOVER, value: result.value });
      return result.value;
    }
    history.record({ process: RECOVERY, type: result.kind === 'threw' ? 'fail' : 'info', op: RECOVER, detail: result.message });
    return undefined;
  }

  /** A fresh coordinator process, started as a deployed one starts: its migrate(log) first. */
  async restartAsDeployed(history: History): Promise<void> {
    await this.learner.restart();
    history.record({ process: RECOVERY, type: 'invoke', op: MIGRATE });
    const result = await this.learner.client.call('migrate', [], CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process: RECOVERY, type: 'ok', op: MIGRATE });
    } else {
      history.record({ process: RECOVERY, type: result.kind === 'threw' ? 'fail' : 'info', op: MIGRATE, detail: result.message });
    }
  }

  /**
   * Runs `start` with the code held at `plan` (protocol.ts): once it is held there, `act`
   * runs (a bank killed, paused...), then the code goes on. Whether it was held (code that
   * never reaches the point runs on unheld).
   */
  async holding<T>(plan: PointPlan, start: () => Promise<T>, act: () => Promise<void>): Promise<{ readonly held: boolean; readonly result: T }> {
    await this.arm({ hold: plan });
    let done = false;
    const running = start().finally(() => {
      done = true;
    });
    const deadline = performance.now() + HOLD_WAIT_MS;
    let held = false;
    while (!done && performance.now() < deadline) {
      const at = await this.learner.client.call('holding', [], 5_000);
      if (at.ok && at.value !== null) {
        held = true;
        break;
      }
      await sleep(5);
    }
    if (held) {
      await act();
      await this.learner.client.call('release', [], 5_000);
    }
    return { held, result: await running };
  }

  /** Kills a bank's container (SIGKILL to its PostgreSQL); returns the fault, to undo. */
  async kill(history: History, bank: BankName): Promise<AppliedFault> {
    const fault = await this.servers.injector.kill(this.servers.serviceName(bank));
    history.record({ process: bankLane(bank), type: 'fault', op: `kill ${bank} (SIGKILL to its PostgreSQL)` });
    return fault;
  }

  /** Freezes a bank's container: connections stay open, nothing answers. */
  async pause(history: History, bank: BankName): Promise<AppliedFault> {
    const fault = await this.servers.injector.pause(this.servers.serviceName(bank));
    history.record({ process: bankLane(bank), type: 'fault', op: `pause ${bank} (its container frozen)` });
    return fault;
  }

  /** Undoes a fault and waits until the bank answers again. */
  async heal(history: History, bank: BankName, fault: AppliedFault, what: string): Promise<void> {
    await this.servers.injector.undo(fault);
    history.record({ process: bankLane(bank), type: 'heal', op: what });
  }

  /** The reply to the next COMMIT PREPARED sent to `bank` is lost: the bank commits, the connection is reset. */
  loseCommitReply(history: History, bank: BankName): void {
    this.servers.injector.proxy(this.servers.serviceName(bank)).loseReplyTo('commit prepared');
    history.record({ process: bankLane(bank), type: 'fault', op: `lose the reply to the next COMMIT PREPARED at ${bank} (the bank commits; the connection is reset before the answer)` });
  }

  /** Latency each way between the learner's process and `bank`. */
  latency(history: History, bank: BankName, ms: number): void {
    this.servers.injector.proxy(this.servers.serviceName(bank)).latency(ms);
    history.record({ process: bankLane(bank), type: 'fault', op: `latency ${ms} ms each way to ${bank}` });
  }

  /** Resets every open connection from the learner's process to `bank`. */
  resetConnections(history: History, bank: BankName): void {
    const fault = this.servers.injector.resetConnections(this.servers.serviceName(bank));
    history.record({ process: bankLane(bank), type: 'fault', op: fault.description.replace(this.servers.serviceName(bank), bank) });
  }

  /** Holds a row lock on an account from the grader's own transaction, until the returned function is called. */
  async lockAccount(history: History, bank: BankName, account: string): Promise<() => Promise<void>> {
    const client = await this.servers.connect(bank);
    await client.query('BEGIN');
    await client.query(`SELECT 1 FROM ${this.schemas.bank}.accounts WHERE id = $1 FOR UPDATE`, [account]);
    history.record({ process: bankLane(bank), type: 'fault', op: `another transaction holds ${account}'s row lock` });
    return async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
      history.record({ process: bankLane(bank), type: 'heal', op: `${account}'s row lock released` });
      // What waited for the lock goes on now (a late PREPARE lands): let it, before the next step.
      await this.quiesce();
    };
  }

  /** Opens `n` connections from the learner's process to each server ahead of a burst. */
  async warm(n: number): Promise<void> {
    const result = await this.learner.client.call('warm', [n], 20_000);
    if (!result.ok) throw new Error(`The grader could not open the learner's connections: ${result.message}`);
  }

  /**
   * Recovers as a coordinator's periodic recovery does, until nothing is left: a vote that
   * timed out may still be waiting behind the lock of another in-doubt transaction, and
   * prepares late once recovery releases that one. Each round waits (a moment at most) for
   * the learner's sessions to go quiet, notes what is in doubt and runs recover().
   */
  async recoverUntilSettled(history: History, rounds = 12): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      const quiet = await this.quiesce(400);
      const inDoubt = Object.values(await this.preparedSince()).flat();
      if (quiet && inDoubt.length === 0 && round > 0) return;
      await this.noteInDoubt(history);
      await this.recover(history);
    }
  }

  /**
   * Waits (up to `limitMs`) until no session of the learner's at either bank is inside a
   * transaction (waiting for a lock, or between its statements) or running a statement: a
   * vote that timed out may still be on its way to a late PREPARE. Whether they went quiet.
   */
  async quiesce(limitMs = 5_000): Promise<boolean> {
    let quiet = true;
    for (const bank of BANKS) {
      quiet =
        (await this.servers.with(bank, async (c) => {
          const deadline = performance.now() + limitMs;
          for (;;) {
            const busy = await c.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)') AND pid <> pg_backend_pid()",
            );
            if ((busy.rows[0]?.n ?? 0) === 0) return true;
            if (performance.now() >= deadline) return false;
            await sleep(20);
          }
        })) && quiet;
    }
    return quiet;
  }

  /**
   * Notes on each bank's lane the state of each transaction of this scenario seen there:
   * prepared (waiting, its locks held) while it is, and once it is not, committed (its note
   * committed with it: audit.ts) or rolled back. The first call notes what is prepared; a
   * later one, what became of it. Another coordinator's are left out.
   */
  async noteStates(history: History): Promise<void> {
    const prepared = await this.preparedSince();
    for (const bank of BANKS) {
      const now = prepared[bank] ?? [];
      const seen = this.seenPrepared.get(bank) ?? new Set<string>();
      const gone = [...seen].filter((gid) => !now.includes(gid));
      const committed = new Set(
        gone.length === 0
          ? []
          : await this.servers.with(bank, async (c) => (await c.query<{ gid: string }>(`SELECT gid FROM ${this.schemas.audit}.prepares WHERE gid = ANY($1)`, [gone])).rows.map((r) => r.gid)),
      );
      for (const gid of gone) {
        history.record({ process: bankLane(bank), type: 'note', op: `${committed.has(gid) ? 'committed' : 'rolled back'} ${gid}` });
        seen.delete(gid);
      }
      for (const gid of now.filter((g) => !seen.has(g))) {
        history.record({ process: bankLane(bank), type: 'note', op: `prepared ${gid} (its row locks held)` });
        seen.add(gid);
      }
      this.seenPrepared.set(bank, seen);
    }
  }

  /**
   * Another transaction, the grader's own, updates `account` at `bank` (on the `other:<bank>`
   * lane): it waits while a prepared transaction holds the row. Returns its pid and the
   * promise of its end.
   */
  async otherUpdate(history: History, bank: BankName, account: string): Promise<{ readonly pid: number; readonly done: Promise<void> }> {
    const client = await this.servers.connect(bank);
    const pid = Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    const process = otherLane(bank);
    history.record({ process, type: 'invoke', op: UPDATE, detail: `UPDATE accounts SET balance_cents = balance_cents + 1 WHERE id = '${account}' (session ${pid})` });
    const done = client
      .query(`UPDATE ${this.schemas.bank}.accounts SET balance_cents = balance_cents + 1 WHERE id = $1`, [account])
      .then(
        () => {
          history.record({ process, type: 'ok', op: UPDATE });
        },
        (error: unknown) => {
          history.record({ process, type: 'fail', op: UPDATE, detail: error instanceof Error ? error.message : String(error) });
        },
      )
      .finally(() => client.end().catch(() => undefined));
    return { pid, done };
  }

  /** Notes, from pg_locks, what session `pid` at `bank` waits for, and which prepared transaction holds it. */
  async noteLockWait(history: History, bank: BankName, account: string, pid: number, since: number): Promise<void> {
    const note = await this.servers.with(bank, async (c): Promise<LockWaitNote | undefined> => {
      const wait = await c.query<{ locktype: string; mode: string; xid: string | null }>('SELECT locktype, mode, transactionid::text AS xid FROM pg_locks WHERE pid = $1 AND NOT granted', [pid]);
      const waiting = wait.rows[0];
      if (waiting === undefined) return undefined;
      const holder = await c.query<{ gid: string; xid: string; mode: string; prepared: string }>(
        "SELECT p.gid, p.transaction::text AS xid, h.mode, to_char(p.prepared, 'HH24:MI:SS.MS') AS prepared FROM pg_locks h JOIN pg_prepared_xacts p ON p.transaction = h.transactionid WHERE h.locktype = 'transactionid' AND h.granted AND h.pid IS NULL AND h.transactionid::text = $1",
        [waiting.xid],
      );
      const blocking = await c.query<{ pids: number[] }>('SELECT pg_blocking_pids($1) AS pids', [pid]);
      const held = holder.rows[0];
      return {
        bank,
        account,
        pid,
        locktype: waiting.locktype,
        wanted: waiting.mode,
        ...(held !== undefined ? { heldBy: { gid: held.gid, xid: held.xid, mode: held.mode, preparedAt: held.prepared } } : {}),
        blockingPids: blocking.rows[0]?.pids ?? [],
        waitedMs: Math.round(performance.now() - since),
      };
    });
    if (note !== undefined) history.record({ process: otherLane(bank), type: 'note', op: LOCK_WAIT, value: note });
  }

  /**
   * Rewrites `account`'s row at `bank` (its balance unchanged) from the grader's own transaction, which takes the row's
   * lock and commits only after `afterMs`: a transaction of the learner's that updates the row
   * meanwhile waits, and at repeatable read fails with a serialization failure (40001) once
   * this one commits. Returns the promise of its commit.
   */
  async concurrentChange(history: History, bank: BankName, account: string, afterMs: number): Promise<() => Promise<void>> {
    const client = await this.servers.connect(bank);
    await client.query('BEGIN');
    // A new version of the row, the balance unchanged; the grader's note keeps it apart from changes made outside two-phase commit.
    await client.query(`UPDATE ${this.schemas.bank}.accounts SET balance_cents = balance_cents WHERE id = $1`, [account]);
    await client.query(notePrepare(this.schemas.audit), [`grader:${account}`, 'grader']);
    history.record({ process: bankLane(bank), type: 'fault', op: `another transaction changes ${account} and commits ${afterMs} ms later` });
    const done = (async () => {
      await sleep(afterMs);
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
      history.record({ process: bankLane(bank), type: 'heal', op: `the other transaction committed its change to ${account}` });
    })();
    return () => done;
  }

  /** Notes what the banks and the log hold now: the end of the scenario. */
  async recordTruth(history: History): Promise<void> {
    const state = this.state;
    const banks: Record<string, BankTruth> = {};
    for (const bank of BANKS) {
      banks[bank] = await this.servers.with(bank, async (c) => {
        const accounts = state.accounts.get(bank) ?? [];
        const balances = Object.fromEntries(
          (await c.query<{ id: string; cents: string }>(`SELECT id, balance_cents::text AS cents FROM ${this.schemas.bank}.accounts WHERE id = ANY($1) ORDER BY id`, [accounts])).rows.map((r) => [r.id, Number(r.cents)]),
        );
        const changes = await readAudit(c, this.schemas.audit, accounts);
        const commits = await readPrepares(c, this.schemas.audit, state.transfers, [...new Set(changes.map((r) => r.xid))]);
        return { balances, changes, commits, prepared: await preparedGids(c), preparedBefore: state.preparedBefore.get(bank) ?? [] };
      });
    }
    let decided: string[] = [];
    let logProblem: string | undefined;
    try {
      decided = (await this.decided()).filter((gid) => !state.decidedBefore.has(gid));
    } catch (error) {
      logProblem = `${DECISIONS_TABLE} in the log's database could not be read (${error instanceof Error ? error.message : String(error)}).`;
    }
    const truth: TruthNote = {
      banks,
      decided,
      ...(logProblem !== undefined ? { logProblem } : {}),
      initialTotalCents: state.initialTotalCents,
      planted: [...this.planted.entries()].map(([bank, gid]) => ({ bank, gid })),
      coordinatorId: this.coordinatorId,
    };
    history.record({ process: GRADER, type: 'note', op: TRUTH, value: truth });
  }

  /** A remark on the grader's lane. */
  note(history: History, text: string): void {
    history.record({ process: GRADER, type: 'note', op: text });
  }
}

/** A stand-in for runs without Docker, where no check of this lab can run: every check needs the three servers. */
export function noServers(): never {
  throw new Error('Grading two-phase-commit needs its three PostgreSQL servers in Docker.');
}
