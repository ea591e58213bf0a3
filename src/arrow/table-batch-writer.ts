import {
  type Data,
  Field,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Uint8,
  Uint32,
  Uint64,
  Utf8,
} from 'apache-arrow';
import type { ChangeOp } from '../change/metadata-columns.js';
import { LSN_COLUMN, OP_COLUMN, SEQ_COLUMN, UNCHANGED_COLUMN } from '../change/metadata-columns.js';
import { qualifiedName, type TableSchema } from '../change/table-schema.js';
import type { Lsn } from '../lsn.js';
import type { TypeCatalog } from '../postgres/type-catalog.js';
import { columnCodec, LIST_ITEM_FIELD, listDepth } from './column-codec.js';
import type { ColumnWriter, UnrepresentablePolicy, ValueContext } from './column-writer.js';
import { createColumnWriter } from './column-writer-factory.js';
import { ListWriter } from './list-writer.js';
import { MetadataWriter } from './number-writers.js';
import { TextWriter } from './text-writer.js';

/** Options of a {@link TableBatchWriter}. */
export interface TableBatchWriterOptions {
  /** Types of the source database (domains, enums, arrays). */
  readonly catalog: TypeCatalog;
  /** Whether `appendRow` values are in binary (`typsend`, COPY binary) form rather than text. */
  readonly binary: boolean;
  /** What to do with values the Arrow type cannot hold: throw `VALUE_UNREPRESENTABLE`, or write null and report. */
  readonly unrepresentable: UnrepresentablePolicy;
  /** Called for every value written as null under the `null` policy. */
  readonly onUnrepresentable?: (info: { table: string; column: string; reason: string }) => void;
}

const COMMA = 0x2c;
const encoder = new TextEncoder();

/** The Arrow type of `_etl_unchanged`. */
export const UNCHANGED_TYPE = new List(new Field(LIST_ITEM_FIELD, new Utf8(), true));

/** A table's user columns plus `_etl_seq`: the layout of old row images (`RowsEntry.before`). */
class ImageWriter {
  readonly seq: MetadataWriter;
  constructor(
    readonly columns: ColumnWriter[],
    ctx: ValueContext,
  ) {
    this.seq = new MetadataWriter('uint32', ctx);
  }
  get rows(): number {
    return this.seq.length;
  }
}

/**
 * Decodes the rows of one table straight into Arrow column writers and
 * hands them out as a `RecordBatch` of the user columns plus the metadata
 * columns (`_etl_op`, `_etl_lsn`, `_etl_seq`, `_etl_unchanged`).
 *
 * Used by the pgoutput decoder (which appends column by column through
 * {@link TableBatchWriter.columns} and ends the row with
 * {@link TableBatchWriter.endRow}) and by the snapshot (which hands whole rows
 * of COPY values to {@link TableBatchWriter.appendRow}). Not thread-safe.
 *
 * @example
 * ```ts
 * const w = new TableBatchWriter(schema, { catalog, binary: true, unrepresentable: 'fail' });
 * w.appendRow([idBytes, labelBytes], ChangeOp.Read, consistentPoint, 0);
 * const rb = w.flush(); // RecordBatch with 1 row
 * ```
 */
export class TableBatchWriter {
  /** Writers of the user columns, in schema order. */
  readonly columns: ColumnWriter[];
  private readonly op: MetadataWriter;
  private readonly lsn: MetadataWriter;
  private readonly seq: MetadataWriter;
  private readonly unchanged: ListWriter;
  private readonly unchangedNames: Uint8Array[];
  private readonly schema: Schema;
  private image: ImageWriter | undefined;
  private readonly contexts: ValueContext[];

  constructor(
    readonly table: TableSchema,
    private readonly opts: TableBatchWriterOptions,
  ) {
    const name = qualifiedName(table);
    this.contexts = table.columns.map((c) => ({
      table: name,
      column: c.name,
      unrepresentable: opts.unrepresentable,
      onUnrepresentable: opts.onUnrepresentable,
    }));
    this.columns = this.createColumns();
    const meta: ValueContext = { table: name, column: '_etl', unrepresentable: 'fail' };
    this.op = new MetadataWriter('uint8', meta);
    this.lsn = new MetadataWriter('uint64', meta);
    this.seq = new MetadataWriter('uint32', meta);
    this.unchanged = new ListWriter(UNCHANGED_TYPE, new TextWriter('text', meta), 1, COMMA, meta);
    this.unchangedNames = table.columns.map((c) => encoder.encode(c.name));
    this.schema = new Schema([
      ...table.columns.map((c) => new Field(c.name, c.arrowType, true)),
      new Field(OP_COLUMN, new Uint8(), false),
      new Field(LSN_COLUMN, new Uint64(), false),
      new Field(SEQ_COLUMN, new Uint32(), false),
      new Field(UNCHANGED_COLUMN, UNCHANGED_TYPE, true),
    ]);
  }

  private createColumns(): ColumnWriter[] {
    return this.table.columns.map((c, i) =>
      createColumnWriter(
        columnCodec(c.typeOid, c.typeModifier, this.opts.catalog, listDepth(c.arrowType)),
        this.contexts[i]!,
      ),
    );
  }

  /** Rows written and not yet flushed. */
  get rows(): number {
    return this.op.length;
  }

  /** Old-image rows written and not yet flushed. */
  get beforeRows(): number {
    return this.image?.rows ?? 0;
  }

