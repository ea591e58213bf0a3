/**
 * Snowflake data types and how the emulator stores them in the embedded
 * engine. The declared Snowflake type of each table column is kept as the
 * column's comment (`sf:NUMBER(10,0)`), so DESCRIBE, SHOW and
 * INFORMATION_SCHEMA report what was declared (ARRAY vs VARIANT, VARCHAR(36),
 * TIMESTAMP_LTZ, TIME(6)) even where the engine's type is coarser.
 */
import { unsupported } from './errors.js';

/** A Snowflake type, canonical. */
export interface SfType {
  readonly base:
    | 'NUMBER'
    | 'FLOAT'
    | 'VARCHAR'
    | 'BINARY'
    | 'BOOLEAN'
    | 'DATE'
    | 'TIME'
    | 'TIMESTAMP_NTZ'
    | 'TIMESTAMP_TZ'
    | 'TIMESTAMP_LTZ'
    | 'VARIANT'
    | 'OBJECT'
    | 'ARRAY';
  readonly precision?: number;
  readonly scale?: number;
  readonly length?: number;
}

/** Longest VARCHAR, and the length Snowflake reports for VARCHAR without one. */
export const MAX_VARCHAR = 16_777_216;
/** Longest BINARY. */
export const MAX_BINARY = 8_388_608;

const ALIASES: Record<string, SfType['base']> = {
  NUMBER: 'NUMBER',
  NUMERIC: 'NUMBER',
  DECIMAL: 'NUMBER',
  INT: 'NUMBER',
  INTEGER: 'NUMBER',
  BIGINT: 'NUMBER',
  SMALLINT: 'NUMBER',
  TINYINT: 'NUMBER',
  BYTEINT: 'NUMBER',
  FLOAT: 'FLOAT',
  FLOAT4: 'FLOAT',
  FLOAT8: 'FLOAT',
  DOUBLE: 'FLOAT',
  'DOUBLE PRECISION': 'FLOAT',
  REAL: 'FLOAT',
  VARCHAR: 'VARCHAR',
  STRING: 'VARCHAR',
  TEXT: 'VARCHAR',
  CHAR: 'VARCHAR',
  CHARACTER: 'VARCHAR',
  'CHAR VARYING': 'VARCHAR',
  'CHARACTER VARYING': 'VARCHAR',
  NCHAR: 'VARCHAR',
  NVARCHAR: 'VARCHAR',
  NVARCHAR2: 'VARCHAR',
  BINARY: 'BINARY',
  VARBINARY: 'BINARY',
  BOOLEAN: 'BOOLEAN',
  BOOL: 'BOOLEAN',
  DATE: 'DATE',
  TIME: 'TIME',
  DATETIME: 'TIMESTAMP_NTZ',
  TIMESTAMP: 'TIMESTAMP_NTZ',
  TIMESTAMP_NTZ: 'TIMESTAMP_NTZ',
  TIMESTAMPNTZ: 'TIMESTAMP_NTZ',
  'TIMESTAMP WITHOUT TIME ZONE': 'TIMESTAMP_NTZ',
  TIMESTAMP_TZ: 'TIMESTAMP_TZ',
  TIMESTAMPTZ: 'TIMESTAMP_TZ',
  'TIMESTAMP WITH TIME ZONE': 'TIMESTAMP_TZ',
  TIMESTAMP_LTZ: 'TIMESTAMP_LTZ',
  TIMESTAMPLTZ: 'TIMESTAMP_LTZ',
  'TIMESTAMP WITH LOCAL TIME ZONE': 'TIMESTAMP_LTZ',
  VARIANT: 'VARIANT',
  OBJECT: 'OBJECT',
  ARRAY: 'ARRAY',
};

/** Parses a Snowflake type name and its arguments (`NUMBER`, `[20, 0]`). */
export function parseSfType(name: string, args: readonly number[] = []): SfType {
  const key = name.trim().toUpperCase().replace(/\s+/g, ' ');
  const base = ALIASES[key];
  if (!base) throw unsupported(`Data type ${name}`);
  const [a, b] = args;
  switch (base) {
    case 'NUMBER': {
      const integer = key !== 'NUMBER' && key !== 'NUMERIC' && key !== 'DECIMAL';
      const precision = integer ? 38 : (a ?? 38);
      const scale = integer ? 0 : (b ?? 0);
      if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
        throw unsupported(`NUMBER(${precision},${scale})`);
      return { base, precision, scale };
    }
    case 'VARCHAR': {
      const length = a ?? (key === 'CHAR' || key === 'CHARACTER' || key === 'NCHAR' ? 1 : MAX_VARCHAR);
      return { base, length };
    }
    case 'BINARY':
      return { base, length: a ?? MAX_BINARY };
    case 'TIME':
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMP_LTZ':
      return { base, scale: a ?? 9 };
    default:
      return { base };
  }
}

