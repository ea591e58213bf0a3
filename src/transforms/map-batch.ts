import { ChangeBatch } from '../change/change-batch.js';
import type { ChangeEntry } from '../change/change-entry.js';
import { configError, EtlError } from '../errors.js';
import type { Transform, TransformContext } from './transform.js';

/** What a {@link mapBatch} function may return: a batch made with `batch.withEntries()`, or just the entries. */
export type MapBatchResult = ChangeBatch | readonly ChangeEntry[];

/**
 * A custom transform. `fn` gets each batch and returns either new entries
 * or a batch built with `batch.withEntries(...)`; it may be async. The
 * result must keep the batch's checkpoint (returning another batch's
 * checkpoint would confirm a position that was not delivered), which is
 * checked: a violation fails with `CONFIG_INVALID`.
 *
 * Entries must stay consistent: rows entries hold user columns then the
 * metadata columns, and the `TableSchema` must describe the user columns.
 *
 * @example
 * ```ts
 * // Drop snapshot reads of one table, keep everything else.
 * pipeline.transform(mapBatch((batch) =>
 *   batch.entries.filter((e) => !(e.kind === 'rows' && e.table.name === 'big_history'))));
 * ```
 */
export function mapBatch(
  fn: (batch: ChangeBatch, ctx: TransformContext) => MapBatchResult | Promise<MapBatchResult>,
): Transform {
  if (typeof fn !== 'function')
    throw configError('fn', 'must be a function (batch, ctx) => batch or entries');
  return async (batch, ctx) => {
    const result = await fn(batch, ctx);
    if (Array.isArray(result)) return batch.withEntries(result as readonly ChangeEntry[]);
    if (!(result instanceof ChangeBatch)) {
      throw new EtlError('CONFIG_INVALID', 'mapBatch function returned neither a ChangeBatch nor entries', {
        hint: 'Return batch.withEntries(entries) or an array of entries; never null (filter entries instead).',
      });
    }
    const same =
      result.checkpoint.lsn === batch.checkpoint.lsn &&
      result.checkpoint.commitLsn === batch.checkpoint.commitLsn;
    if (!same || result.partial !== batch.partial) {
      throw new EtlError('CONFIG_INVALID', 'mapBatch function returned a batch with another checkpoint', {
        hint: 'Build the result with batch.withEntries(...), which keeps the LSN range and checkpoint.',
      });
    }
    return result;
  };
}
