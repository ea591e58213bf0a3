import { epochNowMs } from '../metrics.js';

/**
 * Counts the rows a contender received until the workload's number is
 * reached and, for latency runs, when each row (by `id`) arrived; the
 * harness turns arrivals into latencies with the rows' commit timestamps.
 */
export class RowGoal {
  private received = 0;
  private target: number | undefined;
  private resolveReached!: () => void;
  /** Resolves once the target is known and reached. */
  readonly reached = new Promise<void>((resolve) => {
    this.resolveReached = resolve;
  });
  /** Latency runs: ids of the rows received, and when (ms since the epoch), in step. */
  readonly arrivalIds: number[] = [];
  readonly arrivalMs: number[] = [];

  constructor(target: number | undefined) {
    this.target = target;
  }

  get rows(): number {
    return this.received;
  }

  get done(): boolean {
    return this.target !== undefined && this.received >= this.target;
  }

  /** Counts `n` more rows. */
  add(n: number): void {
    this.received += n;
    if (this.done) this.resolveReached();
  }

  /** Sets the target once it is known (latency runs learn it when the writer stops). */
  expect(rows: number): void {
    this.target = rows;
    if (this.done) this.resolveReached();
  }

  /** Records that the row `id` arrived at `nowMs` (ms since the epoch). */
  arrived(id: number, nowMs: number = epochNowMs()): void {
    this.arrivalIds.push(id);
    this.arrivalMs.push(nowMs);
  }
}
