import { sleep } from '../async/abortable-sleep.js';

/**
 * An interval sleep that can be cut short: {@link Waker.now} ends the current
 * {@link Waker.nap}, or the next one when none is running (so a wake-up that
 * arrives while the loop is busy is not lost).
 *
 * @example
 * ```ts
 * const wake = new Waker();
 * while (!signal.aborted) {
 *   await poll();
 *   await wake.nap(10_000, signal); // wake.now() elsewhere: poll again at once
 * }
 * ```
 */
export class Waker {
  private stop: (() => void) | undefined;
  private pending = false;

  now(): void {
    if (this.stop) this.stop();
    else this.pending = true;
  }

  /** Sleeps `ms`, or until {@link Waker.now} or `signal` aborts; never rejects, leaves no timer. */
  async nap(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return;
    }
    const early = new AbortController();
    this.stop = () => early.abort();
    signal.addEventListener('abort', this.stop, { once: true });
    await sleep(ms, early.signal).catch(() => {});
    signal.removeEventListener('abort', this.stop);
    this.stop = undefined;
  }
}
