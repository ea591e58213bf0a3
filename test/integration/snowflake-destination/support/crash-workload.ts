/**
 * A deterministic workload for the Snowflake destination tests: batch n is one
 * transaction at LSN n*100 that inserts item n, updates item n-1, deletes
 * item n-2 every third batch, and appends one row to the keyless `log` table
 * (so a duplicate or a gap shows).
 */
import { ChangeBatch } from '../../../../src/change/change-batch.js';
import { ChangeOp } from '../../../../src/change/metadata-columns.js';
import type { TableSchema } from '../../../../src/change/table-schema.js';
import { ITEMS, type ItemChange, itemsRecordBatch } from '../../../support/batches.js';

/** The keyless table (append mode). */
export const LOG: TableSchema = {
  ...ITEMS,
  id: 2,
  name: 'log',
  primaryKey: [],
  columns: ITEMS.columns.map((c) => ({ ...c, key: false })),
};

/** Batch n (1-based). */
export function workloadBatch(n: number): ChangeBatch {
  const lsn = BigInt(n * 100);
  const items: ItemChange[] = [
    { id: n, label: `new-${n}`, op: ChangeOp.Insert, lsn },
    ...(n > 1 ? [{ id: n - 1, label: `upd-${n - 1}`, op: ChangeOp.Update, lsn }] : []),
    ...(n > 2 && n % 3 === 0 ? [{ id: n - 2, label: null, op: ChangeOp.Delete, lsn }] : []),
  ];
  return new ChangeBatch({
    firstLsn: lsn,
    checkpoint: { lsn: lsn + 1n, commitLsn: lsn },
    transactions: 1,
    lastCommitTimeUs: 0n,
    entries: [
      { kind: 'rows', table: ITEMS, data: itemsRecordBatch(items) },
      {
        kind: 'rows',
        table: LOG,
        data: itemsRecordBatch([{ id: n, label: `event-${n}`, op: ChangeOp.Insert, lsn }]),
      },
    ],
  });
}

/** What `items` holds after batches 1..n, as [id, label] text pairs. */
export function expectedItems(n: number): string[][] {
  const rows = new Map<number, string>();
  for (let k = 1; k <= n; k++) {
    rows.set(k, `new-${k}`);
    if (k > 1) rows.set(k - 1, `upd-${k - 1}`);
    if (k > 2 && k % 3 === 0) rows.delete(k - 2);
  }
  return [...rows].sort((a, b) => a[0] - b[0]).map(([id, label]) => [String(id), label]);
}

/** What `log` holds after batches 1..n. */
export function expectedLog(n: number): string[][] {
  return Array.from({ length: n }, (_, i) => [String(i + 1), `event-${i + 1}`]);
}
