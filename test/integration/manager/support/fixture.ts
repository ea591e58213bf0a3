/**
 * Shared helpers of the manager tests: a configuration database with the
 * manager's schema, definition rows, and reading a DuckDB destination file.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { parseLsn } from '../../../../src/lsn.js';
import { managerMigrationSql } from '../../../../src/manager/manager-sql.js';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres.js';

export { waitFor } from '../../postgres-source/consumer.js';

/** A fresh configuration database, migrated with the documented SQL script. */
export async function createConfigDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase('etl_mgr_cfg');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(managerMigrationSql('etl_stream'));
  } finally {
    await client.end();
  }
  return db;
}

/** The columns of a definition row (jsonb values as objects). */
export interface DefinitionInput {
  readonly name: string;
  readonly enabled?: boolean;
  readonly source: Record<string, unknown>;
  readonly destination: Record<string, unknown>;
  readonly transforms?: unknown[];
  readonly batch?: Record<string, unknown>;
}

/** Inserts definitions in one statement (one transaction). */
export async function insertDefinitions(
  config: TestDatabase,
  defs: readonly DefinitionInput[],
): Promise<void> {
  const values: unknown[] = [];
  const tuples = defs.map((d, i) => {
    values.push(
      d.name,
      d.enabled ?? true,
      JSON.stringify(d.source),
      JSON.stringify(d.destination),
      JSON.stringify(d.transforms ?? []),
      JSON.stringify(d.batch ?? {}),
    );
    const n = i * 6;
    return `($${n + 1}, $${n + 2}, $${n + 3}::jsonb, $${n + 4}::jsonb, $${n + 5}::jsonb, $${n + 6}::jsonb)`;
  });
  await config.query(
    `INSERT INTO etl_stream.pipelines (name, enabled, source, destination, transforms, batch) VALUES ${tuples.join(', ')}`,
    values,
  );
}

/** Every row of a DuckDB table as text values, ordered by the given SQL. */
export async function duckdbRows(path: string, sql: string): Promise<(string | null)[][]> {
  const instance = await DuckDBInstance.create(path);
  try {
    const c = await instance.connect();
    try {
      const reader = await c.runAndReadAll(sql);
      return reader.getRows().map((row) => row.map((v) => (v === null ? null : String(v))));
    } finally {
      c.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** A source table's rows as text values, columns in select order. */
export async function sourceRows(db: TestDatabase, sql: string): Promise<(string | null)[][]> {
  const { rows } = await db.query(sql);
  return rows.map((r) => Object.values(r).map((v) => (v === null ? null : String(v))));
}

/**
 * Runs `sql` in one transaction and returns a WAL position taken inside it,
 * after the changes: the transaction's commit LSN is above it, and every
 * earlier transaction's is below, so a pipeline whose confirmed commit LSN
 * reached it has delivered this transaction.
 */
export async function commitChanges(db: TestDatabase, sql: string): Promise<bigint> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    await client.query('COMMIT');
    return parseLsn(rows[0]!.lsn);
  } finally {
    await client.end();
  }
}
