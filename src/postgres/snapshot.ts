/**
 * The initial snapshot: copies the configured tables in chunks, in a
 * REPEATABLE READ transaction, as batches of `ChangeOp.Read` rows.
 *
 * **Consistency with the stream.** On a fresh start the slot is created with
 * an exported snapshot and the copy runs in that snapshot: it shows exactly
 * the transactions that committed before the slot's consistent point, and
 * the stream then starts at the consistent point — no gap, no overlap.
 *
 * **Resume after a crash.** Each chunk's batch carries the snapshot progress
 * in its checkpoint (last key copied per table); the pipeline saves it once
 * the batch is durable. On restart the exported snapshot is gone, so the
 * remaining chunks are read in a fresh snapshot, taken later than the
 * consistent point, while the stream still restarts at the consistent point
 * (the slot was never advanced past it during the snapshot). That converges:
 * every change committed after the consistent point is replayed, in commit
 * order, after the snapshot rows, and every row has a key (keyed upserts and
 * deletes), so whatever older version a replayed change briefly writes over
 * a newer snapshot row, the last change of each key — which is the source's
 * current state — is replayed last. Rows of finished chunks were read in the
 * original snapshot and are simply followed by the stream. The same
 * reasoning covers a slot that exists without saved state (a lost state
 * store): a fresh snapshot of every table, then the stream from the slot's
 * confirmed position. (Tables without a key, allowed by `appendOnly`, may
 * see replayed inserts twice in that case.)
 *
 * **Chunks.** Tables with a key are read by keyset: `COPY (SELECT ... WHERE
 * (key) > (last) ORDER BY key LIMIT n) TO STDOUT (FORMAT binary)`, an index
 * range scan per chunk, parsed straight into Arrow writers (no row objects;
 * COPY binary is the fastest way `pg` can bring rows without another
 * package). Tables without a key are read by ctid page ranges.
 */
import type pg from 'pg';
import { binaryModeSupported } from '../arrow/column-codec.js';
import { TableBatchWriter } from '../arrow/table-batch-writer.js';
import { loadTableSchema } from '../arrow/table-schema-builder.js';
import { ChangeBatch } from '../change/change-batch.js';
import type { SnapshotProgress, TableSnapshotProgress } from '../change/checkpoint.js';
import { ChangeOp } from '../change/metadata-columns.js';
import type { TableSchema } from '../change/table-schema.js';
import type { Lsn } from '../lsn.js';
import type { PipelineEvents } from '../pipeline/pipeline-events.js';
import { copyOut } from './copy-out.js';
import type { CheckedTable } from './preflight.js';
import { BEGIN_SNAPSHOT_SQL, chunkCopySql, setSnapshotSql, TABLE_PAGES_SQL } from './sql.js';
import type { TypeCatalog } from './type-catalog.js';

/** `lastKey` of a table read by ctid ranges: `['page:<next page>']`. */
const PAGE_KEY_PREFIX = 'page:';

/** Options of {@link TableSnapshot}. */
export interface TableSnapshotOptions {
  /** A normal (non-replication) connection, used only by the snapshot. */
  readonly client: pg.Client;
  readonly catalog: TypeCatalog;
  /** Tables to copy, in order; `qualified name` keys {@link SnapshotProgress.tables}. */
  readonly tables: readonly CheckedTable[];
  /** Where the stream continues once every table is done. */
  readonly consistentPoint: Lsn;
  /** Progress so far (resume), or undefined to copy every table from the start. */
  readonly progress: SnapshotProgress | undefined;
  /** Rows per chunk. */
  readonly chunkRows: number;
  /**
   * Copy in binary form where every column type has a binary decoder
   * (true), or always as text (false: the source's `binary: false`).
   */
  readonly binary?: boolean;
  readonly unrepresentable: 'fail' | 'null';
  readonly onUnrepresentable?: (info: { table: string; column: string; reason: string }) => void;
  readonly emit?: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;
  /** Counts chunk queries (tests and metrics). */
  readonly onChunk?: (table: string, rows: number) => void;
}

/**
 * One run of the initial snapshot (or its remainder) on one connection, in
 * one REPEATABLE READ transaction: {@link TableSnapshot.begin} opens it
 * (importing the slot's exported snapshot when given, which must happen
 * while the connection that created the slot is still open), then
 * {@link TableSnapshot.batches} yields one batch per chunk and a final empty
 * batch whose checkpoint has no snapshot progress: the snapshot is done.
 *
 * Checkpoints of snapshot batches: `lsn` is the consistent point; the
 * watermark `commitLsn` is the consistent point minus one, because a
 * transaction whose commit record starts exactly at the consistent point is
 * not in the snapshot and is streamed — a destination must not skip it.
 *
 * @example
 * ```ts
 * const snap = await TableSnapshot.begin({ client, catalog, tables, consistentPoint, progress: undefined,
 *   chunkRows: 50_000, unrepresentable: 'fail' }, snapshotName);
 * for await (const batch of snap.batches()) await write(batch);
 * ```
 */
export class TableSnapshot {
  readonly #o: TableSnapshotOptions;
  readonly #progress: Record<string, TableSnapshotProgress>;

  private constructor(o: TableSnapshotOptions) {
    this.#o = o;
    this.#progress = {};
    for (const t of o.tables) {
      this.#progress[nameOf(t)] = o.progress?.tables[nameOf(t)] ?? { status: 'pending', rows: 0 };
    }
  }

