/**
 * Every SQL statement the Snowflake destination sends, in one place. Every
 * identifier goes through {@link quoteIdent}; values travel as binds, except
 * names the destination generates itself (stage paths), which are checked.
 */
import { EtlError } from '../../errors.js';
import {
  STAGING_MOVED_FROM_COLUMN,
  STAGING_UNCHANGED_COLUMN,
  TARGET_DELETED_COLUMN,
  TARGET_LSN_COLUMN,
  TARGET_OP_COLUMN,
  TARGET_SEQ_COLUMN,
  TARGET_SYNCED_AT_COLUMN,
} from './naming.js';
import { renderType, type SnowflakeType, type StagingForm } from './snowflake-type.js';

/** A schema-qualified object: database, schema, name (all unquoted). */
export interface ObjectRef {
  readonly database: string;
  readonly schema: string;
  readonly name: string;
}

/** A column of a created table. */
export interface ColumnDef {
  readonly name: string;
  readonly type: SnowflakeType;
}

/** Type of `_ETL_LSN`: an unsigned 64-bit LSN has at most 20 decimal digits. */
export const LSN_TYPE: SnowflakeType = { base: 'NUMBER', precision: 20, scale: 0 };
/** Type of `_ETL_OP` (0 insert, 1 update, 2 delete, 3 snapshot read). */
export const OP_TYPE: SnowflakeType = { base: 'NUMBER', precision: 3, scale: 0 };
/** Type of `_ETL_SEQ`: a batch ordinal, widened so chunks of one transaction can be numbered apart. */
export const SEQ_TYPE: SnowflakeType = { base: 'NUMBER', precision: 20, scale: 0 };
/** Type of `_ETL_SYNCED_AT`. */
export const SYNCED_AT_TYPE: SnowflakeType = { base: 'TIMESTAMP_TZ', scale: 6 };

/** The op code of a delete in `_ETL_OP`. */
const OP_DELETE = 2;

/** Quotes an identifier for Snowflake: `a"b` → `"a""b"`. The only way names enter SQL text. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new EtlError('INTERNAL', 'Empty Snowflake identifier');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"DB"."SCHEMA"."NAME"`. */
export function qualified(ref: ObjectRef): string {
  return `${quoteIdent(ref.database)}.${quoteIdent(ref.schema)}.${quoteIdent(ref.name)}`;
}

const SAFE_PATH = /^[A-Za-z0-9_./:\-@ ]+$/;

/** A single-quoted literal for text the destination generates itself (paths); refuses anything else. */
function pathLiteral(text: string): string {
  if (!SAFE_PATH.test(text)) {
    throw new EtlError('INTERNAL', `Unexpected characters in a generated path: ${JSON.stringify(text)}`, {
      hint: 'Set the `tempDir` option to a directory whose path has only letters, digits and ./_- characters.',
    });
  }
  return `'${text}'`;
}

/** `@"DB"."SCHEMA"."STAGE"/prefix/`. */
function stageLocation(stage: ObjectRef, prefix: string): string {
  if (!/^[A-Za-z0-9_/\-.]*$/.test(prefix)) throw new EtlError('INTERNAL', `Bad stage prefix ${prefix}`);
  return `@${qualified(stage)}/${prefix}`;
}

// ── Setup (DDL: implicitly commits, so always before BEGIN) ─────────────────

/**
 * Run once per session, in order:
 * - `TIMEZONE = 'UTC'`: Snowflake loads a Parquet UTC timestamp into
 *   TIMESTAMP_TZ with the session's offset (and `CURRENT_TIMESTAMP` follows
 *   it); UTC keeps instants exact.
 * - `ABORT_DETACHED_QUERY = TRUE`: when the process dies mid-statement, the
 *   statement is aborted 5 minutes later instead of running on and holding
 *   locks the restarted pipeline waits for (an idle detached transaction that
 *   blocks another is aborted after 5 minutes anyway).
 */
