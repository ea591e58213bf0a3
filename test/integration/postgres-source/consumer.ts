/**
 * A test consumer of the Postgres source: opens it like the pipeline does,
 * pulls batches on demand (every wait bounded), confirms when told, and
 * applies batches to a memory destination (which skips replays by watermark).
 */
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import type { Checkpoint } from '../../../src/change/checkpoint.js';
import { ChangeOp, LSN_COLUMN, OP_COLUMN } from '../../../src/change/metadata-columns.js';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { EtlError } from '../../../src/errors.js';
import type { PipelineEvents } from '../../../src/pipeline/pipeline-events.js';
import type { BatchLimits, SourceContext } from '../../../src/pipeline/source.js';
import type { PostgresSourceOptions } from '../../../src/postgres/postgres-options.js';
import { type PostgresSource, postgres } from '../../../src/postgres/postgres-source.js';
import type { TestDatabase } from '../../support/postgres.js';

/** An event the source emitted. */
export type SeenEvent = {
  [K in keyof PipelineEvents]: { type: K; payload: PipelineEvents[K] };
}[keyof PipelineEvents];

export interface ConsumerOptions {
  pipeline?: string;
  batch?: Partial<BatchLimits>;
  resumeFrom?: Checkpoint;
  /** Apply batches to the memory destination on commit (default true). */
  apply?: boolean;
  /** Keep every batch pulled in `pulled` (default true; false for memory-bound tests). */
  retain?: boolean;
}

/** Drives one source the way the pipeline would, under test control. */
export class TestConsumer {
  readonly source: PostgresSource;
  readonly events: SeenEvent[] = [];
  readonly dest = new MemoryDestination();
  readonly abort = new AbortController();
  readonly ctx: SourceContext;
  /** Every batch pulled, in order. */
  readonly pulled: ChangeBatch[] = [];
  /** The last checkpoint confirmed. */
  lastConfirmed: Checkpoint | undefined;
  #iterator: AsyncIterator<ChangeBatch> | undefined;
  #pending: Promise<IteratorResult<ChangeBatch>> | undefined;
  readonly #apply: boolean;
  readonly #retain: boolean;

  constructor(options: PostgresSourceOptions, opts: ConsumerOptions = {}) {
    this.source = postgres(options);
    this.#apply = opts.apply ?? true;
    this.#retain = opts.retain ?? true;
    this.ctx = {
      pipeline: opts.pipeline ?? 'test',
      signal: this.abort.signal,
      batch: { maxRows: 10_000, maxBytes: 64 << 20, maxDelayMs: 50, ...opts.batch },
      resumeFrom: opts.resumeFrom,
      emit: (type, payload) => this.events.push({ type, payload } as SeenEvent),
    };
    void this.dest.open({ pipeline: this.ctx.pipeline, signal: this.abort.signal, emit: () => {} });
  }

  async prepare(): Promise<void> {
    await this.source.prepare(this.ctx);
  }

  /** Pulls the next batch; rejects after `timeoutMs`. Undefined when the iterable ended. */
  async next(timeoutMs = 20_000): Promise<ChangeBatch | undefined> {
    this.#iterator ??= this.source.open(this.ctx)[Symbol.asyncIterator]();
    this.#pending ??= this.#iterator.next();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let result: IteratorResult<ChangeBatch> | 'timeout';
    try {
      result = await Promise.race([this.#pending, timeout]);
    } catch (err) {
      // The source failed: forget the rejected pull, so a caller that loops gets a fresh one (and
      // the iterator's end) instead of the same rejection again and again in a microtask spin.
      this.#pending = undefined;
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') throw new Error(`no batch within ${timeoutMs} ms`);
    this.#pending = undefined;
    if (result.done) return undefined;
    if (this.#retain) this.pulled.push(result.value);
    return result.value;
  }

  /** Applies a batch to the memory destination and confirms its checkpoint (as the pipeline would). */
  async commit(batch: ChangeBatch): Promise<void> {
    if (this.#apply) await this.dest.write(batch);
    if (batch.partial) return;
    await this.source.confirm(batch.checkpoint);
    this.lastConfirmed = batch.checkpoint;
  }

  /** Pulls and commits until `done()` holds; bounded by `timeoutMs`. */
  async drainUntil(done: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('condition not reached in time');
      let batch: ChangeBatch | undefined;
      try {
        batch = await this.next(Math.min(left, 1_000));
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('no batch within')) continue;
        throw err;
      }
      if (!batch) throw new Error('source ended');
      await this.commit(batch);
    }
  }

  /** Stops the source the way the pipeline does: abort, then close. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.#iterator?.return?.().catch(() => {});
    await this.source.close();
  }
}

/** Ids (an int column) and ops of every row in the batches. */
export function rowsOf(
  batches: readonly ChangeBatch[],
  table: string,
  idColumn = 'id',
): { id: number; op: number; lsn: bigint }[] {
  const out: { id: number; op: number; lsn: bigint }[] = [];
  for (const b of batches) {
    const e = b.rowsOf(table);
    if (!e) continue;
    const ids = e.data.getChild(idColumn)!;
    const ops = e.data.getChild(OP_COLUMN)!;
    const lsns = e.data.getChild(LSN_COLUMN)!;
    for (let i = 0; i < e.data.numRows; i++) {
      out.push({ id: Number(ids.get(i)), op: ops.get(i) as number, lsn: lsns.get(i) as bigint });
    }
  }
  return out;
}

/** The slot's confirmed position, as a bigint. */
export async function slotLsn(db: TestDatabase, slot: string): Promise<bigint | undefined> {
  const { rows } = await db.query<{ lsn: string | null }>(
    `SELECT (confirmed_flush_lsn - '0/0')::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const v = rows[0]?.lsn;
  return v == null ? undefined : BigInt(v);
}

/** pg_current_wal_lsn() as a bigint. */
export async function currentLsn(db: TestDatabase): Promise<bigint> {
  const { rows } = await db.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`);
  return BigInt(rows[0]!.lsn);
}

/** Polls `fn` until it returns true; every wait bounded. */
export async function waitFor(
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { ChangeOp };

/** The error `prepare()` fails with for `options`; any other outcome (success, a non-EtlError) fails the test. */
export async function prepareError(options: PostgresSourceOptions): Promise<EtlError> {
  const c = new TestConsumer(options);
  try {
    await c.prepare();
  } catch (err) {
    if (!(err instanceof EtlError)) throw err;
    return err;
  } finally {
    await c.stop();
  }
  throw new Error('prepare() succeeded');
}
