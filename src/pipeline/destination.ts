import type { ChangeBatch } from '../change/change-batch.js';
import type { Lsn } from '../lsn.js';
import type { PipelineEvents } from './pipeline-events.js';

/** What the pipeline hands a destination when it opens it. */
export interface DestinationContext {
  /** Pipeline name; a destination that keeps a watermark keys it by this name. */
  readonly pipeline: string;
  /** Aborted when the pipeline stops for good. */
  readonly signal: AbortSignal;
  /** Emits observational events (schema evolution, retries). */
  readonly emit: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;
}

/**
 * Where changes go. Write your own by implementing this interface; see
 * `docs/custom-destination.md`.
 *
 * Contract: the runtime wraps every destination so that {@link Destination.open}
 * runs once before the first write, {@link Destination.write} calls are never
 * concurrent for one destination and arrive in commit order, and
 * {@link Destination.close} runs once, after which nothing is called.
 *
 * - `write` resolves only when the batch is **durable** (it survives a crash of
 *   this process and of the target's). Resolving means the pipeline may
 *   confirm the batch's LSN to Postgres, after which Postgres may drop the WAL.
 *   Rejecting with a retryable error makes the runtime retry the same batch
 *   with backoff; a non-retryable error stops the pipeline.
 * - A batch can be delivered again after a crash (at-least-once). A destination
 *   that implements {@link Destination.committedLsn} (the commit LSN of the last
 *   applied batch, stored atomically with the data) gets only changes after its
 *   watermark, which makes delivery effectively-once.
 *
 * @example
 * ```ts
 * const logDestination: Destination = {
 *   name: 'log',
 *   async write(batch) {
 *     for (const e of batch.rowEntries()) console.log(e.table.name, e.data.numRows);
 *   },
 *   async close() {},
 * };
 * ```
 */
export interface Destination {
  /** A short, unique name among the pipeline's destinations (used in state and metrics). */
  readonly name: string;
  /** Connects and prepares. Called once, before the first write or watermark read. */
  open?(ctx: DestinationContext): Promise<void>;
  /** Makes the batch durable. Resolves only when durable. */
  write(batch: ChangeBatch, opts: { signal: AbortSignal }): Promise<void>;
  /** The commit LSN of the last batch applied for `pipeline`, stored with the data; undefined when none. */
  committedLsn?(pipeline: string): Promise<Lsn | undefined>;
  /** Releases every connection and timer. Called once; also while a write is in flight (abort it). */
  close(): Promise<void>;
}