export const SESSION_SETUP_SQL: readonly string[] = [
  "ALTER SESSION SET TIMEZONE = 'UTC'",
  'ALTER SESSION SET ABORT_DETACHED_QUERY = TRUE',
];

/** Creates the target schema when missing. */
export function createSchemaSql(database: string, schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(database)}.${quoteIdent(schema)}`;
}

/** Creates the internal stage Parquet files are uploaded to. */
export function createStageSql(stage: ObjectRef): string {
  return `CREATE STAGE IF NOT EXISTS ${qualified(stage)}`;
}

/** The watermark table: one row per pipeline, the commit LSN of its last applied batch. */
export function createWatermarkTableSql(table: ObjectRef): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${qualified(table)} (` +
    `${quoteIdent('PIPELINE')} VARCHAR NOT NULL, ` +
    `${quoteIdent('COMMIT_LSN')} ${renderType(LSN_TYPE)} NOT NULL, ` +
    `${quoteIdent('UPDATED_AT')} ${renderType(SYNCED_AT_TYPE)} NOT NULL)`
  );
}

/** Reads a pipeline's watermark as text (bind 1: pipeline name). */
export function readWatermarkSql(table: ObjectRef): string {
  return `SELECT CAST(${quoteIdent('COMMIT_LSN')} AS VARCHAR) AS ${quoteIdent('COMMIT_LSN')} FROM ${qualified(table)} WHERE ${quoteIdent('PIPELINE')} = ?`;
}

/**
 * Sets a pipeline's watermark, never moving it backwards (binds: pipeline
 * name, commit LSN as decimal text). Runs inside the batch's transaction.
 */
export function upsertWatermarkSql(table: ObjectRef): string {
  const p = quoteIdent('PIPELINE');
  const l = quoteIdent('COMMIT_LSN');
  const u = quoteIdent('UPDATED_AT');
  return (
    `MERGE INTO ${qualified(table)} w USING (SELECT CAST(? AS VARCHAR) AS ${p}, CAST(? AS ${renderType(LSN_TYPE)}) AS ${l}) s ` +
    `ON w.${p} = s.${p} ` +
    `WHEN MATCHED THEN UPDATE SET ${l} = GREATEST(w.${l}, s.${l}), ${u} = CURRENT_TIMESTAMP ` +
    `WHEN NOT MATCHED THEN INSERT (${p}, ${l}, ${u}) VALUES (s.${p}, s.${l}, CURRENT_TIMESTAMP)`
  );
}

/** What kind of target table a source table gets. */
export type TableMode = 'merge-hard' | 'merge-soft' | 'append';

/** The metadata columns of a target table in a mode. */
export function targetMetadataColumns(mode: TableMode): ColumnDef[] {
  const cols: ColumnDef[] = [];
  if (mode === 'append') {
    cols.push({ name: TARGET_OP_COLUMN, type: OP_TYPE });
    cols.push({ name: TARGET_LSN_COLUMN, type: LSN_TYPE });
    cols.push({ name: TARGET_SEQ_COLUMN, type: SEQ_TYPE });
  } else {
    cols.push({ name: TARGET_LSN_COLUMN, type: LSN_TYPE });
  }
  cols.push({ name: TARGET_SYNCED_AT_COLUMN, type: SYNCED_AT_TYPE });
  if (mode === 'merge-soft') cols.push({ name: TARGET_DELETED_COLUMN, type: { base: 'BOOLEAN' } });
  return cols;
}

/**
 * Creates a target table when missing: the user columns, then the metadata
 * columns. Keys are not declared (Snowflake does not enforce them; the MERGE
 * keeps them unique).
 */
