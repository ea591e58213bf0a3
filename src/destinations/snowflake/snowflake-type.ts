import { type DataType, Type } from 'apache-arrow';
import type { ColumnSchema } from '../../change/table-schema.js';

/**
 * A Snowflake column type, as the destination creates, compares and widens it.
 * `precision`/`scale` are set for NUMBER, `length` for a bounded VARCHAR.
 */
export interface SnowflakeType {
  readonly base:
    | 'BOOLEAN'
    | 'NUMBER'
    | 'FLOAT'
    | 'VARCHAR'
    | 'BINARY'
    | 'DATE'
    | 'TIME'
    | 'TIMESTAMP_NTZ'
    | 'TIMESTAMP_TZ'
    | 'TIMESTAMP_LTZ'
    | 'VARIANT'
    | 'ARRAY'
    | 'OBJECT'
    /** A type this destination does not recognise; left as it is. */
    | 'OTHER';
  readonly precision?: number;
  readonly scale?: number;
  readonly length?: number;
}

/**
 * How a column travels through the staging table before the MERGE turns it
 * into its target type. Snowflake's Parquet loader does not bind Parquet TIME
 * and timezone-less TIMESTAMP to TIME/TIMESTAMP_NTZ columns, so those travel
 * as their integer microseconds and are converted in the MERGE.
 */
export type StagingForm =
  /** Loaded as is: the Parquet type converts straight into the target type. */
  | 'direct'
  /** JSON text in a VARCHAR staging column; the MERGE applies `PARSE_JSON` (json, jsonb, arrays). */
  | 'json'
  /** Microseconds since midnight in a NUMBER column; the MERGE applies `TIME_FROM_PARTS`. */
  | 'time-micros'
  /** Microseconds since the epoch in a NUMBER column; the MERGE applies `TO_TIMESTAMP_NTZ(.., 6)`. */
  | 'ntz-micros';

/** The greatest precision of a Snowflake NUMBER. */
export const MAX_NUMBER_PRECISION = 38;

const JSON_TYPES = new Set(['json', 'jsonb']);

/**
 * The Snowflake type of a source column (DESIGN §4): decided by its Arrow type,
 * with `json`/`jsonb` text becoming VARIANT and `uuid` a VARCHAR(36).
 */
export function snowflakeTypeOf(column: ColumnSchema): SnowflakeType {
  // Domains carry their base type's OID, so a domain over jsonb is VARIANT too.
  const name = JSON_OIDS.has(column.typeOid)
    ? 'jsonb'
    : column.typeOid === UUID_OID
      ? 'uuid'
      : column.typeName;
  return typeOfArrow(column.arrowType, name);
}

/** `json`, `jsonb`. */
const JSON_OIDS = new Set([114, 3802]);
/** `uuid`. */
const UUID_OID = 2950;

function typeOfArrow(type: DataType, typeName: string): SnowflakeType {
  switch (type.typeId) {
    case Type.Bool:
      return { base: 'BOOLEAN' };
    case Type.Int: {
      const bits = (type as unknown as { bitWidth: number }).bitWidth;
      return { base: 'NUMBER', precision: bits <= 16 ? 5 : bits <= 32 ? 10 : 19, scale: 0 };
    }
    case Type.Float:
      return { base: 'FLOAT' };
    case Type.Decimal: {
      const d = type as unknown as { precision: number; scale: number };
      return { base: 'NUMBER', precision: d.precision, scale: d.scale };
    }
    case Type.Binary:
    case Type.LargeBinary:
      return { base: 'BINARY' };
    case Type.FixedSizeBinary:
      return typeName === 'uuid' ? { base: 'VARCHAR', length: 36 } : { base: 'BINARY' };
    case Type.Date:
      return { base: 'DATE' };
    case Type.Time:
      return { base: 'TIME', scale: 6 };
    case Type.Timestamp: {
      const tz = (type as unknown as { timezone?: string | null }).timezone;
      return { base: tz ? 'TIMESTAMP_TZ' : 'TIMESTAMP_NTZ', scale: 6 };
    }
    case Type.List:
    case Type.FixedSizeList:
      return { base: 'ARRAY' };
    default:
      if (JSON_TYPES.has(baseTypeName(typeName))) return { base: 'VARIANT' };
      if (baseTypeName(typeName) === 'uuid') return { base: 'VARCHAR', length: 36 };
      return { base: 'VARCHAR' };
  }
}

/** How the column's values are staged: JSON text for VARIANT and ARRAY targets, otherwise as is. */
export function stagingFormOf(type: SnowflakeType): StagingForm {
  if (type.base === 'VARIANT' || type.base === 'ARRAY' || type.base === 'OBJECT') return 'json';
  if (type.base === 'TIME') return 'time-micros';
  if (type.base === 'TIMESTAMP_NTZ') return 'ntz-micros';
  return 'direct';
}

/** The type of the column in the staging table (what COPY loads from Parquet). */
export function stagingTypeOf(type: SnowflakeType): SnowflakeType {
  const form = stagingFormOf(type);
  if (form === 'json') return { base: 'VARCHAR' };
  if (form === 'time-micros' || form === 'ntz-micros') return { base: 'NUMBER', precision: 19, scale: 0 };
  return type;
}

