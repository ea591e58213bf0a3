import type { ChangeBatch } from '../change/change-batch.js';

/** What a transform is given besides the batch. */
export interface TransformContext {
  /** Pipeline name. */
  readonly pipeline: string;
  /** Aborted when the pipeline stops. */
  readonly signal: AbortSignal;
}

/**
 * A step between source and destinations. Returns a batch (possibly the same
 * one); never null: a batch with everything filtered out keeps its LSN range
 * so that its position is still confirmed. Runs on Arrow data; use
 * {@link ChangeBatch.withEntries} to build the result.
 */
export type Transform = (batch: ChangeBatch, ctx: TransformContext) => ChangeBatch | Promise<ChangeBatch>;