export function createTableSql(table: ObjectRef, columns: readonly ColumnDef[]): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${renderType(c.type)}`);
  return `CREATE TABLE IF NOT EXISTS ${qualified(table)} (${defs.join(', ')})`;
}

/**
 * (Re)creates a staging table with the staging types of the user columns and
 * the four metadata columns. Transient: staging rows need no fail-safe.
 */
export function createStagingTableSql(table: ObjectRef, columns: readonly ColumnDef[]): string {
  const defs = [
    ...columns,
    { name: TARGET_OP_COLUMN, type: OP_TYPE },
    { name: TARGET_LSN_COLUMN, type: LSN_TYPE },
    { name: TARGET_SEQ_COLUMN, type: SEQ_TYPE },
    { name: STAGING_UNCHANGED_COLUMN, type: { base: 'VARCHAR' } as SnowflakeType },
    { name: STAGING_MOVED_FROM_COLUMN, type: SEQ_TYPE },
  ].map((c) => `${quoteIdent(c.name)} ${renderType(c.type)}`);
  return `CREATE OR REPLACE TRANSIENT TABLE ${qualified(table)} (${defs.join(', ')})`;
}

/** Lists a table's columns (binds: schema, table). Empty when the table does not exist. */
export function describeColumnsSql(database: string): string {
  return (
    'SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH ' +
    `FROM ${quoteIdent(database)}.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ` +
    'ORDER BY ORDINAL_POSITION'
  );
}

/** Adds a column (schema evolution). */
export function addColumnSql(table: ObjectRef, column: ColumnDef): string {
  return `ALTER TABLE ${qualified(table)} ADD COLUMN ${quoteIdent(column.name)} ${renderType(column.type)}`;
}

/** Drops a column (schema evolution with `droppedColumns: 'drop'`). */
export function dropColumnSql(table: ObjectRef, column: string): string {
  return `ALTER TABLE ${qualified(table)} DROP COLUMN ${quoteIdent(column)}`;
}

/** Widens a column's type in place (NUMBER precision, VARCHAR length). */
export function widenColumnSql(table: ObjectRef, column: ColumnDef): string {
  return `ALTER TABLE ${qualified(table)} ALTER COLUMN ${quoteIdent(column.name)} SET DATA TYPE ${renderType(column.type)}`;
}

// ── Files ───────────────────────────────────────────────────────────────────

/** Uploads a local Parquet file as is (no gzip: the driver would otherwise compress `.parquet`). */
export function putSql(localPath: string, stage: ObjectRef, prefix: string): string {
  return `PUT ${pathLiteral(`file://${localPath}`)} ${stageLocation(stage, prefix)} AUTO_COMPRESS=FALSE OVERWRITE=TRUE`;
}

/** Removes every staged file under a prefix. */
export function removeStagedSql(stage: ObjectRef, prefix: string): string {
  return `REMOVE ${stageLocation(stage, prefix)}`;
}

/**
 * Loads staged Parquet files into a staging table, matching columns by name.
 * `BINARY_AS_TEXT = FALSE`: bytea (Parquet BYTE_ARRAY without a logical type)
 * loads as BINARY instead of being decoded as UTF-8.
 * `FORCE = TRUE`: a retried batch reloads its files instead of being skipped
 * by load metadata (the staging table was emptied first, so nothing doubles).
 */
export function copyIntoSql(
  table: ObjectRef,
  stage: ObjectRef,
  prefix: string,
  files: readonly string[],
): string {
  const list = files.map((f) => pathLiteral(f)).join(', ');
  return (
    `COPY INTO ${qualified(table)} FROM ${stageLocation(stage, prefix)} FILES = (${list}) ` +
    'FILE_FORMAT = (TYPE = PARQUET BINARY_AS_TEXT = FALSE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE'
  );
}

/** Empties a staging table (before COPY, and after COMMIT to clean up). */
export function clearTableSql(table: ObjectRef): string {
  return `DELETE FROM ${qualified(table)}`;
}

// ── The transaction ─────────────────────────────────────────────────────────

/** Starts the batch's transaction. */
export const BEGIN_SQL = 'BEGIN TRANSACTION';
/** Commits it. */
export const COMMIT_SQL = 'COMMIT';
/** Rolls it back (after any failed statement inside it). */
export const ROLLBACK_SQL = 'ROLLBACK';

/**
 * A TRUNCATE of the source table: deletes every row, or in soft-delete mode
 * marks every live row deleted (bind 1: commit LSN as text).
 */
export function truncateSql(table: ObjectRef, mode: TableMode): string {
  if (mode !== 'merge-soft') return `DELETE FROM ${qualified(table)}`;
  const d = quoteIdent(TARGET_DELETED_COLUMN);
  return (
    `UPDATE ${qualified(table)} SET ${d} = TRUE, ${quoteIdent(TARGET_LSN_COLUMN)} = CAST(? AS ${renderType(LSN_TYPE)}), ` +
    `${quoteIdent(TARGET_SYNCED_AT_COLUMN)} = CURRENT_TIMESTAMP WHERE COALESCE(${d}, FALSE) = FALSE`
  );
}

/** A user column as the MERGE and append statements see it. */
export interface MergeColumn {
  /** Target (and staging) column name. */
  readonly name: string;
  /** 1-based position among the user columns: the column's character in `_ETL_UNCHANGED`. */
  readonly position: number;
  /** Part of the key. */
  readonly key: boolean;
  /** How the value is staged, and so how the MERGE converts it. */
  readonly form: StagingForm;
  /** Some change of this batch left the column unchanged (TOAST): resolve it within the batch, else keep the target's value. */
  readonly unchanged: boolean;
}

/** What {@link mergeSql} needs. */
export interface MergePlan {
  readonly target: ObjectRef;
  readonly staging: ObjectRef;
  readonly columns: readonly MergeColumn[];
  readonly mode: 'merge-hard' | 'merge-soft';
  /** Only staged changes after this `_ETL_SEQ` apply (the table was truncated at it in this batch). */
  readonly afterSeq?: bigint;
  /**
   * Some key change of the batch left a column unchanged (`_ETL_MOVED_FROM` is set somewhere):
   * {@link fillMovedSql} resolves them in the staging table before the MERGE.
   */
  readonly moves?: boolean;
}

function sentAlias(c: MergeColumn): string {
  return quoteIdent(`_ETL_SENT_${c.position}`);
}

const MOVED = quoteIdent(STAGING_MOVED_FROM_COLUMN);

/** Whether change `s` sent column `c` (not a delete, not in its unchanged mask). */
function sentSql(c: MergeColumn): string {
  const mask = `s.${quoteIdent(STAGING_UNCHANGED_COLUMN)}`;
  return `(s.${quoteIdent(TARGET_OP_COLUMN)} <> ${OP_DELETE} AND (${mask} IS NULL OR SUBSTR(${mask}, ${c.position}, 1) <> '1'))`;
}

function afterSeqSql(plan: { afterSeq?: bigint }): string {
  return plan.afterSeq === undefined
    ? ''
    : ` WHERE s.${quoteIdent(TARGET_SEQ_COLUMN)} > ${plan.afterSeq.toString()}`;
}

function value(c: MergeColumn, ref: string): string {
  const col = `${ref}.${quoteIdent(c.name)}`;
  switch (c.form) {
    case 'json':
      return `PARSE_JSON(${col})`;
    case 'time-micros':
      return `TIME_FROM_PARTS(0, 0, 0, ${col} * 1000)`;
    case 'ntz-micros':
      return `TO_TIMESTAMP_NTZ(${col}, 6)`;
    default:
      return col;
  }
}

/**
 * The staged changes reduced to one row per key: the last change (by
 * `_ETL_SEQ`) wins, so a key deleted and re-inserted in one batch ends
 * inserted. A column some change left unchanged (TOAST) takes its value from
 * the latest non-delete change of the key that did send it, and `_ETL_SENT_n`
 * says whether any did; when none did, the MERGE keeps the target's value.
 */
export function dedupedChangesSql(plan: Omit<MergePlan, 'target' | 'mode'>): string {
  const keys = plan.columns.filter((c) => c.key);
  if (keys.length === 0) throw new EtlError('INTERNAL', 'A MERGE needs key columns');
  const partition = keys.map((c) => `s.${quoteIdent(c.name)}`).join(', ');
  const op = `s.${quoteIdent(TARGET_OP_COLUMN)}`;
  const seq = `s.${quoteIdent(TARGET_SEQ_COLUMN)}`;
  const select: string[] = [];
  for (const c of plan.columns) {
    const col = `s.${quoteIdent(c.name)}`;
    if (c.key || !c.unchanged) {
      select.push(col);
      continue;
    }
    const sent = sentSql(c);
    select.push(
      `FIRST_VALUE(${col}) OVER (PARTITION BY ${partition} ORDER BY CASE WHEN ${sent} THEN 0 ELSE 1 END, ${seq} DESC) AS ${quoteIdent(c.name)}`,
    );
    select.push(
      `MAX(CASE WHEN ${sent} THEN 1 ELSE 0 END) OVER (PARTITION BY ${partition}) AS ${sentAlias(c)}`,
    );
  }
  select.push(op, `s.${quoteIdent(TARGET_LSN_COLUMN)}`, seq);
  return (
    `SELECT ${select.join(', ')} FROM ${qualified(plan.staging)} s${afterSeqSql(plan)} ` +
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${partition} ORDER BY ${seq} DESC) = 1`
  );
}

