import { type Lsn, parseLsn } from '../lsn.js';
import type { SlotRow } from './slot-sql.js';

/**
 * `pg_replication_slots.wal_status`: `reserved` (within `max_wal_size`),
 * `extended` (beyond it, kept for the slot), `unreserved` (will be removed at
 * the next checkpoint), `lost` (removed: the slot is unusable).
 */
export type WalStatus = 'reserved' | 'extended' | 'unreserved' | 'lost';

/**
 * One replication slot as read by the WAL monitor. Byte counts are exact
 * (`bigint`); fields a server version or slot state does not provide are
 * undefined.
 *
 * @example
 * ```ts
 * for (const slot of monitor.readings()) {
 *   console.log(slot.server, slot.slot, slot.lagBytes, slot.walStatus);
 * }
 * ```
 */
export interface SlotReading {
  /** The server, as `host:port` (never credentials). */
  readonly server: string;
  readonly slot: string;
  readonly type: 'logical' | 'physical';
  /** Database of a logical slot. */
  readonly database: string | undefined;
  /** Whether a walsender is using the slot now. */
  readonly active: boolean;
  /** The WAL head when read (current LSN on a primary, last received on a standby). */
  readonly currentLsn: Lsn | undefined;
  readonly restartLsn: Lsn | undefined;
  readonly confirmedFlushLsn: Lsn | undefined;
  /** WAL the slot makes the server keep: head − `restart_lsn`. */
  readonly retainedBytes: bigint | undefined;
  /** How far the consumer is behind: head − `confirmed_flush_lsn` (logical slots). */
  readonly lagBytes: bigint | undefined;
  readonly walStatus: WalStatus | undefined;
  /** Bytes that may still be written before the slot is in danger; undefined without `max_slot_wal_keep_size`. */
  readonly safeWalSizeBytes: bigint | undefined;
  /** How long the slot has been inactive, by the server's clock (PostgreSQL 17+). */
  readonly inactiveMs: number | undefined;
  /** Why the slot was invalidated (PostgreSQL 17+: `wal_removed`, `rows_removed`, ...). */
  readonly invalidationReason: string | undefined;
  /** True when the slot can no longer be used: WAL removed or invalidated for another reason. */
  readonly lost: boolean;
  /** When it was read (ms since the epoch, this process's clock). */
  readonly checkedAt: number;
}

const WAL_STATUSES = new Set<string>(['reserved', 'extended', 'unreserved', 'lost']);

/**
 * Converts a row of `slotsSql` into a {@link SlotReading}: LSNs parsed,
 * byte counts as exact bigints, `lost` derived from every invalidation sign.
 *
 * @example
 * ```ts
 * const readings = rows.map((row) => toSlotReading(row, 'db1:5432', Date.now()));
 * ```
 */
export function toSlotReading(row: SlotRow, server: string, checkedAt: number): SlotReading {
  const walStatus =
    row.wal_status && WAL_STATUSES.has(row.wal_status) ? (row.wal_status as WalStatus) : undefined;
  const invalidationReason = row.invalidation_reason ?? undefined;
  return {
    server,
    slot: row.slot_name,
    type: row.slot_type === 'physical' ? 'physical' : 'logical',
    database: row.database ?? undefined,
    active: row.active,
    currentLsn: lsnOrUndefined(row.current_lsn),
    restartLsn: lsnOrUndefined(row.restart_lsn),
    confirmedFlushLsn: lsnOrUndefined(row.confirmed_flush_lsn),
    retainedBytes: bytesOrUndefined(row.retained_bytes),
    lagBytes: bytesOrUndefined(row.lag_bytes),
    walStatus,
    safeWalSizeBytes: bytesOrUndefined(row.safe_wal_size),
    inactiveMs: row.inactive_ms ?? undefined,
    invalidationReason,
    lost: walStatus === 'lost' || invalidationReason !== undefined || row.conflicting === true,
    checkedAt,
  };
}

function lsnOrUndefined(text: string | null): Lsn | undefined {
  return text === null ? undefined : parseLsn(text);
}

/** Exact numeric text (`pg_wal_lsn_diff`, `safe_wal_size`) to bigint; a fraction, if any, is dropped. */
function bytesOrUndefined(text: string | null): bigint | undefined {
  if (text === null) return undefined;
  return BigInt(text.split('.')[0] ?? '0');
}
