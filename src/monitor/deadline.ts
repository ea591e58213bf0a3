import { abortError } from '../async/abortable-sleep.js';
import { EtlError } from '../errors.js';

/** Options of {@link withDeadline}. */
export interface DeadlineOptions {
  /** Longest wait, in ms. */
  readonly timeoutMs: number;
  /** Cancels the operation early (the caller stopped). */
  readonly signal?: AbortSignal;
  /** What is being waited for, for the error message ("slot check of db1:5432"). */
  readonly what: string;
}

/**
 * Runs `fn` with its own `AbortSignal` and settles within `timeoutMs` whatever
 * `fn` does: on time-out it aborts `fn`'s signal and rejects with a
 * retryable `TIMEOUT` error at once, without waiting for `fn` to notice; when
 * `opts.signal` aborts it rejects with `ABORTED`. Several calls run side by
 * side, so one hung server never delays the others. Leaves no timer behind.
 *
 * @example
 * ```ts
 * const results = await Promise.allSettled(
 *   servers.map((s) => withDeadline((signal) => s.check({ signal }), { timeoutMs: 5_000, what: s.name })),
 * );
 * ```
 */
export function withDeadline<T>(fn: (signal: AbortSignal) => Promise<T>, opts: DeadlineOptions): Promise<T> {
  const outer = opts.signal;
  if (outer?.aborted) return Promise.reject(abortError(outer));
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => {
      const err = abortError(outer!);
      controller.abort(err);
      finish(() => reject(err));
    };
    const timer = setTimeout(() => {
      const err = new EtlError('TIMEOUT', `${opts.what} did not answer within ${opts.timeoutMs} ms`, {
        retryable: true,
        hint: 'Check that the server is reachable from here (network, firewall, load), or raise `timeoutMs`.',
      });
      controller.abort(err);
      finish(() => reject(err));
    }, opts.timeoutMs);
    outer?.addEventListener('abort', onAbort, { once: true });
    let work: Promise<T>;
    try {
      work = fn(controller.signal);
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}
