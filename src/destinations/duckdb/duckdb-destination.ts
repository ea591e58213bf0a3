import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParquetEncoder } from '../../arrow/parquet-encoder.js';
import type { ChangeBatch } from '../../change/change-batch.js';
import type { TableSchema } from '../../change/table-schema.js';
import { qualifiedName } from '../../change/table-schema.js';
import { configError, EtlError, toEtlError } from '../../errors.js';
import type { Lsn } from '../../lsn.js';
import type { Destination, DestinationContext } from '../../pipeline/destination.js';
import { type DuckDBParam, type DuckDBSession, openDuckDB } from './duckdb-session.js';
import {
  appendSql,
  BEGIN_SQL,
  CHECKPOINT_SQL,
  COMMIT_SQL,
  createSchemaSql,
  createWatermarkTableSql,
  DISABLE_FILE_CACHE_SQL,
  fillMovedSql,
  mergeSql,
  movesLeftSql,
  ROLLBACK_SQL,
  readWatermarkSql,
  truncateSql,
  upsertWatermarkSql,
} from './duckdb-sql.js';
import { DuckDBTables } from './duckdb-tables.js';
import { dropStaged, type StagedRows, stageRows } from './staged-rows.js';

/** Options of {@link duckdb}. */
export interface DuckDBOptions {
  /** The database file, created if missing. `:memory:` works for tests but is not durable. */
  readonly path: string;
  /**
   * DuckDB schema for every table (and the watermark table). Default: each
   * table goes to a schema named like its Postgres schema (`public.orders` →
   * `public.orders`), and the watermark table to `main`.
   */
  readonly schema?: string;
  /** Destination name, unique in the pipeline. Default `duckdb`. */
  readonly name?: string;
  /** Where batches are staged as Parquet files on their way in. Default `os.tmpdir()`. */
  readonly tempDir?: string;
  /**
   * DuckDB's `memory_limit` for this database, e.g. `'512MB'` or `'2GiB'`.
   * DuckDB's own default is 80 % of the machine's RAM, and its buffer cache
   * grows towards it: set a limit when the process shares the machine
   * (beyond it DuckDB spills to its temp directory next to the file).
   */
  readonly memoryLimit?: string;
}

/** A DuckDB size: a number and a unit. */
const DUCKDB_SIZE = /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/** Where the watermark table lives when no `schema` is given: DuckDB's default schema. */
const DEFAULT_WATERMARK_SCHEMA = 'main';

/**
 * The embedded destination: applies batches to a DuckDB database file, effectively once.
 * It is also the reference for writing your own destination (see
 * `docs/custom-destination.md`): the whole contract is in {@link DuckDBDestination.write}.
 *
 * Per batch, in ONE DuckDB transaction:
 * 1. tables are created or get their new columns (DDL comes first: DuckDB
 *    refuses to commit a transaction that alters a table after writing it);
 * 2. per table: a TRUNCATE deletes every row, then the changes after it are
 *    applied — for tables with a key, the last change per key (by `_etl_seq`)
 *    wins in one MERGE: deletes delete, inserts/updates/snapshot reads upsert,
 *    and columns listed in `_etl_unchanged` keep the target's value — for
 *    the Update half of a key change, the old key's value, filled in the
 *    staged rows first (`fillMovedSql`); tables
 *    without a key get the changes appended, with `_etl_op` and `_etl_lsn`;
 * 3. the pipeline's row in `_etl_watermark` moves to the batch's commit LSN;
 * 4. COMMIT — the write resolves only then (DuckDB's commit writes its WAL),
 *    so a crash at any point leaves the data and the watermark together.
 *
 * Replays are skipped: the runtime passes only changes after
 * {@link DuckDBDestination.committedLsn}, and `write` itself also skips
 * what the watermark says is applied, so writing a batch twice is harmless.
 * Chunks of a large transaction (`batch.partial`) are held and applied with
 * the final chunk, in the same transaction.
 *
 * Lifecycle: construction validates options and does no I/O; `open()` opens
 * the file; `close()` aborts a write in flight, checkpoints and closes.
 *
 * @example
 * ```ts
 * const dest = duckdb({ path: './etl.duckdb' });
 * await dest.open({ pipeline: 'orders', signal, emit: () => {} });
 * await dest.write(batch, { signal });
 * console.log(await dest.query('SELECT * FROM public.orders ORDER BY id'));
 * await dest.close();
 * ```
 */
