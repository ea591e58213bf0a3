import type pg from 'pg';
import { EtlError } from '../errors.js';
import { MANAGER_SCHEMA_VERSION, type managerSql } from './manager-sql.js';

/**
 * Brings the manager's schema to {@link MANAGER_SCHEMA_VERSION}: creates the
 * schema, then applies the steps it lacks, in one transaction under an
 * advisory lock (workers migrating at once wait for each other; the second
 * finds nothing to do). Returns the version before.
 */
export async function migrateManagerSchema(
  client: pg.ClientBase,
  sql: ReturnType<typeof managerSql>,
): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query(sql.migrationLock);
    await client.query(sql.createSchema);
    await client.query(sql.createVersionTable);
    const { rows } = await client.query<{ version: number | null }>(sql.readVersion);
    const from = rows[0]?.version ?? 0;
    if (from > MANAGER_SCHEMA_VERSION) {
      throw new EtlError(
        'CONFIG_INVALID',
        `The manager's schema is at version ${from}, newer than this etl-stream knows (${MANAGER_SCHEMA_VERSION})`,
        { hint: 'Upgrade etl-stream on this worker to the release the other workers run.' },
      );
    }
    for (const step of sql.steps.slice(from)) for (const statement of step) await client.query(statement);
    if (from < MANAGER_SCHEMA_VERSION) {
      await client.query(sql.clearVersion);
      await client.query(sql.insertVersion, [MANAGER_SCHEMA_VERSION]);
    }
    await client.query('COMMIT');
    return from;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Rejects with a hint to migrate unless the schema is at the version this release expects. */
export async function checkManagerSchema(
  pool: pg.Pool,
  sql: ReturnType<typeof managerSql>,
  schema: string,
): Promise<void> {
  const { rows } = await pool.query<{ present: boolean }>(sql.schemaPresent);
  const version = rows[0]?.present
    ? ((await pool.query<{ version: number | null }>(sql.readVersion)).rows[0]?.version ?? 0)
    : 0;
  if (version !== MANAGER_SCHEMA_VERSION) {
    throw new EtlError(
      'CONFIG_INVALID',
      version === 0
        ? `The configuration database has no pipeline manager tables in schema "${schema}"`
        : `The pipeline manager tables in schema "${schema}" are at version ${version}, this etl-stream expects ${MANAGER_SCHEMA_VERSION}`,
      {
        hint: 'Run `await manager.migrate()` once (or the SQL in docs/manager.md), then start the manager.',
        details: { schema, version, expected: MANAGER_SCHEMA_VERSION },
      },
    );
  }
}
