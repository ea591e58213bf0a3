/** Options for {@link Backoff}. */
export interface BackoffOptions {
  /** First delay. */
  readonly initialDelayMs?: number;
  /** Upper bound of any delay. */
  readonly maxDelayMs?: number;
  /** Growth per attempt. */
  readonly factor?: number;
}

/** Short enough that a blip costs little, long enough not to hammer a struggling server. */
export const DEFAULT_INITIAL_DELAY_MS = 200;
/** A failing service is retried at least twice a minute. */
export const DEFAULT_MAX_DELAY_MS = 30_000;
const DEFAULT_FACTOR = 2;

/**
 * Exponential backoff with jitter: each delay is uniform in `[c/2, c]` where
 * `c = min(max, initial * factor^attempt)`, so clients retrying the same
 * service spread out instead of arriving together, yet never retry at once.
 */
export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;

  constructor(opts: BackoffOptions = {}) {
    this.initial = opts.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
    this.max = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.factor = opts.factor ?? DEFAULT_FACTOR;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay in milliseconds. */
  next(): number {
    const ceiling = Math.min(this.max, this.initial * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Starts over after a success. */
  reset(): void {
    this.attempt = 0;
  }
}
