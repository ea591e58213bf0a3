/**
 * A MonitorContext built by hand for monitor tests: real typed events (the
 * runtime's PipelineEmitter, so `emit` reaches `on` like in a pipeline), a
 * record of everything emitted, and bounded waits.
 */
import type { EtlError } from '../../../src/errors.js';
import type { MonitorContext, PipelineView } from '../../../src/monitor/monitor.js';
import { PipelineEmitter } from '../../../src/pipeline/pipeline-emitter.js';
import type { PipelineEvents } from '../../../src/pipeline/pipeline-events.js';

export interface TestContext {
  readonly ctx: MonitorContext;
  readonly emitter: PipelineEmitter;
  readonly events: { type: keyof PipelineEvents; payload: unknown; at: number }[];
  readonly failures: EtlError[];
  /** Current views; tests mutate it. */
  views: PipelineView[];
  /** Aborts the context (the pipeline stops). */
  stop(): void;
  /** Payloads of one type so far. */
  of<K extends keyof PipelineEvents>(type: K): PipelineEvents[K][];
  /** Waits (bounded) for an event of `type` matching `pred`, including ones already seen. */
  waitFor<K extends keyof PipelineEvents>(
    type: K,
    pred?: (p: PipelineEvents[K]) => boolean,
    timeoutMs?: number,
  ): Promise<PipelineEvents[K]>;
}

export function testContext(
  views: PipelineView[],
  opts: { withOn?: boolean; withFail?: boolean } = {},
): TestContext {
  const emitter = new PipelineEmitter();
  const controller = new AbortController();
  const events: TestContext['events'] = [];
  const failures: EtlError[] = [];
  const tc: TestContext = {
    emitter,
    events,
    failures,
    views,
    ctx: {
      signal: controller.signal,
      pipelines: () => tc.views,
      emit: (type, payload) => {
        events.push({ type, payload, at: Date.now() });
        emitter.emit(type, payload);
      },
      ...(opts.withOn === false ? {} : { on: (type, listener) => emitter.on(type, listener) }),
      ...(opts.withFail === false ? {} : { fail: (error: EtlError) => void failures.push(error) }),
    },
    stop: () => controller.abort(),
    of: <K extends keyof PipelineEvents>(type: K) =>
      events.filter((e) => e.type === type).map((e) => e.payload as PipelineEvents[K]),
    waitFor: <K extends keyof PipelineEvents>(
      type: K,
      pred: (p: PipelineEvents[K]) => boolean = () => true,
      timeoutMs = 20_000,
    ) =>
      new Promise<PipelineEvents[K]>((resolve, reject) => {
        const seen = tc.of(type).find(pred);
        if (seen) return resolve(seen);
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no matching "${String(type)}" event within ${timeoutMs} ms`));
        }, timeoutMs);
        const off = emitter.on(type, (p) => {
          if (!pred(p)) return;
          clearTimeout(timer);
          off();
          resolve(p);
        });
      }),
  };
  return tc;
}

/** Polls `cond` every 20 ms until true, or fails after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves with `promise`, or rejects when it takes longer than `ms` (the thing under test hung). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}
