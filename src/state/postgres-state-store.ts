import pg from 'pg';
import { configError, EtlError, isRetryable } from '../errors.js';
import { decodePipelineState, encodePipelineState } from './pipeline-state-codec.js';
import type { PipelineState, StateStore } from './state-store.js';

/** Options of {@link postgresState}. */
export interface PostgresStateOptions {
  /** Where to keep the state (any Postgres; usually the source database). */
  readonly connectionString: string;
  /** Schema of the state table, created if missing. Default `etl_stream`. */
  readonly schema?: string;
  /** State table, created if missing. Default `pipeline_state`. */
  readonly table?: string;
  /** Time limit for connecting and for each statement, in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
}

/** The library's own schema, kept apart from user tables. */
export const DEFAULT_STATE_SCHEMA = 'etl_stream';
/** One row per pipeline. */
export const DEFAULT_STATE_TABLE = 'pipeline_state';
/** Long enough for a loaded server, short enough that an unreachable one fails a save instead of hanging it. */
export const DEFAULT_POSTGRES_STATE_TIMEOUT_MS = 10_000;
/** Saves are serial per pipeline; two connections cover a save and a load. */
const POOL_SIZE = 2;

/** Quotes a Postgres identifier (the one place identifiers of this store are quoted). */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The SQL this store sends, for one schema-qualified table. */
function statements(schema: string, table: string) {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return {
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
    createTable:
      `CREATE TABLE IF NOT EXISTS ${qualified} (` +
      'pipeline text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())',
    load: `SELECT state::text AS state FROM ${qualified} WHERE pipeline = $1`,
    save:
      `INSERT INTO ${qualified} (pipeline, state, updated_at) VALUES ($1, $2::jsonb, now()) ` +
      'ON CONFLICT (pipeline) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at',
    delete: `DELETE FROM ${qualified} WHERE pipeline = $1`,
  };
}

/**
 * A {@link StateStore} that keeps one row per pipeline in a Postgres table
 * (`etl_stream.pipeline_state` by default, created on first use). A save is
 * one `INSERT ... ON CONFLICT DO UPDATE` statement: atomic, and durable when
 * it resolves (the server's commit). The state column is `jsonb` with LSNs as
 * `X/Y` text, so operators can read it with SQL.
 *
 * Failures reject with `STATE_STORE` errors, retryable when the cause is a
 * connection problem; every connect and statement is bounded by `timeoutMs`.
 * Construction does no I/O.
 *
 * @example
 * ```ts
 * const store = postgresState({ connectionString: process.env.DATABASE_URL! });
 * await store.save('orders', state);
 * await store.close();
 * ```
 */
export class PostgresStateStore implements StateStore {
  private readonly pool: pg.Pool;
  private readonly sql: ReturnType<typeof statements>;
  private ready: Promise<void> | undefined;
  private closed = false;

  constructor(options: PostgresStateOptions) {
    if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
      throw configError('connectionString', 'must be a Postgres connection string (postgres://...)');
    }
    const schema = options.schema ?? DEFAULT_STATE_SCHEMA;
    const table = options.table ?? DEFAULT_STATE_TABLE;
    for (const [field, value] of [
      ['schema', schema],
      ['table', table],
    ] as const) {
      if (typeof value !== 'string' || value === '' || value.length > 63) {
        throw configError(field, 'must be a non-empty identifier of at most 63 characters');
      }
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_POSTGRES_STATE_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw configError('timeoutMs', `must be a positive integer, got ${String(timeoutMs)}`);
    }
    this.sql = statements(schema, table);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: POOL_SIZE,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      statement_timeout: timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'etl-stream state',
    });
    // An idle client's connection error must not crash the host: the next query reports it.
    this.pool.on('error', () => {});
  }

  /** The last saved state, or undefined for a new pipeline. */
  async load(pipeline: string): Promise<PipelineState | undefined> {
    const { rows } = await this.query<{ state: string }>('load', this.sql.load, [pipeline]);
    const row = rows[0];
    return row ? decodePipelineState(row.state, pipeline) : undefined;
  }

  /** Upserts the pipeline's row in one statement; resolves once committed. */
  async save(pipeline: string, state: PipelineState): Promise<void> {
    await this.query('save', this.sql.save, [pipeline, encodePipelineState(state)]);
  }

  /** Deletes the pipeline's row. */
  async delete(pipeline: string): Promise<void> {
    await this.query('delete', this.sql.delete, [pipeline]);
  }

  /** Ends the connection pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async query<R extends pg.QueryResultRow>(
    step: string,
    text: string,
    params: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'Postgres state store used after close()');
    try {
      this.ready ??= this.createTable();
      await this.ready;
      return await this.pool.query<R>(text, params);
    } catch (err) {
      if (err instanceof EtlError) throw err;
      const retryable = isRetryable(err) || /timeout|terminated/i.test(String(err));
      throw new EtlError('STATE_STORE', `Postgres state store failed to ${step}: ${messageOf(err)}`, {
        retryable,
        hint: retryable
          ? 'Check that the state database is reachable; the pipeline retries.'
          : 'Check the role can create and write the state table (CREATE on the database, or create it yourself).',
        cause: err,
      });
    }
  }

  private async createTable(): Promise<void> {
    // Two workers creating the table at once: the loser sees a duplicate, which means it exists.
    // Depending on timing Postgres reports it on pg_type's unique index (23505), as the row
    // type already existing (42710), or as the schema/table existing (42P06/42P07).
    const exists = (err: { code?: string }) => ['23505', '42710', '42P06', '42P07'].includes(err.code ?? '');
    try {
      await this.pool.query(this.sql.createSchema).catch((e) => (exists(e) ? undefined : Promise.reject(e)));
      await this.pool.query(this.sql.createTable).catch((e) => (exists(e) ? undefined : Promise.reject(e)));
    } catch (err) {
      this.ready = undefined;
      throw err;
    }
  }
}

/**
 * Creates a {@link PostgresStateStore}. Options are validated now (errors
 * name the field); nothing connects until the first load or save.
 *
 * @example
 * ```ts
 * pipeline.state(postgresState({ connectionString, schema: 'etl_stream', table: 'pipeline_state' }));
 * ```
 */
export function postgresState(options: PostgresStateOptions): PostgresStateStore {
  return new PostgresStateStore(options);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
