/**
 * Backfill: copying tables added to a running pipeline while the others keep
 * streaming. A watermark algorithm in the manner of DBLog, made exact with
 * transaction visibility instead of a [low, high] window.
 *
 * Per added table T, one chunk in flight at a time:
 *
 * 1. **Barrier.** T is in the publication. A marker P is written to the WAL;
 *    in the stream, P is where T's changes start to be delivered and
 *    remembered ({@link ChangedKeys}: per key, the xid of the last
 *    transaction that changed the row). The backfill then waits until every
 *    transaction that held a write lock on T when P was written has ended.
 *    Afterwards every transaction that changed T and committed before P is
 *    visible to any new snapshot — including one that had written its commit
 *    record but was not visible yet (a slow fsync, a synchronous standby):
 *    it still held its lock. Nothing is locked; writers of T never wait.
 * 2. **Chunk.** A REPEATABLE READ transaction takes snapshot S
 *    (`txid_current_snapshot()`) and copies the next rows by key
 *    (`COPY (... WHERE key > last ORDER BY key LIMIT n)`) into Arrow; then a
 *    watermark marker H is written.
 * 3. **Reconcile.** When the stream reaches H, every transaction that
 *    committed before H has been delivered. A copied row whose last change
 *    since P was made by a transaction S sees is current: S saw that change
 *    and every earlier one (changes of a row are serialized by its lock, and
 *    changes before P are all visible, by the barrier). It is emitted right
 *    there as a snapshot read (`_etl_op` = read), after the transactions
 *    before H and before those after it. A row changed by a transaction S
 *    does not see was already delivered in a newer state by the stream: the
 *    copy is dropped — and when that newer state is incomplete (an UPDATE
 *    that left TOAST values unchanged, for a row the destination never
 *    had), the row is copied again by key in a later snapshot. A truncate or
 *    column change of T that S does not see makes the whole chunk stale: it
 *    is copied again. So no row is missing and no older value overwrites a
 *    newer one, while the other tables stream on.
 * 4. **Progress.** Each chunk's batch carries T's progress (the key it
 *    resumes after) in its checkpoint; after a crash the backfill resumes
 *    there, behind a new barrier, without reading finished chunks again.
 *    Changes of T since the saved position are streamed again; the new
 *    barrier makes them visible to every later chunk.
 *
 * Compared with DBLog there is no low watermark per chunk: a window
 * [low, high] cannot tell a transaction that committed before `low` but was
 * not yet visible to the chunk's snapshot, and drops rows that changed
 * in the window although the snapshot saw the change. Tables need a key.
 */
