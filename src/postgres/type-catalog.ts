import { TypeOid } from '../arrow/type-oids.js';
import { EtlError } from '../errors.js';

/** What a row of `pg_type` tells the decoder about one type. */
export interface PgType {
  readonly oid: number;
  /** `typname`, e.g. `int4`, `_int4`, `mood`. */
  readonly name: string;
  /** Schema of the type, e.g. `pg_catalog`. */
  readonly namespace: string;
  /** `typtype`: b(ase), c(omposite), d(omain), e(num), p(seudo), r(ange), m(ultirange). */
  readonly kind: 'b' | 'c' | 'd' | 'e' | 'p' | 'r' | 'm';
  /** For a domain: the type it is based on (`typbasetype`), else 0. */
  readonly baseOid: number;
  /** For a domain: its type modifier (`typtypmod`, e.g. `numeric(10,2)`), else -1. */
  readonly baseTypmod: number;
  /** For a true array type: the element type (`typelem`), else 0. */
  readonly elementOid: number;
  /** Array element delimiter (`typdelim`): `,` for everything but `box`. */
  readonly delimiter: string;
  /** True when the type has a binary send function, so pgoutput/COPY send it in binary form. */
  readonly hasSend: boolean;
  /** `format_type(oid, NULL)`, e.g. `integer`, `character varying`, `integer[]`. */
  readonly displayName: string;
}

/** One column of a table as `pg_attribute` describes it. */
export interface PgColumnInfo {
  readonly name: string;
  /** `atttypid` (a domain's own OID; resolved later). */
  readonly typeOid: number;
  readonly typeModifier: number;
  readonly notNull: boolean;
  /** Declared array dimensions (`attndims`), 0 for non-arrays. */
  readonly dims: number;
}

/** What the catalog knows about one table, beyond what a pgoutput Relation message carries. */
export interface PgTableInfo {
  readonly id: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** Columns in attribute order (dropped and generated columns excluded). */
  readonly columns: readonly PgColumnInfo[];
  /** Primary key column names in key order (empty without a primary key). */
  readonly primaryKey: readonly string[];
  /** Replica identity index columns (the primary key for DEFAULT, the chosen index for INDEX). */
  readonly identityKey: readonly string[];
}

/** The minimal `pg` client shape the catalog needs (structural, so any `pg.Client` or `pg.Pool` fits). */
export interface CatalogQueryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * Loads every type except the row types of plain tables (a database with many
 * tables has two `pg_type` rows per table that the decoder never needs).
 */
const TYPES_SQL = `
SELECT t.oid::int4 AS oid, t.typname AS name, n.nspname AS namespace, t.typtype AS kind,
       t.typbasetype::int4 AS base_oid, t.typtypmod AS base_typmod,
       CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 AND t.typlen = -1 THEN t.typelem::int4 ELSE 0 END AS element_oid,
       t.typdelim AS delimiter, t.typsend <> 0 AS has_send, format_type(t.oid, NULL) AS display_name
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typrelid = 0 OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')
   OR (t.typcategory = 'A' AND EXISTS (
        SELECT 1 FROM pg_type e JOIN pg_class c ON c.oid = e.typrelid WHERE e.oid = t.typelem AND c.relkind = 'c'))`;

/** Columns, primary key and replica identity of tables, by OID. */
const TABLES_SQL = `
SELECT c.oid::int4 AS id, n.nspname AS schema, c.relname AS name, c.relreplident AS replident,
  (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'typeOid', a.atttypid::int4,
          'typeModifier', a.atttypmod, 'notNull', a.attnotnull, 'dims', a.attndims) ORDER BY a.attnum), '[]')
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
  (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]') FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key,
  (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]') FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND (CASE c.relreplident WHEN 'i' THEN i.indisreplident WHEN 'd' THEN i.indisprimary ELSE false END)) AS identity_key
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY($1::oid[])`;

