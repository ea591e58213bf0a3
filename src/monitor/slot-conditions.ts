import type { AlertEvent } from '../pipeline/pipeline-events.js';
import { LOST_SLOT_STEPS } from '../postgres/slot.js';
import { formatBytes, formatDuration } from './readable-units.js';
import type { SlotReading } from './slot-reading.js';

/** How to recover from a lost slot, in one sentence (docs/postgres-source.md has the steps). */
export const LOST_SLOT_RECOVERY = `To recover: ${LOST_SLOT_STEPS}`;

/** Limits past which a slot raises an alert. */
export interface SlotThresholds {
  /** Alert when the consumer is this many bytes behind the WAL head. */
  readonly lagBytes: number;
  /** Alert when the oldest unconfirmed WAL is this old (ms). Undefined: no lag-time alert. */
  readonly lagMs?: number | undefined;
  /** Alert when no consumer has used the slot for this long (ms). */
  readonly inactiveMs: number;
}

/** What to do when a slot is lost: stop the pipeline, or only report (its source fails when it next reads the slot). */
export type LostSlotPolicy = 'fail' | 'report';

/** A slot reading plus what the monitor derived from earlier readings. */
export interface SlotFacts {
  readonly reading: SlotReading;
  /** Age of the oldest unconfirmed WAL, from {@link WalClock}. */
  readonly lagMs: number | undefined;
  /** How long the slot has been inactive (server clock on 17+, else since the monitor first saw it inactive). */
  readonly inactiveForMs: number | undefined;
}

/**
 * The alert key of one condition of one slot: `wal:<host:port>:<slot>:<condition>`.
 *
 * @example
 * ```ts
 * pipeline.on('alert', (a) => { if (a.key === slotAlertKey('db1:5432', 'orders', 'lost')) page(a); });
 * ```
 */
export function slotAlertKey(server: string, slot: string, condition: string): string {
  return `wal:${server}:${slot}:${condition}`;
}

/**
 * The alerts that should be active for one slot now (pure: no state, no
 * I/O). The WAL monitor raises the ones that appear and resolves the ones
 * that disappear. A lost slot raises only the `lost` alert: lag and WAL
 * status mean nothing for it any more.
 *
 * @example
 * ```ts
 * const alerts = slotConditions({ reading, lagMs: 0, inactiveForMs: undefined }, { lagBytes: 1 << 30, inactiveMs: 300_000 }, 'fail');
 * ```
 */
