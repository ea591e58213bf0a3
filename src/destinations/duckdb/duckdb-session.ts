import { EtlError } from '../../errors.js';

/** A value bound to a `$n` parameter. */
export type DuckDBParam = string | number | bigint | boolean | null;

/**
 * One DuckDB connection, as the destination uses it: statements run one at
 * a time, results come back as JSON-safe row objects (BIGINT, UBIGINT and
 * DECIMAL as exact strings, timestamps as text).
 */
export interface DuckDBSession {
  /** Runs one statement. */
  run(sql: string, params?: readonly DuckDBParam[]): Promise<void>;
  /** Runs a query and returns its rows. */
  rows(sql: string, params?: readonly DuckDBParam[]): Promise<Record<string, unknown>[]>;
  /** Cancels the running statement (it rejects). */
  interrupt(): void;
  /** Closes the connection and the database. */
  close(): void;
}

/** Minimal shape of `@duckdb/node-api` used here. */
interface DuckDBNodeApi {
  DuckDBInstance: {
    create(
      path: string,
      options?: Record<string, string>,
    ): Promise<{
      connect(): Promise<DuckDBConnectionLike>;
      closeSync(): void;
    }>;
  };
}

interface DuckDBConnectionLike {
  run(sql: string, values?: DuckDBParam[]): Promise<unknown>;
  runAndReadAll(
    sql: string,
    values?: DuckDBParam[],
  ): Promise<{ getRowObjectsJson(): Record<string, unknown>[] }>;
  interrupt(): void;
  closeSync(): void;
}

/**
 * Opens (or creates) the DuckDB database file at `path` with DuckDB
 * settings `config` (e.g. `memory_limit`) and connects,
 * loading `@duckdb/node-api` only now: it is an optional peer dependency,
 * and importing etl-stream never loads it.
 */
export async function openDuckDB(path: string, config?: Record<string, string>): Promise<DuckDBSession> {
  const moduleName = '@duckdb/node-api';
  let api: DuckDBNodeApi;
  try {
    api = (await import(moduleName)) as DuckDBNodeApi;
  } catch (err) {
    throw new EtlError('CONFIG_INVALID', 'The duckdb() destination needs the `@duckdb/node-api` package', {
      hint: 'Install it next to etl-stream: npm install @duckdb/node-api',
      cause: err,
    });
  }
  const instance = await api.DuckDBInstance.create(path, config);
  const connection = await instance.connect();
  return {
    run: async (sql, params) => {
      await connection.run(sql, params ? [...params] : undefined);
    },
    rows: async (sql, params) =>
      (await connection.runAndReadAll(sql, params ? [...params] : undefined)).getRowObjectsJson(),
    interrupt: () => connection.interrupt(),
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
