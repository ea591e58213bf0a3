/**
 * Captured pgoutput frames: the XLogData payloads of a workload, as the
 * walsender sent them, with their WAL positions. File layout: the magic
 * {@link FRAME_FILE_MAGIC}, then per frame a big-endian u64 LSN, a u32
 * length and the payload bytes.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export const FRAME_FILE_MAGIC = 'ETLFRAMES1\n';
const FRAME_HEADER_BYTES = 12;

/**
 * The frames of one capture, held compactly: the file's bytes plus the
 * position, length and LSN of each frame in typed arrays. A million
 * `{ lsn, payload }` objects would fill the old generation, and every major
 * GC of the decoder under test would have to walk them: a cost the real
 * source, which holds a few messages at a time, never pays.
 */
export class FrameSet {
  constructor(
    private readonly data: Buffer,
    private readonly starts: Float64Array,
    private readonly lengths: Uint32Array,
    private readonly lsns: BigUint64Array,
  ) {}

  get count(): number {
    return this.lengths.length;
  }

  /**
   * Frame `i`'s payload: a fresh view, as a socket reader hands the decoder
   * a fresh Buffer per CopyData message.
   */
  payload(i: number): Buffer {
    const start = this.starts[i]!;
    return this.data.subarray(start, start + this.lengths[i]!);
  }

  /** The first byte of frame `i` (its message tag), without a view. */
  tag(i: number): number {
    return this.data[this.starts[i]!]!;
  }

  lsn(i: number): bigint {
    return this.lsns[i]!;
  }

  length(i: number): number {
    return this.lengths[i]!;
  }
}

/** Frames are gathered into chunks of this size before each write to the file. */
const WRITE_CHUNK_BYTES = 1 << 20;

/** Appends frames to a new frame file as they are captured. */
export class FrameFileWriter {
  private readonly fd: number;
  private chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
  private used = 0;
  frames = 0;
  payloadBytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    writeSync(this.fd, Buffer.from(FRAME_FILE_MAGIC, 'latin1'));
  }

  write(lsn: bigint, payload: Uint8Array): void {
    const need = FRAME_HEADER_BYTES + payload.length;
    if (this.used + need > this.chunk.length) this.flush();
    if (need > this.chunk.length) this.chunk = Buffer.allocUnsafe(need);
    this.chunk.writeBigUInt64BE(lsn, this.used);
    this.chunk.writeUInt32BE(payload.length, this.used + 8);
    this.chunk.set(payload, this.used + FRAME_HEADER_BYTES);
    this.used += need;
    this.frames++;
    this.payloadBytes += payload.length;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.used > 0) writeSync(this.fd, this.chunk, 0, this.used);
    this.used = 0;
  }
}

/** Reads every frame of a capture (payloads stay in the file's one buffer). */
export function readFrameFile(path: string): FrameSet {
  const data = readFileSync(path);
  const magic = data.subarray(0, FRAME_FILE_MAGIC.length).toString('latin1');
  if (magic !== FRAME_FILE_MAGIC) throw new Error(`${path} is not a frame file (bad magic)`);
  let count = 0;
  for (let at = FRAME_FILE_MAGIC.length; at < data.length; count++) {
    at += FRAME_HEADER_BYTES + data.readUInt32BE(at + 8);
  }
  const starts = new Float64Array(count);
  const lengths = new Uint32Array(count);
  const lsns = new BigUint64Array(count);
  let at = FRAME_FILE_MAGIC.length;
  for (let i = 0; i < count; i++) {
    lsns[i] = data.readBigUInt64BE(at);
    lengths[i] = data.readUInt32BE(at + 8);
    starts[i] = at + FRAME_HEADER_BYTES;
    at += FRAME_HEADER_BYTES + lengths[i]!;
  }
  return new FrameSet(data, starts, lengths, lsns);
}
