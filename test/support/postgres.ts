/**
 * Per-test-file databases on the harness PostgreSQL, so files run in parallel
 * and never share slots or publications.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** A fresh database for one test file. */
export interface TestDatabase {
  /** Connection string of the fresh database. */
  readonly url: string;
  /** Its name. */
  readonly name: string;
  /** Runs SQL in the fresh database (a new short-lived client each call). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Drops the slots of this database, then the database itself. */
  drop(): Promise<void>;
}

/** The harness's admin connection string (database `postgres`). */
export function adminUrl(): string {
  return inject('pgAdminUrl');
}

/** The same server, another database. */
export function urlForDatabase(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `fn` on a fresh client to `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a randomly named database; call `drop()` in `afterAll`. */
export async function createTestDatabase(prefix = 'etl_t'): Promise<TestDatabase> {
  const admin = adminUrl();
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await withClient(admin, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = urlForDatabase(admin, name);
  return {
    url,
    name,
    query: (sql, params) => withClient(url, (c) => c.query(sql, params)),
    async drop() {
      await withClient(admin, async (c) => {
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        // A slot's walsender may take a moment to exit after being terminated.
        for (let i = 0; i < 100; i++) {
          const { rows } = await c.query<{ slot_name: string; active: boolean }>(
            'SELECT slot_name, active FROM pg_replication_slots WHERE database = $1',
            [name],
          );
          if (rows.length === 0) break;
          for (const r of rows) {
            if (!r.active)
              await c.query('SELECT pg_drop_replication_slot($1)', [r.slot_name]).catch(() => {});
          }
          await new Promise((res) => setTimeout(res, 50));
        }
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}
