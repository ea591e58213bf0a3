import { EtlError } from '../errors.js';

/**
 * Waits `ms` milliseconds, or rejects with an `ABORTED` error as soon as
 * `signal` aborts. Leaves no timer behind either way.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error used when an operation is cancelled through its signal. */
export function abortError(signal: AbortSignal): EtlError {
  return new EtlError('ABORTED', 'The operation was aborted', { cause: signal.reason });
}

/** True when `err` is the cancellation of an operation (ours or the platform's). */
export function isAbort(err: unknown): boolean {
  return (
    (err instanceof EtlError && err.code === 'ABORTED') || (err instanceof Error && err.name === 'AbortError')
  );
}

/**
 * Settles like `promise`, or rejects with an `ABORTED` error as soon as
 * `signal` aborts (at once when it already has), for calls that cannot be
 * cancelled themselves: a `pg` `connect()` interrupted by `end()` never
 * settles, so waiting on it alone would hang whoever is stopping.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {}); // abandoned on abort: its later failure is nobody's concern
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
