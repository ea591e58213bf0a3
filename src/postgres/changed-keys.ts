import type { RecordBatch } from 'apache-arrow';
import { valueAt } from '../arrow/row-reader.js';
import { EtlError } from '../errors.js';
import type { XidSnapshot } from './xid-snapshot.js';

/** What the backfill does with one row of a chunk (see {@link ChangedKeys.reconcile}). */
export const Verdict = {
  /** The copy is the row's current state: emit it. */
  Keep: 0,
  /** The stream already delivered a newer, complete state of the row: drop the copy. */
  Drop: 1,
  /** The stream delivered a newer but incomplete state (unchanged TOAST values): drop and read the row again. */
  Retry: 2,
} as const;

/** A value of {@link Verdict}. */
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

interface LastChange {
  /** Top-level xid of the last transaction that changed the row. */
  readonly xid: number;
  /** The destination holds the row's whole state after the changes seen so far (not waiting for the copy). */
  readonly complete: boolean;
}

/**
 * The stream side of a backfill (see `backfill.ts`): the changes of one table
 * streamed since the backfill's barrier, remembered per key as the xid of
 * the last transaction that changed the row, so that a chunk copied in
 * snapshot S can be reconciled exactly when its watermark comes by.
 *
 * A copied row is current unless a transaction S does not see changed it
 * before the watermark: then the stream has already delivered that newer
 * change (and, being later in the stream than the copy's sources, the copy
 * would overwrite it with an older state). Changes of one row are serialized
 * by its lock, so the last changer decides: if S sees it, S saw every
 * earlier one too. Entries of transactions every later snapshot sees are
 * forgotten, so memory follows the changes of the last moments, not the
 * table's size.
 */
export class ChangedKeys {
  readonly #keys = new Map<string, LastChange>();
  /** Xids of transactions that truncated the table or changed its shape. */
  #resets: number[] = [];
  /**
   * Keys a key change moved a row to, leaving TOAST values unchanged: the
   * destination fills them from the old key's row, which it may not have yet
   * (not copied yet) — so the row is read again by key. Postgres text of each key.
   */
  readonly #moved = new Map<string, readonly (string | null)[]>();

  /** A change of `key` by transaction `xid`; `complete` when it carries the whole row (insert, delete, update without unchanged TOAST). */
  note(key: string, xid: number, complete: boolean): void {
    const previous = this.#keys.get(key);
    this.#keys.set(key, { xid, complete: complete || (previous?.complete ?? false) });
    if (complete) this.#moved.delete(key);
  }

  /** A key change moved a row to `key` without resending its TOAST values (see {@link ChangedKeys.takeMoved}). */
  noteMoved(key: string, keyText: readonly (string | null)[]): void {
    this.#moved.set(key, keyText);
  }

  /** The moved-to keys not made whole since (by a complete change or a copy), as Postgres text; forgets them. */
  takeMoved(): (readonly (string | null)[])[] {
    const keys = [...this.#moved.values()];
    this.#moved.clear();
    return keys;
  }

  /** Transaction `xid` truncated the table or changed its columns: a copy it does not see is stale as a whole. */
  reset(xid: number): void {
    this.#resets.push(xid);
  }

  /** Keys remembered (for memory checks). */
  get size(): number {
    return this.#keys.size;
  }

  /** Forgets changes of transactions that had finished before `snapshot` (every later snapshot sees them). */
  forget(snapshot: XidSnapshot): void {
    for (const [key, change] of this.#keys) if (snapshot.settled(change.xid)) this.#keys.delete(key);
    this.#resets = this.#resets.filter((xid) => !snapshot.settled(xid));
  }

  /**
   * Decides, for the rows of a chunk copied in `snapshot` (by their keys),
   * now that every change streamed before the chunk's watermark was noted.
   * `stale` when a truncate or schema change the snapshot does not see came
   * first: the whole chunk must be copied again.
   */
  reconcile(keys: readonly string[], snapshot: XidSnapshot): { verdicts: Verdict[]; stale: boolean } {
    const stale = this.#resets.some((xid) => !snapshot.sees(xid));
    const verdicts = keys.map((key): Verdict => {
      const change = this.#keys.get(key);
      if (!change || snapshot.sees(change.xid)) {
        this.#moved.delete(key); // the copy is the whole current row
        return Verdict.Keep;
      }
      return change.complete ? Verdict.Drop : Verdict.Retry;
    });
    return { verdicts, stale };
  }
}

/**
 * The key of every row of `batch` as one comparable string, built from the
 * decoded Arrow values of `keyColumns` — the same text whether the row came
 * from a snapshot copy or from the stream (both decode to the same values).
 */
export function rowKeys(batch: RecordBatch, keyColumns: readonly string[]): string[] {
  const columns = keyColumns.map((name) => {
    const i = batch.schema.fields.findIndex((f) => f.name === name);
    const data = batch.data.children[i];
    if (!data)
      throw new EtlError('INTERNAL', `Key column "${name}" is missing from the rows of a backfilled table`);
    return data;
  });
  const keys: string[] = new Array(batch.numRows);
  for (let row = 0; row < batch.numRows; row++) {
    keys[row] = JSON.stringify(columns.map((data) => comparable(valueAt(data, row))));
  }
  return keys;
}

/**
 * The Postgres input text of each key column of row `row` (from the decoded
 * values: numbers, exact decimals, ISO dates and timestamps, text, bytea as
 * `\\x...`), to read the row again by key.
 */
export function keyText(batch: RecordBatch, keyColumns: readonly string[], row: number): (string | null)[] {
  return keyColumns.map((name) => {
    const data = batch.data.children[batch.schema.fields.findIndex((f) => f.name === name)];
    const value = data ? valueAt(data, row) : null;
    if (value === null || value === undefined) return null;
    if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
    return String(value);
  });
}

function comparable(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return value.map(comparable);
  return value;
}
