import {
  type DataType,
  type Decimal,
  type Dictionary,
  type Int,
  type List,
  Precision,
  Type,
} from 'apache-arrow';

/**
 * The DuckDB column type for an Arrow type of DESIGN §4: Int16/32/64 →
 * SMALLINT/INTEGER/BIGINT, Float32/64 → FLOAT/DOUBLE, Decimal128(p,s) →
 * DECIMAL(p,s), Utf8 (and dictionary-encoded enums) → VARCHAR, Binary →
 * BLOB, Date32 → DATE, Time64(µs) → TIME, Timestamp(µs) → TIMESTAMP,
 * Timestamp(µs, UTC) → TIMESTAMPTZ, List<T> → T[] (DuckDB LIST). Anything
 * else is kept as text (VARCHAR), which is how etl-stream decodes the
 * Postgres types Arrow has no type for.
 *
 * @example
 * ```ts
 * duckdbType(new Decimal(2, 12, 128)); // 'DECIMAL(12,2)'
 * ```
 */
export function duckdbType(type: DataType): string {
  switch (type.typeId) {
    case Type.Bool:
      return 'BOOLEAN';
    case Type.Int: {
      const { bitWidth, isSigned } = type as Int;
      const name = { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' }[bitWidth] ?? 'BIGINT';
      return isSigned ? name : `U${name}`;
    }
    case Type.Float:
      return (type as unknown as { precision: Precision }).precision === Precision.SINGLE
        ? 'FLOAT'
        : 'DOUBLE';
    case Type.Decimal: {
      const { precision, scale } = type as Decimal;
      return `DECIMAL(${precision},${scale})`;
    }
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return 'BLOB';
    case Type.Date:
      return 'DATE';
    case Type.Time:
      return 'TIME';
    case Type.Timestamp:
      return (type as unknown as { timezone?: string | null }).timezone ? 'TIMESTAMPTZ' : 'TIMESTAMP';
    case Type.Interval:
      return 'INTERVAL';
    case Type.List:
      return `${duckdbType((type as List).valueType)}[]`;
    case Type.Dictionary:
      return duckdbType((type as Dictionary).dictionary);
    default:
      return 'VARCHAR';
  }
}
