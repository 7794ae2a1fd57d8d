/**
 * Where this lab's PostgreSQL is, and a clear message when it is not there.
 *
 * The Data Labs extension (or `npx data-labs services up replication`) starts
 * the database and writes its connection details to `.env` in this folder, for example
 *
 *     DATABASE_URL=postgresql://lab:<password>@127.0.0.1:<port>/lab
 *
 * (the embedded server, without Docker, listens on a Unix socket in this folder's
 * `.data-labs/run`, which the URL names: `...@localhost:5432/postgres?host=<folder>`).
 *
 * `DATABASE_URL` in the environment of the test process wins over the file, so a CI job
 * or a classroom can point every test at a database of its own.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** The lab's id, as the `data-labs` command line knows it. */
export const LAB_ID = 'replication';

const ENV_FILE = '.env';

/** This lab's folder: the one above test/. */
export const LAB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Give up on a server that does not answer rather than wait forever. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The one message a learner sees when the database cannot be used. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';

  /**
   * `reason` says what exactly failed. `refused` means a server answered but turned the
   * connection down (a wrong password, an unknown database): usually a `.env` left over
   * from an earlier start.
   */
  constructor(reason: string, refused = false) {
    super(
      `${refused ? "This lab's PostgreSQL refused the connection." : "This lab's PostgreSQL is not running."} ` +
        'Open the lab from the Distributed Data Labs sidebar (it starts the database and rewrites .env), ' +
        `or run \`data-labs services up ${LAB_ID} .\` in this folder. (${reason})`,
    );
    // The stack trace would only point into this helper, so leave it out of the test output.
    this.stack = `${this.name}: ${this.message}`;
  }
}

export interface DatabaseTarget {
  /** A `postgresql://` URL for `pg`. */
  readonly url: string;
  /** Where the URL came from, for messages. */
  readonly source: string;
}

/** Reads `KEY=value` lines; blank lines and lines starting with `#` are skipped. */
export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const equals = line.indexOf('=');
    if (equals <= 0) {
      continue;
    }
    let value = line.slice(equals + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    values.set(line.slice(0, equals).trim(), value);
  }
  return values;
}

/**
 * The database to use: `DATABASE_URL` from the environment, else `DATABASE_URL` (or
 * `POSTGRES_URL`) from `<labDir>/.env`. Throws DatabaseUnavailableError when neither exists.
 */
export function databaseTarget(labDir: string = LAB_DIR, env: NodeJS.ProcessEnv = process.env): DatabaseTarget {
  const fromEnvironment = env['DATABASE_URL']?.trim();
  if (fromEnvironment) {
    return { url: fromEnvironment, source: 'DATABASE_URL in the environment' };
  }
  const file = path.join(labDir, ENV_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DatabaseUnavailableError(
      code === 'ENOENT' ? `No ${ENV_FILE} here: ${file} does not exist` : `${file} cannot be read: ${(error as Error).message}`,
    );
  }
  const values = parseEnvFile(text);
  const url = values.get('DATABASE_URL') || values.get('POSTGRES_URL');
  if (!url) {
    throw new DatabaseUnavailableError(`${file} has no DATABASE_URL or POSTGRES_URL line`);
  }
  return { url, source: file };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '(a DATABASE_URL that is not a valid URL)';
  }
}

/** Connects once and runs `SELECT 1`; throws DatabaseUnavailableError saying why that failed. */
export async function checkDatabase(target: DatabaseTarget): Promise<void> {
  const client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const reason = (error as Error).message || String(error);
    // A DatabaseError is the server's own answer: it runs, but will not let us in.
    throw new DatabaseUnavailableError(`could not connect to ${redact(target.url)} (from ${target.source}): ${reason}`, error instanceof pg.DatabaseError);
  } finally {
    await client.end().catch(() => undefined);
  }
}
