import type pg from 'pg';
import { toEtlError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';
import type { ManagedPipelineState, ManagedPipelineStatus } from './manager-events.js';
import type { managerSql } from './manager-sql.js';

/** A row of the status table as `pg` returns it. */
interface StatusRow {
  name: string;
  owner: string | null;
  state: string;
  confirmed_lsn: string | null;
  lag_bytes: string | null;
  last_error: string | null;
  updated_at: Date;
}

/**
 * The status table of the configuration database: each worker writes the
 * rows of the pipelines it runs (and of definitions it found invalid), so
 * that any worker, and any operator with `psql`, sees every pipeline.
 * Writes are coalesced per pipeline (the latest status wins) and run one at
 * a time; a failed write is reported and retried with the next change.
 */
export class StatusTable {
  private readonly pending = new Map<string, ManagedPipelineStatus | null>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sql: ReturnType<typeof managerSql>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Queues a write of `status` (or, with `null`, the removal of the pipeline's row). */
  write(name: string, status: ManagedPipelineStatus | null): void {
    this.pending.set(name, status);
    this.kick();
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.pending.size > 0) this.kick();
    });
  }

  /** Waits for queued writes. */
  async settle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Every row of the table. */
  async read(): Promise<ManagedPipelineStatus[]> {
    const { rows } = await this.pool.query<StatusRow>(this.sql.readStatus);
    return rows.map((r) => ({
      name: r.name,
      owner: r.owner ?? undefined,
      state: r.state as ManagedPipelineState,
      confirmedLsn: r.confirmed_lsn === null ? undefined : parseLsn(r.confirmed_lsn),
      lagBytes: r.lag_bytes === null ? undefined : BigInt(r.lag_bytes),
      lastError: r.last_error ?? undefined,
      local: false,
      updatedAt: r.updated_at,
    }));
  }

  private next(): [string, ManagedPipelineStatus | null] {
    const [entry] = this.pending;
    this.pending.delete(entry![0]);
    return entry!;
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0) {
      const [name, status] = this.next();
      try {
        if (status === null) await this.pool.query(this.sql.deleteStatus, [name]);
        else {
          await this.pool.query(this.sql.upsertStatus, [
            name,
            status.owner ?? null,
            status.state,
            status.confirmedLsn === undefined ? null : formatLsn(status.confirmedLsn),
            status.lagBytes === undefined ? null : status.lagBytes.toString(),
            status.lastError ?? null,
          ]);
        }
      } catch (err) {
        this.onError(toEtlError(err, 'CONNECTION'));
      }
    }
  }
}
