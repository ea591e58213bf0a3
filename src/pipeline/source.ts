import type { ChangeBatch } from '../change/change-batch.js';
import type { Checkpoint } from '../change/checkpoint.js';
import type { Lsn } from '../lsn.js';
import type { PipelineEvents } from './pipeline-events.js';

/** Limits at which a batch is cut (always at a commit boundary). */
export interface BatchLimits {
  /** Cut when the batch holds this many rows. */
  readonly maxRows: number;
  /** Cut when the batch's Arrow data reaches about this many bytes. */
  readonly maxBytes: number;
  /** Cut when the oldest change in the batch has waited this long. */
  readonly maxDelayMs: number;
}

/** What the pipeline hands a source when it opens it. */
export interface SourceContext {
  /** Pipeline name (also the default slot and state key). */
  readonly pipeline: string;
  /** Aborted when the pipeline stops; the iterable must then end promptly. */
  readonly signal: AbortSignal;
  /** Batch cutting limits. */
  readonly batch: BatchLimits;
  /** The last saved checkpoint, if any: resume after it. */
  readonly resumeFrom: Checkpoint | undefined;
  /** Emits observational events (schema changes, snapshot progress, logical messages). */
  readonly emit: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;
}

/**
 * Where changes come from. `PostgresSource` is the default.
 *
 * Contract: {@link Source.open} is called once per run; the pipeline pulls
 * batches from the iterable one at a time, so a source that is not pulled must
 * stop reading its input (backpressure). Batches contain whole transactions in
 * commit order. {@link Source.confirm} is called, in order, with the checkpoint
 * of each batch after every destination made it durable and the state store
 * saved it: only then may the source let its upstream forget those changes.
 * {@link Source.close} is called once, after the iterable ended or was abandoned.
 */
export interface Source {
  /** A short name for logs and metrics. */
  readonly name: string;
  /**
   * Connects and checks the configuration (privileges, tables, slot). Called
   * once, before {@link Source.open}; rejecting makes `pipeline.start()` reject
   * with the same error. Optional: sources without checks start in `open`.
   */
  prepare?(ctx: SourceContext): Promise<void>;
  /** Starts reading: snapshot first when needed, then changes. Pulled. */
  open(ctx: SourceContext): AsyncIterable<ChangeBatch>;
  /** Everything up to `checkpoint` is durable downstream. Called in order, never concurrently. */
  confirm(checkpoint: Checkpoint): Promise<void>;
  /** Releases every connection and timer. Called once. */
  close(): Promise<void>;
  /**
   * Where the upstream would resume this pipeline's changes if it restarted
   * now — for Postgres, the replication slot's `confirmed_flush_lsn`, as read
   * by {@link Source.prepare} and then as this source confirmed it (idle
   * advances included) — or undefined when it keeps none (no slot yet).
   * Optional: the pipeline compares it with its saved state after `prepare`
   * (the `reconcile` event), and saves an idle advance after `close`.
   */
  upstreamPosition?(): Lsn | undefined;
  /**
   * After {@link Source.prepare}: why this run rebuilds the destination from
   * scratch (Postgres: the slot was lost under `onSlotLost: 'resnapshot'`),
   * or undefined. The pipeline then reports the rebuild instead of comparing
   * positions that no longer mean anything. Optional.
   */
  rebuilding?(): string | undefined;
  /**
   * The replication slot this source reads, once known, so that monitors
   * (slot lag, WAL retention, publication drift) can watch it. Optional: only
   * slot-based sources have one.
   */
  readonly replicationSlot?: ReplicationSlotRef | undefined;
}

/** Where a slot-based source reads from, as monitors see it. */
export interface ReplicationSlotRef {
  /** An ordinary connection string to the slot's server. */
  readonly connectionString: string;
  /** The replication slot's name. */
  readonly name: string;
  /** The publication the slot streams, once the source has checked it. */
  readonly publication?: string;
  /** The tables the pipeline expects the publication to hold (`schema.table`), once checked. */
  readonly tables?: readonly string[];
  /**
   * What the source does when the slot is lost: `fail`, or `resnapshot`
   * (it rebuilds the destination from a new slot by itself, so a monitor
   * reports the loss but does not stop the pipeline).
   */
  readonly onLost?: 'fail' | 'resnapshot';
}
