import pg from 'pg';
import { loadTableSchema } from '../arrow/table-schema-builder.js';
import { sleep, untilAborted } from '../async/abortable-sleep.js';
import { ChangeBatch } from '../change/change-batch.js';
import type { Checkpoint, TableSnapshotProgress } from '../change/checkpoint.js';
import type { TableSchema } from '../change/table-schema.js';
import { EtlError, toEtlError } from '../errors.js';
import { type Lsn, maxLsn, parseLsn } from '../lsn.js';
import type { ReplicationSlotRef, Source, SourceContext } from '../pipeline/source.js';
import { backfillQueue, checkAddedTables } from './added-tables.js';
import { Backfill } from './backfill.js';
import { ChangeStream, type StreamStats } from './change-stream.js';
import { ChangeAccumulator } from './pgoutput/change-accumulator.js';
import {
  defaultSlotName,
  type PostgresSourceOptions,
  type ResolvedPostgresOptions,
  resolvePostgresOptions,
} from './postgres-options.js';
import type { CheckedTable } from './preflight.js';
import { planReplication, type ReplicationPlan } from './replication-plan.js';
import { ReplicationStream } from './replication-stream.js';
import { createSlot, dropSlot, LOST_SLOT_STEPS } from './slot.js';
import { TableSnapshot } from './snapshot.js';
import { BACKFILL_PREFIX, HEARTBEAT_PREFIX, HEARTBEAT_SQL } from './sql.js';
import { StandbyPositions } from './standby-status.js';

/**
 * The default {@link Source}: PostgreSQL logical replication with `pgoutput`.
 *
 * - `prepare` checks the server (wal_level, REPLICATION), the tables
 *   (existence, SELECT, replica identity; toastable columns warned), creates
 *   or validates the publication, and checks an existing slot (plugin,
 *   database, not lost, not active elsewhere). Every failure is an
 *   {@link EtlError} with a hint.
 * - `open` creates the slot when missing, copies the tables in the slot's
 *   exported snapshot (chunked, resumable from `ctx.resumeFrom`), then
 *   streams changes from the consistent point: batches of whole
 *   transactions, pulled, with backpressure and reconnection.
 * - `confirm` is the only way the slot advances (plus the idle rule).
 * - `close` releases every connection; the slot stays. {@link PostgresSource.dropSlot} removes it.
 *
 * @example
 * ```ts
 * const source = postgres({ connectionString, publication: 'etl_orders', tables: ['public.orders'] });
 * new Pipeline({ name: 'orders' }).from(source).to(memory());
 * ```
 */
export class PostgresSource implements Source {
  readonly name = 'postgres';
  readonly #o: ResolvedPostgresOptions;
  readonly #abort = new AbortController();
  #client: pg.Client | undefined;
  #prepared: ReplicationPlan | undefined;
  #positions: StandbyPositions | undefined;
  #stream: ChangeStream | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #opened = false;
  #closed = false;
  #snapshotChunks = 0;
  readonly #nulled = new Map<string, number>();
  /** The tables streamed (configured, plus those added while running). */
  #tables: CheckedTable[] = [];
  /** Their names as the stream's table filter sees them. */
  readonly #filter = new Set<string>();
  #tableNames: readonly string[] = [];
  #backfill: Backfill | undefined;
  #accumulator: ChangeAccumulator | undefined;
  #emit: SourceContext['emit'] = () => {};
  /** Why the source failed outside the stream (the backfill). */
  #failure: EtlError | undefined;
  /** Under `onSlotLost: 'resnapshot'`: why this start rebuilds the destination (found by prepare). */
  #rebuild: string | undefined;
  /** Waits for the confirmation of a rebuild's reset batch. */
  #confirmWaiter: { readonly commitLsn: Lsn; readonly resolve: () => void } | undefined;

  constructor(options: PostgresSourceOptions) {
    this.#o = resolvePostgresOptions(options);
  }

  /** The slot name, once known (after prepare, or when configured). */
  get slot(): string | undefined {
    return this.#prepared?.slot ?? this.#o.slot;
  }