const SEQ = quoteIdent(TARGET_SEQ_COLUMN);
const MASK = quoteIdent(STAGING_UNCHANGED_COLUMN);

/** `alias` is the Update half of a key change not resolved yet: `_ETL_MOVED_FROM` set, unchanged columns left. */
function pendingMoveSql(alias: string): string {
  return `${alias}.${MOVED} IS NOT NULL AND ${alias}.${MASK} IS NOT NULL`;
}

function andAfterSeq(plan: { afterSeq?: bigint }, alias: string): string {
  return plan.afterSeq === undefined ? '' : ` AND ${alias}.${SEQ} > ${plan.afterSeq.toString()}`;
}

/** Counts the key changes {@link fillMovedSql} has not resolved yet (as `N`). */
export function movesLeftSql(plan: Omit<MergePlan, 'target' | 'mode'>): string {
  return `SELECT COUNT(*) AS "N" FROM ${qualified(plan.staging)} s WHERE ${pendingMoveSql('s')}${andAfterSeq(plan, 's')}`;
}

/** A target value in the staging form of its column (the reverse of {@link value}). */
function stagedValue(c: MergeColumn, ref: string): string {
  const col = `${ref}.${quoteIdent(c.name)}`;
  return c.form === 'json' ? `TO_JSON(${col})` : col;
}

