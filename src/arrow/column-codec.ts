import {
  Binary,
  Bool,
  DataType,
  DateDay,
  Decimal,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  List,
  TimeMicrosecond,
  TimestampMicrosecond,
  Utf8,
} from 'apache-arrow';
import { numericTypmod, type TypeCatalog } from '../postgres/type-catalog.js';
import type { TextBinaryForm } from './text-writer.js';
import { TypeOid } from './type-oids.js';

/** The decoder families of DESIGN §4. */
export type ValueKind =
  | 'bool'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float32'
  | 'float64'
  | 'decimal'
  | 'text'
  | 'bytea'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'list';

/** How one column's values are decoded and which Arrow type they become. */
export interface ColumnCodec {
  readonly kind: ValueKind;
  readonly arrowType: DataType;
  /** Decimal precision and scale (kind `decimal`). */
  readonly precision: number;
  readonly scale: number;
  /** For `text`: how binary values are laid out. */
  readonly binaryForm: TextBinaryForm;
  /** For `list`: the element codec (a scalar) and the nesting depth. */
  readonly element: ColumnCodec | undefined;
  readonly depth: number;
  /** Array element delimiter, as a char code (`,` except for box). */
  readonly delimiter: number;
  /**
   * True when binary-mode values of this type can be decoded: we have a
   * binary decoder, or the type has no send function (so pgoutput and COPY
   * send it as text anyway).
   */
  readonly binary: boolean;
}

/** Largest precision a Decimal128 holds (and Snowflake's NUMBER). */
export const MAX_DECIMAL_PRECISION = 38;
/** The child field name of list types, as Arrow writers conventionally name it. */
export const LIST_ITEM_FIELD = 'item';

const COMMA = 0x2c;

function scalar(kind: ValueKind, arrowType: DataType, extra: Partial<ColumnCodec> = {}): ColumnCodec {
  return {
    kind,
    arrowType,
    precision: 0,
    scale: 0,
    binaryForm: 'text',
    element: undefined,
    depth: 0,
    delimiter: COMMA,
    binary: true,
    ...extra,
  };
}

const text = (binaryForm: TextBinaryForm, binary = true): ColumnCodec =>
  scalar('text', new Utf8(), { binaryForm, binary });

const FIXED: Record<number, () => ColumnCodec> = {
  [TypeOid.bool]: () => scalar('bool', new Bool()),
  [TypeOid.int2]: () => scalar('int16', new Int16()),
  [TypeOid.int4]: () => scalar('int32', new Int32()),
  [TypeOid.int8]: () => scalar('int64', new Int64()),
  [TypeOid.float4]: () => scalar('float32', new Float32()),
  [TypeOid.float8]: () => scalar('float64', new Float64()),
  [TypeOid.text]: () => text('text'),
  [TypeOid.varchar]: () => text('text'),
  [TypeOid.bpchar]: () => text('text'),
  [TypeOid.name]: () => text('text'),
  [TypeOid.json]: () => text('text'),
  [TypeOid.jsonb]: () => text('jsonb'),
  [TypeOid.uuid]: () => text('uuid'),
  [TypeOid.bytea]: () => scalar('bytea', new Binary()),
  [TypeOid.date]: () => scalar('date', new DateDay()),
  [TypeOid.time]: () => scalar('time', new TimeMicrosecond()),
  [TypeOid.timestamp]: () => scalar('timestamp', new TimestampMicrosecond()),
  [TypeOid.timestamptz]: () => scalar('timestamptz', new TimestampMicrosecond('UTC')),
};

/** Extension types whose values are plain text on the wire, by `typname`. */
const TEXT_EXTENSION_TYPES = new Set(['citext']);

/**
 * The codec of a column of type `typeOid` with modifier `typmod` (DESIGN §4).
 * Domains resolve to their base type; arrays become lists nested `dims`
 * times (the declared dimensions, `attndims`; 1 when unknown). Enums become
 * plain Utf8 (not a dictionary: batches stay self-contained and spill files
 * need no dictionary bookkeeping; Parquet dictionary-encodes them anyway).
 * Unknown and "other" types become Utf8 text.
 */
export function columnCodec(typeOid: number, typmod: number, catalog: TypeCatalog, dims = 1): ColumnCodec {
  const r = catalog.resolve(typeOid, typmod);
  const type = catalog.type(r.oid);
  if (type && type.elementOid !== 0 && r.oid !== TypeOid.int2vector && r.oid !== TypeOid.oidvector) {
    const element = columnCodec(type.elementOid, r.typmod, catalog, 0);
    const depth = Math.max(dims, 1);
    let arrowType: DataType = element.arrowType;
    for (let k = 0; k < depth; k++) arrowType = new List(new Field(LIST_ITEM_FIELD, arrowType, true));
    const delimiter = catalog.type(type.elementOid)?.delimiter.charCodeAt(0) ?? COMMA;
    return { ...scalar('list', arrowType), element, depth, delimiter, binary: element.binary };
  }
  if (r.oid === TypeOid.numeric) {
    if (r.typmod >= 0) {
      const { precision, scale } = numericTypmod(r.typmod);
      if (precision <= MAX_DECIMAL_PRECISION && scale >= 0 && scale <= precision) {
        return scalar('decimal', new Decimal(scale, precision, 128), { precision, scale });
      }
    }
    return text('numeric');
  }
  const fixed = FIXED[r.oid];
  if (fixed) return fixed();
  if (type && (type.kind === 'e' || TEXT_EXTENSION_TYPES.has(type.name))) return text('text');
  return text('none', type ? !type.hasSend : false);
}

/**
 * Whether every column's binary-format values can be decoded, so the source
 * may ask pgoutput for `binary 'true'` (and the snapshot may COPY in binary).
 * False when any column's type would arrive in a binary form we do not
 * decode (interval, inet, ranges, geometry, ... — they are decoded from text).
 */
export function binaryModeSupported(
  columns: readonly { readonly typeOid: number; readonly typeModifier: number }[],
  catalog: TypeCatalog,
): boolean {
  return columns.every((c) => columnCodec(c.typeOid, c.typeModifier, catalog).binary);
}

/** Nesting depth of list types in an Arrow type (0 for scalars). */
export function listDepth(type: DataType): number {
  let depth = 0;
  while (DataType.isList(type)) {
    depth++;
    type = type.children[0]!.type;
  }
  return depth;
}
