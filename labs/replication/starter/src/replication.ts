/**
 * A PostgreSQL primary with a streaming standby: set it up, measure its lag, route reads so
 * that every session reads its own writes and never goes back in time, and fail over.
 *
 * Work through the TODOs in order; README.md explains each step, and `npm test` checks them
 * (each test says which TODOs it needs).
 */
import type { QueryResult } from './db';
import type { AcknowledgedWrite, FailoverReport, Lag, ReadResult, ReplicationSettings, RouterOptions, Server } from './types';

/* ---------------------------------------------------------------------------------------
 * TODO(1): WAL positions.
 * --------------------------------------------------------------------------------------- */

/**
 * An LSN as PostgreSQL writes it ('16/B374D848': two hexadecimal numbers, the high and the
 * low 32 bits of a byte position in the WAL) as one number. Throws on anything else.
 */
export function parseLsn(lsn: string): bigint {
  throw new Error('TODO(1): parse the two hexadecimal halves of the LSN');
}

/** Negative when `a` is before `b` in the WAL, 0 when they are the same position, positive after. */
export function compareLsn(a: string, b: string): number {
  throw new Error('TODO(1): compare two LSNs as positions');
}

/* ---------------------------------------------------------------------------------------
 * TODO(2): make `standby` a streaming hot standby of `primary`.
 * --------------------------------------------------------------------------------------- */

/**
 * Makes `standby` stream from `primary`. Running it again when the standby already streams
 * from that primary through the slot changes nothing.
 *
 * The steps (README.md, "Setting up the standby"): the replication role; its line in the
 * primary's pg_hba.conf, and a reload; the physical slot; a base backup made in the standby's
 * container with pg_basebackup (-R writes primary_conninfo and standby.signal) that replaces
 * its data directory; then wait until the primary's pg_stat_replication shows it streaming.
 */
export async function setUpStandby(primary: Server, standby: Server, replication: ReplicationSettings): Promise<void> {
  throw new Error('TODO(2): make the standby stream from the primary');
}

/* ---------------------------------------------------------------------------------------
 * TODO(3): how far behind is the standby?
 * --------------------------------------------------------------------------------------- */

export async function replicationLag(primary: Server, standby: Server): Promise<Lag> {
  throw new Error("TODO(3): measure the lag from the servers' own views");
}

/* ---------------------------------------------------------------------------------------
 * TODO(4): a read router with read-your-writes and monotonic reads.
 *
 * withTimeout (src/timeout.ts) bounds a statement on a standby that may hang.
 * --------------------------------------------------------------------------------------- */

export class ReadRouter {
  private sessions = 0;
  private readonly acknowledged: AcknowledgedWrite[] = [];

  constructor(
    private primaryServer: Server,
    private standbyServer: Server | undefined,
    readonly options: RouterOptions,
  ) {}

  get primary(): Server {
    return this.primaryServer;
  }

  get standby(): Server | undefined {
    return this.standbyServer;
  }

  /** A new session: its reads see its own writes and never go back in time. */
  session(): RouterSession {
    this.sessions += 1;
    return new RouterSession(this, this.sessions);
  }

  /** Every write the router acknowledged, in order, with its LSN. */
  acknowledgedWrites(): readonly AcknowledgedWrite[] {
    return this.acknowledged;
  }

  /** From now on writes go to `primary`, and reads to `standby` when there is one. */
  repoint(primary: Server, standby: Server | undefined): void {
    this.primaryServer = primary;
    this.standbyServer = standby;
  }

  /** @internal for sessions */
  noteWrite(write: AcknowledgedWrite): void {
    this.acknowledged.push(write);
  }
}

export class RouterSession {
  constructor(
    private readonly router: ReadRouter,
    readonly id: number,
  ) {}

  /**
   * Runs one writing statement on the primary, and remembers (for this session's reads, and
   * in the router with noteWrite) the primary's WAL position once the commit has returned.
   */
  async write<Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
    throw new Error('TODO(4): write on the primary, and remember where the WAL was after the commit');
  }

  /**
   * Runs one reading statement: on the standby once it has replayed everything this session
   * wrote and read (waiting at most options.maxWaitMs, each statement there bounded by
   * options.standbyTimeoutMs), else on the primary.
   */
  async read<Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<ReadResult<Row>> {
    throw new Error('TODO(4): read from the standby when it is fresh enough for this session, else from the primary');
  }
}

/** A pause, for waiting loops. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/* ---------------------------------------------------------------------------------------
 * TODO(5): fail over to the standby.
 * --------------------------------------------------------------------------------------- */

/**
 * Makes `standby` the primary: fences `oldPrimary` so that no client can write there any
 * more, promotes the standby, points the router at it (with no standby), and reports the
 * acknowledged writes the standby never had.
 */
export async function failover(router: ReadRouter, oldPrimary: Server, standby: Server): Promise<FailoverReport> {
  throw new Error('TODO(5): fence, promote, repoint, and count what was lost');
}

/* ---------------------------------------------------------------------------------------
 * TODO(6): synchronous replication.
 * --------------------------------------------------------------------------------------- */

/**
 * With `on`, a commit on `primary` returns only once a standby has applied it
 * (`synchronous_commit = remote_apply`); without, replication is asynchronous again.
 */
export async function setSynchronous(primary: Server, on: boolean): Promise<void> {
  throw new Error('TODO(6): turn synchronous replication (remote_apply) on or off');
}
