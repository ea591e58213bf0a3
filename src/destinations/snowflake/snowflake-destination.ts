import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ParquetEncoder } from '../../arrow/parquet-encoder.js';
import type { ChangeBatch } from '../../change/change-batch.js';
import { EtlError, toEtlError } from '../../errors.js';
import type { Lsn } from '../../lsn.js';
import type { Destination, DestinationContext } from '../../pipeline/destination.js';
import { type ApplyTarget, applyChunks, cleanUp } from './batch-applier.js';
import { type StagedChunk, type StagerContext, stageChunk } from './batch-stager.js';
import { SessionPool } from './session-pool.js';
import { connectSession } from './snowflake-driver.js';
import {
  type ResolvedSnowflakeOptions,
  resolveSnowflakeOptions,
  type SnowflakeOptions,
} from './snowflake-options.js';
import type { SnowflakeSession } from './snowflake-session.js';
import {
  createSchemaSql,
  createStageSql,
  createWatermarkTableSql,
  type ObjectRef,
  readWatermarkSql,
} from './sql.js';
import { TableCatalog } from './table-catalog.js';

/** Test seams of {@link SnowflakeDestination}. @internal */
export interface SnowflakeInternals {
  /** Opens a session in place of a `snowflake-sdk` login. */
  readonly connect?: (signal?: AbortSignal) => Promise<SnowflakeSession>;
}

/**
 * Streams batches into Snowflake, effectively once (DESIGN §6).
 *
 * Per batch: each table's rows are encoded as Parquet on a worker pool, PUT to
 * an internal stage (tables in parallel), COPYed into a staging table, then one
 * transaction applies every table's MERGE (last change per key wins, deletes
 * hard or soft, unchanged TOAST columns keep their value, TRUNCATEs in order)
 * and moves the pipeline's watermark row to the batch's commit LSN. Staged
 * files and rows are cleaned up after COMMIT.
 *
 * Effectively once: {@link SnowflakeDestination.committedLsn} reads the
 * watermark, so the runtime skips what was applied; after any failed write the
 * watermark is read again before retrying, so a COMMIT whose reply was lost
 * is not applied twice.
 *
 * Lifecycle: construction validates options and does no I/O; `open()`
 * creates the stage and watermark table; `close()` ends every session and
 * worker, also while a write is in flight (the write rejects `ABORTED`).
 *
 * @example
 * ```ts
 * const dest = snowflake({
 *   account: 'myorg-myaccount', username: 'ETL', privateKey: process.env.SNOWFLAKE_KEY!,
 *   database: 'RAW', schema: 'PG', warehouse: 'LOAD_WH',
 * });
 * new Pipeline({ name: 'orders' }).from(source).to(dest);
 * ```
 */
export class SnowflakeDestination implements Destination {
  readonly name: string;
  private readonly options: ResolvedSnowflakeOptions;
  private readonly pool: SessionPool;
  private readonly encoder: ParquetEncoder;
  private readonly catalog: TableCatalog;
  private readonly stage: ObjectRef;
  private readonly watermark: ObjectRef;
  private readonly closing = new AbortController();
  private ctx: DestinationContext | undefined;
  private localDir: Promise<string> | undefined;
  /** Chunks of a large transaction staged so far, applied with its final chunk. */
  private pending: StagedChunk[] = [];
  /** Set after a failed write: the next write reads the watermark first. */
  private recheck = false;
  private setupDone = false;
  private closed = false;

  /**
   * @param options validated now; errors name the field.
   * @param internals for tests only: replaces how sessions are opened.
   * @internal
   */
  constructor(options: SnowflakeOptions, internals: SnowflakeInternals = {}) {
    this.options = resolveSnowflakeOptions(options);
    this.name = this.options.name;
    const o = this.options;
    const connect = internals.connect ?? ((signal?: AbortSignal) => connectSession(o, signal));
    this.pool = new SessionPool(o.maxConnections, connect);
    this.encoder = new ParquetEncoder({
      tempDir: o.tempDir,
      ...(o.parquetThreads === undefined ? {} : { threads: o.parquetThreads }),
      ...(o.parquetCompression === undefined ? {} : { compression: o.parquetCompression }),
    });
    this.catalog = new TableCatalog({
      database: o.database,
      naming: o.naming,
      deletes: o.deletes,
      droppedColumns: o.droppedColumns,
      tablesWithoutKey: o.tablesWithoutKey,
    });
    this.stage = { database: o.database, schema: o.schema, name: o.stage };
    this.watermark = { database: o.database, schema: o.schema, name: o.watermarkTable };
  }

  /** Logs in and creates the schema, stage and watermark table when missing. */
  async open(ctx: DestinationContext): Promise<void> {
    this.ctx = ctx;
    const { signal, dispose } = this.linked(ctx.signal);
    try {
      await this.setup(signal);
    } finally {
      dispose();
    }
  }

  /** The commit LSN of the last batch applied for `pipeline`, read from the watermark table. */
  async committedLsn(pipeline: string): Promise<Lsn | undefined> {
    const signal = this.closing.signal;
    await this.setup(signal);
    return this.readWatermark(pipeline, signal);
  }

