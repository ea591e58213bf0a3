import type { ColumnSchema, ReplicaIdentity, TableSchema } from '../change/table-schema.js';
import type { CatalogQueryable, PgTableInfo, TypeCatalog } from '../postgres/type-catalog.js';
import { columnCodec } from './column-codec.js';

/** A table's shape as the wire or the catalog gives it, before Arrow types are chosen. */
export interface TableShape {
  readonly id: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly {
    readonly name: string;
    readonly typeOid: number;
    readonly typeModifier: number;
    /** Part of the replica identity (pgoutput's column flag 1; every column under FULL). */
    readonly identity: boolean;
  }[];
}

/**
 * Builds the {@link TableSchema} of a table: Arrow type per column (DESIGN
 * §4), domains resolved to their base type, key flags and nullability.
 *
 * The same table gives the same schema whether the shape comes from a
 * pgoutput Relation message or from the catalog, provided the catalog has the
 * table's info ({@link TypeCatalog.loadTables}): nullability, array
 * dimensions and, under REPLICA IDENTITY FULL, the primary key come from it.
 * Without it, identity columns are the key and NOT NULL, the others nullable,
 * arrays one-dimensional, and a FULL table has no key.
 */
export function buildTableSchema(shape: TableShape, catalog: TypeCatalog): TableSchema {
  const info = catalog.table(shape.id);
  const infoColumns = new Map(info?.columns.map((c) => [c.name, c]));
  const full = shape.replicaIdentity === 'full';
  const keyNames = new Set(
    full ? (info?.primaryKey ?? []) : shape.columns.filter((c) => c.identity).map((c) => c.name),
  );
  const columns: ColumnSchema[] = shape.columns.map((c) => {
    const known = infoColumns.get(c.name);
    const usable = known && known.typeOid === c.typeOid ? known : undefined;
    const resolved = catalog.resolve(c.typeOid, c.typeModifier);
    const key = keyNames.has(c.name);
    const codec = columnCodec(c.typeOid, c.typeModifier, catalog, usable?.dims || 1);
    return {
      name: c.name,
      typeOid: resolved.oid,
      typeName: catalog.formatType(resolved.oid, resolved.typmod),
      typeModifier: resolved.typmod,
      arrowType: codec.arrowType,
      nullable: usable ? !usable.notNull : !(c.identity && !full),
      key,
    };
  });
  const primaryKey = full
    ? (info?.primaryKey ?? []).filter((n) => keyNames.has(n))
    : (info?.identityKey.length ? info.identityKey : columns.filter((c) => c.key).map((c) => c.name)).filter(
        (n) => keyNames.has(n),
      );
  return {
    id: shape.id,
    schema: shape.schema,
    name: shape.name,
    columns,
    primaryKey,
    replicaIdentity: shape.replicaIdentity,
  };
}

/** The shape of a table from its catalog info, flagged as a Relation message would flag it. */
export function tableShapeFromCatalog(info: PgTableInfo): TableShape {
  const identity = new Set(info.identityKey);
  return {
    id: info.id,
    schema: info.schema,
    name: info.name,
    replicaIdentity: info.replicaIdentity,
    columns: info.columns.map((c) => ({
      name: c.name,
      typeOid: c.typeOid,
      typeModifier: c.typeModifier,
      identity: info.replicaIdentity === 'full' || identity.has(c.name),
    })),
  };
}

/**
 * Loads a table's info into `catalog` and builds its schema: the snapshot
 * path's twin of the schema built from a Relation message.
 */
export async function loadTableSchema(
  client: CatalogQueryable,
  catalog: TypeCatalog,
  relationOid: number,
): Promise<TableSchema> {
  const [info] = await catalog.loadTables(client, [relationOid]);
  return buildTableSchema(tableShapeFromCatalog(info!), catalog);
}
