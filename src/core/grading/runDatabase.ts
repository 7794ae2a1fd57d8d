/**
 * A grading run's place in the lab's PostgreSQL, made by the grader's process (never the
 * learner's): the run's schema, and on a server with roles (Docker) a login role of the run's
 * own that owns that schema and nothing else. The learner's process is handed only that
 * role's URL, so its code can build and use its tables in the run's schema but cannot read or
 * write the grader's own tables (the saga's services keep the truth in schemas beside it),
 * another run's schema, or create anything elsewhere: a learner's write there fails with
 * "permission denied", and the check it was part of fails with it.
 *
 * The embedded server (PGlite) has one user, who is every connection: there the learner's
 * process gets the owner's URL, and nothing of this holds (the README's security notes say so).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Backend } from '../backend';

/** How long a run's role may log in: far past any grading's time limit; an abandoned one expires and is dropped by a later run. */
const ROLE_VALID_HOURS = 25;
/** The suffix that marks a run's role, so a later run can find expired ones. */
const ROLE_SUFFIX = '_learner';

export interface RunDatabase {
  /** The schema of the run, owned by the learner's role where there is one. */
  readonly schema: string;
  /** The URL the learner's process connects with. */
  readonly learnerUrl: string;
  /** The run's own role, on a server with roles (Docker); undefined on the embedded server. */
  readonly role: string | undefined;
  /** Ends the learner's remaining connections, drops the schema with everything in it, and the role. */
  drop(): Promise<void>;
}

function checkName(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) {
    throw new Error(`Not a schema name: ${name}`);
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Makes the run's schema (and, on Docker, its role) with the lab's owner URL `adminUrl`.
 * Roles of earlier runs that expired (a grading killed before its clean-up) are dropped first.
 */
export async function openRunDatabase(adminUrl: string, schema: string, backend: Backend): Promise<RunDatabase> {
  checkName(schema);
  if (backend === 'embedded') {
    await withClient(adminUrl, (c) => c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`));
    return {
      schema,
      learnerUrl: adminUrl,
      role: undefined,
      drop: () => withClient(adminUrl, async (c) => void (await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))),
    };
  }
  const role = `${schema}${ROLE_SUFFIX}`;
  const password = randomBytes(18).toString('hex');
  await withClient(adminUrl, async (c) => {
    await dropExpiredRoles(c);
    const until = new Date(Date.now() + ROLE_VALID_HOURS * 3_600_000).toISOString();
    // NOINHERIT and no membership: the role has the rights PUBLIC has, and owns its schema.
    await c.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD '${password}' VALID UNTIL '${until}'`);
    await c.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
    // Older servers (before 15) let PUBLIC create in `public`: the run's code keeps to its own schema.
    await c.query(`REVOKE CREATE ON SCHEMA public FROM ${role}`).catch(() => undefined);
  });
  const url = new URL(adminUrl);
  url.username = role;
  url.password = password;
  return {
    schema,
    learnerUrl: url.toString(),
    role,
    drop: () => withClient(adminUrl, (c) => dropRun(c, schema, role)),
  };
}

async function dropRun(c: pg.Client, schema: string, role: string): Promise<void> {
  // The learner's processes are ended by now; a connection the server still holds for one is ended here.
  await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.query(`DROP OWNED BY ${role}`).catch(() => undefined);
  await c.query(`DROP ROLE IF EXISTS ${role}`);
}

/** Drops the roles (and schemas) of runs whose role has expired: nobody can log in as them any more. */
async function dropExpiredRoles(c: pg.Client): Promise<void> {
  const { rows } = await c.query<{ role: string }>(
    `SELECT rolname AS role FROM pg_roles WHERE rolname LIKE 'grade\\_%${ROLE_SUFFIX}' AND rolvaliduntil IS NOT NULL AND rolvaliduntil < now()`,
  );
  for (const { role } of rows) {
    if (/^grade_[a-z0-9_]+$/.test(role)) {
      await dropRun(c, role.slice(0, -ROLE_SUFFIX.length), role).catch(() => undefined);
    }
  }
}
