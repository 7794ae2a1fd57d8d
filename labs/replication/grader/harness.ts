/**
 * The Replication grader's hands: the learner's process (through the adapter), the two
 * PostgreSQL containers (admin.ts: each behind a fault proxy that follows it across
 * restarts), the admin service the learner's ServerAdmin calls, and the grader's own SQL on
 * each server. It sets up a pair by itself when a scenario needs one (so that every check
 * but the set-up's is independent of the learner's setUpStandby), makes lag for real
 * (replay paused, the standby's container paused or stopped, the standby cut off from the
 * primary), runs the sessions' writes and reads and records where they really ran.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { HistoryRecorder, Recorded } from '../../../src/core/grading/history';
import { LearnerProcess } from '../../../src/core/grading/learnerProcess';
import type { CallResult, Sandbox } from '../../../src/core/grading/sandbox';
import type { LabServicesForGrading } from '../../../src/core/services/labServicesController';
import { MARK } from './adapter';
import { type AdminCall, GradedServer, startAdminService } from './admin';
import { ADMIN, type CallFailed, GRADER, type ReadInput, type ReplicationEvent, type Routing, serverLane, sessionLane } from './history';
import { ADAPTER_LIMIT_MS, CALL_MARGIN_MS, POOL_SIZE, ROUTER_OPTIONS, SET_UP_TIMEOUT_MS } from './limits';
import type { CallAnswer, LsnOutcome, ReplicationAdapter } from './protocol';

const BACKUP_DIRECTORY = '/var/lib/postgresql/grader-base-backup';
const GRADER_ROLE = 'grader_replicator';
const GRADER_SLOT = 'grader_slot';

/** A text as an SQL literal (the grader's own keys, in statements written without parameters). */
const sqlText = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** The grader's statement on one server, on a connection of its own. */
/** A connection of the grader's own to `server`, straight (not through its proxy), not yet opened. */
function graderClient(server: GradedServer, timeoutMs: number): pg.Client {
  const client = new pg.Client({ connectionString: server.directUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  return client;
}

export async function sqlOn<Row extends Record<string, unknown> = Record<string, unknown>>(server: GradedServer, text: string, params: unknown[] = [], timeoutMs = 10_000): Promise<Row[]> {
  const client = graderClient(server, timeoutMs);
  try {
    await client.connect();
    return (await client.query<Row>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The SQLSTATE a statement failed with, '' when it succeeded. */
export async function sqlState(server: GradedServer, text: string): Promise<string> {
  try {
    await sqlOn(server, text);
    return '';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : 'connection';
  }
}

/** How a call of the learner's code ended, as the adapter answered or as the sandbox failed it. */
type LearnerAnswer = CallAnswer<unknown> | { readonly ok: false; readonly error: { readonly name: string; readonly message: string }; readonly hung: boolean };

function routingOf(answer: CallAnswer<unknown>): Routing {
  return { ranOn: answer.trace.marked, refusedAsReadOnly: answer.trace.statements.some((s) => s.refused) };
}

/** The version a read's rows hold: the row's `version`, 0 when there is none. */
function versionOf(value: unknown): number {
  const rows = (value as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows) || rows.length === 0) return 0;
  const v = (rows[0] as { version?: unknown } | null)?.version;
  return typeof v === 'number' ? v : Number(v ?? 0);
}

export class ReplicationHarness {
  readonly learner: LearnerProcess<ReplicationAdapter>;
  readonly token = randomBytes(3).toString('hex');
  private recorder: HistoryRecorder<ReplicationEvent> | undefined;
  private primaryName: string;
  private standbyName: string;
  private versions = new Map<string, number>();
  private routers = 0;
  private sessions = 0;
  /** A call of this scenario hung: its check has failed already, and more calls would only hang too. */
  private hung = false;
  /** Where the last write's statement ran. */
  lastWriteRouting: Routing = { ranOn: [], refusedAsReadOnly: false };
  /** The grader's kv table: keys, each row's version. */
  readonly table = `kv_${this.token}`;

  private constructor(
    sandbox: Sandbox,
    private readonly servers: readonly GradedServer[],
    private readonly admin: { readonly url: string; readonly token: string; close(): Promise<void> },
  ) {
    this.primaryName = servers[0]!.name;
    this.standbyName = servers[1]!.name;
    this.learner = new LearnerProcess<ReplicationAdapter>(sandbox, async (client) => {
      const result = await client.call('configure', [this.configFor()], 20_000);
      if (!result.ok) {
        throw new Error(`The grader could not connect the learner's process to the servers: ${result.message}`);
      }
    });
  }

  static async open(sandbox: Sandbox, services: LabServicesForGrading): Promise<ReplicationHarness> {
    const connections = [...services.connections].sort((a, b) => a.index - b.index);
    if (connections.length < 2) {
      throw new Error(`The Replication lab needs its two PostgreSQL servers; the grader got ${connections.length}.`);
    }
    const servers = await Promise.all(connections.slice(0, 2).map((c) => GradedServer.open(services.runtime, c)));
    // The service is started before the harness exists; its calls reach the harness once it does.
    const sink: { harness?: ReplicationHarness } = {};
    const admin = await startAdminService(
      () => servers,
      (call) => sink.harness?.noteAdmin(call),
    );
    sink.harness = new ReplicationHarness(sandbox, servers, admin);
    return sink.harness;
  }

  get primary(): GradedServer {
    return this.server(this.primaryName);
  }

  get standby(): GradedServer {
    return this.server(this.standbyName);
  }

  private server(name: string): GradedServer {
    const found = this.servers.find((s) => s.name === name);
    if (found === undefined) throw new Error(`no server ${name}`);
    return found;
  }

  /** WAL segments made sparse (cheap to switch), then the learner's process connected. */
  async setUp(): Promise<void> {
    for (const s of this.servers) {
      await sqlOn(s, 'ALTER SYSTEM SET wal_init_zero = off');
      await sqlOn(s, 'SELECT pg_reload_conf()');
    }
    await this.learner.connect();
  }

  async close(): Promise<void> {
    if (!this.learner.ended) {
      await this.learner.client.call('finish', [], 10_000).catch(() => undefined);
    }
    for (const s of this.servers) {
      await s.unpause().catch(() => undefined);
    }
    await this.admin.close();
    await Promise.all(this.servers.map((s) => s.close()));
  }

  /** A scenario begins: its history, and a learner's process with fresh connections (a server may have moved since). */
  async begin(context: ScenarioContext<ReplicationEvent>): Promise<void> {
    this.recorder = context.history;
    this.adminCalls.length = 0;
    this.hung = false;
    await this.learner.ensureRunning();
    await this.learner.client.call('configure', [this.configFor()], 20_000);
    for (const s of this.servers) {
      await s.unpause();
    }
  }

  private configFor(): Parameters<ReplicationAdapter['configure']>[0] {
    return {
      servers: this.servers.map((s) => ({ name: s.name, url: s.proxiedUrl, networkHost: s.name, networkPort: 5432, dataDirectory: s.dataDirectory })),
      admin: { url: this.admin.url, token: this.admin.token },
      poolSize: POOL_SIZE,
    };
  }

  record(event: Recorded<ReplicationEvent>): number {
    return this.recorder?.record(event) ?? -1;
  }

  /** The learner's ServerAdmin calls since the scenario began. */
  readonly adminCalls: AdminCall[] = [];

  noteAdmin(call: AdminCall): void {
    this.adminCalls.push(call);
    this.record({ type: 'note', op: 'admin', process: ADMIN, value: { op: `${call.server}.${call.op}`, subject: call.subject, ok: call.ok, ms: call.ms, ...(call.message !== undefined ? { message: call.message } : {}) } });
  }

  fault(server: GradedServer, what: string): void {
    this.record({ type: 'fault', op: what, process: serverLane(server.name) });
  }

  heal(server: GradedServer, what: string): void {
    this.record({ type: 'heal', op: what, process: serverLane(server.name) });
  }

  remark(text: string): void {
    this.record({ type: 'note', op: text, process: GRADER });
  }

  /** The scenario cannot go on: its check is unknown. */
  precondition(detail: string): void {
    this.record({ type: 'note', op: 'precondition', process: GRADER, detail });
  }

  /* ------------------------------------------------------------------ the pair */

  /** Whether the standby streams from the primary now. */
  async streaming(): Promise<boolean> {
    try {
      const [recovery] = await sqlOn<{ r: boolean }>(this.standby, 'SELECT pg_is_in_recovery() AS r', [], 3_000);
      if (recovery?.r !== true) return false;
      const rows = await sqlOn(this.primary, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'", [], 3_000);
      return rows.length > 0;
    } catch {
      return false;
    }
  }

  /**
   * Makes the standby stream from the primary, the grader's own way, unless it already
   * does: the same steps the README teaches, with a role and slot of the grader's.
   */
  async ensurePair(): Promise<void> {
    for (const s of this.servers) {
      await s.start();
    }
    await this.resumeReplay().catch(() => undefined);
    if (await this.streaming()) {
      return;
    }
    const primary = this.primary;
    const standby = this.standby;
    const password = randomBytes(9).toString('hex');
    await sqlOn(primary, `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${GRADER_ROLE}') THEN CREATE ROLE ${GRADER_ROLE} WITH REPLICATION LOGIN; END IF; END $$`);
    await sqlOn(primary, `ALTER ROLE ${GRADER_ROLE} PASSWORD '${password}'`);
    const line = `host replication ${GRADER_ROLE} all scram-sha-256`;
    const hba = await this.primaryHba();
    if (!hba.split('\n').some((l) => l.trim() === line)) {
      await primary.mustExec('writing pg_hba.conf', ['sh', '-c', 'printf "\\n%s\\n" "$LINE" >> "$1"', 'sh', primary.inData('pg_hba.conf')], { LINE: line });
      await sqlOn(primary, 'SELECT pg_reload_conf()');
    }
    await sqlOn(primary, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [GRADER_SLOT]);
    await sqlOn(primary, `SELECT pg_create_physical_replication_slot($1)`, [GRADER_SLOT]);
    await standby.mustExec('clearing the backup folder', ['rm', '-rf', BACKUP_DIRECTORY]);
    await standby.mustExec('pg_basebackup', ['pg_basebackup', '-h', primary.name, '-p', '5432', '-U', GRADER_ROLE, '-D', BACKUP_DIRECTORY, '-R', '-S', GRADER_SLOT, '-X', 'stream', '--checkpoint=fast'], { PGPASSWORD: password });
    await standby.replaceDataDirectory(BACKUP_DIRECTORY);
    await this.until(() => this.streaming(), 30_000, 'the standby the grader set up does not stream');
  }

  async until(condition: () => Promise<boolean>, withinMs: number, what: string): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`${what} (after ${withinMs} ms)`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async primaryLsn(): Promise<string> {
    return String((await sqlOn<{ l: string }>(this.primary, 'SELECT pg_current_wal_lsn()::text AS l'))[0]?.l);
  }

  /** Bytes between the primary's current LSN and the standby's replay LSN, and the replay LSN. */
  async bytesBehind(): Promise<{ bytes: number; replay: string }> {
    const replay = String((await sqlOn<{ l: string }>(this.standby, 'SELECT pg_last_wal_replay_lsn()::text AS l'))[0]?.l);
    const [row] = await sqlOn<{ b: string }>(this.primary, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS b', [replay]);
    return { bytes: Math.max(0, Number(row?.b ?? 0)), replay };
  }

  /** Seconds since the standby's last replayed transaction committed, or null. */
  async secondsBehind(): Promise<number | null> {
    const [row] = await sqlOn<{ s: number | null }>(this.standby, 'SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS s');
    return row?.s ?? null;
  }

  async caughtUp(withinMs = 10_000): Promise<void> {
    const target = await this.primaryLsn();
    await this.until(async () => (await sqlOn<{ d: boolean }>(this.standby, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS d', [target]))[0]?.d === true, withinMs, `the standby has not replayed ${target}`);
  }

  async pauseReplay(): Promise<void> {
    await sqlOn(this.standby, 'SELECT pg_wal_replay_pause()');
    this.fault(this.standby, 'replay paused');
  }

  async resumeReplay(): Promise<void> {
    const [row] = await sqlOn<{ p: boolean }>(this.standby, 'SELECT pg_is_in_recovery() AND pg_is_wal_replay_paused() AS p');
    if (row?.p === true) {
      await sqlOn(this.standby, 'SELECT pg_wal_replay_resume()');
      this.heal(this.standby, 'replay resumed');
    }
  }

  /**
   * Resumes the standby's replay `afterMs` from now, on a connection opened beforehand (so
   * that the moment is not a connection's set-up); `done` ends once it has.
   */
  async resumeReplayIn(afterMs: number): Promise<{ readonly done: Promise<void> }> {
    const standby = this.standby;
    const client = graderClient(standby, 10_000);
    await client.connect();
    const done = new Promise<void>((resolve) => setTimeout(resolve, afterMs)).then(async () => {
      try {
        await client.query('SELECT pg_wal_replay_resume()');
        this.heal(standby, 'replay resumed');
      } finally {
        await client.end().catch(() => undefined);
      }
    });
    done.catch(() => undefined);
    return { done };
  }

  /** Ends the primary's pg_hba.conf without a newline after its last line, as some editors leave a file. */
  async hbaWithoutFinalNewline(): Promise<void> {
    await this.primary.mustExec('ending pg_hba.conf without a newline', ['sh', '-c', 'text="$(cat "$1")" && printf "%s" "$text" > "$1"', 'sh', this.primary.inData('pg_hba.conf')]);
  }

  /** The primary's pg_hba.conf, as text. */
  async primaryHba(): Promise<string> {
    return (await this.primary.mustExec('reading pg_hba.conf', ['cat', this.primary.inData('pg_hba.conf')])).stdout;
  }

  async pauseStandby(): Promise<void> {
    await this.standby.pause();
    this.fault(this.standby, 'container paused');
  }

  async unpauseStandby(): Promise<void> {
    await this.standby.unpause();
    this.heal(this.standby, 'container unpaused');
  }

  async stopStandby(): Promise<void> {
    await this.standby.stop();
    this.fault(this.standby, 'stopped');
  }

  async startStandby(): Promise<void> {
    await this.standby.start();
    this.heal(this.standby, 'started');
  }

  /** Cuts the standby off from the primary: its primary_conninfo emptied, it receives no more WAL. Returns what it was. */
  async cutOff(): Promise<string> {
    const [row] = await sqlOn<{ setting: string }>(this.standby, "SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'");
    await sqlOn(this.standby, "ALTER SYSTEM SET primary_conninfo = ''");
    await sqlOn(this.standby, 'SELECT pg_reload_conf()');
    await this.until(async () => (await sqlOn(this.primary, 'SELECT 1 FROM pg_stat_replication')).length === 0, 10_000, 'the standby still streams after its primary_conninfo was emptied');
    this.fault(this.standby, 'cut off from the primary');
    return row?.setting ?? '';
  }

  /** Gives the standby its primary_conninfo back, and waits until it streams again. */
  async reconnect(conninfo: string): Promise<void> {
    const [row] = await sqlOn<{ sql: string }>(this.standby, "SELECT format('ALTER SYSTEM SET primary_conninfo = %L', $1::text) AS sql", [conninfo]);
    await sqlOn(this.standby, row!.sql);
    await sqlOn(this.standby, 'SELECT pg_reload_conf()');
    await this.until(() => this.streaming(), 15_000, 'the standby does not stream again after its primary_conninfo was given back');
    this.heal(this.standby, 'reconnected to the primary');
  }

  /** Switches the primary's WAL to new segments until its LSN is in segment `segment` (of timeline's first 4 GB). */
  async walToSegment(segment: number): Promise<boolean> {
    for (let i = 0; i < 40; i++) {
      const lsn = await this.primaryLsn();
      const [hi, lo] = lsn.split('/');
      const current = Number.parseInt(lo ?? '0', 16) >>> 24;
      if (Number.parseInt(hi ?? '1', 16) !== 0 || current > segment) return false;
      if (current === segment) return true;
      await sqlOn(this.primary, `CREATE TABLE IF NOT EXISTS wal_${this.token} (n int); INSERT INTO wal_${this.token} VALUES (1)`);
      await sqlOn(this.primary, 'SELECT pg_switch_wal()');
    }
    return false;
  }

  /* ------------------------------------------------------------------ the learner's code */

  /** The kv table on the primary, replayed on the standby. */
  async makeTable(): Promise<void> {
    await sqlOn(this.primary, `CREATE TABLE IF NOT EXISTS ${this.table} (key text PRIMARY KEY, version int NOT NULL)`);
    await this.caughtUp();
  }

  /** Writes the key's next version straight on the primary (not through the router): what another client did. */
  async writeDirect(key: string): Promise<number> {
    const version = (this.versions.get(key) ?? 0) + 1;
    this.versions.set(key, version);
    await sqlOn(this.primary, `INSERT INTO ${this.table} (key, version) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version`, [key, version]);
    return version;
  }

  async openRouter(): Promise<string> {
    const id = `r${++this.routers}`;
    await this.learner.ensureRunning();
    const result = await this.learner.client.call('openRouter', [id, this.primaryName, this.standbyName, ROUTER_OPTIONS], 10_000);
    if (!result.ok) throw new Error(`new ReadRouter(primary, standby, options) failed: ${result.message}`);
    return id;
  }

  async openSession(router: string): Promise<string> {
    const id = `s${++this.sessions}`;
    const result = await this.learner.client.call('openSession', [router, id], 10_000);
    if (!result.ok) throw new Error(`router.session() failed: ${result.message}`);
    return id;
  }

  private failedOf(answer: CallAnswer<unknown> | undefined, message: string): CallFailed {
    return answer === undefined
      ? { ranOn: [], refusedAsReadOnly: false, message, ms: 0, hung: true }
      : { ...routingOf(answer), message: answer.ok ? message : `${answer.error.name}: ${answer.error.message}`, ms: answer.ms, hung: !answer.ok && answer.hung };
  }

  /** session.write of the key's next version; returns the version, or undefined when the write was not acknowledged. */
  async write(session: string, key: string, limitMs = ADAPTER_LIMIT_MS, literal = false): Promise<number | undefined> {
    if (this.hung) return undefined;
    const version = (this.versions.get(key) ?? 0) + 1;
    this.versions.set(key, version);
    const lane = sessionLane(session);
    this.record({ type: 'invoke', op: 'write', process: lane, value: { key, version } });
    const values = literal ? `${sqlText(key)}, ${version}` : '$1, $2';
    const sql = `INSERT INTO ${this.table} (key, version) VALUES (${values}) ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version ${MARK}`;
    const result = await this.learner.client.call('write', [session, sql, literal ? [] : [key, version], limitMs], limitMs + CALL_MARGIN_MS);
    this.lastWriteRouting = result.ok ? routingOf(result.value) : { ranOn: [], refusedAsReadOnly: false };
    if (result.ok && result.value.ok) {
      this.record({ type: 'ok', op: 'write', process: lane, value: { ...routingOf(result.value), ms: result.value.ms } });
      return version;
    }
    const failed = this.failedOf(result.ok ? result.value : undefined, result.ok ? 'failed' : result.message);
    this.record({ type: 'fail', op: 'write', process: lane, value: failed });
    // A write the scenario expects to wait (remote_apply, the standby cut off) is not a hang of the code.
    this.hung ||= failed.hung && limitMs === ADAPTER_LIMIT_MS;
    return undefined;
  }

  /** session.read of the key. */
  async read(session: string, key: string, standbyIs: ReadInput['standbyIs'], limitMs = ADAPTER_LIMIT_MS, literal = false): Promise<number | undefined> {
    if (this.hung) return undefined;
    const lane = sessionLane(session);
    this.record({ type: 'invoke', op: 'read', process: lane, value: { key, standbyIs } });
    const sql = `SELECT version FROM ${this.table} WHERE key = ${literal ? sqlText(key) : '$1'} ${MARK}`;
    const result = await this.learner.client.call('read', [session, sql, literal ? [] : [key], limitMs], limitMs + CALL_MARGIN_MS);
    if (result.ok && result.value.ok) {
      const value = result.value.value;
      const from = (value as { from?: unknown } | null)?.from;
      const version = versionOf(value);
      this.record({ type: 'ok', op: 'read', process: lane, value: { ...routingOf(result.value), version, from: typeof from === 'string' ? from : String(from), ms: result.value.ms } });
      return version;
    }
    const failed = this.failedOf(result.ok ? result.value : undefined, result.ok ? 'failed' : result.message);
    this.record({ type: 'fail', op: 'read', process: lane, value: failed });
    this.hung ||= failed.hung;
    return undefined;
  }

  /**
   * One of the learner's functions on the current pair, through the adapter: its answer, or
   * the sandbox's failure (the process killed past `timeoutMs`, say) in the same shape.
   */
  private async learnerCall(call: Promise<CallResult<CallAnswer<unknown>>>): Promise<LearnerAnswer> {
    const result = await call;
    return result.ok ? result.value : { ok: false, error: { name: result.kind, message: result.message }, hung: result.kind === 'timeout' };
  }

  /** The learner's parseLsn on each text and compareLsn on each pair, or why they could not be called. */
  async learnerLsns(parse: readonly string[], compare: readonly (readonly [string, string])[]): Promise<{ parsed: readonly LsnOutcome[]; compared: readonly LsnOutcome[] } | { error: string }> {
    await this.learner.ensureRunning();
    const result = await this.learner.client.call('lsns', [parse, compare], 15_000);
    return result.ok ? result.value : { error: result.message };
  }

  /** The learner's setUpStandby on the current pair. */
  async learnerSetUp(replication: { user: string; password: string; slot: string }): Promise<LearnerAnswer> {
    await this.learner.ensureRunning();
    return this.learnerCall(this.learner.client.call('setUp', [this.primaryName, this.standbyName, replication], SET_UP_TIMEOUT_MS));
  }

  learnerLag(): Promise<LearnerAnswer> {
    return this.learnerCall(this.learner.client.call('lag', [this.primaryName, this.standbyName], 15_000));
  }

  learnerFailover(router: string): Promise<LearnerAnswer> {
    return this.learnerCall(this.learner.client.call('failover', [router, this.primaryName, this.standbyName], 90_000));
  }

  learnerSetSynchronous(on: boolean): Promise<LearnerAnswer> {
    return this.learnerCall(this.learner.client.call('setSynchronous', [this.primaryName, on], 15_000));
  }

  /** The keys of `candidates` that the given server holds now. */
  async keysOn(server: GradedServer, candidates: readonly string[]): Promise<Set<string>> {
    const rows = await sqlOn<{ key: string }>(server, `SELECT key FROM ${this.table} WHERE key = ANY($1)`, [candidates]);
    return new Set(rows.map((r) => r.key));
  }

  /** A name the standby's role and slot get in the set-up scenario. */
  learnerReplication(): { user: string; password: string; slot: string } {
    return { user: `replicator_${this.token}`, password: randomBytes(9).toString('hex'), slot: `standby_${this.token}` };
  }

  /** The write sent by a client that still points at `server`: refused or accepted. */
  async staleWrite(server: GradedServer): Promise<'refused' | 'accepted'> {
    const state = await sqlState(server, `INSERT INTO ${this.table} (key, version) VALUES ('stale-${this.token}', 1) ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version`);
    return state === '' ? 'accepted' : 'refused';
  }
}
