import { EtlError } from '../errors.js';
import type { PipelineEvents } from '../pipeline/pipeline-events.js';
import type { Queryable } from './slot.js';
import { type QualifiedTable, quoteTable, SERVER_FACTS_SQL, TABLES_SQL } from './sql.js';

/** What the server told the preflight. */
export interface ServerFacts {
  /** `server_version_num`, e.g. 150004. */
  readonly version: number;
  readonly database: string;
  readonly role: string;
  /** `max_slot_wal_keep_size` as shown (`-1` means no limit). */
  readonly maxSlotWalKeepSize: string;
}

/** A configured table, resolved. */
export interface CheckedTable extends QualifiedTable {
  readonly oid: number;
  /** Partitioned table (`relkind = 'p'`). */
  readonly partitioned: boolean;
  /** Has a usable key: a primary key, or a replica identity index. */
  readonly hasKey: boolean;
}

/** Lowest PostgreSQL release with logical replication of the kind we use (pgoutput). */
const MIN_SERVER_VERSION = 100000;

/** The `PG_NOT_LOGICAL` error for a server whose `wal_level` is `level`. */
export function walLevelError(level: string): EtlError {
  return new EtlError(
    'PG_NOT_LOGICAL',
    `The server has wal_level = ${level}; logical replication needs wal_level = logical`,
    {
      hint: 'Run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (a reload is not enough). On managed services set the equivalent parameter (e.g. rds.logical_replication = 1 on RDS, cloudsql.logical_decoding = on on Cloud SQL).',
      details: { wal_level: level },
    },
  );
}

/**
 * Server-level checks: version, `wal_level = logical`, and the REPLICATION
 * attribute (or superuser) of the role. Each failure is a clear error with a
 * hint that says what to run.
 */
export async function checkServer(client: Queryable): Promise<ServerFacts> {
  const { rows } = await client.query(SERVER_FACTS_SQL);
  const r = rows[0];
  if (!r) throw new EtlError('PG_PRIVILEGE', 'Could not read the current role from pg_roles');
  const version = Number(r.version);
  if (version < MIN_SERVER_VERSION) {
    throw new EtlError(
      'PG_NOT_LOGICAL',
      `PostgreSQL ${version} is too old: pgoutput needs PostgreSQL 10 or later`,
      {
        hint: 'Upgrade the server to a supported release (14 or later recommended).',
      },
    );
  }
  if (r.wal_level !== 'logical') throw walLevelError(String(r.wal_level));
  const role = String(r.role);
  if (r.can_replicate !== true) {
    throw new EtlError(
      'PG_PRIVILEGE',
      `Role "${role}" may not start replication (it lacks the REPLICATION attribute)`,
      {
        hint: `Run ALTER ROLE "${role}" WITH REPLICATION; (as a superuser), or connect as a role that has it.`,
        details: { role },
      },
    );
  }
  return {
    version,
    database: String(r.database),
    role,
    maxSlotWalKeepSize: String(r.max_slot_wal_keep_size),
  };
}

/**
 * Table checks: every configured table exists (`PG_UNKNOWN_TABLE` names the
 * missing ones), the role may SELECT it (`PG_PRIVILEGE`), and it has a usable
 * replica identity (`PG_NO_REPLICA_IDENTITY`, unless `appendOnly`). Tables
 * under REPLICA IDENTITY DEFAULT with toastable non-key columns raise a
 * warning alert: updates that leave such a value unchanged do not resend it
 * (destinations keep the current value) and deletes carry only the key.
 */
export async function checkTables(
  client: Queryable,
  tables: readonly QualifiedTable[],
  opts: {
    appendOnly: boolean;
    emit?: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;
  },
): Promise<CheckedTable[]> {
  const { rows } = await client.query(TABLES_SQL, [tables.map((t) => t.schema), tables.map((t) => t.name)]);
  const missing = rows
    .filter((r) => r.oid === null)
    .map((r) => quoteTable({ schema: String(r.schema), name: String(r.name) }));
  if (missing.length > 0) {
    throw new EtlError(
      'PG_UNKNOWN_TABLE',
      `Unknown table${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      {
        hint: 'Check the `tables` option: names are "schema.table", case-sensitive (quote parts with capitals), and must be plain or partitioned tables.',
        details: { tables: missing },
      },
    );
  }
  const denied = rows
    .filter((r) => r.can_select !== true)
    .map((r) => quoteTable({ schema: String(r.schema), name: String(r.name) }));
  if (denied.length > 0) {
    throw new EtlError('PG_PRIVILEGE', `No SELECT privilege on ${denied.join(', ')}`, {
      hint: `Run GRANT SELECT ON ${denied.join(', ')} TO <role>; (the snapshot reads them).`,
      details: { tables: denied },
    });
  }
  const checked: CheckedTable[] = [];
  for (const r of rows) {
    const table = { schema: String(r.schema), name: String(r.name) };
    const ident = String(r.replident);
    const hasKey =
      (ident === 'd' && r.has_pk === true) ||
      (ident === 'i' && r.has_identity_index === true) ||
      (ident === 'f' && r.has_pk === true);
    const usable = ident === 'f' || hasKey;
    if (!usable && !opts.appendOnly) {
      const name = quoteTable(table);
      throw new EtlError(
        'PG_NO_REPLICA_IDENTITY',
        `Table ${name} has no primary key and no replica identity, so its UPDATEs and DELETEs cannot be replicated`,
        {
          hint: `Add a primary key, or run ALTER TABLE ${name} REPLICA IDENTITY FULL; — or set appendOnly: true if the table only ever gets INSERTs.`,
          details: { table: `${table.schema}.${table.name}`, replicaIdentity: ident },
        },
      );
    }
    const toastable = r.toastable as string[];
    if (ident === 'd' && toastable.length > 0) {
      opts.emit?.('alert', {
        key: `toast:${table.schema}.${table.name}`,
        severity: 'warning',
        resolved: false,
        message: `Table ${quoteTable(table)} has REPLICA IDENTITY DEFAULT and toastable columns (${toastable.join(', ')}): an UPDATE that leaves a large value unchanged does not resend it (the destination keeps its current value), and DELETEs carry only the key. Use REPLICA IDENTITY FULL if you need whole old rows.`,
        details: { table: `${table.schema}.${table.name}`, columns: toastable },
      });
    }
    checked.push({ ...table, oid: Number(r.oid), partitioned: r.kind === 'p', hasKey });
  }
  return checked;
}

/** Reports how much WAL the server lets a slot retain, as an `info` alert. */
export function reportWalRetention(
  facts: ServerFacts,
  slot: string,
  emit: (<K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void) | undefined,
): void {
  const unlimited = facts.maxSlotWalKeepSize === '-1';
  emit?.('alert', {
    key: `wal-retention:${slot}`,
    severity: 'info',
    resolved: false,
    message: unlimited
      ? `max_slot_wal_keep_size = -1: slot "${slot}" may retain WAL without limit while the pipeline is stopped or slow; watch disk space (the WAL monitor reports slot lag).`
      : `max_slot_wal_keep_size = ${facts.maxSlotWalKeepSize}: if slot "${slot}" falls further behind, PostgreSQL invalidates it and a new snapshot is needed.`,
    details: { maxSlotWalKeepSize: facts.maxSlotWalKeepSize },
  });
}
