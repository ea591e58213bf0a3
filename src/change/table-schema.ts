import type { DataType } from 'apache-arrow';

/** How Postgres identifies a row's old version in UPDATE and DELETE messages. */
export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

/** One column of a source table, as the destination needs to know it. */
export interface ColumnSchema {
  /** Column name, exactly as in Postgres (case kept). */
  readonly name: string;
  /** Postgres type OID (for domains: the base type's OID). */
  readonly typeOid: number;
  /** Postgres type as `format_type()` prints it, e.g. `numeric(12,2)`, `integer[]`. */
  readonly typeName: string;
  /** Postgres type modifier (`atttypmod`), -1 when none. */
  readonly typeModifier: number;
  /** The Arrow type values of this column are decoded into (DESIGN §4). */
  readonly arrowType: DataType;
  /** False when the column is `NOT NULL` in Postgres. */
  readonly nullable: boolean;
  /** True when the column is part of the replica identity key (usually the primary key). */
  readonly key: boolean;
}

/** A source table's shape at one point of the stream. */
export interface TableSchema {
  /** Relation OID in the source database. */
  readonly id: number;
  /** Postgres schema (namespace). */
  readonly schema: string;
  /** Table name. */
  readonly name: string;
  /** Columns in attribute order (dropped and generated columns excluded). */
  readonly columns: readonly ColumnSchema[];
  /** Names of the key columns, in key order. Empty when the table has no key. */
  readonly primaryKey: readonly string[];
  /** The table's REPLICA IDENTITY setting. */
  readonly replicaIdentity: ReplicaIdentity;
}

/** The qualified name `schema.table` used as the table's key throughout the API. */
export function qualifiedName(table: Pick<TableSchema, 'schema' | 'name'>): string {
  return `${table.schema}.${table.name}`;
}

/** True when both schemas have the same columns (names, types, nullability, keys) in the same order. */
export function sameShape(a: TableSchema, b: TableSchema): boolean {
  if (a.schema !== b.schema || a.name !== b.name || a.columns.length !== b.columns.length) return false;
  return a.columns.every((c, i) => {
    const d = b.columns[i]!;
    return (
      c.name === d.name &&
      c.typeOid === d.typeOid &&
      c.typeModifier === d.typeModifier &&
      c.nullable === d.nullable &&
      c.key === d.key
    );
  });
}