  /** Applies `batch` in one Snowflake transaction; resolves once committed. */
  async write(batch: ChangeBatch, opts: { signal: AbortSignal }): Promise<void> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'Snowflake destination used after close()');
    const { signal, dispose } = this.linked(opts.signal);
    const pipeline = this.ctx?.pipeline ?? 'default';
    try {
      await this.setup(signal);
      if (this.recheck) {
        const applied = await this.readWatermark(pipeline, signal);
        this.recheck = false;
        if (applied !== undefined) {
          batch = batch.after(applied);
          if (!batch.partial && applied >= batch.commitLsn) this.pending = [];
          if (batch.entries.length === 0 && !batch.partial) return;
        }
      }
      const seqOffset = BigInt(this.pending.length) << 32n;
      const chunk = await stageChunk(this.stagerContext(pipeline), batch, seqOffset, signal);
      if (batch.partial) {
        this.pending.push(chunk);
        return;
      }
      const chunks = [...this.pending, chunk];
      const target: ApplyTarget = { pipeline, stage: this.stage, watermark: this.watermark };
      await this.pool.use(async (session) => {
        await applyChunks(session, target, chunks, batch.commitLsn, signal);
        this.pending = [];
        const failures = await cleanUp(session, target, chunks, signal);
        for (const f of failures) {
          this.ctx?.emit('error', {
            error: toEtlError(f, 'SNOWFLAKE'),
            fatal: false,
            component: `destination:${this.name}:cleanup`,
          });
        }
      }, signal);
    } catch (err) {
      this.recheck = true;
      this.catalog.reset();
      if (this.closed)
        throw new EtlError('ABORTED', 'Snowflake destination closed during a write', { cause: err });
      throw toEtlError(err, 'SNOWFLAKE');
    } finally {
      dispose();
    }
  }

  /** Ends every session and worker thread and removes local files; aborts a write in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new EtlError('ABORTED', 'Snowflake destination closed'));
    const results = await Promise.allSettled([
      this.pool.close(),
      this.encoder.close(),
      this.localDir?.then((d) => rm(d, { recursive: true, force: true })),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw toEtlError((failed as PromiseRejectedResult).reason, 'SNOWFLAKE');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async setup(signal: AbortSignal): Promise<void> {
    if (this.setupDone) return;
    await this.pool.use(async (session) => {
      const run = (sql: string) => session.execute(sql, undefined, { step: 'setup' }, signal);
      await run(createSchemaSql(this.options.database, this.options.schema));
      await run(createStageSql(this.stage));
      await run(createWatermarkTableSql(this.watermark));
    }, signal);
    this.catalog.schemaExists(this.options.schema);
    this.setupDone = true;
  }

  private async readWatermark(pipeline: string, signal: AbortSignal): Promise<Lsn | undefined> {
    const rows = await this.pool.use(
      (session) =>
        session.execute(readWatermarkSql(this.watermark), [pipeline], { step: 'watermark' }, signal),
      signal,
    );
    const row = rows[0];
    if (!row) return undefined;
    const value = Object.values(row)[0];
    if (value === null || value === undefined) return undefined;
    return BigInt(String(value).split('.')[0]!);
  }

  private stagerContext(pipeline: string): StagerContext {
    return {
      pipeline,
      pool: this.pool,
      encoder: this.encoder,
      catalog: this.catalog,
      stage: this.stage,
      maxParallelUploads: this.options.maxParallelUploads,
      localDir: () => {
        this.localDir ??= mkdtemp(join(this.options.tempDir, 'etl-snowflake-'));
        return this.localDir;
      },
    };
  }

  /** A signal aborted by `close()` or by `other`; `dispose` unhooks it (no listener outlives a write). */
  private linked(other: AbortSignal): { signal: AbortSignal; dispose: () => void } {
    const controller = new AbortController();
    const onAbort = (source: AbortSignal) => () => controller.abort(source.reason);
    const fromClose = onAbort(this.closing.signal);
    const fromOther = onAbort(other);
    if (this.closing.signal.aborted) fromClose();
    else if (other.aborted) fromOther();
    this.closing.signal.addEventListener('abort', fromClose, { once: true });
    other.addEventListener('abort', fromOther, { once: true });
    return {
      signal: controller.signal,
      dispose: () => {
        this.closing.signal.removeEventListener('abort', fromClose);
        other.removeEventListener('abort', fromOther);
      },
    };
  }
}

/**
 * Creates a {@link SnowflakeDestination}. Options are validated now (errors
 * name the field); nothing connects until the pipeline opens it, and
 * `snowflake-sdk` is loaded only then.
 *
 * @example
 * ```ts
 * pipeline.to(snowflake({ account, username, privateKey, database: 'RAW', schema: 'PG' }));
 * ```
 */
export function snowflake(options: SnowflakeOptions): SnowflakeDestination {
  return new SnowflakeDestination(options);
}
