/**
 * Every SQL and replication command the Postgres source sends, in one place.
 * Values travel as bind parameters wherever the command allows it; where it
 * does not (replication commands, `COPY (query)`, DDL), identifiers go
 * through {@link quoteIdent} and values through {@link quoteLiteral}, and
 * nowhere else is SQL text assembled.
 */
import { formatLsn, type Lsn } from '../lsn.js';

/** A table name split into its schema and name (both exactly as in Postgres, case kept). */
export interface QualifiedTable {
  readonly schema: string;
  readonly name: string;
}

/** Quotes an identifier for SQL text: `my "t"` → `"my ""t"""`. */
export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`. */
export function quoteTable(table: QualifiedTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/**
 * Quotes a value as a string literal. Backslashes make it an `E''` literal so
 * the result is right whatever `standard_conforming_strings` says.
 */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

// ---------------------------------------------------------------- server facts

/** Server version number and the settings the preflight reports on. */
export const SERVER_FACTS_SQL = `
SELECT current_setting('server_version_num')::int AS version,
       current_setting('wal_level') AS wal_level,
       current_setting('max_slot_wal_keep_size') AS max_slot_wal_keep_size,
       current_database() AS database,
       r.rolreplication OR r.rolsuper AS can_replicate,
       r.rolsuper AS superuser,
       current_user AS role
FROM pg_roles r WHERE r.rolname = current_user`;

/**
 * Resolves configured tables (`$1` schemas, `$2` names, same order) to their
 * OID, kind, replica identity, primary key presence, SELECT privilege and
 * toastable non-key columns. Missing tables come back with a null `oid`.
 */
export const TABLES_SQL = `
SELECT t.schema, t.name, c.oid::int4 AS oid, c.relkind AS kind, c.relreplident AS replident,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_identity_index,
       CASE WHEN c.oid IS NULL THEN false ELSE has_table_privilege(c.oid, 'SELECT') END AS can_select,
       (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage IN ('x', 'e')
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary
                                                     AND a.attnum = ANY(i.indkey))) AS toastable
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, ord)
LEFT JOIN pg_namespace n ON n.nspname = t.schema
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind IN ('r', 'p')
ORDER BY t.ord`;

// ---------------------------------------------------------------- publication

/** The publication `$1`: whether it exists, covers all tables, publishes every operation, and its marker comment. */
export const PUBLICATION_SQL = `
SELECT p.puballtables AS all_tables, p.pubinsert AND p.pubupdate AND p.pubdelete AS publishes_dml,
       p.pubtruncate AS publishes_truncate, obj_description(p.oid, 'pg_publication') AS comment
FROM pg_publication p WHERE p.pubname = $1`;

/** The tables publication `$1` publishes (partitioned roots when `publish_via_partition_root`). */
export const PUBLICATION_TABLES_SQL = `
SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1`;

/** OIDs of the tables publication `$1` publishes (what the stream may send). */
export const PUBLICATION_TABLE_OIDS_SQL = `
SELECT c.oid::int4 AS oid FROM pg_publication_tables p
JOIN pg_namespace n ON n.nspname = p.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
WHERE p.pubname = $1`;

/** Marks a publication etl-stream created, so it may later add tables to it. */
export const PUBLICATION_MARKER = 'etl-stream: managed publication';

/** `CREATE PUBLICATION name FOR TABLE ... WITH (publish_via_partition_root = true)` plus its marker. */
export function createPublicationSql(publication: string, tables: readonly QualifiedTable[]): string[] {
  const viaRoot = ' WITH (publish_via_partition_root = true)';
  return [
    `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${tables.map(quoteTable).join(', ')}${viaRoot}`,
    `COMMENT ON PUBLICATION ${quoteIdent(publication)} IS ${quoteLiteral(PUBLICATION_MARKER)}`,
  ];
}

/** `ALTER PUBLICATION name ADD TABLE ...`. */
export function addPublicationTablesSql(publication: string, tables: readonly QualifiedTable[]): string {
  return `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${tables.map(quoteTable).join(', ')}`;
}

// ---------------------------------------------------------------- slot

/** The slot `$1` as `pg_replication_slots` shows it. */
export const SLOT_SQL = `
SELECT slot_name, plugin, slot_type, database, active, active_pid, wal_status,
       confirmed_flush_lsn::text AS confirmed_flush_lsn
