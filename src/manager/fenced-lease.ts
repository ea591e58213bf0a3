import { EtlError } from '../errors.js';
import type { Lease } from '../state/state-store.js';

/**
 * The part of the lease's time this worker does not count on: Redis starts
 * the TTL when it runs the renewal, a little after this worker sent it, and
 * clocks drift slightly; giving up a little early covers both.
 */
const SAFETY_FRACTION = 0.1;
/** At least this much of the lease is never counted on, however long the TTL. */
const MIN_SAFETY_MS = 100;

/**
 * A lease as a worker holds it: the remote lease (renewed through Redis) plus
 * a local deadline, so the worker knows its lease is gone even when it
 * cannot reach Redis to be told.
 *
 * The deadline is the start of the last successful renewal plus the TTL,
 * minus a safety margin: Redis lets the lease expire no earlier than that, so
 * while the deadline has not passed no other worker can hold the lease.
 * {@link FencedLease.assertHeld} (what the pipeline awaits before every save
 * and confirm) fails with `LEASE_LOST` once the deadline passed, and
 * otherwise checks in Redis that the lease still holds this owner and this
 * fencing token; a check that cannot finish before the deadline fails with
 * `LEASE_LOST` too.
 */
export class FencedLease implements Lease {
  private validUntil: number;
  private lostError: EtlError | undefined;
  private readonly safetyMs: number;

  constructor(
    private readonly inner: Lease,
    private readonly pipeline: string,
    private readonly ttlMs: number,
    acquiredAt: number,
    private readonly now: () => number = Date.now,
  ) {
    this.safetyMs = Math.max(MIN_SAFETY_MS, Math.round(ttlMs * SAFETY_FRACTION));
    this.validUntil = acquiredAt + ttlMs - this.safetyMs;
  }

  /** The worker holding the lease. */
  get owner(): string {
    return this.inner.owner;
  }

  /** The fencing token of this acquisition. */
  get token(): number {
    return this.inner.token;
  }

  /** Until when this worker may act as the owner (epoch ms), by its own clock. */
  get deadline(): number {
    return this.validUntil;
  }

  /** True until the deadline passes or the lease is known lost. */
  get valid(): boolean {
    return this.lostError === undefined && this.now() < this.validUntil;
  }

  /** Renews in Redis; on success the deadline moves to (start of this call) + TTL − margin. */
  async renew(): Promise<void> {
    this.throwIfLost();
    const startedAt = this.now();
    try {
      await this.inner.renew();
    } catch (err) {
      if (err instanceof EtlError && err.code === 'LEASE_LOST') this.markLost(err);
      throw err;
    }
    this.validUntil = Math.max(this.validUntil, startedAt + this.ttlMs - this.safetyMs);
  }

  /** The fencing check: rejects with `LEASE_LOST` unless the lease is still this owner's with this token. */
  async assertHeld(): Promise<void> {
    this.throwIfLost();
    const remaining = this.validUntil - this.now();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.expiredError()), remaining);
    });
    try {
      await Promise.race([this.inner.assertHeld(), expired]);
    } catch (err) {
      if (err instanceof EtlError && err.code === 'LEASE_LOST') this.markLost(err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.throwIfLost();
  }

  /** Gives the lease up in Redis (best effort; it expires anyway) and stops counting on it. */
  async release(): Promise<void> {
    this.markLost(new EtlError('LEASE_LOST', `Lease on pipeline "${this.pipeline}" was released`));
    await this.inner.release();
  }

  /** Records that the lease is gone (renewal refused, deadline passed, released). */
  markLost(error: EtlError): void {
    this.lostError ??= error;
  }

  private throwIfLost(): void {
    if (this.lostError) throw this.lostError;
    if (this.now() >= this.validUntil) {
      this.markLost(this.expiredError());
      throw this.lostError;
    }
  }

  private expiredError(): EtlError {
    return new EtlError(
      'LEASE_LOST',
      `Lease on pipeline "${this.pipeline}" (owner "${this.owner}", token ${this.token}) ran out: not renewed within ${this.ttlMs} ms`,
      {
        hint: 'This worker could not reach Redis to renew its lease; another worker may own the pipeline now. Check the network between this worker and Redis.',
        details: { pipeline: this.pipeline, owner: this.owner, token: this.token },
      },
    );
  }
}