/** SQL text of a type, e.g. `NUMBER(12,2)`, `VARCHAR(36)`, `TIMESTAMP_TZ(6)`. */
export function renderType(type: SnowflakeType): string {
  switch (type.base) {
    case 'NUMBER':
      return `NUMBER(${type.precision ?? MAX_NUMBER_PRECISION},${type.scale ?? 0})`;
    case 'VARCHAR':
      return type.length === undefined ? 'VARCHAR' : `VARCHAR(${type.length})`;
    case 'TIME':
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMP_LTZ':
      return type.scale === undefined ? type.base : `${type.base}(${type.scale})`;
    default:
      return type.base;
  }
}

/** What changing a column from one type to another takes. */
export type TypeChange =
  /** Nothing: the types are the same, or the current one already holds every value of the new one. */
  | { readonly kind: 'none' }
  /** `ALTER COLUMN ... SET DATA TYPE` to the given type (Snowflake widens NUMBER precision and VARCHAR length in place). */
  | { readonly kind: 'widen'; readonly to: SnowflakeType }
  /** Snowflake cannot change the column in place. */
  | { readonly kind: 'incompatible' };

const TEXT_LIKE = new Set(['VARCHAR']);
const TIMESTAMPS = new Set(['TIMESTAMP_NTZ', 'TIMESTAMP_TZ', 'TIMESTAMP_LTZ']);

/**
 * Decides how a column of type `current` in Snowflake can take values of type
 * `wanted`. Follows what `ALTER TABLE ... ALTER COLUMN ... SET DATA TYPE`
 * allows: a larger NUMBER precision with the same scale, a longer VARCHAR.
 */
export function typeChange(current: SnowflakeType, wanted: SnowflakeType): TypeChange {
  if (current.base === 'OTHER') return { kind: 'none' };
  if (current.base === 'NUMBER' && wanted.base === 'NUMBER') {
    const cp = current.precision ?? MAX_NUMBER_PRECISION;
    const wp = wanted.precision ?? MAX_NUMBER_PRECISION;
    const cs = current.scale ?? 0;
    const ws = wanted.scale ?? 0;
    if (cs !== ws) return { kind: 'incompatible' };
    return wp <= cp ? { kind: 'none' } : { kind: 'widen', to: { base: 'NUMBER', precision: wp, scale: ws } };
  }
  if (TEXT_LIKE.has(current.base) && TEXT_LIKE.has(wanted.base)) {
    if (current.length === undefined) return { kind: 'none' };
    if (wanted.length !== undefined && wanted.length <= current.length) return { kind: 'none' };
    return { kind: 'widen', to: wanted };
  }
  if (TIMESTAMPS.has(current.base) && current.base === wanted.base) return { kind: 'none' };
  if (current.base === wanted.base) return { kind: 'none' };
  // A VARIANT holds any value, so it can take what an ARRAY or OBJECT held.
  if (current.base === 'VARIANT' && (wanted.base === 'ARRAY' || wanted.base === 'OBJECT'))
    return { kind: 'none' };
  return { kind: 'incompatible' };
}

/**
 * Parses a type as `INFORMATION_SCHEMA.COLUMNS` reports it (`DATA_TYPE` plus
 * precision, scale and length). `TEXT`/`STRING` read as VARCHAR, `FIXED` as
 * NUMBER, `REAL`/`DOUBLE` as FLOAT.
 */
export function parseSnowflakeType(
  dataType: string,
  precision?: number | null,
  scale?: number | null,
  length?: number | null,
): SnowflakeType {
  const raw = dataType.trim().toUpperCase();
  const m = /^([A-Z_ ]+?)\s*(?:\((\d+)\s*(?:,\s*(\d+))?\))?$/.exec(raw);
  const name = (m?.[1] ?? raw).trim();
  const p = precision ?? (m?.[2] === undefined ? undefined : Number(m[2]));
  const s = scale ?? (m?.[3] === undefined ? undefined : Number(m[3]));
  switch (name) {
    case 'NUMBER':
    case 'NUMERIC':
    case 'DECIMAL':
    case 'FIXED':
      return { base: 'NUMBER', precision: p ?? MAX_NUMBER_PRECISION, scale: s ?? 0 };
    case 'INT':
    case 'INTEGER':
    case 'BIGINT':
    case 'SMALLINT':
      return { base: 'NUMBER', precision: MAX_NUMBER_PRECISION, scale: 0 };
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL':
    case 'DOUBLE PRECISION':
      return { base: 'FLOAT' };
    case 'TEXT':
    case 'STRING':
    case 'VARCHAR':
    case 'CHAR':
    case 'CHARACTER': {
      const n = length ?? p;
      return n === undefined || n === null || n >= 16_777_216
        ? { base: 'VARCHAR' }
        : { base: 'VARCHAR', length: n };
    }
    case 'BOOLEAN':
      return { base: 'BOOLEAN' };
    case 'BINARY':
    case 'VARBINARY':
      return { base: 'BINARY' };
    case 'DATE':
      return { base: 'DATE' };
    case 'TIME':
      return { base: 'TIME', scale: s ?? p ?? 9 };
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMP_LTZ':
      return { base: name, scale: s ?? p ?? 9 };
    case 'VARIANT':
    case 'ARRAY':
    case 'OBJECT':
      return { base: name };
    default:
      return { base: 'OTHER' };
  }
}

/** `numeric(12,2)` → `numeric`, `character varying(20)` → `character varying`, `integer[]` → `integer[]`. */
function baseTypeName(typeName: string): string {
  return typeName
    .replace(/\(.*\)/, '')
    .trim()
    .toLowerCase();
}
