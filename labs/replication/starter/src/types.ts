/**
 * What your code is handed and what it returns. You do not need to change this file.
 */
import type { Db, QueryResult } from './db';

/** What a program run in a server's container did. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A PostgreSQL server's container, for the steps that SQL cannot do: running a program
 * there (pg_basebackup), reading and writing its configuration files, restarting it.
 * Every call runs the real thing in the real container (`docker exec`, `docker restart`).
 */
export interface ServerAdmin {
  /** The server's name on the lab's Docker network: the other server reaches it there. */
  readonly host: string;
  /** The port it listens on, on that network. */
  readonly port: number;
  /** Its data directory in the container ($PGDATA): pg_hba.conf and postgresql.auto.conf are there. */
  readonly dataDirectory: string;
  /**
   * Runs a program in the container as the operating-system user `postgres`, and resolves
   * with its exit code and output (it does not throw when the program fails: look at
   * `exitCode`). `env` adds environment variables (PGPASSWORD, say); after `timeoutMs`
   * (default 60 s) it rejects.
   */
  run(command: readonly string[], options?: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number }): Promise<CommandResult>;
  /** A file's text; a relative path is inside the data directory ('pg_hba.conf'). */
  readFile(file: string): Promise<string>;
  /** Writes (replaces) a file, as the user `postgres`; a relative path is inside the data directory. */
  writeFile(file: string, text: string): Promise<void>;
  /** Restarts the server (its container), and resolves once it accepts connections again. */
  restart(): Promise<void>;
  /** Stops the server (its container): nothing reaches it until start(). */
  stop(): Promise<void>;
  /** Starts a stopped server, and resolves once it accepts connections. */
  start(): Promise<void>;
  /**
   * Stops the server, puts `directory` (a complete data directory, as pg_basebackup makes
   * one) in place of its data directory, deletes the old one, and starts the server on the
   * new one; resolves once it accepts connections. `directory` must be an absolute path in
   * this container, outside the data directory.
   */
  replaceDataDirectory(directory: string): Promise<void>;
}

/** One of the lab's two PostgreSQL servers. */
export interface Server {
  /** 'postgres' or 'postgres-2': which container it is (the same as admin.host). */
  readonly name: string;
  /** SQL on this server, as the lab's user (a superuser). */
  readonly db: Db;
  readonly admin: ServerAdmin;
}

/** The role and slot a standby replicates with. */
export interface ReplicationSettings {
  /** The role the standby logs in as; it needs REPLICATION and LOGIN, nothing more. */
  readonly user: string;
  readonly password: string;
  /** The physical replication slot that keeps WAL on the primary for this standby. */
  readonly slot: string;
}

/** How far the standby is behind, from the servers' own views. */
export interface Lag {
  /** Bytes of WAL the primary has written that the standby has not replayed yet (0 when caught up). */
  readonly bytes: number;
  /**
   * How old the standby's data may be, in seconds: 0 when it has replayed everything, else
   * the time since the last transaction it replayed committed on the primary; null when it
   * is behind but has replayed no transaction since it started (there is no time to count from).
   */
  readonly seconds: number | null;
  /** The primary's current WAL position, as PostgreSQL writes it ('0/3000060'). */
  readonly primaryLsn: string;
  /** The last WAL position the standby replayed. */
  readonly replayLsn: string;
}

export interface RouterOptions {
  /** How long a read may wait for the standby to catch up before it goes to the primary. */
  readonly maxWaitMs: number;
  /** How long one statement on the standby may take before the standby counts as down for that read. */
  readonly standbyTimeoutMs: number;
}

/** Which server answered a read. */
export type ReadSource = 'primary' | 'standby';

export interface ReadResult<Row> extends QueryResult<Row> {
  readonly from: ReadSource;
}

/** A write the router acknowledged, with the primary's WAL position after its commit. */
export interface AcknowledgedWrite {
  /** The session that wrote it (1, 2, ... in the order sessions were opened). */
  readonly session: number;
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly lsn: string;
}

/** What a failover did. */
export interface FailoverReport {
  /** The last WAL position the old standby had received and replayed when it was promoted. */
  readonly promotedAtLsn: string;
  /** The acknowledged writes that were not on the standby when it was promoted: they are lost. */
  readonly lostWrites: readonly AcknowledgedWrite[];
}
