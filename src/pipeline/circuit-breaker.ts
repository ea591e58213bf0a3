import { sleep } from '../async/abortable-sleep.js';
import { configError } from '../errors.js';

/** The breaker's state: `closed` lets calls through, `open` holds them, `half-open` lets one probe through. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of the circuit breaker each destination gets (`CircuitBreaker`, internal). */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before a half-open probe is let through. */
  readonly resetTimeoutMs?: number;
}

/** Five failures in a row is past a blip but before minutes of hammering a down service. */
export const DEFAULT_FAILURE_THRESHOLD = 5;
/** Probe a broken service every 30 s. */
export const DEFAULT_RESET_TIMEOUT_MS = 30_000;

/**
 * A circuit breaker for one destination. Checks on the hot path are plain
 * reads ({@link CircuitBreaker.state}); opening it does not drop anything: the
 * runtime waits in {@link CircuitBreaker.waitUntilClosedOrProbe}, so the
 * pipeline pauses (no reads, no acknowledgements) until a probe succeeds.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private readonly threshold: number;
  private readonly resetTimeoutMs: number;
  private readonly listeners = new Set<(state: CircuitState) => void>();

  constructor(opts: CircuitBreakerOptions = {}) {
    this.threshold = opts.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD;
    this.resetTimeoutMs = opts.resetTimeoutMs ?? DEFAULT_RESET_TIMEOUT_MS;
    if (!Number.isInteger(this.threshold) || this.threshold < 1) {
      throw configError(
        'circuitBreaker.failureThreshold',
        `must be a positive integer, got ${this.threshold}`,
      );
    }
    if (!(this.resetTimeoutMs >= 0)) {
      throw configError('circuitBreaker.resetTimeoutMs', `must be >= 0, got ${this.resetTimeoutMs}`);
    }
  }

  /** The current state (a plain read). */
  get state(): CircuitState {
    return this.current;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onChange(listener: (state: CircuitState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when a call may proceed: at once when closed, after the reset timeout when open (as a half-open probe). */
  async waitUntilClosedOrProbe(signal: AbortSignal): Promise<void> {
    while (this.current === 'open') {
      const wait = this.openedAt + this.resetTimeoutMs - Date.now();
      if (wait > 0) await sleep(wait, signal);
      else this.set('half-open');
    }
  }

  /** A call succeeded: the circuit closes. */
  recordSuccess(): void {
    this.failures = 0;
    this.set('closed');
  }

  /** A call failed: after `failureThreshold` in a row, or any failed probe, the circuit opens. */
  recordFailure(): void {
    this.failures++;
    if (this.current === 'half-open' || this.failures >= this.threshold) {
      this.openedAt = Date.now();
      this.set('open');
    }
  }

  private set(state: CircuitState): void {
    if (this.current === state) return;
    this.current = state;
    for (const l of this.listeners) l(state);
  }
}