FROM pg_replication_slots WHERE slot_name = $1`;

/** Drops slot `$1` (it must be inactive). */
export const DROP_SLOT_SQL = 'SELECT pg_drop_replication_slot($1)';

/** Confirmed position of slot `$1`, for tests and monitoring. */
export const SLOT_POSITION_SQL = `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`;

/**
 * The replication command that creates a logical slot and exports a snapshot
 * consistent with it (PostgreSQL 15 syntax, and the older `EXPORT_SNAPSHOT`).
 */
export function createSlotCommand(slot: string, serverVersion: number): string {
  const how = serverVersion >= 150000 ? "(SNAPSHOT 'export')" : 'EXPORT_SNAPSHOT';
  return `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${how}`;
}

/** pgoutput's options for START_REPLICATION. */
export interface StartReplicationOptions {
  readonly slot: string;
  readonly startLsn: Lsn;
  readonly publication: string;
  readonly protocolVersion: 1 | 2 | 3 | 4;
  readonly binary: boolean;
}

/** `START_REPLICATION SLOT ... LOGICAL lsn (proto_version, publication_names, binary, messages, streaming)`. */
export function startReplicationCommand(o: StartReplicationOptions): string {
  const options = [
    `proto_version ${quoteLiteral(String(o.protocolVersion))}`,
    `publication_names ${quoteLiteral(quoteIdent(o.publication))}`,
  ];
  // binary, messages and streaming came with PostgreSQL 14 (protocol 2).
  if (o.protocolVersion >= 2) {
    options.push(`binary ${quoteLiteral(o.binary ? 'true' : 'false')}`, `messages 'true'`, `streaming 'on'`);
  }
  return `START_REPLICATION SLOT ${quoteIdent(o.slot)} LOGICAL ${formatLsn(o.startLsn)} (${options.join(', ')})`;
}

/** Emits the heartbeat message that moves idle slots (non-transactional, so it is sent at once). */
export const HEARTBEAT_SQL = `SELECT pg_logical_emit_message(false, 'etl-stream-heartbeat', '')`;

/** The logical message prefix of {@link HEARTBEAT_SQL}. */
export const HEARTBEAT_PREFIX = 'etl-stream-heartbeat';

/** The logical message prefix of the backfill's barrier and watermark markers. */
export const BACKFILL_PREFIX = 'etl-stream-backfill';

/**
 * Writes a backfill marker (a non-transactional logical message, so it sits
 * in the stream exactly where it was written) and flushes the WAL up to it:
 * the walsender only sends flushed WAL, and a non-transactional message
 * alone does not flush. Assigning an xid makes COMMIT write, and with
 * `synchronous_commit = local` flush, a commit record after the message.
 */
export function backfillMarkerSql(content: string): string {
  return [
    'BEGIN',
    'SET LOCAL synchronous_commit = local',
    'SELECT txid_current()',
    `SELECT pg_logical_emit_message(false, ${quoteLiteral(BACKFILL_PREFIX)}, ${quoteLiteral(content)})`,
    'COMMIT',
  ].join('; ');
}

/**
 * Transactions (`virtualtransaction`) that hold a lock on table `$1` (or one
 * of its partitions) that writing takes: INSERT/UPDATE/DELETE/COPY FROM,
 * TRUNCATE, ALTER. Readers, VACUUM and index builds do not count.
 */
export const TABLE_WRITERS_SQL = `
WITH RECURSIVE tree(relid) AS (
  SELECT $1::oid
  UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid
)
SELECT DISTINCT l.virtualtransaction, l.pid FROM pg_locks l
WHERE l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation IN (SELECT relid FROM tree)
  AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
  AND l.pid IS DISTINCT FROM pg_backend_pid()`;

/** Starts one backfill chunk: a read-only REPEATABLE READ transaction whose snapshot {@link SNAPSHOT_XIDS_SQL} reports. */
export const BEGIN_CHUNK_SQL = 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY';

/** The transaction's snapshot (its first statement takes it) as `xmin:xmax:xip,...`. */
export const SNAPSHOT_XIDS_SQL = 'SELECT txid_current_snapshot()::text AS snapshot';

/** `wal_sender_timeout` in milliseconds (replication connections accept SHOW). */
export const WAL_SENDER_TIMEOUT_COMMAND = 'SHOW wal_sender_timeout';

// ---------------------------------------------------------------- snapshot

/** Starts the snapshot transaction; {@link setSnapshotSql} then imports the slot's exported snapshot. */
export const BEGIN_SNAPSHOT_SQL = 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY';

/** `SET TRANSACTION SNAPSHOT 'name'`. */
export function setSnapshotSql(snapshotName: string): string {
  return `SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`;
}

/** Number of pages of table `$1` (by OID) as the snapshot transaction sees its file, for ctid chunks. */
export const TABLE_PAGES_SQL = `
SELECT (pg_relation_size($1::oid) / current_setting('block_size')::int)::int8::text AS pages,
       greatest(c.reltuples, 0)::float8 AS tuples, greatest(c.relpages, 1)::int8::text AS relpages
