/**
 * What your coordinator is handed, and what it returns. You do not need to change this file.
 */
import type { Db } from './db';

/** One participant: a bank with its own PostgreSQL server. */
export interface Bank {
  /** Its name, as transfers name it: 'bank-a' or 'bank-b'. */
  readonly name: string;
  /**
   * Its database, where the table `accounts (id text PRIMARY KEY, balance_cents bigint NOT
   * NULL CHECK (balance_cents >= 0))` already exists. Your code changes balances only
   * inside transactions that end in PREPARE TRANSACTION, never with a plain commit.
   */
  readonly db: Db;
}

/** Everything the coordinator works with. */
export interface Coordinator {
  /**
   * This coordinator's name, unique among the coordinators of these banks: 1 to 40
   * characters, lower-case letters, digits and `-`. Gids name it (TODO 2), and recovery
   * touches only its own.
   */
  readonly id: string;
  /** The participants, by name. */
  readonly banks: Readonly<Record<string, Bank>>;
  /** The coordinator's own database, for its decision log (a third server). */
  readonly log: Db;
  /** How long a participant may take to vote (prepare) before its silence counts as no. */
  readonly voteTimeoutMs: number;
  /** Waits `ms` milliseconds: use it between retries (the tests make it fast). */
  readonly sleep: (ms: number) => Promise<void>;
}

/** An account at one bank. */
export interface AccountRef {
  readonly bank: string;
  readonly account: string;
}

/** Move money from one bank's account to another bank's. */
export interface Transfer {
  /**
   * Unique per transfer, never reused: 1 to 60 characters, letters, digits, `-` and `_`.
   * It is safe to put in a gid as it is.
   */
  readonly id: string;
  readonly from: AccountRef;
  readonly to: AccountRef;
  /** A whole number of cents, at least 1. */
  readonly amountCents: number;
}

/** One balance change at one bank, inside that bank's part of a transfer. */
export interface BalanceChange {
  readonly account: string;
  /** Negative for a debit, positive for a credit. */
  readonly deltaCents: number;
}

/** A participant's answer to "prepare": yes (it holds a prepared transaction), or no and why. */
export type Vote = { readonly vote: 'yes' } | { readonly vote: 'no'; readonly reason: string };

export type Decision = 'commit' | 'abort';

/**
 * What transfer() answers. `committed` is a promise: both banks will have the transfer,
 * even if the coordinator dies the next instant (recovery finishes it). `aborted` means
 * neither bank has it, now or later.
 */
export type TransferOutcome = { readonly status: 'committed' } | { readonly status: 'aborted'; readonly reason: string };

/** What recover() did, each gid once: the in-doubt transactions it committed and those it rolled back. */
export interface RecoveryReport {
  readonly committed: readonly string[];
  readonly rolledBack: readonly string[];
}
