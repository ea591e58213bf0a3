/**
 * Every SQL statement the pipeline manager sends to its configuration
 * database, in one place. Values travel as bind parameters; the only
 * identifiers are the schema (validated, then quoted by {@link quoteIdent})
 * and the tables and objects inside it.
 */
import { configError } from '../errors.js';

/** The manager's schema when none is given (shared with the Postgres state store's default). */
export const DEFAULT_MANAGER_SCHEMA = 'etl_stream';

/** Lower-case, unquoted-safe names only: the schema also names the NOTIFY channel. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** Quotes an identifier: `a"b` → `"a""b"`. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Checks a schema name given as an option. */
export function validSchemaName(field: string, schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw configError(
      field,
      `must be 1-48 lower-case letters, digits or "_", starting with a letter or "_", got ${JSON.stringify(schema)}`,
      `Use a plain name such as "${DEFAULT_MANAGER_SCHEMA}".`,
    );
  }
  return schema;
}

/** The migrations, in order: step N brings the schema from version N-1 to N. Never edit a released step. */
function migrationSteps(schema: string): string[][] {
  const s = quoteIdent(schema);
  const channel = notifyChannel(schema);
  return [
    [
      `CREATE TABLE ${s}.pipelines (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_-]{1,63}$'),
  enabled boolean NOT NULL DEFAULT true,
  source jsonb NOT NULL,
  destination jsonb NOT NULL,
  transforms jsonb NOT NULL DEFAULT '[]'::jsonb,
  batch jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
      `CREATE TABLE ${s}.pipeline_status (
  name text PRIMARY KEY,
  owner text,
  state text NOT NULL,
  confirmed_lsn pg_lsn,
  lag_bytes numeric,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
      `CREATE FUNCTION ${s}.pipelines_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  RETURN NEW;
END $$`,
      `CREATE TRIGGER pipelines_touch BEFORE UPDATE ON ${s}.pipelines
  FOR EACH ROW EXECUTE FUNCTION ${s}.pipelines_touch()`,
      `CREATE FUNCTION ${s}.pipelines_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${channel}', coalesce(NEW.name, OLD.name));
  RETURN NULL;
END $$`,
      `CREATE TRIGGER pipelines_notify AFTER INSERT OR UPDATE OR DELETE ON ${s}.pipelines
  FOR EACH ROW EXECUTE FUNCTION ${s}.pipelines_notify()`,
    ],
  ];
}

/** The schema version this release of etl-stream expects. */
export const MANAGER_SCHEMA_VERSION = 1;

/**
 * The whole migration of the pipeline manager's schema as one SQL script,
 * for running by hand (`psql -f`) or reviewing; `PipelineManager.migrate()`
 * applies the same statements.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * writeFileSync('etl-stream-manager.sql', managerMigrationSql('etl_stream'));
 * ```
 */
export function managerMigrationSql(schema: string = DEFAULT_MANAGER_SCHEMA): string {
  const s = quoteIdent(schema);
  const lines = [
    'BEGIN;',
    `CREATE SCHEMA IF NOT EXISTS ${s};`,
    `CREATE TABLE IF NOT EXISTS ${s}.manager_schema (version int NOT NULL);`,
  ];
  migrationSteps(schema).forEach((step, i) => {
    lines.push(`-- step ${i + 1}`);
    for (const statement of step) lines.push(`${statement};`);
  });
  lines.push(`DELETE FROM ${s}.manager_schema;`);
  lines.push(`INSERT INTO ${s}.manager_schema VALUES (${MANAGER_SCHEMA_VERSION});`);
  lines.push('COMMIT;');
  return lines.join('\n');
}

/** The NOTIFY channel the trigger signals on (the payload is the pipeline name). */
export function notifyChannel(schema: string): string {
  return `${schema}_pipelines`;
}

/** The statements the manager runs, bound to one schema. */
export function managerSql(schema: string) {
  const s = quoteIdent(schema);
  return {
    /** Serialises concurrent migrations (several workers starting at once). */
    migrationLock: `SELECT pg_advisory_xact_lock(hashtext(${literal(`${schema}.manager_schema`)}))`,
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${s}`,
    createVersionTable: `CREATE TABLE IF NOT EXISTS ${s}.manager_schema (version int NOT NULL)`,
    readVersion: `SELECT max(version) AS version FROM ${s}.manager_schema`,
    /** False when the schema was never migrated. */
    schemaPresent: `SELECT to_regclass(${literal(`${s}.manager_schema`)}) IS NOT NULL AS present`,
    clearVersion: `DELETE FROM ${s}.manager_schema`,
    insertVersion: `INSERT INTO ${s}.manager_schema VALUES ($1)`,
    steps: migrationSteps(schema),
    listen: `LISTEN ${quoteIdent(notifyChannel(schema))}`,
    readDefinitions: `SELECT name, enabled, source, destination, transforms, batch, version::text AS version
  FROM ${s}.pipelines ORDER BY name`,
    upsertStatus: `INSERT INTO ${s}.pipeline_status (name, owner, state, confirmed_lsn, lag_bytes, last_error, updated_at)
  VALUES ($1, $2, $3, $4::pg_lsn, $5::numeric, $6, now())
  ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, state = EXCLUDED.state,
    confirmed_lsn = EXCLUDED.confirmed_lsn, lag_bytes = EXCLUDED.lag_bytes,
    last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at`,
    deleteStatus: `DELETE FROM ${s}.pipeline_status WHERE name = $1`,
    readStatus: `SELECT name, owner, state, confirmed_lsn::text AS confirmed_lsn, lag_bytes::text AS lag_bytes,
    last_error, updated_at FROM ${s}.pipeline_status ORDER BY name`,
  };
}

/** A string literal; only for names validated by {@link validSchemaName}. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
