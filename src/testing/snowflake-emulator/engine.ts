/**
 * The embedded engine (DuckDB, loaded on demand): Snowflake databases are
 * attached in-memory databases, sessions are engine connections. {@link Exec}
 * runs one statement's engine SQL with Snowflake's transaction semantics.
 */
import { rm } from 'node:fs/promises';
import type { DuckDBConnection, DuckDBInstance, DuckDBResultReader } from '@duckdb/node-api';
import { fromEngineError } from './errors.js';
import { decodeName, engineIdent, literal } from './names.js';
import { type LockTimings, type ParamValue, Session, WriteLock } from './session.js';
import { SESSION_MACROS } from './sql/functions.js';
import { StageStore } from './stages.js';
import { type SfType, sfTypeOfColumn } from './types.js';

type DuckDB = typeof import('@duckdb/node-api');

let duckdb: Promise<DuckDB> | undefined;

/** Loads `@duckdb/node-api` (an optional peer dependency) on first use. */
export function loadDuckDB(): Promise<DuckDB> {
  duckdb ??= import('@duckdb/node-api').catch((err: unknown) => {
    duckdb = undefined;
    throw new Error(
      'The Snowflake emulator needs the optional peer dependency "@duckdb/node-api": npm install @duckdb/node-api',
      { cause: err },
    );
  });
  return duckdb;
}

/** A column of a table, as the catalog knows it. */
export interface CatalogColumn {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  readonly position: number;
  readonly nullable: boolean;
  readonly default: string | null;
  readonly type: SfType;
}

/** A table or view. */
export interface CatalogTable {
  readonly database: string;
  readonly schema: string;
  readonly name: string;
  readonly kind: 'TABLE' | 'VIEW';
}

/** Engine databases and schemas that are not Snowflake objects. */
const HIDDEN_DATABASES = new Set(['system', 'temp', 'memory']);
const HIDDEN_SCHEMAS = new Set(['main', 'pg_catalog', 'information_schema']);

export class Engine {
  readonly lock: WriteLock;
  /** COPY load history: table key → staged file → md5. */
  readonly loadHistory = new Map<string, Map<string, string>>();

  private constructor(
    readonly instance: DuckDBInstance,
    readonly stages: StageStore,
    timings: LockTimings,
  ) {
    this.lock = new WriteLock(timings, (s) => this.abortTransaction(s));
  }

  static async create(stageDir: string, timings: LockTimings): Promise<Engine> {
    const { DuckDBInstance } = await loadDuckDB();
    const instance = await DuckDBInstance.create(':memory:');
    return new Engine(instance, new StageStore(stageDir), timings);
  }

  /** Creates a database with its PUBLIC schema; returns false when it existed. */
  async createDatabase(name: string, ifNotExists: boolean): Promise<boolean> {
    if (await this.databaseExists(name)) {
      if (ifNotExists) return false;
    }
    const conn = await this.instance.connect();
    try {
      await conn.run(`ATTACH ':memory:' AS ${engineIdent(name)}`);
      await conn.run(`CREATE SCHEMA ${engineIdent(name)}.${engineIdent('PUBLIC')}`);
      return true;
    } catch (err) {
      throw fromEngineError(err);
    } finally {
      conn.closeSync();
    }
  }

  async databaseExists(name: string): Promise<boolean> {
    const conn = await this.instance.connect();
    try {
      const r = await conn.runAndReadAll(
        `SELECT count(*) FROM duckdb_databases() WHERE database_name = ${literal(encode(name))}`,
      );
      return Number(r.getRows()[0]![0]) > 0;
    } finally {
      conn.closeSync();
    }
  }

  async schemaExists(conn: DuckDBConnection, db: string, schema: string): Promise<boolean> {
    const r = await conn.runAndReadAll(
      `SELECT count(*) FROM duckdb_schemas() WHERE database_name = ${literal(encode(db))} AND schema_name = ${literal(encode(schema))}`,
    );
    return Number(r.getRows()[0]![0]) > 0;
  }

