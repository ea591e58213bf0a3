/**
 * The demo's PostgreSQL: the server in `DATABASE_URL` when set (checked for
 * logical replication, and only ever touched inside the demo's own schema,
 * slot and publication), otherwise a private one started for this run from
 * the machine's binaries and removed at the end.
 */
import { redactSecrets } from 'etl-stream';
import { findPostgresBinaries, startPrivatePostgres } from 'etl-stream/testing';
import pg from 'pg';
import { createDemoTables, DEMO_SCHEMA, DEMO_SCHEMA_COMMENT } from './workload.js';

/** The slot and publication the `demo` pipeline uses (its defaults: `etl_<name>`). */
export const DEMO_SLOT = 'etl_demo';
export const DEMO_PUBLICATION = 'etl_demo';

/** A failure whose message already says what to do: printed as is. */
export class DemoSetupError extends Error {}

/** The database the demo runs against. */
export interface DemoDatabase {
  readonly url: string;
  /** One line for the header. */
  readonly description: string;
  /** True when the demo started the server itself (and removes it in {@link DemoDatabase.close}). */
  readonly isPrivate: boolean;
  /** Stops a private server and removes its files; nothing for DATABASE_URL. */
  close(): Promise<void>;
}

/** Opens a client, or fails with a message that says what to check. */
export async function connect(url: string, what: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'etl-stream-demo' });
  client.on('error', () => {}); // a lost connection surfaces on the next query
  try {
    await client.connect();
  } catch (err) {
    throw new DemoSetupError(
      `Cannot connect to ${what} (${redactSecrets(url)}): ${(err as Error).message}.\n` +
        'Check the URL and that the server is running, or unset DATABASE_URL to let the demo start a private PostgreSQL.',
    );
  }
  return client;
}

/** The server from `DATABASE_URL` (checked), or a private one. */
export async function openDemoDatabase(env: NodeJS.ProcessEnv = process.env): Promise<DemoDatabase> {
  const url = env.DATABASE_URL;
  if (url) {
    const client = await connect(url, 'DATABASE_URL');
    try {
      const { rows } = await client.query<{ wal_level: string; version: string }>(
        "SELECT current_setting('wal_level') AS wal_level, split_part(current_setting('server_version'), ' ', 1) AS version",
      );
      const { wal_level, version } = rows[0]!;
      if (wal_level !== 'logical') {
        throw new DemoSetupError(
          `DATABASE_URL points at a PostgreSQL with wal_level = ${wal_level}; the demo streams changes by logical ` +
            'replication, which needs wal_level = logical.\n' +
            'Fix: run  ALTER SYSTEM SET wal_level = logical;  as a superuser, then restart PostgreSQL ' +
            '(or set wal_level = logical in postgresql.conf and restart).\n' +
            'Or unset DATABASE_URL: the demo then starts a private PostgreSQL of its own.',
        );
      }
      const u = new URL(url);
      return {
        url,
        description: `PostgreSQL ${version} at ${u.hostname}:${u.port || 5432}${u.pathname} (DATABASE_URL; the demo uses schema ${DEMO_SCHEMA}, slot ${DEMO_SLOT}, publication ${DEMO_PUBLICATION})`,
        isPrivate: false,
        close: async () => {},
      };
    } finally {
      await client.end();
    }
  }
  let server: Awaited<ReturnType<typeof startPrivatePostgres>>;
  try {
    server = await startPrivatePostgres();
  } catch (err) {
    if (!findPostgresBinaries()) {
      throw new DemoSetupError(
        'No PostgreSQL server binaries found (initdb, pg_ctl, postgres), so the demo cannot start its own PostgreSQL.\n' +
          'Install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), or set PG_BINDIR to their directory,\n' +
          'or set DATABASE_URL to a PostgreSQL with wal_level = logical.',
      );
    }
    throw err;
  }
  const client = await connect(server.url, 'the private PostgreSQL');
  const { version } = (
    await client.query<{ version: string }>(
      "SELECT split_part(current_setting('server_version'), ' ', 1) AS version", // '15.20 (Debian ...)' → '15.20'
    )
  ).rows[0]!;
  await client.end();
  return {
    url: server.url,
    description: `private PostgreSQL ${version} on 127.0.0.1:${server.port}, started for this run (data in ${server.dir}, removed at the end)`,
    isPrivate: true,
    close: () => server.stop(),
  };
}

/**
 * Creates the demo schema and tables from scratch. Leftovers of an earlier,
 * interrupted run (the demo's marked schema, its slot and publication) are
 * removed first; anything else of the same name is left alone and reported.
 */
export async function createDemoSchema(url: string): Promise<void> {
  const client = await connect(url, 'PostgreSQL');
  try {
    const schema = await client.query<{ comment: string | null }>(
      "SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1",
      [DEMO_SCHEMA],
    );
    const ours = schema.rows[0]?.comment === DEMO_SCHEMA_COMMENT;
    if (schema.rows.length > 0 && !ours) {
      throw new DemoSetupError(
        `Schema ${DEMO_SCHEMA} already exists and was not created by the demo: not touching it. ` +
          'Point DATABASE_URL at another database, or unset it to let the demo start a private PostgreSQL.',
      );
    }
    const slot = await client.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [DEMO_SLOT],
    );
    if (slot.rows.length > 0) {
      if (!ours || slot.rows[0]!.active) {
        throw new DemoSetupError(
          `Replication slot ${DEMO_SLOT} already exists${slot.rows[0]!.active ? ' and is in use (is another demo running?)' : ''}; the demo will not drop a slot it did not create.\n` +
            `Drop it yourself (SELECT pg_drop_replication_slot('${DEMO_SLOT}');) or use another server.`,
        );
      }
      await client.query('SELECT pg_drop_replication_slot($1)', [DEMO_SLOT]);
    }
    const publication = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
      DEMO_PUBLICATION,
    ]);
    if (publication.rows.length > 0) {
      if (!ours) {
        throw new DemoSetupError(
          `Publication ${DEMO_PUBLICATION} already exists and was not created by the demo: not touching it.`,
        );
      }
      await client.query(`DROP PUBLICATION ${DEMO_PUBLICATION}`);
    }
    if (ours) await client.query(`DROP SCHEMA ${DEMO_SCHEMA} CASCADE`);
    await createDemoTables(client);
  } finally {
    await client.end();
  }
}

/**
 * Removes what the demo created on a server it does not own: the slot first
 * (it holds WAL), then the publication and the schema. Call after the
 * pipeline stopped (an active slot cannot be dropped).
 */
export async function dropDemoObjects(url: string): Promise<void> {
  const client = await connect(url, 'PostgreSQL');
  try {
    // The walsender may take a moment to let go of the slot after the pipeline closed.
    for (let i = 0; ; i++) {
      const { rows } = await client.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [DEMO_SLOT],
      );
      if (rows.length === 0) break;
      if (!rows[0]!.active) {
        await client.query('SELECT pg_drop_replication_slot($1)', [DEMO_SLOT]);
        break;
      }
      if (i >= 100) throw new Error(`Replication slot ${DEMO_SLOT} stayed active; drop it by hand`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.query(`DROP PUBLICATION IF EXISTS ${DEMO_PUBLICATION}`);
    await client.query(`DROP SCHEMA IF EXISTS ${DEMO_SCHEMA} CASCADE`);
  } finally {
    await client.end();
  }
}
