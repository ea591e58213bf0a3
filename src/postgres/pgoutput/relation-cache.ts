import { util } from 'apache-arrow';
import { buildTableSchema } from '../../arrow/table-schema-builder.js';
import { sameShape, type TableSchema } from '../../change/table-schema.js';
import type { TypeCatalog } from '../type-catalog.js';
import type { RelationMessage } from './pgoutput-messages.js';

/** What the decoder keeps per relation OID. */
export interface CachedRelation {
  readonly schema: TableSchema;
  /** True when the table filter excludes it: its changes are skipped without decoding. */
  readonly skip: boolean;
  /** Per column: part of the key (delete rows of a key change carry only these). */
  readonly keyMask: readonly boolean[];
}

/** Outcome of recording a Relation message. */
export interface RelationUpdate {
  readonly relation: CachedRelation;
  /** The shape before, if the relation was seen before. */
  readonly previous: TableSchema | undefined;
  /** True when first seen or its shape (columns, types, keys, names, identity) changed. */
  readonly changed: boolean;
}

/** Builds a table's schema from a pgoutput Relation message (the stream path's schema builder). */
export function tableSchemaFromRelation(message: RelationMessage, catalog: TypeCatalog): TableSchema {
  return buildTableSchema(message, catalog);
}

/**
 * The relations pgoutput has described so far, by OID. Kept across
 * reconnects (the server resends Relation messages on a new session; an
 * identical shape is not a change).
 */
export class RelationCache {
  readonly #relations = new Map<number, CachedRelation>();

  constructor(
    private readonly catalog: TypeCatalog,
    private readonly filter?: (schema: string, name: string) => boolean,
  ) {}

  get(id: number): CachedRelation | undefined {
    return this.#relations.get(id);
  }

  /** Applies the table filter again to every cached relation (it gained tables). */
  refilter(): void {
    for (const [id, r] of this.#relations) {
      const skip = this.filter ? !this.filter(r.schema.schema, r.schema.name) : false;
      if (skip !== r.skip) this.#relations.set(id, { ...r, skip });
    }
  }

  /** Records a Relation message; says whether the table's shape changed. */
  apply(message: RelationMessage): RelationUpdate {
    const previous = this.#relations.get(message.id);
    const schema = tableSchemaFromRelation(message, this.catalog);
    const changed =
      !previous ||
      !sameShape(previous.schema, schema) ||
      previous.schema.replicaIdentity !== schema.replicaIdentity ||
      previous.schema.columns.some((c, i) => !util.compareTypes(c.arrowType, schema.columns[i]!.arrowType));
    if (!changed) return { relation: previous, previous: previous.schema, changed };
    const relation: CachedRelation = {
      schema,
      skip: this.filter ? !this.filter(schema.schema, schema.name) : false,
      keyMask: schema.columns.map((c) => c.key),
    };
    this.#relations.set(message.id, relation);
    return { relation, previous: previous?.schema, changed };
  }
}