  /** Opens a session's engine connection and sets it up (macros, time zone, current schema). */
  async openSession(
    ids: { id: number; token: string; masterToken: string; user: string },
    where: { database: string | null; schema: string | null; warehouse: string | null; role: string | null },
    params: Map<string, ParamValue>,
  ): Promise<Session> {
    const conn = await this.instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    for (const m of SESSION_MACROS) await conn.run(`CREATE OR REPLACE TEMP MACRO ${m}`);
    let database = where.database && (await this.databaseExists(where.database)) ? where.database : null;
    let schema =
      database && where.schema && (await this.schemaExists(conn, database, where.schema))
        ? where.schema
        : null;
    if (database && !schema && (await this.schemaExists(conn, database, 'PUBLIC')) && !where.schema)
      schema = 'PUBLIC';
    if (database)
      await conn.run(
        schema ? `USE ${engineIdent(database)}.${engineIdent(schema)}` : `USE ${engineIdent(database)}`,
      );
    else database = null;
    return new Session(
      ids.id,
      ids.token,
      ids.masterToken,
      ids.user,
      conn,
      database,
      schema,
      where.warehouse,
      where.role,
      params,
    );
  }

  /** Ends a session: rolls back its transaction, drops its temporary stages, closes its connection. */
  async closeSession(s: Session): Promise<void> {
    if (s.closed) return;
    await s.serial(async () => {
      await this.abortTransaction(s);
      s.closed = true;
      s.conn.closeSync();
    });
    await this.stages.dropTemporary(s.id);
  }

  /** Rolls back a session's open transaction (idle-abort, logout). */
  async abortTransaction(s: Session): Promise<void> {
    if (s.engineTxn) await s.conn.run('ROLLBACK').catch(() => {});
    s.engineTxn = false;
    s.inTxn = false;
    s.replay = [];
    await dropScratch(s);
    this.lock.release(s);
  }

  /** Tables and views (optionally of one database/schema), as the given session sees them. */
  async tables(conn: DuckDBConnection, db?: string, schema?: string): Promise<CatalogTable[]> {
    const where = filter(db, schema);
    const r = await conn.runAndReadAll(
      `SELECT database_name, schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE NOT internal AND NOT temporary${where} ` +
        `UNION ALL SELECT database_name, schema_name, view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal AND NOT temporary${where} ORDER BY 1, 2, 3`,
    );
    return r
      .getRows()
      .filter((row) => visible(String(row[0]), String(row[1])))
      .map((row) => ({
        database: decodeName(String(row[0])),
        schema: decodeName(String(row[1])),
        name: decodeName(String(row[2])),
        kind: String(row[3]) as 'TABLE' | 'VIEW',
      }));
  }

  /** Columns (optionally of one database/schema/table), with their Snowflake types. */
  async columns(
    conn: DuckDBConnection,
    db?: string,
    schema?: string,
    table?: string,
  ): Promise<CatalogColumn[]> {
    let where = filter(db, schema);
    if (table !== undefined) where += ` AND table_name = ${literal(encode(table))}`;
    const r = await conn.runAndReadAll(
      'SELECT database_name, schema_name, table_name, column_name, column_index, is_nullable, column_default, data_type, comment ' +
        `FROM duckdb_columns() WHERE NOT internal${where} ORDER BY database_name, schema_name, table_name, column_index`,
    );
    return r
      .getRows()
      .filter((row) => visible(String(row[0]), String(row[1])))
      .map((row) => ({
        database: decodeName(String(row[0])),
        schema: decodeName(String(row[1])),
        table: decodeName(String(row[2])),
        name: decodeName(String(row[3])),
        position: Number(row[4]),
        nullable: Boolean(row[5]),
        default: row[6] === null ? null : String(row[6]),
        type: sfTypeOfColumn(String(row[7]), row[8] === null ? null : String(row[8])),
      }));
  }

  /** Schemas (optionally of one database). */
  async schemas(conn: DuckDBConnection, db?: string): Promise<{ database: string; name: string }[]> {
    const r = await conn.runAndReadAll(
      `SELECT database_name, schema_name FROM duckdb_schemas() WHERE NOT internal${db === undefined ? '' : ` AND database_name = ${literal(encode(db))}`} ORDER BY 1, 2`,
    );
    return r
      .getRows()
      .filter((row) => visible(String(row[0]), String(row[1])))
      .map((row) => ({ database: decodeName(String(row[0])), name: decodeName(String(row[1])) }));
  }