  /** Opens the snapshot transaction; `snapshotName` imports an exported snapshot, undefined takes a fresh one. */
  static async begin(o: TableSnapshotOptions, snapshotName: string | undefined): Promise<TableSnapshot> {
    await o.client.query(BEGIN_SNAPSHOT_SQL);
    if (snapshotName) await o.client.query(setSnapshotSql(snapshotName));
    return new TableSnapshot(o);
  }

  /** The batches, pulled: one per chunk, then the final one. Ends the transaction when done or abandoned. */
  async *batches(): AsyncGenerator<ChangeBatch> {
    const o = this.#o;
    try {
      for (const table of o.tables) {
        if (this.#progress[nameOf(table)]!.status === 'done') continue;
        const schema = await loadTableSchema(o.client, o.catalog, table.oid);
        yield* this.#copyTable(table, schema);
      }
      await o.client.query('COMMIT');
      yield this.#batch([], undefined);
    } finally {
      await o.client.query('ROLLBACK').catch(() => {});
    }
  }

  async *#copyTable(table: CheckedTable, schema: TableSchema): AsyncGenerator<ChangeBatch> {
    const o = this.#o;
    const name = nameOf(table);
    const binary = o.binary !== false && binaryModeSupported(schema.columns, o.catalog);
    const columns = schema.columns.map((c) => c.name);
    const keyed = table.hasKey && schema.primaryKey.length > 0;
    const keyTypes = schema.primaryKey.map((k) => schema.columns.find((c) => c.name === k)!.typeName);
    let pages: { total: bigint; perChunk: bigint } | undefined;
    if (!keyed) {
      const { rows } = await o.client.query(TABLE_PAGES_SQL, [table.oid]);
      const r = rows[0] ?? { pages: '0', tuples: 0, relpages: '1' };
      const perPage = Math.max(1, Number(r.tuples) / Number(r.relpages));
      pages = { total: BigInt(r.pages), perChunk: BigInt(Math.max(1, Math.floor(o.chunkRows / perPage))) };
    }
    for (;;) {
      const before = this.#progress[name]!;
      const writer = new TableBatchWriter(schema, {
        catalog: o.catalog,
        binary,
        unrepresentable: o.unrepresentable,
        onUnrepresentable: o.onUnrepresentable,
      });
      let lastKey: string[] | undefined;
      let nextPage = 0n;
      let sql: string;
      if (keyed) {
        sql = chunkCopySql({
          table,
          columns,
          asText: !binary,
          key: { columns: schema.primaryKey, types: keyTypes, after: before.lastKey, limit: o.chunkRows },
        });
      } else {
        const from = pageOf(before.lastKey);
        nextPage = from + pages!.perChunk;
        sql = chunkCopySql({ table, columns, asText: !binary, pages: { from, to: nextPage } });
      }
      const width = columns.length;
      let seq = 0;
      const rows = await copyOut(o.client, sql, (row) => {
        writer.appendRowAt(row.buf, row.starts, row.lengths, ChangeOp.Read, o.consistentPoint, seq++);
        if (keyed) {
          lastKey = [];
          for (let i = width; i < row.count; i++) lastKey.push(row.text(i)!);
        }
      });
      o.onChunk?.(name, rows);
      const done = keyed ? rows < o.chunkRows : nextPage >= pages!.total;
      const after: TableSnapshotProgress = {
        status: done ? 'done' : 'copying',
        rows: before.rows + rows,
        lastKey: keyed ? (lastKey ?? before.lastKey) : [`${PAGE_KEY_PREFIX}${nextPage}`],
      };
      this.#progress[name] = after;
      o.emit?.('snapshot:progress', { table: name, rows: after.rows, done });
      const first = before.status === 'pending';
      const entries =
        rows > 0 || first ? [{ kind: 'rows' as const, table: schema, data: writer.flush() }] : [];
      yield this.#batch(entries, { consistentPoint: o.consistentPoint, tables: { ...this.#progress } });
      if (done) return;
    }
  }

  #batch(entries: ChangeBatch['entries'], snapshot: SnapshotProgress | undefined): ChangeBatch {
    const cp = this.#o.consistentPoint;
    return new ChangeBatch({
      firstLsn: cp,
      checkpoint: { lsn: cp, commitLsn: cp > 0n ? cp - 1n : 0n, ...(snapshot ? { snapshot } : {}) },
      transactions: 0,
      lastCommitTimeUs: BigInt(Date.now()) * 1000n,
      entries,
    });
  }
}

function nameOf(t: { schema: string; name: string }): string {
  return `${t.schema}.${t.name}`;
}

function pageOf(lastKey: readonly (string | null)[] | undefined): bigint {
  const k = lastKey?.[0];
  return k?.startsWith(PAGE_KEY_PREFIX) ? BigInt(k.slice(PAGE_KEY_PREFIX.length)) : 0n;
}

/** A progress record with every table pending. */
export function initialProgress(consistentPoint: Lsn, tables: readonly CheckedTable[]): SnapshotProgress {
  const progress: Record<string, TableSnapshotProgress> = {};
  for (const t of tables) progress[nameOf(t)] = { status: 'pending', rows: 0 };
  return { consistentPoint, tables: progress };
}
