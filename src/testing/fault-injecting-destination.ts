import type { ChangeBatch } from '../change/change-batch.js';
import { EtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { Destination, DestinationContext } from '../pipeline/destination.js';

/** When and how {@link faultInjecting} fails. */
export interface FaultPlan {
  /**
   * Which writes fail, by 1-based call number (`[2, 3]` fails the 2nd and 3rd
   * call), or a predicate over the call number and the batch.
   */
  readonly failWrites?: readonly number[] | ((call: number, batch: ChangeBatch) => boolean);
  /**
   * `before` (default): fail without applying. `after`: apply the batch, then
   * fail — the write is durable but the pipeline does not know it, the case
   * that tests effectively-once delivery.
   */
  readonly when?: 'before' | 'after';
  /** Whether the injected error says retrying may help (default true). */
  readonly retryable?: boolean;
  /** Delay added to every write, in ms. */
  readonly latencyMs?: number;
}

/** A destination wrapped by {@link faultInjecting}, with counters for assertions. */
export interface FaultInjectingDestination extends Destination {
  /** Calls of `write` so far (including failed ones). */
  readonly calls: number;
  /** Injected failures so far. */
  readonly failures: number;
}

/**
 * Wraps a destination so that chosen writes fail, before or after the inner
 * write is applied. For tests of retry, fan-out and crash semantics.
 *
 * @example
 * ```ts
 * const flaky = faultInjecting(memory(), { failWrites: [1, 2], when: 'after' });
 * new Pipeline({ name: 'p' }).from(source).to(flaky);
 * ```
 */
export function faultInjecting(inner: Destination, plan: FaultPlan): FaultInjectingDestination {
  let calls = 0;
  let failures = 0;
  const shouldFail = (call: number, batch: ChangeBatch): boolean => {
    const f = plan.failWrites;
    if (!f) return false;
    return typeof f === 'function' ? f(call, batch) : f.includes(call);
  };
  const fail = (call: number): never => {
    failures++;
    throw new EtlError(
      'DESTINATION',
      `Injected failure of write #${call} (${plan.when ?? 'before'} applying)`,
      {
        retryable: plan.retryable ?? true,
      },
    );
  };
  const wrapped: FaultInjectingDestination = {
    name: inner.name,
    get calls() {
      return calls;
    },
    get failures() {
      return failures;
    },
    async open(ctx: DestinationContext) {
      await inner.open?.(ctx);
    },
    async write(batch, opts) {
      const call = ++calls;
      if (plan.latencyMs) await new Promise((r) => setTimeout(r, plan.latencyMs));
      const failing = shouldFail(call, batch);
      if (failing && plan.when !== 'after') fail(call);
      await inner.write(batch, opts);
      if (failing) fail(call);
    },
    close: () => inner.close(),
  };
  if (inner.committedLsn) {
    const read = inner.committedLsn.bind(inner);
    (wrapped as { committedLsn?: (p: string) => Promise<Lsn | undefined> }).committedLsn = (p) => read(p);
  }
  return wrapped;
}
