import type { Writable } from 'node:stream';
import type { ChangeBatch } from '../change/change-batch.js';
import {
  CHANGE_OP_NAMES,
  LSN_COLUMN,
  OP_COLUMN,
  SEQ_COLUMN,
  UNCHANGED_COLUMN,
} from '../change/metadata-columns.js';
import { qualifiedName } from '../change/table-schema.js';
import { configError, EtlError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import type { Destination } from '../pipeline/destination.js';

/** Options of {@link ndjson}. */
export interface NdjsonOptions {
  /** Where lines go. Default `process.stdout`. */
  readonly stream?: Pick<Writable, 'write'> & { once?: Writable['once'] };
  /** Destination name, unique in the pipeline. Default `ndjson`. */
  readonly name?: string;
}

/**
 * Writes one JSON line per change, for logs, debugging and piping into
 * other tools:
 *
 * ```json
 * {"op":"update","table":"public.orders","lsn":"0/16B3748","seq":2,"row":{"id":"1","total":"10.50"},"unchanged":["notes"]}
 * {"op":"truncate","table":"public.orders","lsn":"0/16B3790","seq":5}
 * ```
 *
 * Values are exact: int8 and numeric as strings (JSON numbers would lose
 * digits), timestamps as ISO text with microseconds, bytea as hex (`\\x...`).
 * Schema changes are written as `{"op":"schema",...,"columns":[...]}`.
 * Resolves once the stream accepted every line (waits for `drain` when it
 * is full). Not durable: a crash may lose lines the OS had not written.
 *
 * @example
 * ```ts
 * pipeline.to(ndjson());                                    // stdout
 * pipeline.to(ndjson({ stream: fs.createWriteStream('changes.ndjson') }));
 * ```
 */
export class NdjsonDestination implements Destination {
  readonly name: string;
  private readonly stream: NonNullable<NdjsonOptions['stream']>;
  private closed = false;

  constructor(options: NdjsonOptions = {}) {
    const stream = options.stream ?? process.stdout;
    if (typeof stream?.write !== 'function') throw configError('stream', 'must be a writable stream');
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
      throw configError('name', 'must be a non-empty string');
    }
    this.stream = stream;
    this.name = options.name ?? 'ndjson';
  }

  /** Writes the batch's changes in stream order, one line each. */
  async write(batch: ChangeBatch): Promise<void> {
    if (this.closed) throw new EtlError('LIFECYCLE', 'ndjson destination used after close()');
    for (const entry of batch.entries) {
      if (entry.kind === 'truncate') {
        for (const table of entry.tables) {
          await this.line({
            op: 'truncate',
            table: qualifiedName(table),
            lsn: formatLsn(entry.lsn),
            seq: entry.seq,
          });
        }
      } else if (entry.kind === 'schema') {
        await this.line({
          op: 'schema',
          table: qualifiedName(entry.table),
          lsn: formatLsn(entry.lsn),
          seq: entry.seq,
          columns: entry.table.columns.map((c) => ({ name: c.name, type: c.typeName, key: c.key })),
        });
      } else {
        const table = qualifiedName(entry.table);
        for (const change of batch.rows(table)) await this.line(changeLine(table, change));
      }
    }
  }

  /** Stops accepting batches; the stream is the caller's and stays open. */
  async close(): Promise<void> {
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private line(value: unknown): Promise<void> | undefined {
    const ok = this.stream.write(`${JSON.stringify(value, jsonValue)}\n`);
    if (ok || !this.stream.once) return undefined;
    return new Promise((resolve) => this.stream.once!('drain', () => resolve()));
  }
}

function changeLine(table: string, change: Record<string, unknown>): Record<string, unknown> {
  const {
    [OP_COLUMN]: op,
    [LSN_COLUMN]: lsn,
    [SEQ_COLUMN]: seq,
    [UNCHANGED_COLUMN]: unchanged,
    ...row
  } = change;
  const line: Record<string, unknown> = {
    op: CHANGE_OP_NAMES[op as number] ?? String(op),
    table,
    lsn: formatLsn(lsn as bigint),
    seq,
    row,
  };
  if (unchanged) line.unchanged = unchanged;
  return line;
}

/** Exact JSON for values JSON has no type for: bigint as string, bytes as `\x` hex. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  return value;
}

/**
 * Creates an {@link NdjsonDestination}: one JSON line per change.
 *
 * @example
 * ```ts
 * new Pipeline({ name: 'debug' }).from(source).to(ndjson({ stream: process.stderr }));
 * ```
 */
export function ndjson(options: NdjsonOptions = {}): NdjsonDestination {
  return new NdjsonDestination(options);
}
