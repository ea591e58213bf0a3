import { isAbort, sleep } from '../async/abortable-sleep.js';
import { Backoff } from '../async/backoff.js';
import type { ChangeBatch } from '../change/change-batch.js';
import { EtlError, toEtlError } from '../errors.js';
import { type Lsn, maxLsn } from '../lsn.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { Destination, DestinationContext } from './destination.js';
import type { ResolvedPipelineOptions } from './pipeline-options.js';

/**
 * The runtime's wrapper around every destination, built-in or user-written:
 * opened once, closed once, never used after close; writes are serial and in
 * order; failures are normalised to {@link EtlError} and retryable ones are
 * retried with backoff; the destination's durable position is tracked.
 */
export class ManagedDestination {
  readonly name: string;
  /**
   * Changes committed at or below this LSN are skipped: the commit LSN of the
   * last batch this destination made durable, or that had nothing for it.
   */
  durableCommitLsn: Lsn = 0n;
  /**
   * Commit LSN of the last batch actually written to this destination (not
   * skipped as empty): what the state store saves for it, and what its own
   * watermark must be at least.
   */
  appliedCommitLsn: Lsn = 0n;
  /** Whether the destination keeps its own watermark (implements `committedLsn`). */
  readonly keepsWatermark: boolean;
  /** Its own watermark as read at open; undefined when it has none (or keeps none). */
  watermark: Lsn | undefined;
  /** Total time spent in successful writes, for metrics. */
  writeMs = 0;
  /** Opens after repeated failures; while open, writes wait instead of failing. */
  readonly breaker: CircuitBreaker;
  private opened = false;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  /** Chunks of a large transaction were written: its final chunk must be written too, even when empty here. */
  private holdingChunks = false;

  constructor(
    private readonly inner: Destination,
    private readonly options: ResolvedPipelineOptions,
    private readonly onRetry: (error: EtlError, attempt: number) => void,
  ) {
    if (!inner || typeof inner.write !== 'function' || typeof inner.close !== 'function') {
      throw new EtlError('CONFIG_INVALID', 'A destination must have write(batch, opts) and close() methods', {
        hint: 'Pass a built-in destination (memory(), duckdb(), snowflake()) or an object implementing Destination.',
      });
    }
    this.name = typeof inner.name === 'string' && inner.name ? inner.name : 'destination';
    this.breaker = new CircuitBreaker(options.circuitBreaker);
    this.keepsWatermark = typeof inner.committedLsn === 'function';
  }

  /**
   * Opens the destination (once) and reads its watermark. `stored` is the
   * position the state store remembers for it. A destination that keeps a
   * watermark is trusted over the store (it is written with the data); for
   * one that does not, the store's position is all there is.
   */
  async open(ctx: DestinationContext, stored: Lsn | undefined): Promise<void> {
    this.assertUsable();
    if (this.opened) return;
    try {
      await this.inner.open?.(ctx);
      this.opened = true;
      this.watermark = await this.inner.committedLsn?.(ctx.pipeline);
      this.durableCommitLsn = (this.keepsWatermark ? this.watermark : stored) ?? 0n;
      this.appliedCommitLsn = this.durableCommitLsn;
    } catch (err) {
      throw this.normalise(err, 'open');
    }
  }

  /**
   * Queues `batch` behind earlier writes and resolves when it is durable here.
   * Changes at or below the watermark are skipped (replays after a restart).
   */
  write(batch: ChangeBatch, signal: AbortSignal): Promise<void> {
    this.assertUsable();
    const run = this.tail.then(() => this.writeWithRetry(batch, signal));
    // Later writes wait for this one; a failure is reported to the caller, who stops the pipeline.
    this.tail = run.catch(() => {});
    return run;
  }

  /** Closes the destination once; later calls resolve immediately. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.inner.close();
    } catch (err) {
      throw this.normalise(err, 'close');
    }
  }

  private async writeWithRetry(batch: ChangeBatch, signal: AbortSignal): Promise<void> {
    const todo = batch.after(this.durableCommitLsn);
    const backoff = new Backoff(this.options.retry);
    for (;;) {
      this.assertUsable();
      await this.breaker.waitUntilClosedOrProbe(signal);
      const started = performance.now();
      try {
        // Nothing left after skipping replays (or a filtered-out batch): nothing to make durable,
        // unless earlier chunks of this transaction wait in the destination for their final chunk.
        const written = todo.entries.length > 0 || (!batch.partial && this.holdingChunks);
        if (written) await this.inner.write(todo, { signal });
        this.writeMs += performance.now() - started;
        this.breaker.recordSuccess();
        if (batch.partial) this.holdingChunks ||= written;
        else {
          this.holdingChunks = false;
          this.durableCommitLsn = maxLsn(this.durableCommitLsn, batch.commitLsn);
          if (written) this.appliedCommitLsn = maxLsn(this.appliedCommitLsn, batch.commitLsn);
        }
        return;
      } catch (err) {
        if (signal.aborted || isAbort(err)) throw toEtlError(err, 'ABORTED');
        const error = this.normalise(err, 'write');
        if (error.retryable) this.breaker.recordFailure();
        if (!error.retryable || backoff.attempts + 1 >= this.options.retry.maxAttempts) throw error;
        this.onRetry(error, backoff.attempts + 1);
        // While the circuit is open the breaker's own wait replaces the backoff.
        if (this.breaker.state === 'closed') await sleep(backoff.next(), signal);
      }
    }
  }

  private assertUsable(): void {
    if (this.closed) {
      throw new EtlError('LIFECYCLE', `Destination "${this.name}" was used after it was closed`);
    }
  }

  private normalise(err: unknown, step: string): EtlError {
    if (err instanceof EtlError) return err;
    return toEtlError(err, 'DESTINATION', `Destination "${this.name}" failed to ${step}: ${messageOf(err)}`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
