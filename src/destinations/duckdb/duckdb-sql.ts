/**
 * Every SQL text the DuckDB destination sends, with identifiers quoted by
 * {@link quoteIdent} and literals by {@link quoteLiteral}.
 */

import { ChangeOp } from '../../change/metadata-columns.js';
import type { ColumnSchema } from '../../change/table-schema.js';
import { duckdbType } from './duckdb-type.js';

/** Target column: commit LSN of the change that last wrote the row. */
export const TARGET_LSN_COLUMN = '_etl_lsn';
/** Target column: when the row was last written by etl-stream. */
export const TARGET_SYNCED_AT_COLUMN = '_etl_synced_at';
/** Target column of tables without a key (append mode): the change's op. */
export const TARGET_OP_COLUMN = '_etl_op';
/** The watermark table: one row per pipeline, updated in the same transaction as the data. */
export const WATERMARK_TABLE = '_etl_watermark';

/** A schema-qualified DuckDB table. */
export interface TableRef {
  readonly schema: string;
  readonly name: string;
}

/** Quotes an identifier (the one place identifiers are quoted). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal. */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

const qualified = (t: TableRef): string => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

export const BEGIN_SQL = 'BEGIN TRANSACTION';
export const COMMIT_SQL = 'COMMIT';
export const ROLLBACK_SQL = 'ROLLBACK';
export const CHECKPOINT_SQL = 'CHECKPOINT';

export function createSchemaSql(schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`;
}

export function createWatermarkTableSql(schema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${qualified({ schema, name: WATERMARK_TABLE })} ` +
    '(pipeline VARCHAR PRIMARY KEY, commit_lsn UBIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)'
  );
}

export function readWatermarkSql(schema: string): string {
  return `SELECT commit_lsn FROM ${qualified({ schema, name: WATERMARK_TABLE })} WHERE pipeline = $1`;
}

export function upsertWatermarkSql(schema: string): string {
  return (
    `INSERT INTO ${qualified({ schema, name: WATERMARK_TABLE })} VALUES ($1, $2::UBIGINT, now()) ` +
    'ON CONFLICT (pipeline) DO UPDATE SET commit_lsn = greatest(commit_lsn, excluded.commit_lsn), updated_at = excluded.updated_at'
  );
}

/** Names of the columns a table has now (empty when it does not exist). */
export function listColumnsSql(): string {
  return 'SELECT column_name FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2 AND NOT internal';
}

/**
 * A target table: the user columns, then `_etl_lsn` and `_etl_synced_at`
 * (and `_etl_op` first among them for append-mode tables without a key).
 * No PRIMARY KEY constraint: DuckDB checks unique constraints eagerly within
 * a transaction that also deletes (TRUNCATE then re-insert); the destination
 * keeps one row per key itself.
 */