export class DuckDBDestination implements Destination {
  readonly name: string;
  private readonly path: string;
  private readonly memoryLimit: string | undefined;
  private readonly watermarkSchema: string;
  private readonly tables: DuckDBTables;
  private readonly encoder: ParquetEncoder;
  private readonly tempDir: string;
  private readonly closing = new AbortController();
  private session: Promise<DuckDBSession> | undefined;
  private stagingDir: Promise<string> | undefined;
  private pipeline = 'default';
  /** Chunks of a large transaction received so far, applied with its final chunk. */
  private pending: ChangeBatch[] = [];
  /** Statements run one at a time on the one connection. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: DuckDBOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw configError('path', 'must be the path of a DuckDB database file, e.g. "./etl.duckdb"');
    }
    for (const field of ['schema', 'name', 'tempDir'] as const) {
      const value = options[field];
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        throw configError(field, 'must be a non-empty string');
      }
    }
    if (
      options.memoryLimit !== undefined &&
      (typeof options.memoryLimit !== 'string' || !DUCKDB_SIZE.test(options.memoryLimit))
    ) {
      throw configError('memoryLimit', "must be a size with a unit, e.g. '512MB' or '2GiB'");
    }
    this.path = options.path;
    this.memoryLimit = options.memoryLimit;
    this.name = options.name ?? 'duckdb';
    this.watermarkSchema = options.schema ?? DEFAULT_WATERMARK_SCHEMA;
    this.tables = new DuckDBTables(options.schema);
    this.tempDir = options.tempDir ?? tmpdir();
    // Staged files are read once from local disk: compressing them would only cost time.
    this.encoder = new ParquetEncoder({ threads: 1, compression: 'uncompressed', tempDir: this.tempDir });
  }

  /** Opens the database file and creates the watermark table. */
  async open(ctx: DestinationContext): Promise<void> {
    this.pipeline = ctx.pipeline;
    await this.connected();
  }

  /** The commit LSN of the last batch applied for `pipeline`, or undefined. */
  async committedLsn(pipeline: string): Promise<Lsn | undefined> {
    const session = await this.connected();
    return this.serially(() => readWatermark(session, this.watermarkSchema, pipeline));
  }

