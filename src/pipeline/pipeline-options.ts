import { configError } from '../errors.js';
import type { Lease } from '../state/state-store.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { BatchLimits } from './source.js';

/** Retry policy for retryable destination and state-store failures. */
export interface RetryOptions {
  /** First delay before a retry. */
  readonly initialDelayMs?: number;
  /** Longest delay between retries. */
  readonly maxDelayMs?: number;
  /** Attempts before a retryable error becomes fatal. `Infinity` retries until stopped. */
  readonly maxAttempts?: number;
}

/** Options of `new Pipeline(...)`. */
export interface PipelineOptions {
  /** Unique name: keys the state, names the default slot. Letters, digits, `_` and `-`; at most 63 characters. */
  readonly name: string;
  /** Batch cutting limits; see {@link PipelineOptions.batch}. */
  readonly batch?: Partial<BatchLimits>;
  /** Batches read from the source but not yet confirmed. Bounds memory; the source stops reading beyond it. */
  readonly maxInFlight?: number;
  /** How long `stop()` waits for in-flight batches before aborting them. */
  readonly stopTimeoutMs?: number;
  /** Retry policy for retryable write and save failures. */
  readonly retry?: RetryOptions;
  /** Stops the pipeline when aborted (same as calling `stop()`). */
  readonly signal?: AbortSignal;
  /** Per-destination circuit breaker: after repeated failures the pipeline pauses and probes. */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /**
   * A lease on this pipeline, when several workers share it (the `PipelineManager` passes one).
   * `assertHeld()` is awaited before every save and again before every confirm: `LEASE_LOST` stops the pipeline
   * with nothing more saved or confirmed; retryable failures of the check are retried like
   * state-store failures. The holder renews it; the pipeline only checks it.
   */
  readonly lease?: Lease;
}

/** Enough rows to amortise per-batch costs (a Snowflake MERGE), small enough to keep memory modest. */
export const DEFAULT_MAX_ROWS = 50_000;
/** Arrow bytes per batch: keeps a batch's memory well under typical container limits. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** A change waits at most this long for its batch to fill. */
export const DEFAULT_MAX_DELAY_MS = 1_000;
/** Two batches in flight lets batch N+1 be decoded while N is written, and no more. */
export const DEFAULT_MAX_IN_FLIGHT = 2;
/** `stop()` gives in-flight writes this long to finish before aborting them. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** Retryable failures are retried until the pipeline is stopped; monitors alert meanwhile. */
export const DEFAULT_MAX_ATTEMPTS = Number.POSITIVE_INFINITY;

/** Options after validation, with every default filled in. */
export interface ResolvedPipelineOptions {
  readonly name: string;
  readonly batch: BatchLimits;
  readonly maxInFlight: number;
  readonly stopTimeoutMs: number;
  readonly retry: Required<RetryOptions>;
  readonly signal: AbortSignal | undefined;
  readonly circuitBreaker: CircuitBreakerOptions | undefined;
  readonly lease: Lease | undefined;
}

const NAME = /^[A-Za-z0-9_-]{1,63}$/;

function positiveInt(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw configError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegative(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw configError(field, `must be a number >= 0, got ${String(value)}`);
  }
  return value;
}

/** Batch limits from partial user input; every field checked and named on error. */
export function resolveBatchLimits(batch: Partial<BatchLimits> | undefined, prefix = 'batch'): BatchLimits {
  return {
    maxRows: positiveInt(`${prefix}.maxRows`, batch?.maxRows, DEFAULT_MAX_ROWS),
    maxBytes: positiveInt(`${prefix}.maxBytes`, batch?.maxBytes, DEFAULT_MAX_BYTES),
    maxDelayMs: nonNegative(`${prefix}.maxDelayMs`, batch?.maxDelayMs, DEFAULT_MAX_DELAY_MS),
  };
}

/** Validates pipeline options up front, naming the field to change. */
export function resolvePipelineOptions(opts: PipelineOptions): ResolvedPipelineOptions {
  if (opts === null || typeof opts !== 'object') {
    throw configError('options', 'expected an object like { name: "orders" }');
  }
  if (typeof opts.name !== 'string' || !NAME.test(opts.name)) {
    throw configError(
      'name',
      `must be 1-63 letters, digits, "_" or "-", got ${JSON.stringify(opts.name)}`,
      'Pick a short stable name such as "orders"; it keys the saved position and names the replication slot.',
    );
  }
  const maxAttempts = opts.retry?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!(maxAttempts === Number.POSITIVE_INFINITY || (Number.isInteger(maxAttempts) && maxAttempts > 0))) {
    throw configError(
      'retry.maxAttempts',
      `must be a positive integer or Infinity, got ${String(maxAttempts)}`,
    );
  }
  if (opts.lease !== undefined && typeof opts.lease?.assertHeld !== 'function') {
    throw configError('lease', 'expected a Lease (with assertHeld()), such as one from store.lease()');
  }
  return {
    name: opts.name,
    batch: resolveBatchLimits(opts.batch),
    maxInFlight: positiveInt('maxInFlight', opts.maxInFlight, DEFAULT_MAX_IN_FLIGHT),
    stopTimeoutMs: nonNegative('stopTimeoutMs', opts.stopTimeoutMs, DEFAULT_STOP_TIMEOUT_MS),
    retry: {
      initialDelayMs: nonNegative('retry.initialDelayMs', opts.retry?.initialDelayMs, 200),
      maxDelayMs: nonNegative('retry.maxDelayMs', opts.retry?.maxDelayMs, 30_000),
      maxAttempts,
    },
    signal: opts.signal,
    circuitBreaker: opts.circuitBreaker,
    lease: opts.lease,
  };
}