const REPLICA_IDENTITY = { d: 'default', n: 'nothing', f: 'full', i: 'index' } as const;

/** Built-in scalar types of DESIGN §4 (and their arrays), so the decoder works before the catalog is loaded. */
const BUILTIN_TYPES: readonly [oid: number, name: string, display: string, arrayOid: number][] = [
  [TypeOid.bool, 'bool', 'boolean', 1000],
  [TypeOid.bytea, 'bytea', 'bytea', 1001],
  [TypeOid.char, 'char', '"char"', 1002],
  [TypeOid.name, 'name', 'name', 1003],
  [TypeOid.int8, 'int8', 'bigint', 1016],
  [TypeOid.int2, 'int2', 'smallint', 1005],
  [TypeOid.int4, 'int4', 'integer', 1007],
  [TypeOid.text, 'text', 'text', 1009],
  [TypeOid.oid, 'oid', 'oid', 1028],
  [TypeOid.json, 'json', 'json', 199],
  [TypeOid.float4, 'float4', 'real', 1021],
  [TypeOid.float8, 'float8', 'double precision', 1022],
  [TypeOid.bpchar, 'bpchar', 'character', 1014],
  [TypeOid.varchar, 'varchar', 'character varying', 1015],
  [TypeOid.date, 'date', 'date', 1182],
  [TypeOid.time, 'time', 'time without time zone', 1183],
  [TypeOid.timestamp, 'timestamp', 'timestamp without time zone', 1115],
  [TypeOid.timestamptz, 'timestamptz', 'timestamp with time zone', 1185],
  [TypeOid.interval, 'interval', 'interval', 1187],
  [TypeOid.numeric, 'numeric', 'numeric', 1231],
  [TypeOid.uuid, 'uuid', 'uuid', 2951],
  [TypeOid.jsonb, 'jsonb', 'jsonb', 3807],
];

function builtinTypes(): PgType[] {
  const out: PgType[] = [];
  for (const [oid, name, displayName, arrayOid] of BUILTIN_TYPES) {
    const common = { namespace: 'pg_catalog', baseOid: 0, baseTypmod: -1, delimiter: ',', hasSend: true };
    out.push({ ...common, oid, name, kind: 'b', elementOid: 0, displayName });
    out.push({
      ...common,
      oid: arrayOid,
      name: `_${name}`,
      kind: 'b',
      elementOid: oid,
      displayName: `${displayName}[]`,
    });
  }
  return out;
}

/**
 * The types (and, once loaded, the tables) of the source database, as the
 * decoder needs them to pick an Arrow type and a value decoder per column.
 * Created empty-but-usable (built-in types only) or loaded with
 * {@link TypeCatalog.load}; reload it when a pgoutput Type message or an
 * unknown OID says a type was created after loading.
 *
 * @example
 * ```ts
 * const catalog = await TypeCatalog.load(client);
 * await catalog.loadTables(client, [relationOid]);
 * catalog.formatType(1700, 786438); // 'numeric(12,2)'
 * ```
 */
export class TypeCatalog {
  readonly #types = new Map<number, PgType>();
  readonly #tables = new Map<number, PgTableInfo>();

  constructor(types: Iterable<PgType> = builtinTypes()) {
    for (const t of types) this.#types.set(t.oid, t);
  }

  /** Reads `pg_type` through `client` (one query) and returns a catalog of every type. */
  static async load(client: CatalogQueryable): Promise<TypeCatalog> {
    const { rows } = await client.query(TYPES_SQL);
    return new TypeCatalog(
      rows.map((r) => ({
        oid: Number(r.oid),
        name: String(r.name),
        namespace: String(r.namespace),
        kind: String(r.kind) as PgType['kind'],
        baseOid: Number(r.base_oid),
        baseTypmod: Number(r.base_typmod),
        elementOid: Number(r.element_oid),
        delimiter: String(r.delimiter),
        hasSend: r.has_send === true,
        displayName: String(r.display_name),
      })),
    );
  }

