import type { EtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { PipelineEvents, PipelineStatus } from '../pipeline/pipeline-events.js';
import type { ReplicationSlotRef } from '../pipeline/source.js';

/** A read-only view of a running pipeline, given to monitors. */
export interface PipelineView {
  readonly name: string;
  readonly status: PipelineStatus;
  /** Last LSN confirmed to the source. */
  readonly confirmedLsn: Lsn | undefined;
  /** The slot this pipeline reads (with its publication and tables, once known), when its source is Postgres. */
  readonly slot?: ReplicationSlotRef;
  /** Whether a destination's circuit breaker is open (or half-open), when the runtime reports it. */
  readonly circuitOpen?: boolean;
}

/** A listener of one pipeline event type, as given to {@link MonitorContext.on}. */
export type MonitorListener<K extends keyof PipelineEvents> = (payload: PipelineEvents[K]) => void;

/** What a monitor gets while it runs. */
export interface MonitorContext {
  /** Aborted when the pipeline stops; `run` must then resolve. */
  readonly signal: AbortSignal;
  /** The pipelines watched. */
  readonly pipelines: () => readonly PipelineView[];
  /** Emits events on the pipeline (alerts, lag). */
  readonly emit: <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;
  /**
   * Subscribes to the watched pipelines' events (including those monitors
   * emit); returns the unsubscribe function. Optional so that older runtimes
   * stay valid contexts: monitors that need events (metrics, alerts) say so
   * when it is missing; the others work from {@link MonitorContext.pipelines}.
   */
  readonly on?: <K extends keyof PipelineEvents>(type: K, listener: MonitorListener<K>) => () => void;
  /**
   * Stops the pipeline with a fatal error, as if its source had failed
   * (`error` event with `fatal: true`, `start()`/`wait()` reject). Used only
   * by monitors whose documented policy is to fail, such as a WAL monitor with
   * `onLost: 'fail'` when the pipeline's slot was invalidated. Optional: where
   * absent, such monitors report the problem (alert and non-fatal `error`).
   */
  readonly fail?: (error: EtlError) => void;
}

/**
 * Something that watches pipelines while they run (slot lag, metrics, health).
 * `run` is called once when the pipeline starts and must resolve soon after
 * `ctx.signal` aborts. A monitor never changes what the pipeline does; it
 * only emits events (the one exception is a documented fail policy, through
 * {@link MonitorContext.fail}). One monitor may be added to several
 * pipelines: `run` is then called once per pipeline, concurrently.
 */
export interface Monitor {
  readonly name: string;
  run(ctx: MonitorContext): Promise<void>;
}
