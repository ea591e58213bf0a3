import type { RecordBatch } from 'apache-arrow';
import type pg from 'pg';
import { binaryModeSupported } from '../arrow/column-codec.js';
import { TableBatchWriter } from '../arrow/table-batch-writer.js';
import { loadTableSchema } from '../arrow/table-schema-builder.js';
import { sleep } from '../async/abortable-sleep.js';
import type { TableSnapshotProgress } from '../change/checkpoint.js';
import { ChangeOp } from '../change/metadata-columns.js';
import type { TableSchema } from '../change/table-schema.js';
import { EtlError } from '../errors.js';
import type { PipelineEvents } from '../pipeline/pipeline-events.js';
import { rowKeys } from './changed-keys.js';
import { copyOut } from './copy-out.js';
import type { CheckedTable } from './preflight.js';
import { BEGIN_CHUNK_SQL, chunkCopySql, SNAPSHOT_XIDS_SQL, TABLE_WRITERS_SQL } from './sql.js';
import type { TypeCatalog } from './type-catalog.js';
import { XidSnapshot } from './xid-snapshot.js';

/** How often the barrier checks whether the table's writers have finished. */
const WRITERS_POLL_MS = 100;
/** After this long waiting for a table's writers, a warning names them. */
const WRITERS_ALERT_MS = 10_000;

/** What one copy reads: the rows after a key (a chunk), or rows by key (copied again). */
export type ReadTarget =
  | { readonly after: readonly (string | null)[] | undefined }
  | { readonly keys: readonly (readonly (string | null)[])[]; readonly next: TableSnapshotProgress };

/** What {@link copyChunk} needs besides the table. */
export interface CopyOptions {
  readonly catalog: TypeCatalog;
  /** Rows per chunk. */
  readonly chunkRows: number;
  /** False forces text COPY. */
  readonly binary: boolean;
  readonly unrepresentable: 'fail' | 'null';
  readonly onUnrepresentable?: (info: { table: string; column: string; reason: string }) => void;
}

/** Rows copied in one snapshot, with what is needed to reconcile them with the stream. */
export interface CopiedChunk {
  readonly target: ReadTarget;
  readonly schema: TableSchema;
  /** The snapshot the rows were read in. */
  readonly snapshot: XidSnapshot;
  /** The rows, `_etl_op` = read (`_etl_lsn` set when emitted). */
  readonly data: RecordBatch;
  /** Each row's key, comparable with streamed rows' (see `rowKeys`). */
  readonly keys: readonly string[];
  /** Each row's key as Postgres text (to read the row again by key). */
  readonly keyTexts: readonly (readonly (string | null)[])[];
  /** The table's progress once these rows (and their re-reads) are emitted. */
  readonly next: TableSnapshotProgress;
}

/**
 * Waits until every transaction holding a write lock on `table` (or a
 * partition of it) now has ended — the backfill's barrier. Only watches
 * `pg_locks`: takes no lock, so writers never wait. Raises a warning alert
 * naming them when it takes long (long-running transactions).
 */
export async function waitForWriters(
  client: pg.Client,
  table: CheckedTable,
  name: string,
  signal: AbortSignal,
  emit: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void,
): Promise<void> {
  const writers = async () =>
    new Set((await client.query(TABLE_WRITERS_SQL, [table.oid])).rows.map((r) => `${r.virtualtransaction}`));
  const waiting = await writers();
  const startedAt = Date.now();
  const alertKey = `backfill-writers:${name}`;
  let alerted = false;
  while (waiting.size > 0) {
    await sleep(WRITERS_POLL_MS, signal);
    const now = await writers();
    for (const w of waiting) if (!now.has(w)) waiting.delete(w);
    if (!alerted && waiting.size > 0 && Date.now() - startedAt > WRITERS_ALERT_MS) {
      alerted = true;
      emit('alert', {
        key: alertKey,
        severity: 'warning',
        resolved: false,
        message: `The backfill of ${name} waits for ${waiting.size} transaction(s) that were writing to it when it started (virtual transaction ${[...waiting].join(', ')}). It starts copying once they end; long-running transactions delay it.`,
        details: { table: name, transactions: [...waiting] },
      });
    }
  }
  if (alerted) {
    emit('alert', {
      key: alertKey,
      severity: 'info',
      resolved: true,
      message: `The backfill of ${name} is copying.`,
    });
  }
}

/**
 * Copies one chunk of `table` — the rows after a key (at most `chunkRows`),
 * or exactly some keys — in a new read-only REPEATABLE READ snapshot, whose
 * xids it reports for reconciliation.
 */
export async function copyChunk(
  client: pg.Client,
  table: CheckedTable,
  o: CopyOptions,
  what: ReadTarget,
): Promise<CopiedChunk> {
  await client.query(BEGIN_CHUNK_SQL);
  try {
    const snapshot = XidSnapshot.parse(String((await client.query(SNAPSHOT_XIDS_SQL)).rows[0]?.snapshot));
    const schema = await loadTableSchema(client, o.catalog, table.oid);
    if (schema.primaryKey.length === 0) throw noKeyError(`${table.schema}.${table.name}`);
    const binary = o.binary && binaryModeSupported(schema.columns, o.catalog);
    const writer = new TableBatchWriter(schema, {
      catalog: o.catalog,
      binary,
      unrepresentable: o.unrepresentable,
      onUnrepresentable: o.onUnrepresentable,
    });
    const columns = schema.columns.map((c) => c.name);
    const types = schema.primaryKey.map((k) => schema.columns.find((c) => c.name === k)!.typeName);
    const byKeys = 'keys' in what;
    const sql = chunkCopySql({
      table,
      columns,
      asText: !binary,
      key: {
        columns: schema.primaryKey,
        types,
        after: byKeys ? undefined : what.after,
        limit: o.chunkRows,
        ...(byKeys ? { in: what.keys } : {}),
      },
    });
    const width = columns.length;
    const keyTexts: (string | null)[][] = [];
    let seq = 0;
    const rows = await copyOut(client, sql, (row) => {
      writer.appendRowAt(row.buf, row.starts, row.lengths, ChangeOp.Read, 0n, seq++);
      const k: (string | null)[] = [];
      for (let i = width; i < row.count; i++) k.push(row.text(i));
      keyTexts.push(k);
    });
    await client.query('COMMIT');
    const data = writer.flush();
    const next: TableSnapshotProgress = byKeys
      ? what.next
      : {
          status: rows < o.chunkRows ? 'done' : 'copying',
          rows: 0,
          ...((keyTexts.at(-1) ?? what.after) ? { lastKey: keyTexts.at(-1) ?? what.after } : {}),
        };
    const keys = rowKeys(data, schema.primaryKey);
    return { target: what, schema, snapshot, data, keys, keyTexts, next };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** The error for a table that cannot be backfilled for lack of a key. */
export function noKeyError(table: string): EtlError {
  return new EtlError(
    'PG_NO_REPLICA_IDENTITY',
    `Table ${table} has no primary key or replica identity index, so it cannot be copied into a running pipeline (the copy is reconciled with the stream by key)`,
    {
      hint: `Add a primary key to ${table}, or set snapshot: 'never' to stream its changes without copying its rows.`,
      details: { table },
    },
  );
}