  /**
   * Reads columns (nullability, array dimensions), primary key and replica
   * identity of the given tables, so schemas built from Relation messages and
   * from the catalog agree. Returns the loaded infos in the order asked.
   */
  async loadTables(client: CatalogQueryable, relationOids: readonly number[]): Promise<PgTableInfo[]> {
    if (relationOids.length === 0) return [];
    const { rows } = await client.query(TABLES_SQL, [relationOids]);
    for (const r of rows) {
      const info: PgTableInfo = {
        id: Number(r.id),
        schema: String(r.schema),
        name: String(r.name),
        replicaIdentity: REPLICA_IDENTITY[String(r.replident) as keyof typeof REPLICA_IDENTITY] ?? 'default',
        columns: r.columns as PgColumnInfo[],
        primaryKey: r.primary_key as string[],
        identityKey: r.identity_key as string[],
      };
      this.#tables.set(info.id, info);
    }
    return relationOids.map((oid) => {
      const info = this.#tables.get(oid);
      if (!info) throw new EtlError('PG_UNKNOWN_TABLE', `No table with OID ${oid} in the source database`);
      return info;
    });
  }

  /** Adds or replaces a table's info (tests, or a source that read it another way). */
  setTable(info: PgTableInfo): void {
    this.#tables.set(info.id, info);
  }

  /** The loaded info of a table, if {@link TypeCatalog.loadTables} read it. */
  table(relationOid: number): PgTableInfo | undefined {
    return this.#tables.get(relationOid);
  }

  /** The type with this OID, if known. */
  type(oid: number): PgType | undefined {
    return this.#types.get(oid);
  }

  /** True when the catalog knows this OID. */
  has(oid: number): boolean {
    return this.#types.has(oid);
  }

  /** Follows domains down to their base type; the domain's typmod applies when the column has none. */
  resolve(oid: number, typmod: number): { oid: number; typmod: number } {
    for (let depth = 0; depth < MAX_DOMAIN_DEPTH; depth++) {
      const t = this.#types.get(oid);
      if (t?.kind !== 'd') return { oid, typmod };
      if (typmod === -1) typmod = t.baseTypmod;
      oid = t.baseOid;
    }
    return { oid, typmod };
  }

  /** The type's text as `format_type(oid, typmod)` prints it for the common modifiers. */
  formatType(oid: number, typmod: number): string {
    const t = this.#types.get(oid);
    if (!t) return `oid ${oid}`;
    if (t.elementOid !== 0) return `${this.formatType(t.elementOid, typmod)}[]`;
    if (typmod < 0) return t.displayName;
    switch (oid) {
      case TypeOid.numeric: {
        const { precision, scale } = numericTypmod(typmod);
        return `numeric(${precision},${scale})`;
      }
      case TypeOid.varchar:
        return `character varying(${typmod - 4})`;
      case TypeOid.bpchar:
        return `character(${typmod - 4})`;
      case TypeOid.bit:
        return `bit(${typmod})`;
      case TypeOid.varbit:
        return `bit varying(${typmod})`;
      case TypeOid.timestamp:
        return `timestamp(${typmod}) without time zone`;
      case TypeOid.timestamptz:
        return `timestamp(${typmod}) with time zone`;
      case TypeOid.time:
        return `time(${typmod}) without time zone`;
      case TypeOid.timetz:
        return `time(${typmod}) with time zone`;
      default:
        return t.displayName;
    }
  }
}

/** Domains over domains are rare; this bounds a (corrupt) cycle. */
const MAX_DOMAIN_DEPTH = 32;

/** Precision and scale of a `numeric(p,s)` type modifier (scale may be negative since PostgreSQL 15). */
export function numericTypmod(typmod: number): { precision: number; scale: number } {
  const v = typmod - 4;
  return { precision: (v >> 16) & 0xffff, scale: ((v & 0x7ff) ^ 1024) - 1024 };
}