  /** Database names. */
  async databases(): Promise<string[]> {
    const conn = await this.instance.connect();
    try {
      const r = await conn.runAndReadAll('SELECT database_name FROM duckdb_databases() ORDER BY 1');
      return r
        .getRows()
        .map((row) => String(row[0]))
        .filter((d) => !HIDDEN_DATABASES.has(d))
        .map(decodeName);
    } finally {
      conn.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}

function encode(name: string): string {
  return engineIdent(name).slice(1, -1).replace(/""/g, '"');
}

function filter(db?: string, schema?: string): string {
  let where = '';
  if (db !== undefined) where += ` AND database_name = ${literal(encode(db))}`;
  if (schema !== undefined) where += ` AND schema_name = ${literal(encode(schema))}`;
  return where;
}

function visible(db: string, schema: string): boolean {
  return !HIDDEN_DATABASES.has(db) && !HIDDEN_SCHEMAS.has(schema);
}

async function dropScratch(s: Session): Promise<void> {
  for (const f of s.scratch.splice(0)) await rm(f, { force: true });
}

/**
 * Runs one statement's engine SQL for a session with Snowflake's
 * transaction semantics (see session.ts).
 */
export class Exec {
  constructor(
    readonly engine: Engine,
    readonly session: Session,
  ) {}

  private async raw(sql: string): Promise<DuckDBResultReader> {
    return this.session.conn.runAndReadAll(sql);
  }

  /** Runs SQL outside any transaction handling (session setup, catalog reads). */
  async plain(sql: string): Promise<DuckDBResultReader> {
    try {
      return await this.raw(sql);
    } catch (err) {
      throw fromEngineError(err);
    }
  }

  private async enterTxn(label: string): Promise<void> {
    await this.engine.lock.acquire(this.session, label);
    if (!this.session.engineTxn) {
      await this.raw('BEGIN TRANSACTION');
      this.session.engineTxn = true;
      this.session.replay = [];
    }
  }

  /** After a failed statement inside a transaction: a fresh engine transaction with the earlier statements replayed. */
  private async recover(): Promise<void> {
    await this.raw('ROLLBACK').catch(() => {});
    await this.raw('BEGIN TRANSACTION');
    for (const sql of this.session.replay) await this.raw(sql);
  }

  /** A query (or DML): inside the open transaction, or on its own (writes take the lock). */
  async run(sqls: readonly string[], opts: { write: boolean }): Promise<DuckDBResultReader | undefined> {
    const s = this.session;
    let last: DuckDBResultReader | undefined;
    if (s.inTxn) {
      await this.enterTxn(sqls[0] ?? '');
      const done: string[] = [];
      try {
        for (const sql of sqls) {
          last = await this.raw(sql);
          if (opts.write) done.push(sql);
        }
      } catch (err) {
        await this.recover();
        throw fromEngineError(err);
      }
      s.replay.push(...done);
      return last;
    }
    if (!opts.write) {
      try {
        for (const sql of sqls) last = await this.raw(sql);
        return last;
      } catch (err) {
        throw fromEngineError(err);
      }
    }
    return this.autocommit(sqls);
  }

  /** Runs statements in their own transaction, holding the write lock. */
  async autocommit(sqls: readonly string[]): Promise<DuckDBResultReader | undefined> {
    await this.engine.lock.acquire(this.session, sqls[0] ?? '');
    let last: DuckDBResultReader | undefined;
    try {
      await this.raw('BEGIN TRANSACTION');
      try {
        for (const sql of sqls) last = await this.raw(sql);
        await this.raw('COMMIT');
      } catch (err) {
        await this.raw('ROLLBACK').catch(() => {});
        throw fromEngineError(err);
      }
      return last;
    } finally {
      this.engine.lock.release(this.session);
      await dropScratch(this.session);
    }
  }

  /** DDL: commits the open transaction, then runs on its own. */
  async ddl(sqls: readonly string[]): Promise<DuckDBResultReader | undefined> {
    await this.commit();
    return this.autocommit(sqls);
  }

  begin(): void {
    this.session.inTxn = true;
  }

  async commit(): Promise<void> {
    const s = this.session;
    try {
      if (s.engineTxn) await this.raw('COMMIT');
    } catch (err) {
      await this.raw('ROLLBACK').catch(() => {});
      throw fromEngineError(err);
    } finally {
      s.engineTxn = false;
      s.inTxn = false;
      s.replay = [];
      this.engine.lock.release(s);
      await dropScratch(s);
    }
  }

  async rollback(): Promise<void> {
    await this.engine.abortTransaction(this.session);
  }
}
