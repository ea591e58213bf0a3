import { sleep } from '../async/abortable-sleep.js';
import { EtlError } from '../errors.js';
import { type Lsn, parseLsn } from '../lsn.js';
import type { ReplicationStream } from './replication-stream.js';
import { createSlotCommand, DROP_SLOT_SQL, SLOT_SQL } from './sql.js';

/** The minimal query interface slot checks need (any `pg.Client` or `pg.Pool`). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A slot as `pg_replication_slots` shows it. */
export interface SlotState {
  readonly name: string;
  readonly plugin: string | null;
  readonly type: string;
  readonly database: string | null;
  readonly active: boolean;
  readonly activePid: number | null;
  /** `reserved`, `extended`, `unreserved` or `lost`. */
  readonly walStatus: string | null;
  readonly confirmedFlushLsn: Lsn | undefined;
}

/** What `CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export')` returns. */
export interface CreatedSlot {
  /** The slot is consistent from here: the snapshot shows every transaction that committed before it. */
  readonly consistentPoint: Lsn;
  /** The exported snapshot, valid while the creating connection runs no other command. */
  readonly snapshotName: string;
}

/** A just-terminated walsender may keep its slot marked active for a moment. */
export const SLOT_ACTIVE_RETRIES = 5;
/** Spacing of those retries: together about two seconds. */
const SLOT_ACTIVE_RETRY_MS = 400;

/** Reads slot `name`, or undefined when it does not exist. */
export async function readSlot(client: Queryable, name: string): Promise<SlotState | undefined> {
  const { rows } = await client.query(SLOT_SQL, [name]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    name,
    plugin: (r.plugin as string | null) ?? null,
    type: String(r.slot_type),
    database: (r.database as string | null) ?? null,
    active: r.active === true,
    activePid: (r.active_pid as number | null) ?? null,
    walStatus: (r.wal_status as string | null) ?? null,
    confirmedFlushLsn: r.confirmed_flush_lsn ? parseLsn(String(r.confirmed_flush_lsn)) : undefined,
  };
}

/**
 * What to do about a lost slot: its changes are gone, so the destination is
 * rebuilt from a new snapshot into emptied tables.
 */
export const LOST_SLOT_STEPS =
  "drop the slot (source.dropSlot()), delete the pipeline's saved state, empty its destination tables, then start again: a new slot and snapshot (docs/postgres-source.md, \"Recovering from a lost slot\"). With onSlotLost: 'resnapshot' the source does all of this by itself.";

/**
 * Fails with `PG_SLOT_INVALID` when the slot cannot serve this pipeline
 * (plugin, database, type, lost WAL; with `allowLost`, a lost slot of ours passes).
 */
export function checkSlotUsable(slot: SlotState, database: string, allowLost = false): void {
  const fix = `Drop it (source.dropSlot(), or SELECT pg_drop_replication_slot('${slot.name}')) to start over with a fresh snapshot, or configure another \`slot\`.`;
  if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') {
    throw new EtlError(
      'PG_SLOT_INVALID',
      `Replication slot "${slot.name}" is a ${slot.type} slot with plugin ${slot.plugin ?? 'none'}, not a logical pgoutput slot`,
      { hint: fix, details: { slot: slot.name, plugin: slot.plugin } },
    );
  }
  if (slot.database !== database) {
    throw new EtlError(
      'PG_SLOT_INVALID',
      `Replication slot "${slot.name}" belongs to database "${slot.database}", not "${database}"`,
      {
        hint: 'Slots are per database: configure another `slot` name for this database.',
        details: { slot: slot.name },
      },
    );
  }
  if (slot.walStatus === 'lost' && !allowLost) {
    throw new EtlError(
      'PG_SLOT_INVALID',
      `Replication slot "${slot.name}" was invalidated: the WAL it needs was removed (wal_status = 'lost')`,
      {
        hint: `To recover: ${LOST_SLOT_STEPS} Raise max_slot_wal_keep_size (or keep the pipeline running) so it does not happen again.`,
        details: { slot: slot.name },
      },
    );
  }
}

/** The `PG_SLOT_ACTIVE` error for a slot some other process streams from. */
export function slotActiveError(slot: string, pid: number | null, cause?: unknown): EtlError {
  return new EtlError(
    'PG_SLOT_ACTIVE',
    `Replication slot "${slot}" is in use by another process (pid ${pid ?? 'unknown'})`,
    {
      cause,
      hint: `Another worker or tool streams from this slot. Stop it, or end it with SELECT pg_terminate_backend(${pid ?? '<pid>'}) if it is stale; two pipelines must not share a slot.`,
      details: { slot, pid },
    },
  );
}

/**
 * Reads the slot and checks it; while it is active, retries a few times
 * (a terminated walsender lingers briefly) and then fails with `PG_SLOT_ACTIVE`.
 * Returns undefined when the slot does not exist. With `allowLost`, a slot of
 * ours whose WAL was removed (`wal_status = 'lost'`) is returned instead of failing
 * (never someone else's: plugin and database are still checked).
 */
export async function checkSlot(
  client: Queryable,
  name: string,
  database: string,
  opts: { signal: AbortSignal; retries?: number; allowLost?: boolean },
): Promise<SlotState | undefined> {
  const retries = opts.retries ?? SLOT_ACTIVE_RETRIES;
  for (let attempt = 0; ; attempt++) {
    const slot = await readSlot(client, name);
    if (!slot) return undefined;
    checkSlotUsable(slot, database, opts.allowLost);
    if (!slot.active) return slot;
    if (attempt >= retries) throw slotActiveError(name, slot.activePid);
    await sleep(SLOT_ACTIVE_RETRY_MS, opts.signal);
  }
}

/**
 * Creates the logical slot on a replication connection, exporting a snapshot
 * consistent with it. The connection must stay open, running nothing else,
 * until another connection has imported the snapshot.
 */
export async function createSlot(
  stream: ReplicationStream,
  name: string,
  serverVersion: number,
): Promise<CreatedSlot> {
  const [row] = await stream.command<{ consistent_point: string; snapshot_name: string }>(
    createSlotCommand(name, serverVersion),
  );
  if (!row) throw new EtlError('PG_PROTOCOL', `CREATE_REPLICATION_SLOT "${name}" returned nothing`);
  return { consistentPoint: parseLsn(row.consistent_point), snapshotName: row.snapshot_name };
}

/** Drops the slot; fails with `PG_SLOT_ACTIVE` while something streams from it. No-op when it is missing. */
export async function dropSlot(client: Queryable, name: string): Promise<boolean> {
  const slot = await readSlot(client, name);
  if (!slot) return false;
  if (slot.active) throw slotActiveError(name, slot.activePid);
  await client.query(DROP_SLOT_SQL, [name]);
  return true;
}
