import type pg from 'pg';
import { EtlError } from '../errors.js';

/** `PGCOPY\n\377\r\n\0`, then flags (int32) and header-extension length (int32). */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_BYTES = SIGNATURE.length + 8;

/**
 * One row of COPY binary output, valid only during the handler's call (the
 * object and the buffer are reused): field `i` is the bytes
 * `buf[starts[i], starts[i] + lengths[i])`, or NULL when `lengths[i]` is -1.
 * Offsets rather than a Buffer per field: no allocation per value.
 */
export class CopyRow {
  buf: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(16);
  lengths = new Int32Array(16);

  /** Field `i` as a view into the wire buffer (valid during the call), or null for NULL. */
  field(i: number): Buffer | null {
    const len = this.lengths[i]!;
    return len < 0 ? null : this.buf.subarray(this.starts[i]!, this.starts[i]! + len);
  }

  /** Field `i` decoded as UTF-8 text, or null for NULL. */
  text(i: number): string | null {
    const len = this.lengths[i]!;
    return len < 0 ? null : this.buf.toString('utf8', this.starts[i]!, this.starts[i]! + len);
  }

  /** Makes room for `count` fields. */
  reserve(count: number): void {
    if (count <= this.starts.length) return;
    this.starts = new Int32Array(count);
    this.lengths = new Int32Array(count);
  }
}

/** Receives each row (see {@link CopyRow}: valid only during the call). */
export type CopyRowHandler = (row: CopyRow) => void;

interface CopyConnection {
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
  off(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
}

/**
 * Incremental parser of COPY's binary format: rows may span CopyData
 * messages (Postgres sends one per row, but the protocol does not promise
 * it), so bytes of an unfinished row are kept until the rest arrives.
 */
export class CopyBinaryParser {
  #pending: Buffer | undefined;
  #headerSeen = false;
  #done = false;
  readonly #row = new CopyRow();
  rows = 0;

  constructor(private readonly onRow: CopyRowHandler) {}

  /** Feeds one CopyData payload. */
  push(chunk: Buffer): void {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    let pos = 0;
    if (!this.#headerSeen) {
      if (buf.length < HEADER_BYTES) {
        this.#pending = Buffer.from(buf);
        return;
      }
      if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
        throw new EtlError('PG_PROTOCOL', 'COPY output does not start with the binary signature');
      }
      pos = HEADER_BYTES + buf.readInt32BE(SIGNATURE.length + 4);
      this.#headerSeen = true;
    }
    const row = this.#row;
    row.buf = buf;
    while (pos + 2 <= buf.length && !this.#done) {
      const count = buf.readInt16BE(pos);
      if (count === -1) {
        this.#done = true;
        return;
      }
      row.reserve(count);
      row.count = count;
      const { starts, lengths } = row;
      let p = pos + 2;
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (p + 4 > buf.length) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4;
        starts[i] = p;
        lengths[i] = len;
        if (len !== -1) {
          if (p + len > buf.length) {
            complete = false;
            break;
          }
          p += len;
        }
      }
      if (!complete) break;
      this.onRow(row);
      this.rows++;
      pos = p;
    }
    if (pos < buf.length && !this.#done) this.#pending = Buffer.from(buf.subarray(pos));
  }

  /** True once the trailer arrived. */
  get done(): boolean {
    return this.#done;
  }
}

/**
 * Runs `COPY (...) TO STDOUT (FORMAT binary)` on `client` and hands every
 * row to `onRow` as it arrives: no row objects, values as offsets into the wire buffer.
 * `pg` has no COPY-out API without `pg-copy-streams`, so this listens to the
 * connection's CopyData messages while the query is the active one (a
 * `pg` Query ignores them). Resolves with the number of rows.
 */
export async function copyOut(client: pg.Client, sql: string, onRow: CopyRowHandler): Promise<number> {
  const connection = (client as unknown as { connection: CopyConnection }).connection;
  let failure: unknown;
  const parser = new CopyBinaryParser(onRow);
  const listener = (msg: { chunk: Buffer }) => {
    if (failure) return;
    try {
      parser.push(msg.chunk);
    } catch (err) {
      failure = err;
    }
  };
  connection.on('copyData', listener);
  try {
    await client.query(sql);
  } finally {
    connection.off('copyData', listener);
  }
  if (failure) throw failure;
  if (!parser.done) throw new EtlError('PG_PROTOCOL', 'COPY output ended without its trailer');
  return parser.rows;
}
