import { readRow } from '../arrow/row-reader.js';
import type { ChangeBatch } from '../change/change-batch.js';
import { ChangeOp, LSN_COLUMN, OP_COLUMN, SEQ_COLUMN, UNCHANGED_COLUMN } from '../change/metadata-columns.js';
import type { TableSchema } from '../change/table-schema.js';
import { qualifiedName } from '../change/table-schema.js';
import { configError, EtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import { maxLsn } from '../lsn.js';
import type { Destination, DestinationContext } from '../pipeline/destination.js';

/** Options of {@link memory}. */
export interface MemoryDestinationOptions {
  /** Destination name, unique in the pipeline. Default `memory`. */
  readonly name?: string;
}

/** A row of a table without a key, as appended: its values plus `_etl_op` and `_etl_lsn`. */
type Row = Record<string, unknown>;

/** One table's applied state. */
interface TableState {
  schema: TableSchema;
  /** Tables with a key: current row per key (JSON of the key values). */
  readonly rows: Map<string, Row>;
  /** Tables without a key: every change, appended. */
  readonly appended: Row[];
}

/** A change of one batch in `_etl_seq` order: a row, or a truncate of the table. */
type Step = { seq: number; table: TableSchema } & ({ kind: 'row'; row: Row } | { kind: 'truncate' });

/**
 * A destination that applies batches to plain objects in memory: the test
 * oracle. For each table with a key it keeps the current row per key, after
 * applying every change in `_etl_seq` order — deletes delete, inserts,
 * updates and snapshot reads replace the row, and columns listed in
 * `_etl_unchanged` keep the value the row had (for the Update half of a key
 * change, the value the old key's row had); a TRUNCATE empties the table.
 * Tables without a key keep every change appended (with `_etl_op` and
 * `_etl_lsn`). Values are exact (int8 as `bigint`, numeric as `string`,
 * timestamps as ISO text; see `batch.rows()`).
 *
 * It keeps a watermark per pipeline ({@link MemoryDestination.committedLsn})
 * and skips what it already applied, like a durable destination would, and
 * holds chunks of a large transaction until the final one.
 *
 * @example
 * ```ts
 * const dest = memory();
 * await dest.write(batch, { signal });
 * expect(dest.rows('public.orders')).toEqual([{ id: 1n, status: 'paid' }]);
 * ```
 */
export class MemoryDestination implements Destination {
  readonly name: string;
  /** Every batch written, as received (including replays). */
  readonly batches: ChangeBatch[] = [];
  private readonly tables = new Map<string, TableState>();
  private readonly watermarks = new Map<string, Lsn>();
  private pending: ChangeBatch[] = [];
  private pipeline = 'default';
  private closed = false;

  constructor(options: MemoryDestinationOptions = {}) {
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
      throw configError('name', 'must be a non-empty string');
    }
    this.name = options.name ?? 'memory';
  }

  /** Remembers the pipeline name (the watermark key). */
  async open(ctx: DestinationContext): Promise<void> {
    this.pipeline = ctx.pipeline;
  }

  /** Commit LSN of the last batch applied for `pipeline` (default: the one opened), or undefined. */
  async committedLsn(pipeline: string = this.pipeline): Promise<Lsn | undefined> {
    return this.watermarks.get(pipeline);
  }

  /** Applies the batch (or holds it, when it is a partial chunk). */
  async write(batch: ChangeBatch): Promise<void> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'Memory destination used after close()');
    this.batches.push(batch);
    if (batch.partial) {
      this.pending.push(batch);
      return;
    }
    const chunks = [...this.pending, batch];
    this.pending = [];
    const applied = this.watermarks.get(this.pipeline);
    for (const chunk of chunks) this.apply(applied === undefined ? chunk : chunk.after(applied));
    this.watermarks.set(this.pipeline, maxLsn(applied ?? 0n, batch.commitLsn));
  }

  /**
   * The current rows of a table (qualified name), sorted by key (numbers and
   * bigints numerically, text by code point); for tables without a key, every
   * appended change in order. Columns the table gained later are null in
   * older rows; columns it dropped stay, null in rows written after the
   * drop (as in a database target). Unknown table: empty.
   */
  rows(table: string): Row[] {
    const state = this.tables.get(table);
    if (!state) return [];
    const names = state.schema.columns.map((c) => c.name);
    const complete = (row: Row): Row => {
      const out: Row = {};
      for (const name of names) out[name] = row[name] ?? null;
      for (const [name, value] of Object.entries(row)) if (!(name in out)) out[name] = value;
      return out;
    };
    if (state.schema.primaryKey.length === 0) return state.appended.map(complete);
    const key = state.schema.primaryKey;
    return [...state.rows.values()].sort((a, b) => compareKeys(key, a, b)).map(complete);
  }

  /** Qualified names of the tables seen. */
  tableNames(): string[] {
    return [...this.tables.keys()].sort();
  }

  /** Forgets nothing; later writes reject. */
  async close(): Promise<void> {
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private apply(batch: ChangeBatch): void {
    const steps: Step[] = [];
    for (const entry of batch.entries) {
      if (entry.kind === 'schema') this.stateOf(entry.table);
      else if (entry.kind === 'truncate') {
        for (const table of entry.tables) steps.push({ seq: entry.seq, table, kind: 'truncate' });
      } else {
        this.stateOf(entry.table);
        for (let i = 0; i < entry.data.numRows; i++) {
          const row = readRow(entry.data, i);
          steps.push({ seq: Number(row[SEQ_COLUMN]), table: entry.table, kind: 'row', row });
        }
      }
    }
    steps.sort((a, b) => a.seq - b.seq);
    // The row the previous step deleted: the old key's row when the next step is the Update half of a key change.
    let deleted: { seq: number; state: TableState; lsn: unknown; row: Row | undefined } | undefined;
    for (const step of steps) {
      const state = this.stateOf(step.table);
      if (step.kind === 'truncate') {
        state.rows.clear();
        state.appended.length = 0;
        deleted = undefined;
        continue;
      }
      const { row } = step;
      const moved =
        deleted !== undefined &&
        row[OP_COLUMN] === ChangeOp.Update &&
        deleted.state === state &&
        deleted.seq + 1 === step.seq &&
        deleted.lsn === row[LSN_COLUMN];
      const gone = applyRow(state, row, moved ? { row: deleted?.row } : undefined);
      deleted =
        row[OP_COLUMN] === ChangeOp.Delete
          ? { seq: step.seq, state, lsn: row[LSN_COLUMN], row: gone }
          : undefined;
    }
  }

  private stateOf(table: TableSchema): TableState {
    const name = qualifiedName(table);
    let state = this.tables.get(name);
    if (!state) {
      state = { schema: table, rows: new Map(), appended: [] };
      this.tables.set(name, state);
    } else if (table !== state.schema) {
      // The latest shape wins (changes arrive in commit order); columns it dropped stay, like in a database target.
      const current = new Set(table.columns.map((c) => c.name));
      const dropped = state.schema.columns.filter((c) => !current.has(c.name));
      state.schema = dropped.length === 0 ? table : { ...table, columns: [...table.columns, ...dropped] };
    }
    return state;
  }
}

