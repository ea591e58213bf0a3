import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Table, tableToIPC } from 'apache-arrow';
import { abortError } from '../async/abortable-sleep.js';
import { configError, EtlError } from '../errors.js';
import { type ParquetCompression, type ParquetTask, parquetWorkerSource } from './parquet-worker.js';

/** Options of {@link ParquetEncoder}. */
export interface ParquetEncoderOptions {
  /** Worker threads. Default: 1 on machines with 2 cores or fewer, else 2. */
  readonly threads?: number;
  /** Compression codec. Default `snappy` (fast; Snowflake and DuckDB read it natively). */
  readonly compression?: ParquetCompression;
  /** Rows per row group. */
  readonly rowGroupRows?: number;
  /** Parent directory of the encoder's private working directory. Default `os.tmpdir()`. */
  readonly tempDir?: string;
}

/** Encoding is CPU-bound; a small pool leaves cores to the host and the decoder. */
export const DEFAULT_PARQUET_THREADS = availableParallelism() > 2 ? 2 : 1;
/** One row group per typical batch keeps files simple to load. */
export const DEFAULT_ROW_GROUP_ROWS = 128 * 1024;
/** Idle workers are kept this long before exiting, so a quiet pipeline holds no threads. */
const IDLE_TIMEOUT_MS = 30_000;

type PiscinaPool = {
  run(task: ParquetTask, opts: { transferList?: ArrayBuffer[]; signal?: AbortSignal }): Promise<Uint8Array>;
  destroy(): Promise<void>;
};

/**
 * Encodes Arrow tables as Parquet files on a small worker-thread pool
 * (piscina). The table is serialised to Arrow IPC on the calling thread (a
 * copy, no per-value work) and the bytes are transferred to a worker, which
 * runs parquet-wasm and returns the file.
 *
 * Concurrency: {@link ParquetEncoder.encode} may be called concurrently; tasks
 * queue for the pool. {@link ParquetEncoder.close} rejects queued tasks and
 * ends the threads. Construction does no I/O; the pool starts on first use.
 *
 * @example
 * ```ts
 * const encoder = new ParquetEncoder({ threads: 1 });
 * const bytes = await encoder.encode(table);
 * await encoder.close();
 * ```
 */
export class ParquetEncoder {
  private readonly threads: number;
  private readonly compression: ParquetCompression;
  private readonly rowGroupRows: number;
  private readonly tempDir: string;
  private pool: Promise<{ pool: PiscinaPool; dir: string }> | undefined;
  private closed = false;

  constructor(options: ParquetEncoderOptions = {}) {
    this.threads = options.threads ?? DEFAULT_PARQUET_THREADS;
    if (!Number.isInteger(this.threads) || this.threads < 1) {
      throw configError('parquetThreads', `must be a positive integer, got ${String(options.threads)}`);
    }
    this.compression = options.compression ?? 'snappy';
    if (!['snappy', 'zstd', 'uncompressed'].includes(this.compression)) {
      throw configError('parquetCompression', `must be "snappy", "zstd" or "uncompressed"`);
    }
    this.rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    this.tempDir = options.tempDir ?? tmpdir();
  }

  /** Encodes `table` as a Parquet file. Rejects with `ABORTED` when `signal` aborts first. */
  async encode(table: Table, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'ParquetEncoder used after close()');
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const { pool } = await this.start();
    const ipc = tableToIPC(table, 'stream');
    const task: ParquetTask = { ipc, compression: this.compression, rowGroupRows: this.rowGroupRows };
    try {
      const transferList =
        ipc.byteOffset === 0 && ipc.byteLength === ipc.buffer.byteLength ? [ipc.buffer] : [];
      const out = await pool.run(task, {
        transferList: transferList as ArrayBuffer[],
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return out instanceof Uint8Array ? out : new Uint8Array(out as ArrayBufferLike);
    } catch (err) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      if (this.closed) throw new EtlError('ABORTED', 'ParquetEncoder closed while encoding', { cause: err });
      throw new EtlError('INTERNAL', `Parquet encoding failed: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
    }
  }

  /** Ends the worker threads and removes the generated worker file. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const started = this.pool;
    this.pool = undefined;
    if (!started) return;
    const { pool, dir } = await started.catch(() => ({ pool: undefined, dir: undefined }));
    await pool?.destroy().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private start(): Promise<{ pool: PiscinaPool; dir: string }> {
    this.pool ??= (async () => {
      const dir = await mkdtemp(join(this.tempDir, 'etl-parquet-'));
      const file = join(dir, 'parquet-worker.cjs');
      await writeFile(file, parquetWorkerSource(resolveParquetWasm()), { mode: 0o600 });
      const { Piscina } = (await import('piscina')) as unknown as {
        Piscina: new (opts: Record<string, unknown>) => PiscinaPool;
      };
      const pool = new Piscina({
        filename: file,
        minThreads: 0,
        maxThreads: this.threads,
        idleTimeout: IDLE_TIMEOUT_MS,
      });
      return { pool, dir };
    })();
    return this.pool;
  }
}

/** Absolute path of parquet-wasm's node (CommonJS) build. */
function resolveParquetWasm(): string {
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  return createRequire(base).resolve('parquet-wasm');
}
