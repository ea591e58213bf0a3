import { abortError, sleep } from '../async/abortable-sleep.js';
import { Backoff } from '../async/backoff.js';
import { ChangeBatch } from '../change/change-batch.js';
import { EtlError, toEtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { BatchLimits } from '../pipeline/source.js';
import type { ChangeAccumulator, StreamMarker } from './pgoutput/change-accumulator.js';
import type { ReconnectOptions } from './postgres-options.js';
import { ReplicationStream } from './replication-stream.js';
import { type StartReplicationOptions, startReplicationCommand } from './sql.js';
import type { StandbyPositions } from './standby-status.js';

/** Options of a {@link ChangeStream}. */
export interface ChangeStreamOptions {
  readonly connectionString: string;
  readonly slot: string;
  readonly publication: string;
  readonly protocolVersion: StartReplicationOptions['protocolVersion'];
  readonly binary: boolean;
  readonly statusIntervalMs: number;
  readonly reconnect: Required<ReconnectOptions>;
  readonly limits: BatchLimits;
  /** Decodes pgoutput into batches; reset on every reconnect. */
  readonly accumulator: ChangeAccumulator;
  /** Received / handed-out / confirmed positions; the stream (re)starts at `confirmed`. */
  readonly positions: StandbyPositions;
  /** Ends the stream (the iterable returns) when aborted. */
  readonly signal: AbortSignal;
  /** A retryable failure that is being retried (reported, not fatal). */
  readonly onRetry?: (error: EtlError, attempt: number) => void;
}

type Wake = () => void;

/** A snapshot of what a {@link ChangeStream} holds. */
export interface StreamStats {
  /** Reading of the socket is paused (backpressure). */
  readonly paused: boolean;
  /** Batches cut and waiting to be pulled. */
  readonly readyBatches: number;
  /** Rows in those batches. */
  readonly readyRows: number;
  /** Rows of whole transactions decoded but not yet cut into a batch. */
  readonly bufferedRows: number;
  /** Wire bytes of those rows. */
  readonly bufferedBytes: number;
}

/**
 * The change phase of the Postgres source: a pulled iterable of batches of
 * whole transactions, read from the slot through a {@link ReplicationStream}
 * and decoded by a {@link ChangeAccumulator}.
 *
 * - Batches are cut at commit boundaries when `maxRows` or `maxBytes` is
 *   reached, when the oldest buffered change is `maxDelayMs` old, and
 *   whenever the accumulator must cut (schema change, truncate, large
 *   transaction).
 * - Backpressure: when a batch is ready and nobody is pulling, the socket is
 *   paused (status updates keep flowing); the next pull resumes it. At most
 *   one ready batch and one partial batch are held in memory; further cut
 *   batches wait in the accumulator (the chunks of a large streamed
 *   transaction on disk) and are taken as they are pulled.
 * - Positions: a batch's checkpoint counts as handed out when yielded;
 *   {@link ChangeStream.confirm} makes it the flush LSN. When nothing is in
 *   flight, keepalives (and heartbeat messages) move the slot (idle rule).
 * - Connection loss: reconnects with jittered backoff (bounded attempts),
 *   drops what was buffered and restarts at the confirmed position; batches
 *   handed out but not confirmed come again (at least once; destinations skip
 *   replays by their `_etl_lsn` watermark).
 */
export class ChangeStream {
  readonly #o: ChangeStreamOptions;
  #stream: ReplicationStream | undefined;
  #ready: (ChangeBatch | StreamMarker)[] = [];
  #ended: { error: EtlError | undefined } | undefined;
  #wake: Wake | undefined;
  #delayTimer: NodeJS.Timeout | undefined;
  #failure: EtlError | undefined;
  #receivedSinceConnect = false;

  constructor(opts: ChangeStreamOptions) {
    this.#o = opts;
  }

  /**
   * The batches, pulled, with stream markers (see the accumulator's
   * `isMarker`) in their place between them. Ends when the signal aborts;
   * throws on a fatal error or when reconnecting gives up.
   */
  async *items(): AsyncGenerator<ChangeBatch | StreamMarker> {
    const o = this.#o;
    const backoff = new Backoff({
      initialDelayMs: o.reconnect.initialDelayMs,
      maxDelayMs: o.reconnect.maxDelayMs,
    });
    // Stopping ends the iteration but keeps the connection (paused) until close(), so the
    // confirmations of batches still in flight reach the server.
    const onAbort = () => {
      this.#stream?.pause();
      this.#ended ??= { error: undefined };
      this.#wakeUp();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!o.signal.aborted) {
        let error: EtlError | undefined;
        try {
          await this.#connect();
          for (;;) {
            const next = await this.#next();
            if (next === undefined) break;
            if (next instanceof ChangeBatch) o.positions.handOut(next.checkpoint.lsn);
            yield next;
          }
          error = this.#ended?.error;
        } catch (err) {
          error =
            err instanceof EtlError
              ? err
              : new EtlError('CONNECTION', `Replication stream failed: ${(err as Error).message}`, {
                  cause: err,
                  retryable: true,
                });
        }
        // Stopped: keep the connection for the final confirmations (see close()).
        if (o.signal.aborted && !error) return;
        await this.#teardown();
        if (this.#receivedSinceConnect) backoff.reset();
        if (o.signal.aborted || !error) return;
        if (!error.retryable || backoff.attempts + 1 >= o.reconnect.maxAttempts) throw error;
        o.onRetry?.(error, backoff.attempts + 1);
        await sleep(backoff.next(), o.signal);
      }
    } catch (err) {
      if (o.signal.aborted) return;
      throw err;
    } finally {
      o.signal.removeEventListener('abort', onAbort);
      if (!o.signal.aborted) await this.#teardown();
    }
  }

  /** What the stream holds right now (memory bound checks, metrics). */
  get stats(): StreamStats {
    const acc = this.#o.accumulator;
    return {
      paused: this.#stream?.paused ?? false,
      readyBatches: this.#ready.length,
      readyRows: this.#ready.reduce((n, b) => n + (b instanceof ChangeBatch ? b.numRows : 0), 0),
      bufferedRows: acc.bufferedRows,
      bufferedBytes: acc.bufferedBytes,
    };
  }

  /** Everything up to `lsn` is durable downstream: report it to the server now. */
  confirm(lsn: Lsn): void {
    if (this.#o.positions.confirm(lsn)) this.#stream?.requestStatus();
  }

  /** Sends the final confirmed position and closes the connection. Idempotent. */
  async close(): Promise<void> {
    this.#stream?.sendStatus();
    await this.#teardown();
  }

  async #connect(): Promise<void> {
    const o = this.#o;
    this.#ended = undefined;
    this.#failure = undefined;
    this.#receivedSinceConnect = false;
    o.accumulator.reset();
    o.positions.restart();
    const stream = new ReplicationStream({
      connectionString: o.connectionString,
      positions: o.positions,
      statusIntervalMs: o.statusIntervalMs,
    });
    this.#stream = stream;
    await stream.connect({ signal: o.signal });
    if (o.signal.aborted) throw abortError(o.signal);
    const command = startReplicationCommand({
      slot: o.slot,
      publication: o.publication,
      protocolVersion: o.protocolVersion,
      binary: o.binary,
      startLsn: o.positions.confirmed,
    });
    await stream.start(command, {
      onData: (payload, walStart) => this.#onData(payload, walStart),
      onKeepalive: (walEnd) => this.#o.positions.confirmIdle(walEnd, this.#holdingNothing()),
      onEnd: (error) => {
        this.#ended = { error: this.#failure ?? error };
        this.#wakeUp();
      },
    });
  }

  async #teardown(): Promise<void> {
    clearTimeout(this.#delayTimer);
    this.#delayTimer = undefined;
    this.#ready = [];
    const stream = this.#stream;
    this.#stream = undefined;
    await stream?.close();
  }

  /** Nothing received is still held here (undelivered) or by the consumer (unconfirmed). */
  #holdingNothing(): boolean {
    const acc = this.#o.accumulator;
    return this.#ready.length === 0 && !acc.inTransaction && acc.bufferedTransactions === 0 && !acc.mustCut;
  }

  #onData(payload: Buffer, walStart: Lsn): void {
    if (this.#failure) return;
    this.#receivedSinceConnect = true;
    const acc = this.#o.accumulator;
    try {
      const pushed = acc.push(payload, walStart) as unknown;
      if (pushed instanceof Promise)
        throw new EtlError('INTERNAL', 'The decoder returned a promise; expected a synchronous push');
      // Inside a transaction no size limit can cut (batches end at commits) and the delay timer
      // covers the delay: only commits and forced cuts need the check.
      if (acc.mustCut || !acc.inTransaction) this.#cut(false);
    } catch (err) {
      this.#failure = toEtlError(err, 'PG_PROTOCOL');
      void this.#stream?.close();
      return;
    }
    // Idle rule for messages outside transactions (heartbeats): nothing pending, so the slot may move here.
    if (this.#holdingNothing() && this.#o.positions.confirmIdle(walStart, true))
      this.#stream?.requestStatus();
  }

  /** Takes batches when a limit says so (or `force`, the delay timer), at commit boundaries. */
  #cut(force: boolean): void {
    const acc = this.#o.accumulator;
    const { maxRows, maxBytes, maxDelayMs } = this.#o.limits;
    const whole = acc.bufferedTransactions > 0;
    const full =
      whole && !acc.inTransaction && (acc.bufferedRows >= maxRows || acc.bufferedBytes >= maxBytes);
    const due =
      whole && acc.firstBufferedAtMs !== undefined && Date.now() - acc.firstBufferedAtMs >= maxDelayMs;
    if (acc.mustCut || full || due || (force && whole)) this.#takeReady();
    this.#armDelay();
  }

  /**
   * Moves batches from the accumulator to the ready queue until one is
   * there. The rest stay in the accumulator (chunks of a spilled
   * transaction on disk) and are taken one by one as they are pulled.
   */
  #takeReady(): void {
    const acc = this.#o.accumulator;
    while (this.#ready.length === 0) {
      const item = acc.takeItem();
      if (!item) return;
      this.#enqueue(item);
    }
  }

  #armDelay(): void {
    const acc = this.#o.accumulator;
    if (this.#delayTimer || acc.bufferedTransactions === 0 || acc.firstBufferedAtMs === undefined) return;
    const wait = Math.max(0, acc.firstBufferedAtMs + this.#o.limits.maxDelayMs - Date.now());
    this.#delayTimer = setTimeout(() => {
      this.#delayTimer = undefined;
      if (this.#failure || this.#ended) return;
      try {
        this.#cut(true);
      } catch (err) {
        this.#failure = toEtlError(err, 'PG_PROTOCOL');
        void this.#stream?.close();
      }
    }, wait);
  }

  #enqueue(batch: ChangeBatch | StreamMarker): void {
    const positions = this.#o.positions;
    // A batch of transactions that touched none of our tables (servers before 15 send them):
    // when nothing is in flight, it only moves the slot.
    if (
      batch instanceof ChangeBatch &&
      batch.entries.length === 0 &&
      !batch.partial &&
      this.#ready.length === 0 &&
      positions.settled
    ) {
      if (positions.confirmIdle(batch.checkpoint.lsn, true)) this.#stream?.requestStatus();
      return;
    }
    this.#ready.push(batch);
    if (!this.#wake) this.#stream?.pause();
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The next ready batch; undefined when the stream ended. Resumes reading while it waits. */
  async #next(): Promise<ChangeBatch | StreamMarker | undefined> {
    for (;;) {
      // Cuts queued behind the last batch, or whole transactions that filled a batch while one was
      // still waiting here (its #cut then took nothing): hand them out now, not when the delay runs out.
      if (this.#ready.length === 0) this.#cut(false);
      const batch = this.#ready.shift();
      if (batch) return batch;
      if (this.#ended) return undefined;
      this.#stream?.resume();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}
