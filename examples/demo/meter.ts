/**
 * What the demo counts while the pipeline runs, from the pipeline's own
 * events: batches and rows made durable, by kind of change, and the latency
 * from a source commit to its commit in DuckDB.
 */
import {
  type ChangeBatch,
  ChangeOp,
  type Checkpoint,
  OP_COLUMN,
  type Pipeline,
  UNCHANGED_COLUMN,
} from 'etl-stream';

/** Rows of one batch by kind. */
interface BatchCounts {
  snapshot: number;
  inserts: number;
  updates: number;
  deletes: number;
  /** Updates that carried unchanged TOAST columns (the destination kept its value). */
  toastKept: number;
}

function countBatch(batch: ChangeBatch): BatchCounts {
  const counts: BatchCounts = { snapshot: 0, inserts: 0, updates: 0, deletes: 0, toastKept: 0 };
  for (const entry of batch.rowEntries()) {
    const ops = entry.data.getChild(OP_COLUMN)?.toArray() as Uint8Array | undefined;
    for (const op of ops ?? []) {
      if (op === ChangeOp.Read) counts.snapshot++;
      else if (op === ChangeOp.Insert) counts.inserts++;
      else if (op === ChangeOp.Update) counts.updates++;
      else if (op === ChangeOp.Delete) counts.deletes++;
    }
    const unchanged = entry.data.getChild(UNCHANGED_COLUMN);
    if (unchanged) counts.toastKept += unchanged.length - unchanged.nullCount;
  }
  return counts;
}

/** Counters fed by a pipeline's events. */
export class Meter implements BatchCounts {
  batches = 0;
  rows = 0;
  snapshot = 0;
  inserts = 0;
  updates = 0;
  deletes = 0;
  toastKept = 0;
  /** Source commit → durable in DuckDB, for the last batch of changes. */
  lagMs: number | undefined;
  readonly #pending = new WeakMap<Checkpoint, { counts: BatchCounts; commitTimeUs: bigint }>();

  constructor(pipeline: Pipeline) {
    pipeline.on('batch', ({ batch }) => {
      this.#pending.set(batch.checkpoint, {
        counts: countBatch(batch),
        commitTimeUs: batch.lastCommitTimeUs,
      });
    });
    pipeline.on('commit', ({ checkpoint, rows }) => {
      this.batches++;
      this.rows += rows;
      const seen = this.#pending.get(checkpoint);
      if (!seen) return;
      this.#pending.delete(checkpoint);
      for (const k of ['snapshot', 'inserts', 'updates', 'deletes', 'toastKept'] as const)
        this[k] += seen.counts[k];
      if (seen.commitTimeUs > 0n) this.lagMs = Math.max(0, Date.now() - Number(seen.commitTimeUs / 1000n));
    });
  }

  /** Changes streamed after the snapshot. */
  get changes(): number {
    return this.inserts + this.updates + this.deletes;
  }
}
