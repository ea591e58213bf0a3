/**
 * The benchmark's private PostgreSQL: started once per run, with one SQL
 * session for setup, and the slot and WAL-position queries every phase needs.
 * Every SQL text the harness sends for slots and positions lives here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import {
  findPostgresBinaries,
  type PrivateService,
  startPrivatePostgres,
} from '../src/testing/private-services.js';
import { processCpuMs } from './metrics.js';

/** How often WAL flush progress is polled after a load. */
const FLUSH_POLL_MS = 20;
/** Longest wait for the WAL writer to flush a load (synchronous_commit is off on the harness server). */
const FLUSH_TIMEOUT_MS = 30_000;

/** A running harness server and its setup session. */
export class HarnessPostgres {
  private constructor(
    readonly service: PrivateService,
    readonly bindir: string,
    readonly sql: pg.Client,
    readonly serverVersion: string,
  ) {}

  /** Starts the server with the settings every contender shares, and connects. */
  static async start(): Promise<HarnessPostgres> {
    const bindir = findPostgresBinaries();
    if (!bindir) throw new Error('No PostgreSQL binaries found: install PostgreSQL or set PG_BINDIR.');
    // Commit timestamps are where the latency workload's latencies start.
    const service = await startPrivatePostgres({ settings: { track_commit_timestamp: 'on' } });
    const sql = new pg.Client({ connectionString: service.url });
    try {
      await sql.connect();
      const version =
        (await sql.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ??
        'unknown';
      return new HarnessPostgres(service, bindir, sql, version);
    } catch (err) {
      await sql.end().catch(() => {});
      await service.stop();
      throw err;
    }
  }

  get url(): string {
    return this.service.url;
  }

  /** Path of a client program of the server's version (pg_recvlogical, pgbench, psql). */
  program(name: string): string {
    return join(this.bindir, name);
  }

  /** Creates a pgoutput slot; returns its consistent point. */
  async createSlot(slot: string): Promise<string> {
    const { rows } = await this.sql.query<{ lsn: string }>(
      `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
      [slot],
    );
    return rows[0]!.lsn;
  }

  /** Drops a slot if it exists (never fails the run over a missing slot). */
  async dropSlot(slot: string): Promise<void> {
    await this.sql.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [slot],
    );
  }

  /** Drops every slot whose name starts with `prefix` that no walsender holds. */
  async dropSlotsLike(prefix: string): Promise<void> {
    await this.sql.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
        WHERE starts_with(slot_name, $1) AND NOT active`,
      [prefix],
    );
  }

  /** The current WAL insert position. */
  async currentLsn(): Promise<string> {
    const { rows } = await this.sql.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return rows[0]!.lsn;
  }

  /** Bytes of WAL between two positions. */
  async walBytes(start: string, end: string): Promise<number> {
    const { rows } = await this.sql.query<{ n: string }>('SELECT pg_wal_lsn_diff($2, $1)::text AS n', [
      start,
      end,
    ]);
    return Number(rows[0]!.n);
  }

  /**
   * Waits until the WAL up to `lsn` is flushed, so a walsender can send all of
   * it at once: contenders then measure decoding, not the WAL writer's delay.
   */
  async waitFlushed(lsn: string): Promise<void> {
    const deadline = Date.now() + FLUSH_TIMEOUT_MS;
    for (;;) {
      const { rows } = await this.sql.query<{ done: boolean }>(
        'SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS done',
        [lsn],
      );
      if (rows[0]?.done) return;
      if (Date.now() > deadline) throw new Error(`WAL not flushed up to ${lsn} after ${FLUSH_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, FLUSH_POLL_MS));
    }
  }

  /** Heap plus TOAST size of a table, in bytes (what a snapshot reads). */
  async tableBytes(table: string): Promise<number> {
    const { rows } = await this.sql.query<{ n: string }>('SELECT pg_table_size($1::regclass)::text AS n', [
      table,
    ]);
    return Number(rows[0]!.n);
  }

  async rowCount(table: string): Promise<number> {
    // The table name comes from the workload definitions, never from input.
    const { rows } = await this.sql.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    return Number(rows[0]!.n);
  }

  /** Waits until a walsender streams from `slot` (a contender connected and started replication). */
  async waitSlotActive(slot: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await this.sql.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      if (rows[0]?.active) return;
      if (Date.now() > deadline)
        throw new Error(`no walsender streams from slot ${slot} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, FLUSH_POLL_MS));
    }
  }

  /**
   * Commit timestamps (ms since the epoch, µs precision) of rows of `table`
   * by `id`; needs `track_commit_timestamp`, which {@link HarnessPostgres.start} turns on.
   */
  async commitTimesMs(table: string, ids: readonly number[]): Promise<Map<number, number>> {
    // The table name comes from the workload definitions, never from input.
    const { rows } = await this.sql.query<{ id: string; ms: number }>(
      `SELECT id::text AS id, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000 AS ms
         FROM ${table} WHERE id = ANY($1::int8[])`,
      [ids.map(String)],
    );
    return new Map(rows.map((r) => [Number(r.id), r.ms]));
  }

  /** Starts following the walsender that will stream `slot` (see {@link WalsenderWatch}). */
  watchWalsender(slot: string): WalsenderWatch {
    return new WalsenderWatch(this.sql, slot);
  }

  /** Stops the server; safe after a failure. */
  async stop(): Promise<void> {
    await this.sql.end().catch(() => {});
    await this.service.stop();
  }
}

/** How often the walsender's pid (until known) and CPU time are read. */
const WALSENDER_POLL_MS = 20;

/**
 * The CPU time of the walsender streaming one slot: the server side of a
 * contender's run, the other half of the two cores. Polls for the slot's
 * `active_pid` until a walsender holds it, then reads its CPU time from
 * `/proc` until stopped (a walsender is a fresh process per connection, so
 * its total is this run's).
 */
export class WalsenderWatch {
  private pid: number | undefined;
  private cpuMs: number | undefined;
  private asking = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sql: pg.Client,
    private readonly slot: string,
  ) {
    this.timer = setInterval(() => void this.poll(), WALSENDER_POLL_MS);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.pid !== undefined) {
      this.cpuMs = processCpuMs(this.pid) ?? this.cpuMs;
      return;
    }
    if (this.asking) return;
    this.asking = true;
    try {
      const { rows } = await this.sql.query<{ pid: number | null }>(
        'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
        [this.slot],
      );
      const pid = rows[0]?.pid;
      if (pid) this.pid = pid;
    } catch {
      // The run goes on without a walsender figure.
    } finally {
      this.asking = false;
    }
  }

  /** The walsender's CPU time in ms, up to its last reading; undefined when none was seen. */
  stop(): number | undefined {
    clearInterval(this.timer);
    return this.cpuMs;
  }
}

/** `pg_recvlogical --version` style probe of a client program; undefined when it does not run. */
export function programVersion(path: string): string | undefined {
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