/**
 * Resolves key changes in the staging table, before the MERGE and inside the
 * batch's transaction. A staged Update with `_ETL_MOVED_FROM` set follows a
 * Delete of the same transaction at the seq before: a key change, unless the
 * new key existed right before it (then it is a plain update that happened
 * to follow a delete: `_ETL_MOVED_FROM` is cleared and the MERGE treats it
 * as usual). For a key change, each column it left unchanged (TOAST that
 * PostgreSQL does not resend) gets the value the old key's row had — from
 * the old key's latest change in the batch that sent the column, else from
 * the target's row of the old key — and `_ETL_UNCHANGED` is cleared, so the
 * MERGE treats the values as sent. A key change whose old key itself arrived
 * by an earlier key change still unresolved (1 → 2 → 3, or 2 → 3 in a later
 * transaction of the batch) waits for it: run this until {@link movesLeftSql}
 * counts none, at most once per key change (each round resolves at least the
 * earliest). Columns staged as microseconds (time, timestamp) are fixed-size
 * and never TOASTed, so never unchanged.
 */
export function fillMovedSql(plan: Omit<MergePlan, 'moves'>): string {
  const keys = plan.columns.filter((c) => c.key);
  if (keys.length === 0) throw new EtlError('INTERNAL', 'A key change needs key columns');
  const filled = plan.columns.filter(
    (c) => !c.key && c.unchanged && (c.form === 'direct' || c.form === 'json'),
  );
  const staging = qualified(plan.staging);
  const op = quoteIdent(TARGET_OP_COLUMN);
  const partition = keys.map((c) => `s.${quoteIdent(c.name)}`).join(', ');
  const sameKey = (a: string, b: string) =>
    keys.map((c) => `${a}.${quoteIdent(c.name)} = ${b}.${quoteIdent(c.name)}`).join(' AND ');
  const live = (alias: string) =>
    plan.mode === 'merge-soft'
      ? ` AND COALESCE(${alias}.${quoteIdent(TARGET_DELETED_COLUMN)}, FALSE) = FALSE`
      : '';
  const last = (c: MergeColumn) => quoteIdent(`_ETL_LAST_${c.position}`);
  const where = plan.afterSeq === undefined ? '' : ` WHERE s.${SEQ} > ${plan.afterSeq.toString()}`;
  // Each change with the op of its key's previous change in the batch.
  const changes = `SELECT s.*, LAG(s.${op}) OVER (PARTITION BY ${partition} ORDER BY s.${SEQ}) AS "_ETL_PREV_OP" FROM ${staging} s${where}`;
  // Per change: the seq of its key's latest change up to it that sent the column.
  const history =
    `SELECT s.${SEQ} AS "_ETL_H_SEQ"` +
    filled
      .map(
        (c) =>
          `, MAX(CASE WHEN ${sentSql(c)} THEN s.${SEQ} END) OVER (PARTITION BY ${partition} ORDER BY s.${SEQ} ` +
          `ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ${last(c)}`,
      )
      .join('') +
    ` FROM ${staging} s${where}`;
  // Per key: its earliest key change still unresolved.
  const pending =
    `SELECT ${partition}, MIN(s.${SEQ}) AS "_ETL_P_SEQ" FROM ${staging} s ` +
    `WHERE ${pendingMoveSql('s')}${andAfterSeq(plan, 's')} GROUP BY ${partition}`;
  const firstKey = quoteIdent(keys[0]!.name);
  // Not a key change when the new key existed right before: changed earlier in the batch and not deleted, or in the target.
  const move = `(u."_ETL_PREV_OP" = ${OP_DELETE} OR (u."_ETL_PREV_OP" IS NULL AND nt.${firstKey} IS NULL))`;
  const values = filled.map((c) => {
    const o = `o${c.position}`;
    const old = `CASE WHEN ${o}.${SEQ} IS NOT NULL THEN ${o}.${quoteIdent(c.name)} ELSE ${stagedValue(c, 'ot')} END`;
    return `CASE WHEN ${move} AND SUBSTR(u.${MASK}, ${c.position}, 1) = '1' THEN ${old} ELSE u.${quoteIdent(c.name)} END AS ${quoteIdent(c.name)}`;
  });
  const source =
    `SELECT u.${SEQ} AS "_ETL_FILL_SEQ", ${[
      ...values,
      `CASE WHEN ${move} THEN NULL ELSE u.${MASK} END AS "_ETL_FILL_MASK"`,
      `CASE WHEN ${move} THEN u.${MOVED} END AS "_ETL_FILL_MOVED"`,
    ].join(', ')} ` +
    `FROM (${changes}) u JOIN ${staging} d ON d.${SEQ} = u.${MOVED} ` +
    `LEFT JOIN (${history}) h ON h."_ETL_H_SEQ" = d.${SEQ} ` +
    `LEFT JOIN ${qualified(plan.target)} ot ON ${sameKey('ot', 'd')}${live('ot')} ` +
    `LEFT JOIN ${qualified(plan.target)} nt ON ${sameKey('nt', 'u')}${live('nt')} ` +
    `LEFT JOIN (${pending}) p ON ${sameKey('p', 'd')} ` +
    filled
      .map((c) => `LEFT JOIN ${staging} o${c.position} ON o${c.position}.${SEQ} = h.${last(c)} `)
      .join('') +
    `WHERE ${pendingMoveSql('u')} AND (NOT ${move} OR p."_ETL_P_SEQ" IS NULL OR p."_ETL_P_SEQ" > d.${SEQ})`;
  const sets = [
    ...filled.map((c) => `${quoteIdent(c.name)} = f.${quoteIdent(c.name)}`),
    `${MASK} = f."_ETL_FILL_MASK"`,
    `${MOVED} = f."_ETL_FILL_MOVED"`,
  ];
  return `UPDATE ${staging} SET ${sets.join(', ')} FROM (${source}) f WHERE ${SEQ} = f."_ETL_FILL_SEQ"`;
}