/** Snowflake's text for a type, as DESCRIBE shows it. */
export function renderSfType(t: SfType): string {
  switch (t.base) {
    case 'NUMBER':
      return `NUMBER(${t.precision},${t.scale})`;
    case 'VARCHAR':
      return `VARCHAR(${t.length})`;
    case 'BINARY':
      return `BINARY(${t.length})`;
    case 'TIME':
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMP_LTZ':
      return `${t.base}(${t.scale})`;
    default:
      return t.base;
  }
}

/** The engine (DuckDB) type a Snowflake type is stored as. */
export function engineType(t: SfType): string {
  switch (t.base) {
    case 'NUMBER':
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'FLOAT':
      return 'DOUBLE';
    case 'VARCHAR':
      return 'VARCHAR';
    case 'BINARY':
      return 'BLOB';
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    case 'TIMESTAMP_NTZ':
      return 'TIMESTAMP';
    case 'TIMESTAMP_TZ':
    case 'TIMESTAMP_LTZ':
      return 'TIMESTAMPTZ';
    default:
      return 'JSON';
  }
}

/** The column comment that records a declared type. */
export function typeComment(t: SfType): string {
  return `sf:${renderSfType(t)}`;
}

/**
 * The Snowflake type of a stored column: its declared type when recorded in
 * the comment, else derived from the engine type (tables made by CTAS).
 */
export function sfTypeOfColumn(engine: string, comment: string | null | undefined): SfType {
  const m = /^sf:([A-Z_]+)(?:\((\d+)(?:,(\d+))?\))?$/.exec(comment ?? '');
  if (m) {
    const args = [m[2], m[3]].filter((x): x is string => x !== undefined).map(Number);
    return parseSfType(m[1]!, args);
  }
  return sfTypeOfEngine(engine);
}

/** The Snowflake type closest to an engine type. */
export function sfTypeOfEngine(engine: string): SfType {
  const t = engine.toUpperCase();
  const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (dec) return { base: 'NUMBER', precision: Number(dec[1]), scale: Number(dec[2]) };
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t))
    return { base: 'NUMBER', precision: 38, scale: 0 };
  if (t === 'DOUBLE' || t === 'FLOAT') return { base: 'FLOAT' };
  if (t === 'BOOLEAN') return { base: 'BOOLEAN' };
  if (t === 'DATE') return { base: 'DATE' };
  if (t === 'TIME') return { base: 'TIME', scale: 9 };
  if (t.startsWith('TIMESTAMP WITH TIME ZONE')) return { base: 'TIMESTAMP_TZ', scale: 9 };
  if (t.startsWith('TIMESTAMP')) return { base: 'TIMESTAMP_NTZ', scale: 9 };
  if (t === 'BLOB') return { base: 'BINARY', length: MAX_BINARY };
  if (t === 'JSON') return { base: 'VARIANT' };
  if (t.endsWith('[]')) return { base: 'ARRAY' };
  if (t.startsWith('STRUCT') || t.startsWith('MAP')) return { base: 'OBJECT' };
  return { base: 'VARCHAR', length: MAX_VARCHAR };
}

/**
 * Whether Snowflake can change a column from `from` to `to` in place
 * (`ALTER COLUMN … SET DATA TYPE`): a larger NUMBER precision with the same
 * scale, a longer VARCHAR, or the same type.
 */
export function canAlterType(from: SfType, to: SfType): boolean {
  if (from.base !== to.base) return false;
  if (from.base === 'NUMBER')
    return from.scale === to.scale && (to.precision ?? 38) >= (from.precision ?? 38);
  if (from.base === 'VARCHAR' || from.base === 'BINARY') return (to.length ?? 0) >= (from.length ?? 0);
  return renderSfType(from) === renderSfType(to);
}