import type { RecordBatch } from 'apache-arrow';
import type pg from 'pg';
import { abortError, sleep } from '../async/abortable-sleep.js';
import { Backoff } from '../async/backoff.js';
import { ChangeBatch } from '../change/change-batch.js';
import type { RowsEntry } from '../change/change-entry.js';
import type { BackfillProgress, Checkpoint, TableSnapshotProgress } from '../change/checkpoint.js';
import { ChangeOp, LSN_COLUMN, OP_COLUMN, SEQ_COLUMN, UNCHANGED_COLUMN } from '../change/metadata-columns.js';
import { qualifiedName } from '../change/table-schema.js';
import { EtlError, toEtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { PipelineEvents } from '../pipeline/pipeline-events.js';
import { takeRows } from '../transforms/take-rows.js';
import {
  type CopiedChunk,
  type CopyOptions,
  copyChunk,
  type ReadTarget,
  waitForWriters,
} from './backfill-copy.js';
import { ChangedKeys, keyText, rowKeys, Verdict } from './changed-keys.js';
import type { StreamMarker } from './pgoutput/change-accumulator.js';
import type { LogicalMessage } from './pgoutput/pgoutput-messages.js';
import type { ReconnectOptions } from './postgres-options.js';
import type { CheckedTable } from './preflight.js';
import { BACKFILL_PREFIX, backfillMarkerSql } from './sql.js';
import { sqlStateOf } from './sql-state.js';

export { noKeyError } from './backfill-copy.js';

/** Options of a {@link Backfill}. */
export interface BackfillOptions extends CopyOptions {
  /** Opens the normal connection the backfill reads and writes markers on. */
  readonly connect: () => Promise<pg.Client>;
  readonly emit: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;
  /** Makes the stream deliver `table`'s changes from now on (called in stream order, at the barrier). */
  readonly include: (table: CheckedTable) => void;
  /** Retries after connection failures (the source's reconnection policy). */
  readonly reconnect: Required<ReconnectOptions>;
}

/** A table being backfilled. */
interface Job {
  readonly table: CheckedTable;
  readonly name: string;
  /** Copy its rows (false: only start streaming it, `snapshot: 'never'`). */
  readonly copy: boolean;
  /** Progress as emitted: what the next batch's checkpoint says. */
  progress: TableSnapshotProgress;
  /** The first chunk of this run has not been emitted yet (it carries the table even when empty). */
  first: boolean;
}

/** One copy, waiting for its watermark. */
interface ChunkRead extends CopiedChunk {
  readonly job: Job;
}

/** What reconciling a read decided. */
interface Outcome {
  /** A truncate or schema change the snapshot missed came first: copy the same rows again. */
  readonly stale: boolean;
  /** Keys to copy again (their streamed state was incomplete). */
  readonly retry: readonly (readonly (string | null)[])[];
}

type Pending =
  | { readonly kind: 'barrier'; readonly job: Job; resolve(): void }
  /** A table streamed without a copy: an empty batch at its barrier checkpoints that it is done. */
  | { readonly kind: 'included' }
  | { readonly kind: 'chunk'; readonly read: ChunkRead; resolve(o: Outcome): void };

/**
 * Runs the backfills of one source (see the algorithm above). The stream
 * side (`claim`, `noteTransaction`, `observe`, `emitAt`) is called
 * synchronously, in stream order, by the source; {@link Backfill.run} is the
 * copying loop, one table and one chunk at a time.
 */
export class Backfill {
  readonly #o: BackfillOptions;
  readonly #run = Math.random().toString(36).slice(2, 10);
  /** Tables not finished yet, in order. */
  readonly #jobs = new Map<string, Job>();
  /** Tables whose changes are remembered (from their barrier on). */
  readonly #tracked = new Map<string, ChangedKeys>();
  /** Commit LSN → xid of the transactions decoded and not yet observed. */
  readonly #xids = new Map<Lsn, number>();
  readonly #pending = new Map<string, Pending>();
  /** Tables whose backfill finished in a batch not confirmed yet. */
  readonly #unconfirmed = new Set<string>();
  readonly #waiters: { names: readonly string[]; resolve(): void; reject(err: unknown): void }[] = [];
  #seq = 0;
  #wake: (() => void) | undefined;
  #client: pg.Client | undefined;
  #closed = false;

  constructor(options: BackfillOptions) {
    this.#o = options;
  }

  /** Queues tables; `progress` resumes a backfill a previous run saved. */
  enqueue(tables: readonly CheckedTable[], copy: boolean, progress?: BackfillProgress): void {
    for (const table of tables) {
      const name = qualifiedName(table);
      if (this.#jobs.has(name)) continue;
      const saved = progress?.tables[name];
      this.#jobs.set(name, {
        table,
        name,
        copy,
        progress: saved ?? { status: 'pending', rows: 0 },
        first: true,
      });
      // Remembered from now on (before the barrier too): a resumed backfill sees the replayed changes.
      if (copy) this.#tracked.set(name, this.#tracked.get(name) ?? new ChangedKeys());
    }
    this.#wake?.();
  }

  /** The progress to save with the next checkpoint; undefined when nothing is being backfilled. */
  get progress(): BackfillProgress | undefined {
    if (this.#jobs.size === 0) return undefined;
    const tables: Record<string, TableSnapshotProgress> = {};
    for (const job of this.#jobs.values()) tables[job.name] = job.progress;
    return { tables };
  }

  /**
   * Resolves once none of `names` is being backfilled in a checkpoint
   * passed to {@link Backfill.confirmed} (their copy is durable downstream);
   * rejects when the backfill is closed first.
   */
  whenDone(names: readonly string[]): Promise<void> {
    const open = names.filter((n) => this.#jobs.has(n) || this.#unconfirmed.has(n));
    if (open.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ names: open, resolve, reject });
    });
  }

  /** A checkpoint was confirmed (durable everywhere). */
  confirmed(checkpoint: Checkpoint): void {
    for (const n of this.#unconfirmed) {
      if (checkpoint.tables?.includes(n) && checkpoint.backfill?.tables[n] === undefined)
        this.#unconfirmed.delete(n);
    }
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      const done = w.names.every(
        (n) => checkpoint.tables?.includes(n) === true && checkpoint.backfill?.tables[n] === undefined,
      );
      if (done) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  // ------------------------------------------------------------------ stream side

  /**
   * A non-transactional logical message, decoded at its place in the stream.
   * A barrier of ours starts delivering and remembering the table's changes
   * here; a watermark of ours becomes a stream marker (true).
   */
  claim(m: LogicalMessage): boolean {
    if (m.prefix !== BACKFILL_PREFIX) return false;
    const key = Buffer.from(m.content).toString('utf8');
    const pending = this.#pending.get(key);
    if (!pending) return false; // another pipeline's, or one already handled
    if (pending.kind !== 'barrier') return true;
    const { job } = pending;
    this.#o.include(job.table);
    if (job.copy) {
      this.#tracked.set(job.name, this.#tracked.get(job.name) ?? new ChangedKeys());
      this.#pending.delete(key);
    } else {
      this.#finish(job);
      this.#pending.set(key, { kind: 'included' });
    }
    pending.resolve();
    return !job.copy;
  }

  /** A transaction's xid, known at its Begin (or Stream Commit). */
  noteTransaction(xid: number, commitLsn: Lsn): void {
    if (this.#jobs.size > 0) this.#xids.set(commitLsn, xid);
  }

  /** A stream batch, before it is handed out: remembers the changes of tracked tables. */
  observe(batch: ChangeBatch): void {
    if (this.#tracked.size > 0) {
      for (const e of batch.entries) {
        if (e.kind === 'rows') {
          const keys = this.#tracked.get(qualifiedName(e.table));
          if (keys) this.#note(keys, e);
        } else {
          // Xids are known for every transaction decoded since the table was queued, hence after its
          // barrier; one decoded before is visible to every copy (the barrier) and need not be remembered.
          const xid = this.#xidOf(e.lsn);
          if (xid === undefined) continue;
          if (e.kind === 'truncate')
            for (const t of e.tables) this.#tracked.get(qualifiedName(t))?.reset(xid);
          else if (e.previous) this.#tracked.get(qualifiedName(e.table))?.reset(xid);
        }
      }
    }
    if (!batch.partial) {
      for (const lsn of this.#xids.keys()) {
        if (lsn > batch.checkpoint.commitLsn) break;
        this.#xids.delete(lsn);
      }
    }
  }

  /**
   * A stream marker was pulled, after every batch before it: reconciles the
   * chunk it stands for and returns the batch of rows to emit here, or
   * undefined. `at` is where that is: the marker's LSN, and the commit LSN
   * of the last transaction before it (the rows' `_etl_lsn`).
   */
  emitAt(marker: StreamMarker, at: Checkpoint): ChangeBatch | undefined {
    const key = Buffer.from(marker.message.content).toString('utf8');
    const pending = this.#pending.get(key);
    if (pending?.kind === 'included') {
      this.#pending.delete(key);
      return new ChangeBatch({
        firstLsn: at.lsn,
        checkpoint: { lsn: at.lsn, commitLsn: at.commitLsn },
        transactions: 0,
        lastCommitTimeUs: BigInt(Date.now()) * 1000n,
        entries: [],
      });
    }
    if (pending?.kind !== 'chunk') return undefined;
    this.#pending.delete(key);
    const { read } = pending;
    const { job } = read;
    const changed = this.#tracked.get(job.name)!;
    const { verdicts, stale } = changed.reconcile(read.keys, read.snapshot);
    changed.forget(read.snapshot);
    if (stale) {
      pending.resolve({ stale: true, retry: [] });
      return undefined;
    }
    const keep: number[] = [];
    const retry: (readonly (string | null)[])[] = [];
    verdicts.forEach((v, i) => {
      if (v === Verdict.Keep) keep.push(i);
      else if (v === Verdict.Retry) retry.push(read.keyTexts[i]!);
    });
    // Rows moved by key changes before this watermark are read again before the progress moves on.
    retry.push(...changed.takeMoved());
    const rows = job.progress.rows + keep.length;
    job.progress =
      retry.length === 0
        ? { ...read.next, rows }
        : { status: 'copying', rows, ...(job.progress.lastKey ? { lastKey: job.progress.lastKey } : {}) };
    const done = job.progress.status === 'done';
    const entries: RowsEntry[] = [];
    if (keep.length > 0 || job.first) {
      const data = takeRows(read.data, keep);
      fillLsn(data, at.commitLsn);
      entries.push({ kind: 'rows', table: read.schema, data });
    }
    job.first = false;
    if (done) this.#finish(job);
    this.#o.emit('snapshot:progress', { table: job.name, rows, done });
    pending.resolve({ stale: false, retry });
    return new ChangeBatch({
      firstLsn: at.lsn,
      checkpoint: { lsn: at.lsn, commitLsn: at.commitLsn },
      transactions: 0,
      lastCommitTimeUs: BigInt(Date.now()) * 1000n,
      entries,
    });
  }

  #finish(job: Job): void {
    this.#unconfirmed.add(job.name);
    this.#jobs.delete(job.name);
    this.#tracked.delete(job.name);
  }

  #xidOf(lsn: Lsn): number | undefined {
    return this.#xids.get(lsn);
  }

  #note(keys: ChangedKeys, e: RowsEntry): void {
    const pk = e.table.primaryKey;
    if (pk.length === 0) return;
    const rowKey = rowKeys(e.data, pk);
    const ops = e.data.getChild(OP_COLUMN)!.data[0]!.values as Uint8Array;
    const lsns = e.data.getChild(LSN_COLUMN)!.data[0]!.values as BigUint64Array;
    const seqs = e.data.getChild(SEQ_COLUMN)!.data[0]!.values as Uint32Array;
    const unchanged = e.data.getChild(UNCHANGED_COLUMN)!.data[0]!;
    for (let i = 0; i < e.data.numRows; i++) {
      const xid = this.#xidOf(lsns[i]!);
      if (xid === undefined) continue; // decoded before the table was queued: see observe()
      const complete = ops[i] !== ChangeOp.Update || !unchanged.getValid(i);
      keys.note(rowKey[i]!, xid, complete);
      // A key change is the old key's Delete right before the new key's Update, in one transaction.
      const moved =
        !complete &&
        i > 0 &&
        ops[i - 1] === ChangeOp.Delete &&
        lsns[i - 1] === lsns[i] &&
        seqs[i - 1] === seqs[i]! - 1 &&
        rowKey[i - 1] !== rowKey[i];
      if (moved) keys.noteMoved(rowKey[i]!, keyText(e.data, pk, i));
    }
  }

  // ------------------------------------------------------------------ copying side

  /**
   * Copies the queued tables, one chunk at a time, until `signal` aborts.
   * Rejects on a failure it cannot retry (the source then fails).
   */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#o.reconnect);
    while (!signal.aborted && !this.#closed) {
      const job = this.#jobs.values().next().value as Job | undefined;
      if (!job) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          signal.addEventListener('abort', this.#wake, { once: true });
        });
        if (this.#wake) signal.removeEventListener('abort', this.#wake);
        this.#wake = undefined;
        continue;
      }
      try {
        this.#client ??= await this.#o.connect();
        await this.#backfill(this.#client, job, signal);
        backoff.reset();
      } catch (err) {
        if (signal.aborted || this.#closed) return;
        const error = toEtlError(err, 'CONNECTION');
        if (!transient(err) || backoff.attempts + 1 >= this.#o.reconnect.maxAttempts) throw error;
        this.#o.emit('error', { error, fatal: false, component: `source:postgres:backfill ${job.name}` });
        // Start the table over from its emitted progress, on a new connection, behind a new barrier.
        for (const [key, p] of this.#pending) if (p.kind === 'chunk') this.#pending.delete(key);
        await this.#client?.end().catch(() => {});
        this.#client = undefined;
        await sleep(backoff.next(), signal).catch(() => {});
      }
    }
  }

  async #backfill(client: pg.Client, job: Job, signal: AbortSignal): Promise<void> {
    await this.#barrier(client, job, signal);
    while (this.#jobs.get(job.name) === job && !signal.aborted) {
      let read = await this.#read(client, job, { after: job.progress.lastKey });
      for (;;) {
        const outcome = await this.#publish(client, read, signal);
        if (outcome.stale) read = await this.#read(client, job, read.target);
        else if (outcome.retry.length > 0)
          read = await this.#read(client, job, { keys: outcome.retry, next: read.next });
        else break;
      }
    }
  }

  /** Writes the barrier marker and waits for the writers of the table that were active then. */
  async #barrier(client: pg.Client, job: Job, signal: AbortSignal): Promise<void> {
    const key = this.#nextKey();
    let onAbort = () => {};
    const claimed = new Promise<void>((resolve, reject) => {
      onAbort = () => reject(abortError(signal));
      this.#pending.set(key, { kind: 'barrier', job, resolve });
    });
    claimed.catch(() => {}); // awaited below unless the marker could not be written
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await client.query(backfillMarkerSql(key));
      // Where the stream starts delivering the table: passed (decoded) before anything else happens.
      await claimed;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (job.copy) await waitForWriters(client, job.table, job.name, signal, this.#o.emit);
  }

  /** Copies one chunk (the rows after a key, or exactly some keys) in a new snapshot. */
  async #read(client: pg.Client, job: Job, target: ReadTarget): Promise<ChunkRead> {
    return { job, ...(await copyChunk(client, job.table, this.#o, target)) };
  }

  /** Writes the chunk's watermark and waits until the stream reconciled it. */
  async #publish(client: pg.Client, read: ChunkRead, signal: AbortSignal): Promise<Outcome> {
    const key = this.#nextKey();
    let onAbort = () => {};
    const outcome = new Promise<Outcome>((resolve, reject) => {
      onAbort = () => reject(abortError(signal));
      this.#pending.set(key, { kind: 'chunk', read, resolve });
    });
    outcome.catch(() => {}); // awaited below unless the marker could not be written
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await client.query(backfillMarkerSql(key));
      return await outcome;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #nextKey(): string {
    return `${this.#run}:${++this.#seq}`;
  }

  /** Stops copying, releases the connection, and rejects the promises of unfinished tables. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    for (const w of this.#waiters.splice(0)) {
      w.reject(
        new EtlError('ABORTED', `The source closed before the backfill of ${w.names.join(', ')} finished`),
      );
    }
    await this.#client?.end().catch(() => {});
    this.#client = undefined;
  }
}

/** A failure worth retrying: connection trouble, not a server's refusal. */
function transient(err: unknown): boolean {
  if (err instanceof EtlError) return err.retryable;
  const code = sqlStateOf(err);
  return code === undefined || /^(08|57|40)/.test(code);
}

/** Sets every row's `_etl_lsn` (the copy's position in the stream). */
function fillLsn(batch: RecordBatch, lsn: Lsn): void {
  const col = batch.getChild(LSN_COLUMN);
  for (const d of col?.data ?? []) (d.values as BigUint64Array).subarray(0, d.length).fill(lsn);
}
