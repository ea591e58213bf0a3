import { EtlError } from '../errors.js';
import type { Queryable } from './slot.js';
import {
  addPublicationTablesSql,
  createPublicationSql,
  PUBLICATION_MARKER,
  PUBLICATION_SQL,
  PUBLICATION_TABLES_SQL,
  type QualifiedTable,
  quoteTable,
} from './sql.js';

/** What {@link ensurePublication} needs to know. */
export interface PublicationPlan {
  readonly publication: string;
  /** Tables the pipeline streams; undefined: whatever the existing publication holds. */
  readonly tables: readonly QualifiedTable[] | undefined;
  /** Create the publication when missing. */
  readonly create: boolean;
  /** Add missing tables to an existing publication; undefined: only to one etl-stream created. */
  readonly addTables: boolean | undefined;
}

/** What the publication turned out to be. */
export interface PublicationState {
  /** The tables to stream (the configured ones, or the publication's). */
  readonly tables: readonly QualifiedTable[];
  /** True when this call created the publication. */
  readonly created: boolean;
  /** Tables added to an existing publication by this call. */
  readonly added: readonly QualifiedTable[];
}

const key = (t: QualifiedTable) => `${t.schema}\u0000${t.name}`;

/** The tables publication `name` publishes, or undefined when it does not exist. */
export async function publicationTables(
  client: Queryable,
  name: string,
): Promise<QualifiedTable[] | undefined> {
  const { rows } = await client.query(PUBLICATION_SQL, [name]);
  if (!rows[0]) return undefined;
  const tables = await client.query(PUBLICATION_TABLES_SQL, [name]);
  return tables.rows.map((r) => ({ schema: String(r.schema), name: String(r.name) }));
}

/**
 * Makes sure publication `plan.publication` publishes the configured tables:
 * creates it when missing (`FOR TABLE ...`, `publish_via_partition_root`,
 * marked with a comment as ours), or checks an existing one. Tables missing
 * from an existing publication are added only when etl-stream created it or
 * `addTables` allows it; otherwise `PG_PUBLICATION_MISMATCH` names them and
 * the statement that fixes it. A publication that does not publish INSERT,
 * UPDATE and DELETE is a mismatch too.
 */
export async function ensurePublication(client: Queryable, plan: PublicationPlan): Promise<PublicationState> {
  const name = plan.publication;
  const { rows } = await client.query(PUBLICATION_SQL, [name]);
  const existing = rows[0];
  if (!existing) {
    if (!plan.tables) {
      throw new EtlError(
        'PG_PUBLICATION_MISMATCH',
        `Publication "${name}" does not exist and no \`tables\` were given`,
        {
          hint: 'Pass `tables: ["schema.table", ...]` so the publication can be created, or create it yourself.',
        },
      );
    }
    if (!plan.create) {
      throw new EtlError('PG_PUBLICATION_MISMATCH', `Publication "${name}" does not exist`, {
        hint: `Create it: ${createPublicationSql(name, plan.tables)[0]}; or set createPublication: true.`,
      });
    }
    for (const sql of createPublicationSql(name, plan.tables)) await client.query(sql);
    return { tables: plan.tables, created: true, added: [] };
  }
  if (existing.publishes_dml !== true) {
    throw new EtlError(
      'PG_PUBLICATION_MISMATCH',
      `Publication "${name}" does not publish every INSERT, UPDATE and DELETE`,
      {
        hint: `Run ALTER PUBLICATION "${name}" SET (publish = 'insert, update, delete, truncate').`,
      },
    );
  }
  const published = (await client.query(PUBLICATION_TABLES_SQL, [name])).rows.map((r) => ({
    schema: String(r.schema),
    name: String(r.name),
  }));
  if (!plan.tables) return { tables: published, created: false, added: [] };
  if (existing.all_tables === true) return { tables: plan.tables, created: false, added: [] };
  const have = new Set(published.map(key));
  const missing = plan.tables.filter((t) => !have.has(key(t)));
  if (missing.length === 0) return { tables: plan.tables, created: false, added: [] };
  const ours = existing.comment === PUBLICATION_MARKER;
  if (plan.addTables ?? ours) {
    await client.query(addPublicationTablesSql(name, missing));
    return { tables: plan.tables, created: false, added: missing };
  }
  throw new EtlError(
    'PG_PUBLICATION_MISMATCH',
    `Publication "${name}" does not publish ${missing.map(quoteTable).join(', ')}`,
    {
      hint: `Run ${addPublicationTablesSql(name, missing)}, or set addTablesToPublication: true to let etl-stream do it.`,
      details: { publication: name, missing: missing.map((t) => `${t.schema}.${t.name}`) },
    },
  );
}
