import { configError } from '../errors.js';
import type { LostSlotPolicy, SlotThresholds } from './slot-conditions.js';

/** One server to watch, beyond the slots of the pipelines the monitor is added to. */
export interface WalTarget {
  /** An ordinary connection string; the role needs `pg_monitor` (or superuser) to see every slot. */
  readonly connectionString: string;
  /** Slots to watch; all slots on the server when omitted. A named slot that does not exist raises an alert. */
  readonly slots?: readonly string[];
}

/** Options of {@link walMonitor}. */
export interface WalMonitorOptions {
  /** Servers to watch. Slots of the pipelines the monitor is added to (`PipelineView.slot`) are always watched too. */
  readonly targets?: readonly WalTarget[];
  /** Time between the starts of two checks of one server. */
  readonly intervalMs?: number;
  /** Longest a check of one server may take; past it, it counts as failed (the other servers are not waited for). */
  readonly timeoutMs?: number;
  /** Alert limits. */
  readonly thresholds?: Partial<SlotThresholds>;
  /**
   * When a pipeline's slot is lost (invalidated): `fail` stops that pipeline
   * with `PG_SLOT_INVALID`; `report` only raises the critical alert (the
   * pipeline's source fails when it next reads the slot). Recovery is manual:
   * see docs/postgres-source.md. Slots no pipeline reads are always only reported.
   */
  readonly onLost?: LostSlotPolicy;
}

/** Lag is seen within 10 s, at one cheap query per server. */
export const DEFAULT_WAL_INTERVAL_MS = 10_000;
/** A healthy server answers the slot query in milliseconds; 5 s is a server in trouble. */
export const DEFAULT_WAL_TIMEOUT_MS = 5_000;
/** 1 GiB: far above the lag of a healthy pipeline (a few batches), far below a full disk. */
export const DEFAULT_LAG_BYTES = 1024 ** 3;
/** Five minutes without a consumer outlasts a restart or a deploy; longer is a stopped pipeline. */
export const DEFAULT_INACTIVE_MS = 5 * 60_000;
/** A lost slot cannot stream again; stopping loudly beats streaming from a new slot silently. */
export const DEFAULT_ON_LOST: LostSlotPolicy = 'fail';

/** Options after validation, defaults filled in. */
export interface ResolvedWalMonitorOptions {
  readonly targets: readonly WalTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly thresholds: SlotThresholds;
  readonly onLost: LostSlotPolicy;
}

/**
 * Validates {@link WalMonitorOptions}, naming the field to change, and fills in the defaults.
 *
 * @example
 * ```ts
 * resolveWalMonitorOptions({ intervalMs: 0 }); // throws CONFIG_INVALID: Invalid option `intervalMs`: ...
 * ```
 */
export function resolveWalMonitorOptions(opts: WalMonitorOptions = {}): ResolvedWalMonitorOptions {
  if (opts === null || typeof opts !== 'object')
    throw configError('walMonitor', 'expected an options object');
  const targets = opts.targets ?? [];
  if (!Array.isArray(targets))
    throw configError('targets', 'expected an array of { connectionString, slots? }');
  targets.forEach((t: WalTarget, i) => {
    if (!t || typeof t.connectionString !== 'string' || t.connectionString.trim() === '') {
      throw configError(`targets[${i}].connectionString`, 'expected a non-empty connection string');
    }
    if (t.slots !== undefined) {
      if (!Array.isArray(t.slots) || t.slots.some((s) => typeof s !== 'string' || s === '')) {
        throw configError(`targets[${i}].slots`, 'expected an array of slot names (non-empty strings)');
      }
    }
  });
  const onLost = opts.onLost ?? DEFAULT_ON_LOST;
  if (onLost !== 'fail' && onLost !== 'report') {
    throw configError('onLost', `must be "fail" or "report", got ${JSON.stringify(onLost)}`);
  }
  const lagMs = opts.thresholds?.lagMs;
  return {
    targets,
    intervalMs: positive('intervalMs', opts.intervalMs, DEFAULT_WAL_INTERVAL_MS),
    timeoutMs: positive('timeoutMs', opts.timeoutMs, DEFAULT_WAL_TIMEOUT_MS),
    thresholds: {
      lagBytes: positive('thresholds.lagBytes', opts.thresholds?.lagBytes, DEFAULT_LAG_BYTES),
      lagMs: lagMs === undefined ? undefined : positive('thresholds.lagMs', lagMs, 0),
      inactiveMs: nonNegative('thresholds.inactiveMs', opts.thresholds?.inactiveMs, DEFAULT_INACTIVE_MS),
    },
    onLost,
  };
}

function positive(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw configError(field, `must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

function nonNegative(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw configError(field, `must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}
