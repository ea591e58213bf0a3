import type pg from 'pg';
import { binaryModeSupported } from '../arrow/column-codec.js';
import { EtlError } from '../errors.js';
import type { SourceContext } from '../pipeline/source.js';
import { defaultSlotName, type ResolvedPostgresOptions } from './postgres-options.js';
import {
  type CheckedTable,
  checkServer,
  checkTables,
  reportWalRetention,
  type ServerFacts,
} from './preflight.js';
import { ensurePublication, publicationTables } from './publication.js';
import { checkSlot, type SlotState } from './slot.js';
import { PUBLICATION_TABLE_OIDS_SQL } from './sql.js';
import { TypeCatalog } from './type-catalog.js';

/** Everything the source decided at start-up: names, tables, slot state, catalog, protocol. */
export interface ReplicationPlan {
  readonly facts: ServerFacts;
  readonly slot: string;
  readonly publication: string;
  readonly tables: readonly CheckedTable[];
  /** The slot as it was at start-up; undefined: it does not exist yet (or was lost, see `lostSlot`). */
  readonly existingSlot: SlotState | undefined;
  /** Under `onSlotLost: 'resnapshot'`: the slot as found at start-up when its WAL was removed (`wal_status = 'lost'`). */
  readonly lostSlot: SlotState | undefined;
  /** Types of the database and the published tables' info. */
  readonly catalog: TypeCatalog;
  readonly protocolVersion: 1 | 2 | 3 | 4;
  /** pgoutput binary mode. */
  readonly binary: boolean;
}

/** pgoutput protocol per server release: streaming came in 14 (v2), two-phase in 15 (v3), parallel apply in 16 (v4). */
export function protocolFor(serverVersion: number): 1 | 2 | 3 | 4 {
  if (serverVersion >= 160000) return 4;
  if (serverVersion >= 150000) return 3;
  if (serverVersion >= 140000) return 2;
  return 1;
}

/**
 * The start-up checks and decisions, in order: server (wal_level,
 * REPLICATION), tables (exist, SELECT, replica identity; toastable columns
 * warned), publication (created or validated), slot (usable, not active
 * elsewhere), WAL retention reported, catalog loaded, newest protocol and
 * binary mode chosen. Each failure is an {@link EtlError} with a hint.
 */
export async function planReplication(
  client: pg.Client,
  o: ResolvedPostgresOptions,
  ctx: SourceContext,
): Promise<ReplicationPlan> {
  const facts = await checkServer(client);
  const slot = o.slot ?? defaultSlotName(ctx.pipeline);
  const publication = o.publication ?? defaultSlotName(ctx.pipeline);
  const configured = o.tables ?? (await publicationTables(client, publication));
  if (!configured || configured.length === 0) {
    const why = configured ? 'is empty' : 'does not exist';
    throw new EtlError(
      'PG_UNKNOWN_TABLE',
      `No tables to stream: \`tables\` is not set and publication "${publication}" ${why}`,
      {
        hint: 'Pass `tables: ["schema.table", ...]`.',
      },
    );
  }
  const tables = await checkTables(client, configured, { appendOnly: o.appendOnly, emit: ctx.emit });
  await ensurePublication(client, {
    publication,
    tables: configured,
    create: o.createPublication,
    addTables: o.addTablesToPublication,
  });
  const found = await checkSlot(client, slot, facts.database, {
    signal: ctx.signal,
    allowLost: o.onSlotLost === 'resnapshot',
  });
  const lostSlot = found?.walStatus === 'lost' ? found : undefined;
  const existingSlot = lostSlot ? undefined : found;
  reportWalRetention(facts, slot, ctx.emit);
  const catalog = await TypeCatalog.load(client);
  const { rows } = await client.query(PUBLICATION_TABLE_OIDS_SQL, [publication]);
  const published = await catalog.loadTables(
    client,
    rows.map((r) => Number(r.oid)),
  );
  const newest = protocolFor(facts.version);
  const protocolVersion = o.protocolVersion === 'auto' ? newest : o.protocolVersion;
  if (protocolVersion > newest) {
    throw new EtlError(
      'CONFIG_INVALID',
      `pgoutput protocol ${protocolVersion} needs a newer server than ${facts.version}`,
      {
        hint: `Set protocolVersion to 'auto' or at most ${newest}.`,
        details: { field: 'protocolVersion' },
      },
    );
  }
  const textOnly = published.filter((t) => !binaryModeSupported(t.columns, catalog));
  if (o.binary === true && textOnly.length > 0) {
    const columns = textOnly.flatMap((t) =>
      t.columns
        .filter((c) => !binaryModeSupported([c], catalog))
        .map((c) => `${t.schema}.${t.name}.${c.name} (${catalog.formatType(c.typeOid, c.typeModifier)})`),
    );
    throw new EtlError(
      'CONFIG_INVALID',
      `binary: true, but these columns have no binary decoder: ${columns.join(', ')}`,
      {
        hint: "Set binary: 'auto' (binary where every type allows it, text otherwise) or binary: false.",
        details: { field: 'binary', columns },
      },
    );
  }
  const binary = o.binary !== false && protocolVersion >= 2 && textOnly.length === 0;
  return { facts, slot, publication, tables, existingSlot, lostSlot, catalog, protocolVersion, binary };
}
