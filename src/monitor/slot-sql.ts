/**
 * The SQL the WAL monitor sends, in one place. Slot names travel as bind
 * parameters, never in the text, so nothing here needs identifier quoting.
 * Byte counts come from `pg_wal_lsn_diff` as exact numerics (cast to text,
 * read as bigint), never from `pg_size_pretty`.
 */

/**
 * The server's version as an integer (`170002` for 17.2): decides which slot columns exist.
 *
 * @example
 * ```ts
 * const version = (await client.query(SERVER_VERSION_SQL)).rows[0].version;
 * ```
 */
export const SERVER_VERSION_SQL = `SELECT current_setting('server_version_num')::int AS version`;

/** `inactive_since` and `invalidation_reason` appeared in PostgreSQL 17. */
const PG17 = 170000;
/** `conflicting` (logical slot invalidated by recovery conflict) appeared in PostgreSQL 16. */
const PG16 = 160000;

/** The row {@link slotsSql} returns; numbers that may exceed 2^53 come as text. */
export interface SlotRow {
  slot_name: string;
  slot_type: string;
  database: string | null;
  active: boolean;
  active_pid: number | null;
  restart_lsn: string | null;
  confirmed_flush_lsn: string | null;
  current_lsn: string | null;
  retained_bytes: string | null;
  lag_bytes: string | null;
  wal_status: string | null;
  safe_wal_size: string | null;
  inactive_ms: number | null;
  invalidation_reason: string | null;
  conflicting: boolean | null;
}

/**
 * Every slot (or those named in `$1::text[]`, when not null) with its lag
 * measured against the WAL head: `pg_current_wal_lsn()` on a primary, the
 * last received position on a standby. `inactive_ms` is computed with the
 * server's clock, so client clock skew does not matter.
 *
 * @example
 * ```ts
 * const { rows } = await client.query<SlotRow>(slotsSql(version), [['orders', 'billing']]);
 * ```
 */
export function slotsSql(serverVersion: number): string {
  const pg17 = serverVersion >= PG17;
  return `SELECT s.slot_name, s.slot_type, s.database, s.active, s.active_pid,
  s.restart_lsn::text AS restart_lsn, s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
  h.head::text AS current_lsn,
  pg_wal_lsn_diff(h.head, s.restart_lsn)::text AS retained_bytes,
  pg_wal_lsn_diff(h.head, s.confirmed_flush_lsn)::text AS lag_bytes,
  s.wal_status, s.safe_wal_size::text AS safe_wal_size,
  ${pg17 ? '(extract(epoch FROM now() - s.inactive_since) * 1000)::float8' : 'NULL::float8'} AS inactive_ms,
  ${pg17 ? 's.invalidation_reason' : 'NULL::text'} AS invalidation_reason,
  ${serverVersion >= PG16 ? 's.conflicting' : 'NULL::boolean'} AS conflicting
FROM pg_replication_slots s,
  LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS head) h
WHERE $1::text[] IS NULL OR s.slot_name = ANY($1::text[])
ORDER BY s.slot_name`;
}