  /** Applies `batch` in one transaction; resolves once committed. */
  async write(batch: ChangeBatch, opts: { signal: AbortSignal }): Promise<void> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'DuckDB destination used after close()');
    if (batch.partial) {
      this.pending.push(batch);
      return;
    }
    const session = await this.connected();
    const signal = AbortSignal.any([opts.signal, this.closing.signal]);
    const onAbort = () => session.interrupt();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.serially(() => this.apply(session, [...this.pending, batch], batch.commitLsn, signal));
      this.pending = [];
    } catch (err) {
      this.tables.forget();
      if (signal.aborted) throw new EtlError('ABORTED', 'DuckDB write aborted', { cause: err });
      throw toEtlError(err, 'DESTINATION', `DuckDB write failed: ${messageOf(err)}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Runs a read query on the destination's connection (after any write in
   * flight) and returns JSON-safe rows: BIGINT, UBIGINT and DECIMAL as exact
   * strings, timestamps as text. For tests, demos and checks.
   */
  async query(sql: string, params: readonly DuckDBParam[] = []): Promise<Record<string, unknown>[]> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'DuckDB destination used after close()');
    const session = await this.connected();
    return this.serially(() => session.rows(sql, params));
  }

  /** Aborts a write in flight, checkpoints the database file and closes it. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new EtlError('ABORTED', 'DuckDB destination closed'));
    // The write in flight (if any) rejects ABORTED and rolls back; its caller reports that.
    await this.queue.catch(() => {});
    const results = await Promise.allSettled([
      this.encoder.close(),
      this.stagingDir?.then((dir) => rm(dir, { recursive: true, force: true })),
      this.closeSession(),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw toEtlError(failed.reason, 'DESTINATION');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The transaction of one batch (its held chunks first). */
  private async apply(
    session: DuckDBSession,
    chunks: readonly ChangeBatch[],
    commitLsn: Lsn,
    signal: AbortSignal,
  ): Promise<void> {
    const applied = await readWatermark(session, this.watermarkSchema, this.pipeline);
    const todo = applied === undefined ? chunks : chunks.map((c) => c.after(applied));
    if (applied !== undefined && applied >= commitLsn && todo.every((c) => c.entries.length === 0)) return;
    const dir = await this.staging();
    const staged: StagedRows[][] = [];
    try {
      let n = 0;
      for (const chunk of todo) {
        const rows: StagedRows[] = [];
        for (const entry of chunk.rowEntries()) {
          rows.push(await stageRows(session, this.encoder, dir, entry, `_etl_stage_${n++}`, signal));
        }
        staged.push(rows);
      }
      await session.run(BEGIN_SQL);
      try {
        await this.tables.prepare(session, tablesOf(todo));
        for (const [i, chunk] of todo.entries()) await this.applyChunk(session, chunk, staged[i]!);
        await session.run(upsertWatermarkSql(this.watermarkSchema), [this.pipeline, commitLsn.toString()]);
        await session.run(COMMIT_SQL);
      } catch (err) {
        await session.run(ROLLBACK_SQL).catch(() => {});
        throw err;
      }
    } finally {
      await dropStaged(session, staged.flat()).catch(() => {});
    }
  }

  /** Per table: its TRUNCATE (the last one), then its changes after it. */
  private async applyChunk(session: DuckDBSession, chunk: ChangeBatch, staged: readonly StagedRows[]) {
    const truncatedAt = new Map<string, { table: TableSchema; seq: number }>();
    for (const entry of chunk.entries) {
      if (entry.kind !== 'truncate') continue;
      for (const table of entry.tables) truncatedAt.set(qualifiedName(table), { table, seq: entry.seq });
    }
    for (const { table } of truncatedAt.values()) await session.run(truncateSql(this.tables.targetOf(table)));
    for (const s of staged) {
      const table = s.entry.table;
      const plan = {
        target: this.tables.targetOf(table),
        staging: s.staging,
        columns: table.columns,
        key: table.primaryKey,
        unchanged: s.unchanged,
        afterSeq: truncatedAt.get(qualifiedName(table))?.seq,
      };
      if (table.primaryKey.length === 0) {
        await session.run(appendSql(plan));
        continue;
      }
      if (
        s.moves &&
        table.columns.some((c) => s.unchanged.has(c.name) && !table.primaryKey.includes(c.name))
      ) {
        // Key changes first take what the old key held; a chain 1 → 2 → 3 resolves one link per round.
        const count = async () => Number((await session.rows(movesLeftSql(plan)))[0]?.n ?? 0);
        let left = await count();
        for (let rounds = left; left > 0 && rounds > 0; rounds--) {
          await session.run(fillMovedSql(plan));
          left = await count();
        }
      }
      await session.run(mergeSql(plan));
    }
  }

  /** Checkpoints (folds the WAL into the database file) and closes. */
  private async closeSession(): Promise<void> {
    const session = await this.session?.catch(() => undefined);
    if (!session) return;
    try {
      await session.run(CHECKPOINT_SQL);
    } finally {
      session.close();
    }
  }

  private connected(): Promise<DuckDBSession> {
    this.session ??= (async () => {
      const session = await openDuckDB(
        this.path,
        this.memoryLimit ? { memory_limit: this.memoryLimit } : undefined,
      );
      await session.run(createSchemaSql(this.watermarkSchema));
      await session.run(createWatermarkTableSql(this.watermarkSchema));
      // Staged Parquet files are read once and removed: caching their contents only risks stale reads.
      await session.run(DISABLE_FILE_CACHE_SQL);
      return session;
    })();
    return this.session;
  }

  private staging(): Promise<string> {
    this.stagingDir ??= mkdtemp(join(this.tempDir, 'etl-duckdb-'));
    return this.stagingDir;
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }
}

/**
 * Creates a {@link DuckDBDestination}. Options are validated now (errors
 * name the field); the file is opened, and `@duckdb/node-api` loaded, only
 * when the pipeline opens the destination.
 *
 * @example
 * ```ts
 * new Pipeline({ name: 'orders' }).from(source).to(duckdb({ path: './etl.duckdb' }));
 * ```
 */
export function duckdb(options: DuckDBOptions): DuckDBDestination {
  return new DuckDBDestination(options);
}

async function readWatermark(
  session: DuckDBSession,
  schema: string,
  pipeline: string,
): Promise<Lsn | undefined> {
  const rows = await session.rows(readWatermarkSql(schema), [pipeline]);
  const value = rows[0]?.commit_lsn;
  return value === undefined || value === null ? undefined : BigInt(String(value));
}

/** Every table the chunks touch, latest shape last (rows, schema changes and truncates). */
function tablesOf(chunks: readonly ChangeBatch[]): TableSchema[] {
  const tables: TableSchema[] = [];
  for (const chunk of chunks) {
    for (const entry of chunk.entries) {
      if (entry.kind === 'truncate') tables.push(...entry.tables);
      else tables.push(entry.table);
    }
  }
  return tables;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