export function createTableSql(table: TableRef, columns: readonly ColumnSchema[], append: boolean): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${duckdbType(c.arrowType)}`);
  if (append) defs.push(`${quoteIdent(TARGET_OP_COLUMN)} UTINYINT`);
  defs.push(`${quoteIdent(TARGET_LSN_COLUMN)} UBIGINT`, `${quoteIdent(TARGET_SYNCED_AT_COLUMN)} TIMESTAMPTZ`);
  return `CREATE TABLE IF NOT EXISTS ${qualified(table)} (${defs.join(', ')})`;
}

export function addColumnSql(table: TableRef, column: ColumnSchema): string {
  return `ALTER TABLE ${qualified(table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column.name)} ${duckdbType(column.arrowType)}`;
}

/** TRUNCATE, as DuckDB runs it inside a transaction. */
export function truncateSql(table: TableRef): string {
  return `DELETE FROM ${qualified(table)}`;
}

/** Loads a Parquet file of staged changes into a connection-private temp table. */
/** DuckDB's cache of external files' contents (on by default since 1.3): off for staged files. */
export const DISABLE_FILE_CACHE_SQL = 'SET enable_external_file_cache = false';

export function stageSql(staging: string, parquetPath: string): string {
  return `CREATE OR REPLACE TEMP TABLE ${quoteIdent(staging)} AS SELECT * FROM read_parquet(${quoteLiteral(parquetPath)})`;
}

export function dropStageSql(staging: string): string {
  return `DROP TABLE IF EXISTS temp.${quoteIdent(staging)}`;
}

/** What {@link mergeSql} and {@link appendSql} need for one table. */
export interface ApplyPlan {
  readonly target: TableRef;
  /** Temp table holding the staged changes. */
  readonly staging: string;
  /** The user columns of the staged rows. */
  readonly columns: readonly ColumnSchema[];
  /** Names of key columns. */
  readonly key: readonly string[];
  /** Columns some change of this batch left unchanged (TOAST). */
  readonly unchanged: ReadonlySet<string>;
  /** Only changes after this `_etl_seq` apply: the table was truncated there in this batch. */
  readonly afterSeq?: number;
}

const WHOLE_PARTITION = 'ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING';
const sentAlias = (column: string): string => quoteIdent(`_etl_sent:${column}`);
const PREV_OP = quoteIdent('_etl_prev_op');

/**
 * The staged changes reduced to the last change per key (by `_etl_seq`), so
 * a key inserted, deleted and re-inserted in one batch ends inserted. A
 * column some change left unchanged takes its value from the latest
 * non-delete change of the key that did send it, and `_etl_sent:<col>` says
 * whether any did; when none did, the MERGE keeps the target's value.
 */
export function lastChangePerKeySql(plan: ApplyPlan): string {
  const partition = plan.key.map(quoteIdent).join(', ');
  const select: string[] = [];
  for (const c of plan.columns) {
    const col = quoteIdent(c.name);
    if (!plan.unchanged.has(c.name)) {
      select.push(col);
      continue;
    }
    const sent = `(_etl_op <> ${ChangeOp.Delete} AND NOT coalesce(list_contains(_etl_unchanged, ${quoteLiteral(c.name)}), false))`;
    select.push(
      `first_value(${col}) OVER (PARTITION BY ${partition} ORDER BY ${sent} DESC, _etl_seq DESC ${WHOLE_PARTITION}) AS ${col}`,
      `bool_or(${sent}) OVER (PARTITION BY ${partition}) AS ${sentAlias(c.name)}`,
    );
  }
  select.push('_etl_op', '_etl_lsn', '_etl_seq');
  const where = plan.afterSeq === undefined ? '' : ` WHERE _etl_seq > ${plan.afterSeq}`;
  return (
    `SELECT ${select.join(', ')} FROM temp.${quoteIdent(plan.staging)}${where} ` +
    `QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY _etl_seq DESC) = 1`
  );
}

/**
 * The staged Updates that are the new-key half of a key change and still
 * list unchanged columns: an Update at seq n + 1 right after a Delete at
 * seq n of the same transaction (PostgreSQL's key change, as the decoder
 * writes it) — unless its key existed right before it: its key's previous
 * change in the batch is not a Delete, or, with none, the target holds the
 * key. Then it is a plain update that happened to follow a delete of
 * another row (`DELETE … WHERE id = 5; UPDATE … WHERE id = 6`), and the
 * MERGE keeps the target's value of its unchanged columns as usual. Each
 * with the seq of that Delete (`_etl_from`), the new key (`_etl_new:<k>`)
 * and the old key (`_etl_old:<k>`).
 */
function movesSql(plan: ApplyPlan): string {
  const staging = `temp.${quoteIdent(plan.staging)}`;
  const keys = plan.key.flatMap((k) => [
    `u.${quoteIdent(k)} AS ${quoteIdent(`_etl_new:${k}`)}`,
    `d.${quoteIdent(k)} AS ${quoteIdent(`_etl_old:${k}`)}`,
  ]);
  const after = plan.afterSeq === undefined ? '' : ` AND d._etl_seq > ${plan.afterSeq}`;
  const where = plan.afterSeq === undefined ? '' : ` WHERE _etl_seq > ${plan.afterSeq}`;
  const partition = plan.key.map(quoteIdent).join(', ');
  // Each change with the op of its key's previous change in the batch (after a TRUNCATE of it).
  const changes =
    `SELECT *, lag(_etl_op) OVER (PARTITION BY ${partition} ORDER BY _etl_seq) AS ${PREV_OP} ` +
    `FROM ${staging}${where}`;
  const inTarget = `EXISTS (SELECT 1 FROM ${qualified(plan.target)} nt WHERE ${plan.key
    .map((k) => `nt.${quoteIdent(k)} = u.${quoteIdent(k)}`)
    .join(' AND ')})`;
  // Not a key change when the new key existed right before: changed earlier in the batch and not deleted, or in the target.
  const newKey = `(u.${PREV_OP} = ${ChangeOp.Delete} OR (u.${PREV_OP} IS NULL AND NOT ${inTarget}))`;
  return (
    `SELECT u._etl_seq, d._etl_seq AS _etl_from, ${keys.join(', ')} FROM (${changes}) u ` +
    `JOIN ${staging} d ON d._etl_seq + 1 = u._etl_seq AND d._etl_lsn = u._etl_lsn AND d._etl_op = ${ChangeOp.Delete} ` +
    `WHERE u._etl_op = ${ChangeOp.Update} AND len(u._etl_unchanged) > 0${after} AND ${newKey}`
  );
}

/** Counts the key changes {@link fillMovedSql} has not resolved yet (as `n`). */
export function movesLeftSql(plan: ApplyPlan): string {
  return `SELECT count(*)::INTEGER AS n FROM (${movesSql(plan)})`;
}

/**
 * Resolves key changes in the staging table, before the MERGE: the Update
 * half of a key change gets, for each column it left unchanged (TOAST that
 * PostgreSQL does not resend), the value the old key's row had — from the
 * old key's latest change in the batch that sent the column, else from the
 * target's row of the old key — and its `_etl_unchanged` is cleared, so
 * the MERGE treats the value as sent. A key change whose old key itself
 * arrived by an earlier key change (1 → 2 → 3) waits until that one is
 * resolved: run it until {@link movesLeftSql} counts none (once per link).
 */
export function fillMovedSql(plan: ApplyPlan): string {
  const staging = `temp.${quoteIdent(plan.staging)}`;
  const keyed = new Set(plan.key);
  const filled = plan.columns.filter((c) => plan.unchanged.has(c.name) && !keyed.has(c.name));
  const partition = plan.key.map(quoteIdent).join(', ');
  const last = (c: ColumnSchema): string => quoteIdent(`_etl_last:${c.name}`);
  const sent = (c: ColumnSchema): string =>
    `(_etl_op <> ${ChangeOp.Delete} AND NOT coalesce(list_contains(_etl_unchanged, ${quoteLiteral(c.name)}), false))`;
  const where = plan.afterSeq === undefined ? '' : ` WHERE _etl_seq > ${plan.afterSeq}`;
  // Per change: the seq of its key's latest change up to it that sent the column.
  const history = `SELECT _etl_seq, ${filled
    .map(
      (c) =>
        `max(CASE WHEN ${sent(c)} THEN _etl_seq END) OVER (PARTITION BY ${partition} ORDER BY _etl_seq ` +
        `ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ${last(c)}`,
    )
    .join(', ')} FROM ${staging}${where}`;
  const oldKey = (alias: string, prefix: string) =>
    plan.key.map((k) => `${alias}.${quoteIdent(k)} = m.${quoteIdent(`${prefix}${k}`)}`).join(' AND ');
  // Ready: the old key did not itself arrive by a key change still unresolved before this one.
  const ready =
    `NOT EXISTS (SELECT 1 FROM (${movesSql(plan)}) p WHERE p._etl_seq < m._etl_from AND ` +
    `${plan.key.map((k) => `p.${quoteIdent(`_etl_new:${k}`)} = m.${quoteIdent(`_etl_old:${k}`)}`).join(' AND ')})`;
  const values = filled.map(
    (c, i) =>
      `CASE WHEN o${i}._etl_seq IS NOT NULL THEN o${i}.${quoteIdent(c.name)} ELSE t.${quoteIdent(c.name)} END AS ${quoteIdent(c.name)}`,
  );
  const source =
    `SELECT m._etl_seq, ${values.join(', ')} FROM (${movesSql(plan)}) m ` +
    `JOIN (${history}) h ON h._etl_seq = m._etl_from ` +
    `LEFT JOIN ${qualified(plan.target)} t ON ${oldKey('t', '_etl_old:')} ` +
    filled.map((c, i) => `LEFT JOIN ${staging} o${i} ON o${i}._etl_seq = h.${last(c)} `).join('') +
    `WHERE ${ready}`;
  const sets = filled.map(
    (c) =>
      `${quoteIdent(c.name)} = CASE WHEN list_contains(s._etl_unchanged, ${quoteLiteral(c.name)}) THEN f.${quoteIdent(c.name)} ELSE s.${quoteIdent(c.name)} END`,
  );
  return (
    `UPDATE ${staging} AS s SET ${[...sets, '_etl_unchanged = NULL'].join(', ')} ` +
    `FROM (${source}) f WHERE s._etl_seq = f._etl_seq`
  );
}

/**
 * Applies a keyed table's staged changes in one MERGE: deletes delete,
 * inserts, updates and snapshot reads upsert, and unchanged TOAST columns
 * keep the target's value.
 */
export function mergeSql(plan: ApplyPlan): string {
  const on = plan.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  const value = (c: ColumnSchema, otherwise: string): string =>
    plan.unchanged.has(c.name)
      ? `CASE WHEN s.${sentAlias(c.name)} THEN s.${quoteIdent(c.name)} ELSE ${otherwise} END`
      : `s.${quoteIdent(c.name)}`;
  const keyed = new Set(plan.key);
  const updates = plan.columns
    .filter((c) => !keyed.has(c.name))
    .map((c) => `${quoteIdent(c.name)} = ${value(c, `t.${quoteIdent(c.name)}`)}`);
  updates.push(
    `${quoteIdent(TARGET_LSN_COLUMN)} = s._etl_lsn`,
    `${quoteIdent(TARGET_SYNCED_AT_COLUMN)} = now()`,
  );
  const insertColumns = [
    ...plan.columns.map((c) => quoteIdent(c.name)),
    quoteIdent(TARGET_LSN_COLUMN),
    quoteIdent(TARGET_SYNCED_AT_COLUMN),
  ];
  const insertValues = [...plan.columns.map((c) => value(c, 'NULL')), 's._etl_lsn', 'now()'];
  return (
    `MERGE INTO ${qualified(plan.target)} t USING (${lastChangePerKeySql(plan)}) s ON ${on} ` +
    `WHEN MATCHED AND s._etl_op = ${ChangeOp.Delete} THEN DELETE ` +
    `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')} ` +
    `WHEN NOT MATCHED AND s._etl_op <> ${ChangeOp.Delete} THEN INSERT (${insertColumns.join(', ')}) VALUES (${insertValues.join(', ')})`
  );
}

/** Appends a keyless table's staged changes as rows, with their op and commit LSN. */
export function appendSql(plan: ApplyPlan): string {
  const columns = plan.columns.map((c) => quoteIdent(c.name));
  const where = plan.afterSeq === undefined ? '' : ` WHERE _etl_seq > ${plan.afterSeq}`;
  return (
    `INSERT INTO ${qualified(plan.target)} (${[...columns, quoteIdent(TARGET_OP_COLUMN), quoteIdent(TARGET_LSN_COLUMN), quoteIdent(TARGET_SYNCED_AT_COLUMN)].join(', ')}) ` +
    `SELECT ${[...columns, '_etl_op', '_etl_lsn', 'now()'].join(', ')} FROM temp.${quoteIdent(plan.staging)}${where} ORDER BY _etl_seq`
  );
}
