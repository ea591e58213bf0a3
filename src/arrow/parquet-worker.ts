/**
 * The worker side of {@link ParquetEncoder}: Arrow IPC stream bytes in,
 * Parquet file bytes out, on a worker thread so the host's event loop stays
 * free.
 *
 * The worker is generated as a small CommonJS file at runtime (see
 * {@link parquetWorkerSource}) rather than shipped as a separate entry point,
 * so it works the same from sources (vitest, tsx) and from the bundled
 * package, in ESM and CJS.
 */

/** Parquet compression codecs the encoder offers (all readable by Snowflake). */
export type ParquetCompression = 'snappy' | 'zstd' | 'uncompressed';

/** One encoding task, as posted to the worker. */
export interface ParquetTask {
  /** Arrow IPC stream bytes (transferred, not copied). */
  readonly ipc: Uint8Array;
  readonly compression: ParquetCompression;
  /** Rows per Parquet row group. */
  readonly rowGroupRows: number;
}

/** The subset of parquet-wasm's node build the worker uses. */
export interface ParquetWasm {
  Table: { fromIPCStream(buf: Uint8Array): unknown };
  WriterPropertiesBuilder: new () => {
    setCompression(c: number): ParquetWasm['WriterPropertiesBuilder']['prototype'];
    setMaxRowGroupSize(n: number): ParquetWasm['WriterPropertiesBuilder']['prototype'];
    setCreatedBy(s: string): ParquetWasm['WriterPropertiesBuilder']['prototype'];
    build(): unknown;
  };
  Compression: Record<string, number>;
  writeParquet(table: unknown, props?: unknown): Uint8Array;
}

/**
 * Builds the task handler from a loaded parquet-wasm module. Self-contained
 * (no closures over module scope): its source text is embedded in the
 * generated worker file.
 */
export function parquetTaskHandler(pq: ParquetWasm): (task: ParquetTask) => Uint8Array {
  const codecs: Record<string, string> = { snappy: 'SNAPPY', zstd: 'ZSTD', uncompressed: 'UNCOMPRESSED' };
  return (task: ParquetTask): Uint8Array => {
    const table = pq.Table.fromIPCStream(task.ipc);
    const codec = pq.Compression[codecs[task.compression] ?? 'SNAPPY'];
    const props = new pq.WriterPropertiesBuilder()
      .setCompression(codec as number)
      .setMaxRowGroupSize(task.rowGroupRows)
      .setCreatedBy('etl-stream')
      .build();
    return pq.writeParquet(table, props);
  };
}

/**
 * Source text of the worker module: loads parquet-wasm's node build from its
 * absolute path and exports the handler piscina calls.
 */
export function parquetWorkerSource(parquetWasmPath: string): string {
  return [
    "'use strict';",
    `const pq = require(${JSON.stringify(parquetWasmPath)});`,
    `const makeHandler = (${parquetTaskHandler.toString()});`,
    'module.exports = makeHandler(pq);',
    '',
  ].join('\n');
}
