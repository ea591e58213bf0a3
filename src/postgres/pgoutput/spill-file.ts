import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RecordBatch, Table, tableFromIPC, tableToIPC } from 'apache-arrow';

/**
 * Arrow IPC (stream format) files holding record batches of streamed
 * transactions that outgrew the memory limit. Written and read synchronously
 * so the decoder stays synchronous; one file per record batch.
 */
export class SpillFile {
  private constructor(
    readonly path: string,
    readonly rows: number,
  ) {}

  /** Writes `batch` to a new file in `dir` (created if missing). */
  static write(dir: string, batch: RecordBatch): SpillFile {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `etl-spill-${process.pid}-${randomBytes(6).toString('hex')}.arrow`);
    writeFileSync(path, tableToIPC(new Table([batch]), 'stream'));
    return new SpillFile(path, batch.numRows);
  }

  /** Reads the batch back (its first `keep` rows) and deletes the file. */
  read(keep = this.rows): RecordBatch {
    const table = tableFromIPC(readFileSync(this.path));
    this.remove();
    const batch = table.batches[0]!;
    return keep < batch.numRows ? batch.slice(0, keep) : batch;
  }

  /** Deletes the file (idempotent). */
  remove(): void {
    rmSync(this.path, { force: true });
  }
}
