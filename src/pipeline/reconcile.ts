import { EtlError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { PipelineState } from '../state/state-store.js';

/**
 * How the saved position compares with the source's own (for Postgres, the
 * slot's `confirmed_flush_lsn`):
 *
 * - `new`: neither exists — a first start;
 * - `in-step`: they agree;
 * - `source-behind`: the slot is behind the saved position — the last
 *   confirmation had not reached the server when the pipeline stopped; the
 *   stream resumes at the saved position (what lies between is applied);
 * - `source-ahead`: the slot moved past the saved position — changes
 *   between the two cannot be streamed again (see {@link ReconcileReport.message});
 * - `state-missing`: the slot has a position but nothing is saved — the
 *   state store was emptied or replaced; the source starts over (Postgres:
 *   a new snapshot, then the stream from the slot's position);
 * - `rebuild`: the source rebuilds the destination from scratch (Postgres:
 *   the slot was lost, under `onSlotLost: 'resnapshot'`); the saved
 *   position no longer applies;
 * - `unchecked`: the source does not report a position.
 */
export type ReconcileOutcome =
  | 'new'
  | 'rebuild'
  | 'in-step'
  | 'source-behind'
  | 'source-ahead'
  | 'state-missing'
  | 'unchecked';

/** A destination's positions at start: its own watermark, and what the saved state says it applied. */
export interface DestinationPositions {
  readonly name: string;
  /** Whether the destination keeps a watermark (implements `committedLsn`). */
  readonly keepsWatermark: boolean;
  /** Its watermark: the commit LSN of the last transaction it applied; undefined when it has none. */
  readonly watermark: Lsn | undefined;
  /** The commit LSN of the last change the saved state says it made durable. */
  readonly saved: Lsn | undefined;
}

/** A finding about one destination, explained. */
export interface DestinationFinding {
  readonly destination: string;
  readonly severity: 'info' | 'warning';
  readonly message: string;
}

/**
 * What the pipeline found when it compared, at start, the saved state, the
 * source's position and each destination's watermark (the `reconcile`
 * event). Warnings are also raised as an `alert` (key `reconcile:<pipeline>`).
 */
export interface ReconcileReport {
  readonly outcome: ReconcileOutcome;
  /** `warning` when something may be missing downstream and an operator should look (the outcome or a finding). */
  readonly severity: 'info' | 'warning';
  /** What the comparison means, in a sentence or three. */
  readonly message: string;
  /** The saved checkpoint's position, when there is saved state. */
  readonly saved: Lsn | undefined;
  /** The source's position (the slot's `confirmed_flush_lsn`), when it has one. */
  readonly source: Lsn | undefined;
  /** Per destination: watermark and saved position. */
  readonly destinations: readonly DestinationPositions[];
  /** Per destination: what stands out (new or emptied destinations, destinations ahead). */
  readonly findings: readonly DestinationFinding[];
}

/** What {@link reconcilePositions} compares. */
export interface ReconcileInput {
  readonly pipeline: string;
  readonly saved: PipelineState | undefined;
  /**
   * The source's position; `undefined` as a whole when the source does not
   * report one. `rebuilding`: why the source rebuilds the destination instead of resuming.
   */
  readonly source:
    | { readonly position: Lsn | undefined; readonly rebuilding?: string | undefined }
    | undefined;
  readonly destinations: readonly DestinationPositions[];
}

const RESET_HINT =
  'To copy everything again, delete the pipeline’s saved state (store.delete(name)), drop its replication slot and empty its destination tables (rows deleted at the source meanwhile would stay): the next start takes a new snapshot.';

/**
 * Compares the saved state with the source's position and the destinations'
 * watermarks, explaining any mismatch. Throws `POSITION_GAP` when data would
 * be missing for good: the slot is gone although a position was saved, or a
 * destination's watermark is behind what the saved state says it made
 * durable (the stream resumes after the saved position, so those changes
 * never come again).
 *
 * @example
 * ```ts
 * const report = reconcilePositions({ pipeline: 'orders', saved, source: { position: slotLsn }, destinations });
 * if (report.severity === 'warning') console.warn(report.message);
 * ```
 */
export function reconcilePositions(input: ReconcileInput): ReconcileReport {
  const { pipeline, saved } = input;
  const base = {
    saved: saved?.checkpoint.lsn,
    source: input.source?.position,
    destinations: input.destinations,
  };
  if (!input.source) {
    return {
      ...base,
      outcome: 'unchecked',
      severity: 'info',
      message: `The source of pipeline "${pipeline}" does not report its own position; nothing to reconcile.`,
      findings: [],
    };
  }
  const rebuilding = input.source.rebuilding;
  if (rebuilding) {
    return {
      ...base,
      outcome: 'rebuild',
      severity: 'warning',
      message: `${rebuilding}: pipeline "${pipeline}" rebuilds its destinations (every table emptied, then copied again from a new slot) instead of resuming at the saved position.`,
      findings: [],
    };
  }
  const source = input.source.position;
  if (!saved) {
    return source === undefined
      ? {
          ...base,
          outcome: 'new',
          severity: 'info',
          message: `Pipeline "${pipeline}" starts for the first time: no saved state, no position at the source.`,
          findings: [],
        }
      : {
          ...base,
          outcome: 'state-missing',
          severity: 'warning',
          message: `Pipeline "${pipeline}" has no saved state, but its source keeps a position (${formatLsn(source)}): the state store was emptied or replaced. The source starts over from its own position (Postgres: every table is copied again, then changes stream from the slot's position).`,
          findings: [],
        };
  }
  const at = saved.checkpoint.lsn;
  if (source === undefined) {
    throw new EtlError(
      'POSITION_GAP',
      `Pipeline "${pipeline}" saved a position (${formatLsn(at)}) but its source keeps none (the replication slot is gone): changes committed since cannot be streamed again`,
      {
        hint: `Check the destinations, then start over: ${RESET_HINT} Or point the pipeline at the server that has the slot.`,
        details: { pipeline, saved: formatLsn(at) },
      },
    );
  }
  const findings = input.destinations.flatMap((d) => destinationFindings(pipeline, d, at));
  if (source === at) {
    return {
      ...base,
      outcome: 'in-step',
      severity: worst('info', findings),
      message: `Pipeline "${pipeline}" resumes at ${formatLsn(at)}: the saved position and the source's agree.`,
      findings,
    };
  }
  if (source < at) {
    return {
      ...base,
      outcome: 'source-behind',
      severity: worst('info', findings),
      message: `The source of pipeline "${pipeline}" is at ${formatLsn(source)}, behind the saved position ${formatLsn(at)}: the last confirmation had not reached it when the pipeline stopped. Everything up to ${formatLsn(at)} is durable downstream; the stream resumes there.`,
      findings,
    };
  }
  return {
    ...base,
    outcome: 'source-ahead',
    severity: 'warning',
    message: `The source of pipeline "${pipeline}" is at ${formatLsn(source)}, ahead of the saved position ${formatLsn(at)}: changes committed between the two can no longer be streamed. That is expected when the pipeline was idle before it last ended without stopping (a crash): the slot follows the server's WAL while nothing of this pipeline's tables is pending, so nothing is missing. Otherwise something else moved the slot (pg_replication_slot_advance, another consumer of the same slot) or the state store was restored from an older copy, and destinations may miss changes of that range: compare them with the source.`,
    findings,
  };
}

function worst(severity: 'info' | 'warning', findings: readonly DestinationFinding[]): 'info' | 'warning' {
  return findings.some((f) => f.severity === 'warning') ? 'warning' : severity;
}

function destinationFindings(pipeline: string, d: DestinationPositions, at: Lsn): DestinationFinding[] {
  if (!d.keepsWatermark || d.saved === undefined) {
    if (!d.keepsWatermark || d.watermark !== undefined) return [];
    return [
      {
        destination: d.name,
        severity: 'warning',
        message: `Destination "${d.name}" is new to pipeline "${pipeline}": it receives the changes after ${formatLsn(at)}, not the rows copied before. ${RESET_HINT}`,
      },
    ];
  }
  if (d.watermark === undefined) {
    return [
      {
        destination: d.name,
        severity: 'warning',
        message: `Destination "${d.name}" has no watermark for pipeline "${pipeline}" although the saved state says it applied changes up to ${formatLsn(d.saved)}: it is new or was emptied. It receives the changes after ${formatLsn(at)}, not what came before. ${RESET_HINT}`,
      },
    ];
  }
  if (d.watermark < d.saved) {
    throw new EtlError(
      'POSITION_GAP',
      `Destination "${d.name}" of pipeline "${pipeline}" has applied changes up to ${formatLsn(d.watermark)}, but the saved state says it had made changes up to ${formatLsn(d.saved)} durable, and the stream resumes after ${formatLsn(at)}: the changes in between cannot be streamed again, so "${d.name}" would miss them`,
      {
        hint: `The destination lost data it had confirmed (restored from an older copy, or a write that was not durable). Restore it to a copy that has them, or rebuild it: ${RESET_HINT}`,
        details: {
          pipeline,
          destination: d.name,
          watermark: formatLsn(d.watermark),
          saved: formatLsn(d.saved),
          resumeAt: formatLsn(at),
        },
      },
    );
  }
  if (d.watermark > d.saved) {
    return [
      {
        destination: d.name,
        severity: 'info',
        message: `Destination "${d.name}" applied changes up to ${formatLsn(d.watermark)}, past the saved ${formatLsn(d.saved)} (the pipeline ended before it saved them): those are skipped when they come again.`,
      },
    ];
  }
  return [];
}

/**
 * The state to save when the source moved on its own past the saved position
 * while nothing was in flight (the idle rule: everything it handed out was
 * confirmed, so nothing before `position` is pending for this pipeline).
 * Undefined when there is nothing to record: no state yet, a snapshot still
 * running, or no position beyond the saved one.
 */
export function idleAdvanced(
  last: PipelineState | undefined,
  position: Lsn | undefined,
): PipelineState | undefined {
  if (!last || last.checkpoint.snapshot || position === undefined || position <= last.checkpoint.lsn) {
    return undefined;
  }
  return { ...last, checkpoint: { ...last.checkpoint, lsn: position }, updatedAt: new Date().toISOString() };
}
