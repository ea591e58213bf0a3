import type { ChangeBatch } from '../change/change-batch.js';
import type { Checkpoint } from '../change/checkpoint.js';
import type { TableSchema } from '../change/table-schema.js';
import type { EtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { ReconcileReport } from './reconcile.js';

/** Severity of an {@link AlertEvent}. */
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** An alert raised by a monitor or the runtime; `resolved` closes an earlier one with the same key. */
export interface AlertEvent {
  readonly key: string;
  readonly severity: AlertSeverity;
  readonly message: string;
  readonly resolved: boolean;
  readonly details?: Record<string, unknown>;
}

/** The pipeline's lifecycle state. */
export type PipelineStatus =
  | 'idle'
  | 'starting'
  | 'snapshotting'
  | 'streaming'
  | 'paused'
  | 'stopping'
  | 'stopped'
  | 'failed';

/**
 * Typed events a pipeline emits. Events only observe: listeners cannot change
 * what the pipeline does, and a listener that throws is reported on `error`
 * without affecting the run. An `error` event nobody listens to never crashes
 * the host.
 */
export interface PipelineEvents {
  /** A batch was read from the source and is about to be written. */
  batch: { readonly batch: ChangeBatch };
  /** A batch is durable everywhere, saved in the state store, and confirmed to the source. */
  commit: { readonly checkpoint: Checkpoint; readonly rows: number; readonly latencyMs: number };
  /** The initial snapshot advanced. */
  'snapshot:progress': { readonly table: string; readonly rows: number; readonly done: boolean };
  /** A table's schema was first seen or changed. */
  schema: { readonly table: TableSchema; readonly previous: TableSchema | undefined };
  /** Replication lag, as measured by the source or a monitor. */
  lag: { readonly slot: string; readonly bytes: bigint; readonly ms?: number };
  /** An alert was raised or resolved. */
  alert: AlertEvent;
  /** An error: `fatal` ones stop the pipeline (and reject `start()`/`wait()`), others are being retried. */
  error: { readonly error: EtlError; readonly fatal: boolean; readonly component: string };
  /**
   * At start, once the saved state, the destinations' watermarks and the
   * source's own position (the slot's `confirmed_flush_lsn`) are known: how
   * they compare and what that means. Warnings are also raised as an `alert`.
   */
  reconcile: ReconcileReport;
  /** The pipeline's state changed. */
  state: { readonly status: PipelineStatus; readonly confirmedLsn?: Lsn };
  /** A logical decoding message (`pg_logical_emit_message`) passed by. */
  message: {
    readonly prefix: string;
    readonly content: Uint8Array;
    readonly transactional: boolean;
    readonly lsn: Lsn;
  };
}
