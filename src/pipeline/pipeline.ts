import { isAbort, sleep, untilAborted } from '../async/abortable-sleep.js';
import { Backoff } from '../async/backoff.js';
import type { ChangeBatch } from '../change/change-batch.js';
import type { Checkpoint } from '../change/checkpoint.js';
import { configError, EtlError, toEtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { Monitor, MonitorContext, PipelineView } from '../monitor/monitor.js';
import type { PipelineState, StateStore } from '../state/state-store.js';
import type { Transform } from '../transforms/transform.js';
import type { Destination } from './destination.js';
import { ManagedDestination } from './managed-destination.js';
import { type Listener, PipelineEmitter } from './pipeline-emitter.js';
import type { PipelineEvents, PipelineStatus } from './pipeline-events.js';
import {
  type PipelineOptions,
  type ResolvedPipelineOptions,
  resolveBatchLimits,
  resolvePipelineOptions,
} from './pipeline-options.js';
import { idleAdvanced, type ReconcileReport, reconcilePositions } from './reconcile.js';
import type { BatchLimits, Source, SourceContext } from './source.js';

/** Options of {@link Pipeline.stop}. */
export interface StopOptions {
  /**
   * Wait for in-flight batches to become durable and be confirmed (default true). False aborts
   * them: they are not confirmed and come again on the next start; the pipeline still ends `stopped`.
   */
  readonly drain?: boolean;
  /** Longest wait for the drain before in-flight writes are aborted. Defaults to the pipeline's `stopTimeoutMs`. */
  readonly timeoutMs?: number;
}

/**
 * One pipeline: one source (one slot, one ordered stream), transforms, one or
 * more destinations, a state store and monitors. The fluent builder and the
 * runtime in one object. Construction does no I/O; {@link Pipeline.start}
 * connects and refuses a second call.
 *
 * Guarantees: the position confirmed to the source is always the checkpoint of
 * a batch every destination made durable and the state store saved; a
 * destination that keeps a watermark sees no change twice.
 *
 * @example
 * ```ts
 * const pipeline = new Pipeline({ name: 'orders' })
 *   .from(postgres({ connectionString, publication: 'etl_orders', tables: ['public.orders'] }))
 *   .to(duckdb({ path: './orders.duckdb' }))
 *   .state(redisState({ url: process.env.REDIS_URL }));
 * pipeline.on('error', ({ error, fatal }) => console.error(fatal ? 'fatal' : 'retrying', error.toString()));
 * await pipeline.start();
 * // ...
 * await pipeline.stop();
 * ```
 */
export class Pipeline {
  private readonly options: ResolvedPipelineOptions;
  private readonly emitter = new PipelineEmitter();
  private source: Source | undefined;
  private readonly transforms: Transform[] = [];
  private readonly destinations: Destination[] = [];
  private readonly monitors: Monitor[] = [];
  private store: StateStore | undefined;
  private batchLimits: BatchLimits;

  private started = false;
  private currentStatus: PipelineStatus = 'idle';
  private confirmed: Lsn | undefined;
  private lastState: PipelineState | undefined;
  private managed: ManagedDestination[] = [];
  /** Aborted to stop reading from the source. */
  private readonly readAbort = new AbortController();
  /** Aborted to cancel in-flight writes (stop without drain, timeout, fatal error). */
  private readonly writeAbort = new AbortController();
  /** Aborted to end monitors. */
  private readonly monitorAbort = new AbortController();
  private runPromise: Promise<void> | undefined;
  private monitorRuns: Promise<unknown>[] = [];
  private failure: EtlError | undefined;
  private stopPromise: Promise<void> | undefined;

  constructor(options: PipelineOptions) {
    this.options = resolvePipelineOptions(options);
    this.batchLimits = this.options.batch;
  }

  /** The pipeline's name. */
  get name(): string {
    return this.options.name;
  }

  /** Where the pipeline is in its life. */
  get status(): PipelineStatus {
    return this.currentStatus;
  }

  /** The last LSN confirmed to the source, once one was. */
  get confirmedLsn(): Lsn | undefined {
    return this.confirmed;
  }

  /** Sets the source (exactly one). */
  from(source: Source): this {
    this.assertBuilding('from');
    if (this.source)
      throw configError('from', 'a pipeline reads from exactly one source; from() was called twice');
    if (!source || typeof source.open !== 'function' || typeof source.confirm !== 'function') {
      throw configError('from', 'expected a Source such as postgres({ ... })');
    }
    this.source = source;
    return this;
  }

  /** Adds transforms, applied in order to every batch. */
  transform(...transforms: Transform[]): this {
    this.assertBuilding('transform');
    for (const t of transforms) {
      if (typeof t !== 'function') throw configError('transform', 'expected functions (batch, ctx) => batch');
    }
    this.transforms.push(...transforms);
    return this;
  }

  /** Adds destinations. With several, each gets every batch and the slot advances at the slowest. */
  to(...destinations: Destination[]): this {
    this.assertBuilding('to');
    for (const d of destinations) {
      if (!d || typeof d.write !== 'function' || typeof d.close !== 'function') {
        throw configError('to', 'expected a Destination (write(batch, opts) and close())');
      }
      const name = d.name;
      if (this.destinations.some((e) => e.name === name)) {
        throw configError(
          'to',
          `two destinations are named "${name}"`,
          'Give each destination a distinct name.',
        );
      }
      this.destinations.push(d);
    }
    return this;
  }

  /** Sets the state store. Without one, state lives in memory only (the slot still keeps the position). */
  state(store: StateStore): this {
    this.assertBuilding('state');
    if (!store || typeof store.load !== 'function' || typeof store.save !== 'function') {
      throw configError('state', 'expected a StateStore such as redisState({ url })');
    }
    this.store = store;
    return this;
  }

  /** Adds monitors (WAL monitor, metrics, health). */
  monitor(...monitors: Monitor[]): this {
    this.assertBuilding('monitor');
    this.monitors.push(...monitors);
    return this;
  }

  /** Sets batch limits: a batch is cut at a commit boundary once one is reached. */
  batch(limits: Partial<BatchLimits>): this {
    this.assertBuilding('batch');
    this.batchLimits = resolveBatchLimits({ ...this.batchLimits, ...limits });
    return this;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof PipelineEvents>(type: K, listener: Listener<K>): () => void {
    return this.emitter.on(type, listener);
  }

  /** Subscribes to the next event of a type. */
  once<K extends keyof PipelineEvents>(type: K, listener: Listener<K>): () => void {
    return this.emitter.once(type, listener);
  }

  /**
   * Connects everything, checks the configuration and starts streaming in the
   * background. Resolves once running; rejects (after closing what it opened)
   * when startup fails. Later fatal errors reject {@link Pipeline.wait}.
   */
  async start(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.started) throw new EtlError('LIFECYCLE', `Pipeline "${this.name}" was already started`);
    this.started = true;
    if (!this.source) throw configError('from', 'no source: call .from(postgres({ ... })) before start()');
    if (this.destinations.length === 0)
      throw configError('to', 'no destination: call .to(...) before start()');
    for (const signal of [this.options.signal, opts.signal]) {
      if (!signal) continue;
      if (signal.aborted) throw new EtlError('ABORTED', 'start() was called with an aborted signal');
      signal.addEventListener('abort', () => void this.stop().catch(() => {}), { once: true });
    }
    this.setStatus('starting');
    try {
      this.lastState = await this.retrying(
        'state store',
        () => this.store?.load(this.name) ?? Promise.resolve(undefined),
      );
      this.managed = this.destinations.map(
        (d) =>
          new ManagedDestination(d, this.options, (error, attempt) =>
            this.emitter.emit('error', {
              error,
              fatal: false,
              component: `destination:${d.name}:attempt ${attempt}`,
            }),
          ),
      );
      for (const m of this.managed) this.watchCircuit(m);
      const destCtx = { pipeline: this.name, signal: this.writeAbort.signal, emit: this.emit };
      await Promise.all(this.managed.map((m) => m.open(destCtx, this.lastState?.destinations[m.name])));
      const ctx = this.sourceContext();
      await this.source.prepare?.(ctx);
      const report = this.reconcile();
      this.startMonitors();
      this.reportReconcile(report);
      this.setStatus(this.lastState?.checkpoint.snapshot || !this.lastState ? 'snapshotting' : 'streaming');
      this.runPromise = this.run(this.source, ctx);
    } catch (err) {
      const error = toEtlError(err, 'INTERNAL');
      this.failure = error;
      await this.shutdown();
      this.setStatus('failed');
      throw error;
    }
  }

  /** Resolves when the pipeline stopped by request; rejects with the cause when it failed. */
  async wait(): Promise<void> {
    if (!this.runPromise) throw new EtlError('LIFECYCLE', 'wait() before start()');
    await this.runPromise.catch(() => {});
    await this.stopPromise;
    if (this.failure) throw this.failure;
  }

  /**
   * Stops: no more reads; in-flight batches are made durable and confirmed
   * (unless `drain: false`), bounded by `timeoutMs`; then everything is
   * closed in order (source, destinations, monitors, state store). Safe to
   * call more than once. Rejects only if closing something failed.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    this.stopPromise ??= this.doStop(opts);
    return this.stopPromise;
  }

  /** `await using pipeline = ...` stops it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async doStop(opts: StopOptions): Promise<void> {
    if (!this.started || this.currentStatus === 'failed') {
      if (this.currentStatus !== 'failed') this.setStatus('stopped');
      return;
    }
    this.setStatus('stopping');
    this.readAbort.abort(new EtlError('ABORTED', 'pipeline stopping'));
    if (opts.drain === false)
      this.writeAbort.abort(new EtlError('ABORTED', 'pipeline stopped without drain'));
    const timeoutMs = opts.timeoutMs ?? this.options.stopTimeoutMs;
    const timer = setTimeout(
      () => this.writeAbort.abort(new EtlError('TIMEOUT', 'stop() timed out')),
      timeoutMs,
    );
    try {
      await this.runPromise?.catch(() => {});
    } finally {
      clearTimeout(timer);
    }
    const closeErrors = await this.shutdown();
    if (!this.failure) this.setStatus('stopped');
    if (closeErrors.length > 0) {
      throw new EtlError(
        'LIFECYCLE',
        `Closing failed for: ${closeErrors.map((e) => e.component).join(', ')}`,
        {
          cause: closeErrors[0]?.error,
          details: { failures: closeErrors.map((e) => `${e.component}: ${e.error.message}`) },
        },
      );
    }
  }

  /** The read → transform → write → save → confirm loop, with a bounded number of batches in flight. */
  private async run(source: Source, ctx: SourceContext): Promise<void> {
    const inflight: Promise<void>[] = [];
    let commitChain: Promise<void> = Promise.resolve();
    try {
      const iterator = source.open(ctx)[Symbol.asyncIterator]();
      while (!this.readAbort.signal.aborted && !this.failure) {
        if (inflight.length >= this.options.maxInFlight) {
          await inflight.shift();
          continue;
        }
        // Bounded by the stop timeout even when the source does not end its iterable when told to.
        const next = await untilAborted(iterator.next(), this.writeAbort.signal);
        if (next.done) break;
        const readAt = performance.now();
        let batch = next.value;
        this.emitter.emit('batch', { batch });
        const tctx = { pipeline: this.name, signal: this.writeAbort.signal };
        for (const t of this.transforms) batch = await t(batch, tctx);
        const writes = this.managed.map((m) => m.write(batch, this.writeAbort.signal));
        const committed = commitChain.then(() => Promise.all(writes)).then(() => this.commit(batch, readAt));
        commitChain = committed;
        committed.catch((err) => {
          // Writes aborted by stop() (no drain, or the drain timed out) end the run without failing
          // it: nothing they held was confirmed, so it comes again on the next start.
          if (this.currentStatus === 'stopping' && this.writeAbort.signal.aborted) return;
          this.fail(err, 'destination');
        });
        inflight.push(committed.catch(() => {}));
      }
      await Promise.all(inflight);
      await untilAborted(Promise.resolve(iterator.return?.()), this.writeAbort.signal);
    } catch (err) {
      if (!(this.readAbort.signal.aborted && isAbort(err))) this.fail(err, 'source');
      await Promise.all(inflight);
    }
    if (this.failure) {
      void this.stop().catch(() => {});
      throw this.failure;
    }
  }

  /** A batch is durable everywhere: save the state, then confirm to the source. */
  private async commit(batch: ChangeBatch, readAt: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (batch.partial) return; // the transaction continues in later batches; nothing to confirm yet
    const checkpoint: Checkpoint = batch.checkpoint;
    const destinations: Record<string, Lsn> = {};
    for (const m of this.managed) destinations[m.name] = m.appliedCommitLsn;
    const state: PipelineState = { checkpoint, destinations, updatedAt: new Date().toISOString() };
    const lease = this.options.lease;
    // Fencing: a worker whose lease is gone must neither save nor confirm over its successor.
    if (lease) await this.retrying('lease', () => lease.assertHeld(), this.writeAbort.signal);
    if (this.store)
      await this.retrying('state store', () => this.store!.save(this.name, state), this.writeAbort.signal);
    this.lastState = state;
    // Again right before the confirm: the save may have taken long enough for the lease to run out.
    if (lease) await this.retrying('lease', () => lease.assertHeld(), this.writeAbort.signal);
    await this.source!.confirm(checkpoint);
    this.confirmed = checkpoint.lsn;
    if (!checkpoint.snapshot && this.currentStatus === 'snapshotting') this.setStatus('streaming');
    this.emitter.emit('commit', { checkpoint, rows: batch.numRows, latencyMs: performance.now() - readAt });
  }

  private fail(err: unknown, component: string): void {
    if (this.failure) return;
    const error = toEtlError(err, component === 'source' ? 'INTERNAL' : 'DESTINATION');
    this.failure = error;
    this.readAbort.abort(error);
    this.writeAbort.abort(error);
    this.emitter.emit('error', { error, fatal: true, component });
  }

  /** Closes everything in a fixed order and collects every failure. */
  private async shutdown(): Promise<{ component: string; error: EtlError }[]> {
    const failures: { component: string; error: EtlError }[] = [];
    const attempt = async (component: string, fn: () => Promise<unknown> | undefined) => {
      try {
        await fn();
      } catch (err) {
        failures.push({ component, error: toEtlError(err, 'LIFECYCLE') });
      }
    };
    this.readAbort.abort();
    await attempt('source', () => this.source?.close());
    await this.saveIdleAdvance();
    for (const m of this.managed) await attempt(`destination:${m.name}`, () => m.close());
    this.monitorAbort.abort();
    await attempt('monitors', () => Promise.all(this.monitorRuns));
    await attempt('state store', () => this.store?.close());
    if (this.failure) this.setStatus('failed');
    for (const f of failures)
      this.emitter.emit('error', { error: f.error, fatal: false, component: f.component });
    return failures;
  }

  /**
   * Compares the saved state with the source's own position and the
   * destinations' watermarks; throws `POSITION_GAP` when data would be missing.
   */
  private reconcile(): ReconcileReport {
    const source = this.source!;
    return reconcilePositions({
      pipeline: this.name,
      saved: this.lastState,
      source: source.upstreamPosition
        ? { position: source.upstreamPosition(), rebuilding: source.rebuilding?.() }
        : undefined,
      destinations: this.managed.map((m) => ({
        name: m.name,
        keepsWatermark: m.keepsWatermark,
        watermark: m.watermark,
        saved: this.lastState?.destinations[m.name],
      })),
    });
  }

  /** The `reconcile` event, and an alert when an operator should look. */
  private reportReconcile(report: ReconcileReport): void {
    this.emitter.emit('reconcile', report);
    if (report.severity !== 'warning') return;
    const outcomeWarns =
      report.outcome === 'source-ahead' || report.outcome === 'state-missing' || report.outcome === 'rebuild';
    const messages = [
      ...(outcomeWarns ? [report.message] : []),
      ...report.findings.filter((f) => f.severity === 'warning').map((f) => f.message),
    ];
    this.emitter.emit('alert', {
      key: `reconcile:${this.name}`,
      severity: 'warning',
      resolved: false,
      message: messages.join(' '),
      details: { outcome: report.outcome },
    });
  }

  /**
   * Saves a position the source moved to on its own while nothing was in
   * flight (the idle rule), so that the next start finds state and slot in
   * step. Best effort: a failure is reported (not fatal; the next start
   * explains the mismatch), and nothing is saved without the lease.
   */
  private async saveIdleAdvance(): Promise<void> {
    const state = idleAdvanced(this.lastState, this.source?.upstreamPosition?.());
    if (!state || !this.store || this.failure) return;
    try {
      await this.options.lease?.assertHeld();
      await this.store.save(this.name, state);
      this.lastState = state;
    } catch (err) {
      this.emitter.emit('error', {
        error: toEtlError(err, 'STATE_STORE'),
        fatal: false,
        component: 'state store',
      });
    }
  }

  /** An open circuit pauses the pipeline (status `paused`) and raises an alert; closing resolves it. */
  private watchCircuit(m: ManagedDestination): void {
    let paused = false;
    m.breaker.onChange((state) => {
      const key = `circuit:${this.name}:${m.name}`;
      if (state === 'open' && !paused) {
        paused = true;
        this.emitter.emit('alert', {
          key,
          severity: 'critical',
          resolved: false,
          message: `Circuit open for destination "${m.name}" of pipeline "${this.name}": writes keep failing; the pipeline is paused (nothing is read or confirmed) and probes again periodically.`,
        });
        if (this.currentStatus === 'streaming' || this.currentStatus === 'snapshotting')
          this.setStatus('paused');
      } else if (state === 'closed' && paused) {
        paused = false;
        this.emitter.emit('alert', {
          key,
          severity: 'info',
          resolved: true,
          message: `Circuit closed for destination "${m.name}" of pipeline "${this.name}": writes succeed again.`,
        });
        if (this.currentStatus === 'paused') this.setStatus('streaming');
      }
    });
  }

  /** Whether any destination's circuit is open (for health endpoints). */
  get circuitOpen(): boolean {
    return this.managed.some((m) => m.breaker.state !== 'closed');
  }

  /** What monitors see of this pipeline. */
  private view(): PipelineView {
    const slot = this.source?.replicationSlot;
    return {
      name: this.name,
      status: this.currentStatus,
      confirmedLsn: this.confirmed,
      circuitOpen: this.circuitOpen,
      ...(slot ? { slot } : {}),
    };
  }

  private startMonitors(): void {
    const ctx: MonitorContext = {
      signal: this.monitorAbort.signal,
      emit: this.emit,
      pipelines: () => [this.view()],
      on: (type, listener) => this.emitter.on(type, listener),
      fail: (error) => this.fail(error, 'monitor'),
    };
    this.monitorRuns = this.monitors.map((m) =>
      m.run(ctx).catch((err) => {
        this.emitter.emit('error', { error: toEtlError(err), fatal: false, component: `monitor:${m.name}` });
      }),
    );
  }

  private sourceContext(): SourceContext {
    return {
      pipeline: this.name,
      signal: this.readAbort.signal,
      batch: this.batchLimits,
      resumeFrom: this.lastState?.checkpoint,
      emit: this.emit,
    };
  }

  /** Runs `fn`, retrying retryable failures with backoff until it succeeds, fails hard, or `signal` aborts. */
  private async retrying<T>(component: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const backoff = new Backoff(this.options.retry);
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const error = toEtlError(err, 'STATE_STORE');
        if (!error.retryable || signal?.aborted || backoff.attempts + 1 >= this.options.retry.maxAttempts)
          throw error;
        this.emitter.emit('error', { error, fatal: false, component });
        await sleep(backoff.next(), signal);
      }
    }
  }

  private readonly emit = <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]): void => {
    this.emitter.emit(type, payload);
  };

  private setStatus(status: PipelineStatus): void {
    if (this.currentStatus === status) return;
    this.currentStatus = status;
    this.emitter.emit('state', {
      status,
      ...(this.confirmed === undefined ? {} : { confirmedLsn: this.confirmed }),
    });
  }

  private assertBuilding(method: string): void {
    if (this.started)
      throw new EtlError('LIFECYCLE', `${method}() after start(): build the pipeline before starting it`);
  }
}