/**
 * Applies a table's staged changes to its target in one MERGE: deletes (hard,
 * or soft with `_ETL_DELETED`), updates that keep the target's value where a
 * TOAST column was not sent, and inserts.
 */
export function mergeSql(plan: MergePlan): string {
  const lsn = quoteIdent(TARGET_LSN_COLUMN);
  const synced = quoteIdent(TARGET_SYNCED_AT_COLUMN);
  const deleted = quoteIdent(TARGET_DELETED_COLUMN);
  const op = `s.${quoteIdent(TARGET_OP_COLUMN)}`;
  const soft = plan.mode === 'merge-soft';
  const on = plan.columns
    .filter((c) => c.key)
    .map((c) => `t.${quoteIdent(c.name)} = s.${quoteIdent(c.name)}`)
    .join(' AND ');
  const updates = plan.columns
    .filter((c) => !c.key)
    .map((c) => {
      const v = value(c, 's');
      const expr = c.unchanged
        ? `CASE WHEN s.${sentAlias(c)} = 1 THEN ${v} ELSE t.${quoteIdent(c.name)} END`
        : v;
      return `${quoteIdent(c.name)} = ${expr}`;
    });
  updates.push(`${lsn} = s.${lsn}`, `${synced} = CURRENT_TIMESTAMP`);
  if (soft) updates.push(`${deleted} = FALSE`);
  const insertCols = plan.columns.map((c) => quoteIdent(c.name));
  const insertVals = plan.columns.map((c) =>
    c.unchanged && !c.key
      ? `CASE WHEN s.${sentAlias(c)} = 1 THEN ${value(c, 's')} ELSE NULL END`
      : value(c, 's'),
  );
  insertCols.push(lsn, synced);
  insertVals.push(`s.${lsn}`, 'CURRENT_TIMESTAMP');
  if (soft) {
    insertCols.push(deleted);
    insertVals.push('FALSE');
  }
  const onDelete = soft
    ? `UPDATE SET ${deleted} = TRUE, ${lsn} = s.${lsn}, ${synced} = CURRENT_TIMESTAMP`
    : 'DELETE';
  return (
    `MERGE INTO ${qualified(plan.target)} t USING (${dedupedChangesSql(plan)}) s ON ${on} ` +
    `WHEN MATCHED AND ${op} = ${OP_DELETE} THEN ${onDelete} ` +
    `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')} ` +
    `WHEN NOT MATCHED AND ${op} <> ${OP_DELETE} THEN INSERT (${insertCols.join(', ')}) VALUES (${insertVals.join(', ')})`
  );
}

/**
 * Appends a keyless table's staged changes as rows, with their op, LSN and
 * order (`append` mode): nothing is updated or deleted in place.
 */
export function appendSql(plan: Omit<MergePlan, 'mode'>): string {
  const cols = plan.columns.map((c) => quoteIdent(c.name));
  const vals = plan.columns.map((c) => value(c, 's'));
  for (const m of [TARGET_OP_COLUMN, TARGET_LSN_COLUMN, TARGET_SEQ_COLUMN]) {
    cols.push(quoteIdent(m));
    vals.push(`s.${quoteIdent(m)}`);
  }
  cols.push(quoteIdent(TARGET_SYNCED_AT_COLUMN));
  vals.push('CURRENT_TIMESTAMP');
  const where =
    plan.afterSeq === undefined
      ? ''
      : ` WHERE s.${quoteIdent(TARGET_SEQ_COLUMN)} > ${plan.afterSeq.toString()}`;
  return `INSERT INTO ${qualified(plan.target)} (${cols.join(', ')}) SELECT ${vals.join(', ')} FROM ${qualified(plan.staging)} s${where}`;
}