  /** The slot, server, publication and tables this source reads, once known (for monitors). */
  get replicationSlot(): ReplicationSlotRef | undefined {
    const name = this.slot;
    if (name === undefined) return undefined;
    const plan = this.#prepared;
    return {
      connectionString: this.#o.connectionString,
      name,
      onLost: this.#o.onSlotLost,
      ...(plan ? { publication: plan.publication, tables: this.#tableNames } : {}),
    };
  }

  /**
   * Under `onSlotLost: 'resnapshot'`, after {@link PostgresSource.prepare}:
   * why this start rebuilds the destination from a new slot (the slot was
   * lost, or an earlier rebuild was interrupted); undefined otherwise. The
   * pipeline reports it instead of failing on the missing position.
   */
  rebuilding(): string | undefined {
    return this.#rebuild;
  }

  /** Runs every start-up check; creates the publication when allowed. Called once, before {@link PostgresSource.open}. */
  async prepare(ctx: SourceContext): Promise<void> {
    if (this.#prepared) return;
    if (this.#closed) throw new EtlError('LIFECYCLE', 'The Postgres source was used after close()');
    const plan = await planReplication(await this.#normalClient(), this.#o, ctx);
    const copy = this.#o.snapshot === 'initial';
    if (
      this.#o.onSlotLost !== 'resnapshot' &&
      ctx.resumeFrom?.snapshot?.consistentPoint === REBUILD_PENDING
    ) {
      throw new EtlError(
        'PG_SLOT_INVALID',
        `The saved state of pipeline "${ctx.pipeline}" holds an unfinished rebuild after its slot was lost, but onSlotLost is 'fail'`,
        {
          hint: `Set onSlotLost: 'resnapshot' to finish the rebuild, or recover by hand: ${LOST_SLOT_STEPS}`,
        },
      );
    }
    this.#rebuild = this.#o.onSlotLost === 'resnapshot' ? rebuildReason(plan, ctx.resumeFrom) : undefined;
    // Tables new since the saved state stream from the start; their copy is reconciled behind a barrier.
    // A rebuild copies every table anyway.
    const queue = this.#rebuild ? [] : backfillQueue(plan.tables, ctx.resumeFrom, copy, ctx.emit);
    this.#emit = ctx.emit;
    this.#prepared = plan;
    this.#tables = [...plan.tables];
    for (const t of this.#tables) this.#filter.add(filterKey(t));
    this.#tableNames = plan.tables.map((t) => `${t.schema}.${t.name}`);
    this.#backfill = new Backfill({
      connect: () => this.#connect(),
      catalog: plan.catalog,
      chunkRows: this.#o.snapshotChunkRows,
      binary: this.#o.binary !== false,
      unrepresentable: this.#o.unrepresentable,
      onUnrepresentable: (info) => this.#reportNull(ctx, info),
      emit: ctx.emit,
      include: (table) => this.#include(table),
      reconnect: this.#o.reconnect,
    });
    this.#backfill.enqueue(queue, copy, this.#rebuild ? undefined : ctx.resumeFrom?.backfill);
  }

  /**
   * Adds tables to the running pipeline: checks them (existence, SELECT,
   * key), adds them to the publication (when etl-stream manages it or
   * `addTablesToPublication` allows it), then copies their rows while the
   * other tables keep streaming — a backfill reconciled with the stream by
   * key, resumable after a crash, rows tagged as snapshot reads (see
   * docs/postgres-source.md). With `snapshot: 'never'` they only start streaming.
   *
   * Resolves once their rows are durable downstream (the backfill's last
   * checkpoint was confirmed); rejects at once when a table cannot be added
   * (unknown, no key, publication not ours), or when the source closes
   * first. An unawaited call never causes an unhandled rejection. Tables
   * already streamed are ignored. Add the tables to `tables` as well, so
   * that later runs keep streaming them.
   *
   * @example
   * ```ts
   * const source = postgres({ connectionString, tables: ['public.orders'] });
   * await new Pipeline({ name: 'shop' }).from(source).to(dest).start();
   * await source.addTables(['public.customers']); // orders keep streaming meanwhile
   * ```
   */
  addTables(tables: readonly string[]): Promise<void> {
    const added = this.#addTables(tables);
    added.catch(() => {});
    return added;
  }

  async #addTables(tables: readonly string[]): Promise<void> {
    if (this.#closed) throw new EtlError('LIFECYCLE', 'addTables() after the Postgres source was closed');
    const plan = this.#prepared;
    if (!plan || !this.#backfill) {
      throw new EtlError('LIFECYCLE', 'addTables() before the pipeline started', {
        hint: 'Call it once pipeline.start() resolved, or list the tables in `tables`.',
      });
    }
    const client = await this.#normalClient();
    const { requested, added } = await checkAddedTables(
      client,
      plan,
      this.#o,
      tables,
      this.#tables,
      this.#emit,
    );
    if (added.length > 0) {
      this.#tables.push(...added);
      this.#tableNames = [...this.#tableNames, ...added.map((t) => `${t.schema}.${t.name}`)];
      this.#backfill.enqueue(added, this.#o.snapshot === 'initial');
    }
    await this.#backfill.whenDone(requested);
  }

  /** Starts delivering a table's changes, at its barrier's place in the stream. */
  #include(table: CheckedTable): void {
    this.#filter.add(filterKey(table));
    this.#accumulator?.refilter();
  }

  /** Every checkpoint names the streamed tables and carries the backfill's progress. */
  #stamp(batch: ChangeBatch): ChangeBatch {
    const backfill = this.#backfill?.progress;
    return new ChangeBatch({
      ...batch,
      checkpoint: { ...batch.checkpoint, tables: this.#tableNames, ...(backfill ? { backfill } : {}) },
    });
  }

  /**
   * Snapshot (when needed), then changes. Called once. The iterable ends when
   * `ctx.signal` aborts or {@link PostgresSource.close} is called; it throws
   * on fatal errors and when reconnecting gives up.
   */
  async *open(ctx: SourceContext): AsyncGenerator<ChangeBatch> {
    this.#assertOpenable();
    this.#opened = true;
    if (ctx.signal.aborted) return;
    const onAbort = () => this.#abort.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.prepare(ctx);
      const p = this.#prepared!;
      const resume = ctx.resumeFrom;
      let start: Lsn;
      let startCommitLsn = resume?.commitLsn ?? 0n;
      if (this.#rebuild) {
        start = yield* this.#rebuildFrom(ctx, this.#rebuild);
        startCommitLsn = 0n;
      } else if (resume?.snapshot) {
        for await (const b of this.#snapshot(
          ctx,
          resume.snapshot.consistentPoint,
          resume.snapshot,
          undefined,
        ))
          yield this.#stamp(b);
        start = resume.snapshot.consistentPoint;
      } else if (resume) {
        if (!p.existingSlot) {
          throw new EtlError(
            'PG_SLOT_INVALID',
            `Replication slot "${p.slot}" is gone but the pipeline has a saved position`,
            {
              hint: `Changes since that position cannot be recovered from Postgres. To recover: ${LOST_SLOT_STEPS}`,
            },
          );
        }
        start = maxLsn(resume.lsn, p.existingSlot?.confirmedFlushLsn ?? 0n);
      } else if (!p.existingSlot) {
        const created = yield* this.#createSlotAndCopy(ctx, p.tables, this.#o.snapshot === 'initial');
        if (created === undefined) return; // stopped while the slot was being created
        start = created;
      } else {
        start = p.existingSlot.confirmedFlushLsn ?? 0n;
        if (this.#o.snapshot === 'initial') {
          ctx.emit('alert', {
            key: `snapshot:${p.slot}`,
            severity: 'warning',
            resolved: false,
            message: `Slot "${p.slot}" exists but the pipeline has no saved position: copying every table again in a fresh snapshot, then streaming from the slot's position.`,
          });
          for await (const b of this.#snapshot(ctx, start, undefined, undefined)) yield this.#stamp(b);
        }
      }
      for (;;) {
        try {
          yield* this.#changes(ctx, start, startCommitLsn);
          break;
        } catch (err) {
          const reason = this.#lostWhileStreaming(err);
          if (!reason) throw err;
          // The failed stream is torn down already; confirmations until the new one starts are recorded only.
          this.#stream = undefined;
          this.#accumulator = undefined;
          start = yield* this.#rebuildFrom(ctx, reason);
          startCommitLsn = 0n;
        }
      }
      if (this.#failure) throw this.#failure;
    } catch (err) {
      if (this.#failure) throw this.#failure;
      if (this.#abort.signal.aborted) return;
      throw toEtlError(err, 'INTERNAL');
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      clearInterval(this.#heartbeat);
    }
  }

  /**
   * Creates the slot and, when `copy`, copies `tables` in the snapshot it
   * exports; returns the consistent point (where the stream starts), or
   * undefined when stopped meanwhile.
   */
  async *#createSlotAndCopy(
    ctx: SourceContext,
    tables: readonly CheckedTable[],
    copy: boolean,
  ): AsyncGenerator<ChangeBatch, Lsn | undefined> {
    const p = this.#prepared!;
    const stream = new ReplicationStream({
      connectionString: this.#o.connectionString,
      positions: new StandbyPositions(0n),
      statusIntervalMs: this.#o.statusIntervalMs,
    });
    try {
      await stream.connect({ signal: this.#abort.signal });
      const created = await createSlot(stream, p.slot, p.facts.version);
      if (this.#abort.signal.aborted) return undefined;
      if (copy) {
        // The exported snapshot lives until the creating connection runs another command: import it first.
        for await (const b of this.#snapshot(
          ctx,
          created.consistentPoint,
          undefined,
          created.snapshotName,
          () => stream.close(),
          tables,
        ))
          yield this.#stamp(b);
      }
      return created.consistentPoint;
    } finally {
      await stream.close();
    }
  }

  /**
   * The `onSlotLost: 'resnapshot'` rebuild. The changes since the saved
   * position are gone with the slot, so the destination is rebuilt from a
   * new copy, crash-safe at every step:
   *
   * 1. a reset batch empties every table (TRUNCATE entries, at the current
   *    WAL position so that no destination skips them as replays) and
   *    carries a "rebuild pending" checkpoint (snapshot progress with
   *    consistent point 0): once it is confirmed, the saved state says to
   *    rebuild again after a crash, whatever slot then exists;
   * 2. the lost slot is dropped and a new one created, and every table is
   *    copied in its exported snapshot (the usual resumable snapshot);
   * 3. the stream continues from the new slot's consistent point.
   */
  async *#rebuildFrom(ctx: SourceContext, reason: string): AsyncGenerator<ChangeBatch, Lsn> {
    const p = this.#prepared!;
    const key = `slot-lost:${p.slot}`;
    ctx.emit('alert', {
      key,
      severity: 'critical',
      resolved: false,
      message: `${reason}. Policy onSlotLost 'resnapshot': the destination tables are emptied and every table is copied again from a new slot, then changes stream from there.`,
      details: { slot: p.slot },
    });
    const client = await this.#normalClient();
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const resetLsn = parseLsn(rows[0]!.lsn);
    const schemas: TableSchema[] = [];
    const pending: Record<string, TableSnapshotProgress> = {};
    for (const t of this.#tables) {
      schemas.push(await loadTableSchema(client, p.catalog, t.oid));
      pending[`${t.schema}.${t.name}`] = { status: 'pending', rows: 0 };
    }
    const confirmed = new Promise<void>((resolve) => {
      this.#confirmWaiter = { commitLsn: resetLsn, resolve };
    });
    yield this.#stamp(
      new ChangeBatch({
        firstLsn: resetLsn,
        checkpoint: {
          lsn: resetLsn,
          commitLsn: resetLsn,
          snapshot: { consistentPoint: REBUILD_PENDING, tables: pending },
        },
        transactions: 0,
        lastCommitTimeUs: BigInt(Date.now()) * 1000n,
        entries: [
          {
            kind: 'truncate',
            tables: schemas,
            cascade: false,
            restartIdentity: false,
            lsn: resetLsn,
            seq: 0,
          },
        ],
      }),
    );
    // Dropping the lost slot before the reset is durable could leave a saved position that a new
    // slot would silently satisfy after a crash: wait until the pending rebuild is on record.
    await untilAborted(confirmed, this.#abort.signal);
    await this.#dropSlotWhenFree(p.slot);
    const start = yield* this.#createSlotAndCopy(ctx, this.#tables, true);
    if (start === undefined) throw new EtlError('ABORTED', 'source closed');
    this.#rebuild = undefined;
    ctx.emit('alert', {
      key,
      severity: 'critical',
      resolved: true,
      message: `Replication slot "${p.slot}" was created again and every table copied; changes stream from the new slot.`,
      details: { slot: p.slot },
    });
    return start;
  }

  /** Under `onSlotLost: 'resnapshot'`: the reason to rebuild when the stream failed because its slot is lost. */
  #lostWhileStreaming(err: unknown): string | undefined {
    if (this.#o.onSlotLost !== 'resnapshot' || this.#abort.signal.aborted || this.#failure) return undefined;
    if (!(err instanceof EtlError) || err.code !== 'PG_SLOT_INVALID') return undefined;
    // Tables being backfilled: fail; the next start finds the lost slot and rebuilds all tables.
    if (this.#backfill?.progress) return undefined;
    return `Replication slot "${this.#prepared!.slot}" was lost while streaming (${err.message})`;
  }

  /** Drops the slot; a walsender that just failed on it may hold it a moment longer. */
  async #dropSlotWhenFree(slot: string): Promise<void> {
    const client = await this.#normalClient();
    for (let attempt = 0; ; attempt++) {
      try {
        await dropSlot(client, slot);
        return;
      } catch (err) {
        if (!(err instanceof EtlError) || err.code !== 'PG_SLOT_ACTIVE' || attempt >= DROP_SLOT_ATTEMPTS)
          throw err;
        await sleep(DROP_SLOT_RETRY_MS, this.#abort.signal);
      }
    }
  }

  async *#snapshot(
    ctx: SourceContext,
    consistentPoint: Lsn,
    progress: Checkpoint['snapshot'],
    snapshotName: string | undefined,
    afterImport?: () => Promise<void>,
    tables?: readonly CheckedTable[],
  ): AsyncGenerator<ChangeBatch> {
    const p = this.#prepared!;
    const client = new pg.Client({ connectionString: this.#o.connectionString });
    client.on('error', () => {});
    const onAbort = () => void client.end().catch(() => {});
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // end() during connect() leaves connect() pending for ever: stop waiting when aborted.
      await untilAborted(client.connect(), this.#abort.signal);
      const snapshot = await TableSnapshot.begin(
        {
          client,
          catalog: p.catalog,
          tables: tables ?? p.tables,
          consistentPoint,
          progress,
          chunkRows: this.#o.snapshotChunkRows,
          binary: this.#o.binary !== false,
          unrepresentable: this.#o.unrepresentable,
          onUnrepresentable: (info) => this.#reportNull(ctx, info),
          emit: ctx.emit,
          onChunk: () => void this.#snapshotChunks++,
        },
        snapshotName,
      );
      await afterImport?.();
      yield* snapshot.batches();
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
      await client.end().catch(() => {});
    }
  }

  async *#changes(ctx: SourceContext, start: Lsn, startCommitLsn: Lsn): AsyncGenerator<ChangeBatch> {
    const p = this.#prepared!;
    const o = this.#o;
    const backfill = this.#backfill!;
    const positions = new StandbyPositions(start);
    if (this.#positions) positions.confirm(this.#positions.confirmed);
    this.#positions = positions;
    const names = this.#filter;
    // Ends the stream when the backfill fails (the failure is thrown once the stream has stopped).
    const streamAbort = new AbortController();
    const onAbort = () => streamAbort.abort(this.#abort.signal.reason);
    // Stopped while the slot was being created: a listener added now would never hear it.
    if (this.#abort.signal.aborted) onAbort();
    else this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    const accumulator = new ChangeAccumulator({
      catalog: p.catalog,
      binary: p.binary,
      unrepresentable: o.unrepresentable,
      onUnrepresentable: (info) => this.#reportNull(ctx, info),
      streamMemoryLimitBytes: o.streamMemoryLimitBytes,
      spillDir: o.spillDir,
      tableFilter: (schema, name) => names.has(`${schema}\u0000${name}`),
      onSchema: (e) => ctx.emit('schema', { table: e.table, previous: e.previous }),
      onMessage: (m) => {
        if (m.prefix !== HEARTBEAT_PREFIX && m.prefix !== BACKFILL_PREFIX) ctx.emit('message', m);
      },
      isMarker: (m) => backfill.claim(m),
      onTransaction: (xid, commitLsn) => backfill.noteTransaction(xid, commitLsn),
    });
    this.#accumulator = accumulator;
    this.#stream = new ChangeStream({
      connectionString: o.connectionString,
      slot: p.slot,
      publication: p.publication,
      protocolVersion: p.protocolVersion,
      binary: p.binary,
      statusIntervalMs: o.statusIntervalMs,
      reconnect: o.reconnect,
      limits: ctx.batch,
      accumulator,
      positions,
      signal: streamAbort.signal,
      onRetry: (error, attempt) =>
        ctx.emit('error', { error, fatal: false, component: `source:postgres:reconnect ${attempt}` }),
    });
    clearInterval(this.#heartbeat); // a rebuild after a lost slot streams again
    if (o.heartbeatMs) this.#heartbeat = setInterval(() => void this.#beat(ctx), o.heartbeatMs);
    backfill.run(streamAbort.signal).catch((err) => {
      this.#failure = toEtlError(err, 'INTERNAL');
      streamAbort.abort(this.#failure);
    });
    // Where a backfilled chunk sits: after the last whole transaction handed out.
    let at: Checkpoint = { lsn: start, commitLsn: startCommitLsn };
    try {
      for await (const item of this.#stream.items()) {
        if (item instanceof ChangeBatch) {
          backfill.observe(item);
          if (!item.partial) at = item.checkpoint;
          yield this.#stamp(item);
        } else {
          // The watermark's own LSN: every transaction that committed before it has been handed out.
          const chunk = backfill.emitAt(item, { ...at, lsn: maxLsn(at.lsn, item.message.lsn) });
          if (!chunk) continue;
          positions.handOut(chunk.checkpoint.lsn); // in flight: the idle rule waits for its confirmation
          yield this.#stamp(chunk);
        }
      }
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
      // Ended by a failure: stop this run's backfill loop too (a rebuild starts another).
      streamAbort.abort();
    }
  }

  /** Under `unrepresentable: 'null'`: counts nulled values and raises one warning per column. */
  #reportNull(ctx: SourceContext, info: { table: string; column: string; reason: string }): void {
    const key = `unrepresentable:${info.table}.${info.column}`;
    const count = (this.#nulled.get(key) ?? 0) + 1;
    this.#nulled.set(key, count);
    if (count > 1) return;
    ctx.emit('alert', {
      key,
      severity: 'warning',
      resolved: false,
      message: `${info.table}.${info.column}: a value was written as null (${info.reason}); policy unrepresentable = 'null'. Further ones are counted in source.nulledValues.`,
      details: { table: info.table, column: info.column },
    });
  }

  /** Values written as null under `unrepresentable: 'null'`, per `unrepresentable:<table>.<column>`. */
  get nulledValues(): ReadonlyMap<string, number> {
    return this.#nulled;
  }

  async #beat(ctx: SourceContext): Promise<void> {
    try {
      const client = await this.#normalClient();
      await client.query(HEARTBEAT_SQL);
    } catch (err) {
      // Reported, not fatal: the connection is replaced on the next beat; the stream reports real outages.
      ctx.emit('error', {
        error: toEtlError(err, 'CONNECTION', `Heartbeat failed: ${(err as Error).message}`),
        fatal: false,
        component: 'source:postgres:heartbeat',
      });
      const dead = this.#client;
      this.#client = undefined;
      await dead?.end().catch(() => {});
    }
  }

  /**
   * Everything up to `checkpoint` is durable downstream: the slot may forget
   * it. Sends a status update at once when streaming; snapshot checkpoints
   * (the consistent point) are recorded and reported once streaming starts.
   */
  async confirm(checkpoint: Checkpoint): Promise<void> {
    if (this.#stream) this.#stream.confirm(checkpoint.lsn);
    else {
      this.#positions ??= new StandbyPositions(checkpoint.lsn);
      this.#positions.confirm(checkpoint.lsn);
    }
    this.#backfill?.confirmed(checkpoint);
    const waiter = this.#confirmWaiter;
    if (waiter && checkpoint.commitLsn >= waiter.commitLsn) {
      this.#confirmWaiter = undefined;
      waiter.resolve();
    }
  }

  /** Snapshot chunk queries run by this source (metrics; tests check that a resume skips finished chunks). */
  get snapshotChunks(): number {
    return this.#snapshotChunks;
  }

  /** What the change stream holds right now; undefined before streaming starts. */
  get streamStats(): StreamStats | undefined {
    return this.#stream?.stats;
  }

  /**
   * The furthest WAL position the server has sent (changes or keepalives);
   * `receivedLsn - confirmedLsn` estimates the lag without another connection.
   */
  get receivedLsn(): Lsn | undefined {
    return this.#positions?.received;
  }

  /** The position last confirmed to the server (or recorded for it). */
  get confirmedLsn(): Lsn | undefined {
    return this.#positions?.confirmed;
  }

  /**
   * The slot's confirmed position: as `prepare()` read it, then as this
   * source confirmed it (idle advances included); undefined while there is
   * no slot. The pipeline reconciles its saved state with it on start.
   */
  upstreamPosition(): Lsn | undefined {
    return this.#positions?.confirmed ?? this.#prepared?.existingSlot?.confirmedFlushLsn;
  }

  /** Stops streaming and closes every connection. The slot stays (see {@link PostgresSource.dropSlot}). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new EtlError('ABORTED', 'source closed'));
    clearInterval(this.#heartbeat);
    await this.#stream?.close();
    await this.#backfill?.close();
    await this.#client?.end().catch(() => {});
    this.#client = undefined;
  }

  /**
   * Drops the replication slot (the server then forgets the position and
   * frees the WAL it held). Only when the pipeline is retired or must start
   * over with a new snapshot. Fails with `PG_SLOT_ACTIVE` while streaming.
   */
  async dropSlot(opts: { pipeline?: string } = {}): Promise<boolean> {
    const slot = this.slot ?? (opts.pipeline ? defaultSlotName(opts.pipeline) : undefined);
    if (!slot)
      throw new EtlError(
        'CONFIG_INVALID',
        'dropSlot() needs the slot name: configure `slot`, or pass { pipeline }',
      );
    const client = new pg.Client({ connectionString: this.#o.connectionString });
    await client.connect();
    try {
      return await dropSlot(client, slot);
    } finally {
      await client.end();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpenable(): void {
    if (this.#closed) throw new EtlError('LIFECYCLE', 'The Postgres source was used after close()');
    if (this.#opened) throw new EtlError('LIFECYCLE', 'open() was called twice on the same Postgres source');
  }

  async #normalClient(): Promise<pg.Client> {
    this.#client ??= await this.#connect();
    return this.#client;
  }

  /** A new ordinary connection. */
  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.#o.connectionString });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      throw new EtlError('CONNECTION', `Could not connect to PostgreSQL: ${(err as Error).message}`, {
        cause: err,
        retryable: true,
      });
    }
    return client;
  }
}

/** The consistent point of a "rebuild pending" checkpoint: no slot exists for it yet. */
const REBUILD_PENDING = 0n;
/** A walsender that failed on the lost slot lets go of it within a second or two. */
const DROP_SLOT_ATTEMPTS = 50;
const DROP_SLOT_RETRY_MS = 100;

/** Why a start under `onSlotLost: 'resnapshot'` rebuilds the destination; undefined when it need not. */
function rebuildReason(p: ReplicationPlan, resume: Checkpoint | undefined): string | undefined {
  if (resume?.snapshot?.consistentPoint === REBUILD_PENDING) {
    return `A rebuild after replication slot "${p.slot}" was lost did not finish`;
  }
  if (p.lostSlot) {
    return `Replication slot "${p.slot}" was invalidated: the server removed WAL it still needed (wal_status = 'lost')`;
  }
  if (resume && !p.existingSlot)
    return `Replication slot "${p.slot}" is gone although the pipeline saved a position`;
  return undefined;
}

/** A table as the stream's filter knows it. */
function filterKey(t: { schema: string; name: string }): string {
  return `${t.schema}\u0000${t.name}`;
}

/**
 * Creates the PostgreSQL source. Options are validated now (naming the
 * field on error); nothing connects until the pipeline starts.
 *
 * @example
 * ```ts
 * const source = postgres({
 *   connectionString: process.env.DATABASE_URL!,
 *   publication: 'etl_orders',
 *   tables: ['public.orders', 'public.order_items'],
 *   heartbeat: { intervalMs: 30_000 },
 * });
 * ```
 */
export function postgres(options: PostgresSourceOptions): PostgresSource {
  return new PostgresSource(options);
}
