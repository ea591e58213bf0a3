import { ByteaWriter } from './bytea-writer.js';
import type { ColumnCodec } from './column-codec.js';
import type { ColumnWriter, ValueContext } from './column-writer.js';
import { DecimalWriter } from './decimal-writer.js';
import { ListWriter } from './list-writer.js';
import {
  BoolWriter,
  Float32Writer,
  Float64Writer,
  Int16Writer,
  Int32Writer,
  Int64Writer,
} from './number-writers.js';
import { DateWriter, TimestampWriter, TimeWriter } from './temporal-writers.js';
import { TextWriter } from './text-writer.js';

/** A fresh, empty writer for a column decoded with `codec`. */
export function createColumnWriter(codec: ColumnCodec, ctx: ValueContext): ColumnWriter {
  switch (codec.kind) {
    case 'bool':
      return new BoolWriter(ctx);
    case 'int16':
      return new Int16Writer(ctx);
    case 'int32':
      return new Int32Writer(ctx);
    case 'int64':
      return new Int64Writer(ctx);
    case 'float32':
      return new Float32Writer(ctx);
    case 'float64':
      return new Float64Writer(ctx);
    case 'decimal':
      return new DecimalWriter(codec.precision, codec.scale, ctx);
    case 'text':
      return new TextWriter(codec.binaryForm, ctx);
    case 'bytea':
      return new ByteaWriter(ctx);
    case 'date':
      return new DateWriter(ctx);
    case 'time':
      return new TimeWriter(ctx);
    case 'timestamp':
      return new TimestampWriter(false, ctx);
    case 'timestamptz':
      return new TimestampWriter(true, ctx);
    case 'list':
      return new ListWriter(
        codec.arrowType,
        createColumnWriter(codec.element!, ctx),
        codec.depth,
        codec.delimiter,
        ctx,
      );
  }
}