FROM pg_class c WHERE c.oid = $1::oid`;

/** What a snapshot chunk selects and where it starts. */
export interface ChunkQuery {
  readonly table: QualifiedTable;
  /** User columns in schema order. */
  readonly columns: readonly string[];
  /** Select each column through its output function (text mode) rather than as is (binary mode). */
  readonly asText: boolean;
  /**
   * Keyset chunks: key columns, their types (`format_type`) and the key to
   * start after; or, with `in`, exactly the rows of those keys (no limit).
   */
  readonly key?: {
    readonly columns: readonly string[];
    readonly types: readonly string[];
    readonly after: readonly (string | null)[] | undefined;
    readonly limit: number;
    readonly in?: readonly (readonly (string | null)[])[];
  };
  /** ctid chunks (tables without a key): pages `[from, to)`. */
  readonly pages?: { readonly from: bigint; readonly to: bigint };
}

/**
 * `COPY (SELECT cols[, key::text...] FROM t WHERE ... ORDER BY key LIMIT n) TO STDOUT (FORMAT binary)`.
 * COPY takes no bind parameters, so the resume key is inlined as literals
 * cast to the key columns' types. Keyset chunks append each key column as
 * text after the user columns: the last row's key is where the next chunk starts.
 */
export function chunkCopySql(q: ChunkQuery): string {
  const cols = q.columns.map((c) =>
    q.asText
      ? `CASE WHEN ${quoteIdent(c)} IS NULL THEN NULL ELSE format('%s', ${quoteIdent(c)}) END`
      : quoteIdent(c),
  );
  let where = '';
  let tail = '';
  if (q.key) {
    const keys = q.key.columns.map(quoteIdent);
    cols.push(...keys.map((k, i) => `${k}::text AS ${quoteIdent(`_etl_key_${i}`)}`));
    const literal = (values: readonly (string | null)[]) =>
      `(${values.map((v, i) => (v === null ? 'NULL' : `CAST(${quoteLiteral(v)} AS ${q.key!.types[i]})`)).join(', ')})`;
    if (q.key.in) where = ` WHERE (${keys.join(', ')}) IN (${q.key.in.map(literal).join(', ')})`;
    else if (q.key.after) where = ` WHERE (${keys.join(', ')}) > ${literal(q.key.after)}`;
    tail = ` ORDER BY ${keys.join(', ')}${q.key.in ? '' : ` LIMIT ${q.key.limit}`}`;
  } else if (q.pages) {
    where = ` WHERE ctid >= '(${q.pages.from},0)'::tid AND ctid < '(${q.pages.to},0)'::tid`;
  }
  return `COPY (SELECT ${cols.join(', ')} FROM ${quoteTable(q.table)}${where}${tail}) TO STDOUT (FORMAT binary)`;
}