/**
 * Applies one change; returns the row a Delete removed. `movedFrom` is set
 * for the Update half of a key change (a Delete of the old key at seq n,
 * this Update of the new key at n + 1, same table and commit LSN): when the
 * new key has no row yet, its unchanged columns take the old key's values,
 * which PostgreSQL does not resend when they are TOASTed.
 */
function applyRow(state: TableState, change: Row, movedFrom?: { row: Row | undefined }): Row | undefined {
  const op = change[OP_COLUMN] as ChangeOp;
  const unchanged = (change[UNCHANGED_COLUMN] as string[] | null) ?? [];
  const values: Row = {};
  for (const column of state.schema.columns)
    if (column.name in change) values[column.name] = change[column.name];
  const key = state.schema.primaryKey;
  if (key.length === 0) {
    state.appended.push({ ...values, [OP_COLUMN]: op, [LSN_COLUMN]: change[LSN_COLUMN] });
    return undefined;
  }
  const id = JSON.stringify(key.map((k) => String(values[k])));
  const current = state.rows.get(id);
  if (op === ChangeOp.Delete) {
    state.rows.delete(id);
    return current;
  }
  // A Delete followed by an Update of another key is a key change only if that key had no row:
  // `DELETE ... id = 5; UPDATE ... id = 6` has the same shape and must keep key 6's own values.
  const previous = movedFrom && current === undefined ? movedFrom.row : current;
  for (const name of unchanged) values[name] = previous?.[name] ?? null;
  state.rows.set(id, { ...current, ...values });
  return undefined;
}

function compareKeys(key: readonly string[], a: Row, b: Row): number {
  for (const k of key) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (
      (typeof x === 'number' || typeof x === 'bigint') &&
      (typeof y === 'number' || typeof y === 'bigint')
    ) {
      return x < y ? -1 : 1;
    }
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/**
 * Creates a {@link MemoryDestination}: the test oracle and the simplest
 * destination to start with.
 *
 * @example
 * ```ts
 * const dest = memory();
 * new Pipeline({ name: 'orders' }).from(source).to(dest);
 * ```
 */
export function memory(options: MemoryDestinationOptions = {}): MemoryDestination {
  return new MemoryDestination(options);
}