export function slotConditions(
  facts: SlotFacts,
  limits: SlotThresholds,
  onLost: LostSlotPolicy | 'resnapshot',
): AlertEvent[] {
  const r = facts.reading;
  const name = `Replication slot "${r.slot}" on ${r.server}`;
  const key = (condition: string) => slotAlertKey(r.server, r.slot, condition);
  const details = slotDetails(r);
  const out: AlertEvent[] = [];
  const raise = (condition: string, severity: AlertEvent['severity'], message: string) =>
    out.push({ key: key(condition), severity, message, resolved: false, details });

  if (r.lost) {
    raise(
      'lost',
      'critical',
      `${name} was invalidated (${r.invalidationReason ?? `wal_status ${r.walStatus ?? 'lost'}`}): the WAL it needs is gone and it can never stream again. ` +
        (onLost === 'resnapshot'
          ? 'The pipeline\'s source has onSlotLost "resnapshot": it empties the destination tables and copies every table again from a new slot, without operator action.'
          : (onLost === 'fail'
              ? 'Policy "fail": the pipeline stops. '
              : 'Policy "report": only this alert; the pipeline\'s source fails when it next reads the slot. ') +
            LOST_SLOT_RECOVERY),
    );
    return out;
  }
  if (r.lagBytes !== undefined && r.lagBytes >= BigInt(Math.floor(limits.lagBytes))) {
    raise(
      'lag',
      'warning',
      `${name} is ${formatBytes(r.lagBytes)} behind the WAL head (threshold ${formatBytes(limits.lagBytes)}); the server keeps ${formatBytes(r.retainedBytes ?? r.lagBytes)} of WAL for it until the pipeline confirms.`,
    );
  }
  if (limits.lagMs !== undefined && facts.lagMs !== undefined && facts.lagMs >= limits.lagMs) {
    raise(
      'lag-time',
      'warning',
      `${name} has not confirmed WAL written ${formatDuration(facts.lagMs)} ago (threshold ${formatDuration(limits.lagMs)}).`,
    );
  }
  if (r.walStatus === 'extended') {
    raise(
      'wal-status',
      'warning',
      `${name} holds WAL beyond max_wal_size (wal_status extended)${safeSize(r)}: confirm faster, or raise max_slot_wal_keep_size.`,
    );
  } else if (r.walStatus === 'unreserved') {
    raise(
      'wal-status',
      'critical',
      `${name} will lose its WAL at the next checkpoint (wal_status unreserved)${safeSize(r)}: the slot is about to be invalidated.`,
    );
  }
  if (!r.active && facts.inactiveForMs !== undefined && facts.inactiveForMs >= limits.inactiveMs) {
    raise(
      'inactive',
      'warning',
      `${name} has had no consumer for ${formatDuration(facts.inactiveForMs)} (threshold ${formatDuration(limits.inactiveMs)}); an unused slot keeps WAL forever. Start its pipeline, or drop the slot if it is abandoned.`,
    );
  }
  return out;
}

/** Facts attached to every slot alert (JSON-safe: bytes as decimal strings). */
function slotDetails(r: SlotReading): Record<string, unknown> {
  return {
    server: r.server,
    slot: r.slot,
    active: r.active,
    walStatus: r.walStatus ?? null,
    lagBytes: r.lagBytes?.toString() ?? null,
    retainedBytes: r.retainedBytes?.toString() ?? null,
    safeWalSizeBytes: r.safeWalSizeBytes?.toString() ?? null,
    invalidationReason: r.invalidationReason ?? null,
  };
}

function safeSize(r: SlotReading): string {
  const safe = r.safeWalSizeBytes;
  if (safe === undefined) return '';
  return safe < 0n
    ? `, already ${formatBytes(-safe)} past max_slot_wal_keep_size`
    : `, ${formatBytes(safe)} left before it is lost`;
}

/**
 * The message of the resolved notice for a WAL monitor alert `key`, saying
 * what the slot looks like now (`readings` of its server).
 *
 * @example
 * ```ts
 * slotResolvedMessage('wal:db1:5432:orders:lag', 'db1:5432', readings);
 * // 'Replication slot "orders" on db1:5432 is back under the lag threshold.'
 * ```
 */
export function slotResolvedMessage(key: string, server: string, readings: readonly SlotReading[]): string {
  const rest = key.slice(`wal:${server}:`.length);
  if (rest === 'unreachable') return `Slot checks on ${server} succeed again.`;
  const condition = rest.slice(rest.lastIndexOf(':') + 1);
  const slot = rest.slice(0, rest.lastIndexOf(':'));
  const name = `Replication slot "${slot}" on ${server}`;
  const now = readings.find((r) => r.slot === slot);
  if (!now) return `${name} no longer exists; its "${condition}" alert is closed.`;
  if (now.lost && condition !== 'lost')
    return `${name}: the "${condition}" alert is superseded by the lost-slot alert.`;
  const what: Record<string, string> = {
    lag: 'is back under the lag threshold',
    'lag-time': 'is back under the lag-time threshold',
    'wal-status': `is back to wal_status ${now.walStatus ?? 'reserved'}`,
    inactive: 'has a consumer again',
    missing: 'exists again',
    lost: 'is no longer reported as lost',
  };
  return `${name} ${what[condition] ?? `no longer has condition ${condition}`}.`;
}