  /** Approximate bytes held. */
  get bytes(): number {
    let n = this.op.length * 13 + this.unchanged.byteLength;
    for (const c of this.columns) n += c.byteLength;
    if (this.image) for (const c of this.image.columns) n += c.byteLength;
    return n;
  }

  /**
   * Appends one whole row of raw values (text or binary as configured; null
   * for SQL NULL), e.g. the fields of a COPY row.
   */
  appendRow(values: readonly (Uint8Array | null)[], op: ChangeOp, lsn: Lsn, seq: number): void {
    const binary = this.opts.binary;
    for (let i = 0; i < this.columns.length; i++) {
      const v = values[i];
      const w = this.columns[i]!;
      if (v === null || v === undefined) w.appendNull();
      else if (binary) w.appendBinary(v, 0, v.length);
      else w.appendText(v, 0, v.length);
    }
    this.endRow(op, lsn, seq, undefined);
  }

  /**
   * Appends one whole row given as offsets into `buf`: value `i` is
   * `buf[starts[i], starts[i] + lengths[i])`, NULL when `lengths[i]` is -1
   * (COPY's layout; see `CopyRow`). Same as {@link TableBatchWriter.appendRow}
   * without a Buffer per value.
   */
  appendRowAt(
    buf: Uint8Array,
    starts: Int32Array,
    lengths: Int32Array,
    op: ChangeOp,
    lsn: Lsn,
    seq: number,
  ): void {
    const binary = this.opts.binary;
    for (let i = 0; i < this.columns.length; i++) {
      const w = this.columns[i]!;
      const len = lengths[i]!;
      const start = starts[i]!;
      if (len < 0) w.appendNull();
      else if (binary) w.appendBinary(buf, start, start + len);
      else w.appendText(buf, start, start + len);
    }
    this.endRow(op, lsn, seq, undefined);
  }

  /**
   * Completes a row whose user columns were appended one by one: writes the
   * metadata columns. `unchanged` lists the indexes of unchanged-TOAST
   * columns (their value column got a null).
   */
  endRow(op: ChangeOp, lsn: Lsn, seq: number, unchanged: readonly number[] | undefined): void {
    this.op.appendNumber(op);
    this.lsn.appendBigInt(lsn);
    this.seq.appendNumber(seq);
    if (!unchanged || unchanged.length === 0) this.unchanged.appendNull();
    else {
      this.unchanged.open();
      for (const i of unchanged) {
        const name = this.unchangedNames[i]!;
        this.unchanged.element(name, 0, name.length);
      }
      this.unchanged.close();
    }
  }

  /** Writers of the old-image columns (created on first use). */
  beforeColumns(): ColumnWriter[] {
    this.image ??= new ImageWriter(this.createColumns(), this.contexts[0] ?? this.unchangedContext());
    return this.image.columns;
  }

  private unchangedContext(): ValueContext {
    return { table: qualifiedName(this.table), column: '_etl', unrepresentable: 'fail' };
  }

  /** Completes an old-image row whose columns were appended through {@link TableBatchWriter.beforeColumns}. */
  endBeforeRow(seq: number): void {
    this.beforeColumns();
    this.image!.seq.appendNumber(seq);
  }

  /** Overwrites `_etl_lsn` of every held row (the commit LSN of a streamed transaction, known at its commit). */
  fillLsn(lsn: Lsn): void {
    this.lsn.fillBigInt(lsn);
  }

  /** Hands out every held row as a record batch (the snapshot path; old images, if any, are dropped). */
  flush(): RecordBatch {
    return this.flushImages().data;
  }

  /**
   * Hands out rows `[0, count)` (and old-image rows `[0, beforeCount)`) as
   * record batches; later rows stay in the writer.
   */
  flushImages(
    count = this.rows,
    beforeCount = this.beforeRows,
  ): { data: RecordBatch; before: RecordBatch | undefined } {
    const children: Data[] = this.columns.map((c) => c.finish(count));
    children.push(
      this.op.finish(count),
      this.lsn.finish(count),
      this.seq.finish(count),
      this.unchanged.finish(count),
    );
    const data = new RecordBatch(
      this.schema,
      makeData({ type: new Struct(this.schema.fields), length: count, nullCount: 0, children }),
    );
    let before: RecordBatch | undefined;
    if (this.image && beforeCount > 0) {
      const fields = [
        ...this.schema.fields.slice(0, this.columns.length),
        new Field(SEQ_COLUMN, new Uint32(), false),
      ];
      const kids = this.image.columns.map((c) => c.finish(beforeCount));
      kids.push(this.image.seq.finish(beforeCount));
      before = new RecordBatch(
        new Schema(fields),
        makeData({ type: new Struct(fields), length: beforeCount, nullCount: 0, children: kids }),
      );
    }
    return { data, before };
  }

  /** Forgets rows from `count` on and old-image rows from `beforeCount` on (an aborted subtransaction). */
  truncate(count: number, beforeCount: number): void {
    for (const c of this.columns) c.truncate(count);
    this.op.truncate(count);
    this.lsn.truncate(count);
    this.seq.truncate(count);
    this.unchanged.truncate(count);
    if (this.image) {
      for (const c of this.image.columns) c.truncate(beforeCount);
      this.image.seq.truncate(beforeCount);
    }
  }
}
