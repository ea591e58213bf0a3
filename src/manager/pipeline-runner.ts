import { isAbort, sleep } from '../async/abortable-sleep.js';
import { Backoff, type BackoffOptions } from '../async/backoff.js';
import { EtlError, toEtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { PostgresSource } from '../postgres/postgres-source.js';
import type { StateStore } from '../state/state-store.js';
import type { FencedLease } from './fenced-lease.js';
import type {
  ManagedPipelineState,
  ManagedPipelineStatus,
  ManagerEmitter,
  StopReason,
} from './manager-events.js';
import type { PipelineDefinition } from './pipeline-definition.js';
import type { BuiltPipeline } from './pipeline-factory.js';
import {
  type Permits,
  SNAPSHOT_CONNECTIONS,
  STREAM_CONNECTIONS,
  type WorkerLimits,
} from './worker-limits.js';

/** What a runner needs from its manager. */
export interface RunnerDeps {
  readonly workerId: string;
  readonly limits: WorkerLimits;
  /** The shared state store (its `close` is a no-op: the manager closes the real one). */
  readonly store: StateStore;
  readonly emitter: ManagerEmitter;
  /** Builds the pipeline of a definition with this runner's lease. */
  readonly build: (definition: PipelineDefinition, lease: FencedLease) => Promise<BuiltPipeline>;
  /** Time between lease renewals. */
  readonly renewIntervalMs: number;
  /** Delays between restarts of a failed pipeline. */
  readonly restartBackoff: BackoffOptions;
  /** Longest wait for a pipeline to stop before it is abandoned. */
  readonly stopTimeoutMs: number;
  /** Called whenever the status changed (the manager writes the status table). */
  readonly report: (status: ManagedPipelineStatus) => void;
}

/**
 * One pipeline this worker owns: it renews the lease, waits for permits,
 * runs the pipeline, restarts it (drained) when its definition changes or
 * (with backoff) when it fails, and stops it — drained, then the lease
 * released — on request. When the lease is lost the pipeline is stopped at
 * once without a drain; its commits already fail the lease check, so
 * nothing more is saved or confirmed.
 */
export class PipelineRunner {
  private definition: PipelineDefinition;
  private state: ManagedPipelineState = 'unassigned';
  private lastError: string | undefined;
  private confirmed: Lsn | undefined;
  private current: BuiltPipeline | undefined;
  /** Whether the current pipeline's start() has settled (stopping one mid-start is left to runOnce). */
  private currentStarted = false;
  private permits: { connections?: Permits; snapshot?: Permits } = {};
  private stopReason: StopReason | undefined;
  private restartRequested = false;
  /** Aborted to interrupt the current iteration (restart, stop, lease lost). */
  private interrupt = new AbortController();
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private readonly backoff: Backoff;
  /** Resolves when the runner has stopped its pipeline and given up (or lost) the lease. */
  readonly done: Promise<void>;

  constructor(
    definition: PipelineDefinition,
    private readonly lease: FencedLease,
    private readonly deps: RunnerDeps,
  ) {
    this.definition = definition;
    this.backoff = new Backoff(deps.restartBackoff);
    this.renewTimer = setInterval(() => void this.renew(), deps.renewIntervalMs);
    this.armDeadline();
    this.done = this.loop();
  }

  /** The pipeline's name. */
  get name(): string {
    return this.definition.name;
  }

  /** True once the runner is stopping or stopped. */
  get stopping(): boolean {
    return this.stopReason !== undefined;
  }

  /** The status of this pipeline on this worker. */
  status(): ManagedPipelineStatus {
    const source = this.current?.source;
    const confirmed = source?.confirmedLsn ?? this.confirmed;
    const received = source?.receivedLsn;
    const lag =
      received !== undefined && confirmed !== undefined && received > confirmed ? received - confirmed : 0n;
    return {
      name: this.name,
      owner: this.deps.workerId,
      state: this.state,
      confirmedLsn: confirmed,
      lagBytes: received === undefined ? undefined : lag,
      lastError: this.lastError,
      local: true,
      updatedAt: new Date(),
    };
  }

  /** A new version of the definition: restart the pipeline (drained) with it. */
  update(definition: PipelineDefinition): void {
    if (this.stopping || definition.fingerprint === this.definition.fingerprint) return;
    this.definition = definition;
    this.restartRequested = true;
    this.interrupt.abort();
  }

  /** Stops the pipeline (drained unless the lease is gone) and releases the lease. Resolves when done. */
  stop(reason: StopReason): Promise<void> {
    this.stopReason ??= reason;
    this.interrupt.abort();
    return this.done;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.restartRequested = false;
      let failure: EtlError | undefined;
      try {
        await this.runOnce(this.interrupt.signal);
      } catch (err) {
        if (!(isAbort(err) && this.interrupt.signal.aborted)) failure = toEtlError(err);
      } finally {
        this.releasePermits();
        this.current = undefined;
      }
      if (failure) this.recordFailure(failure);
      // A commit found the lease gone (taken, or run out): stop for good, never run on without it.
      if (!this.lease.valid && !this.stopping) this.lost(failure ?? this.expired());
      if (this.stopping) break;
      if (this.restartRequested) {
        this.interrupt = new AbortController();
        this.backoff.reset();
        continue;
      }
      if (!failure) continue;
      // Invalid definitions wait for the row to change; other failures are retried with backoff.
      const wait = failure.code === 'CONFIG_INVALID' && !failure.retryable ? undefined : this.backoff.next();
      this.setState(wait === undefined ? 'invalid' : 'failed');
      await sleep(wait ?? 2 ** 31 - 1, this.interrupt.signal).catch(() => {});
      if (!this.stopping) this.interrupt = new AbortController();
    }
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    if (this.stopReason !== 'lease-lost') {
      await this.lease.release().catch(() => {});
      this.deps.emitter.emit('lease:released', {
        name: this.name,
        token: this.lease.token,
        reason: this.stopReason!,
      });
    }
    this.setState('stopped');
  }

  /** One run: permits, build, start, then wait until the pipeline ends or is interrupted. */
  private async runOnce(signal: AbortSignal): Promise<void> {
    const definition = this.definition;
    this.setState('waiting');
    const saved = await this.deps.store.load(definition.name);
    const mayCopy =
      definition.source.snapshot !== 'never' && (!saved || saved.checkpoint.snapshot !== undefined);
    if (mayCopy) this.permits.snapshot = await this.deps.limits.acquireSnapshot(signal);
    this.permits.connections = await this.deps.limits.acquireConnections(
      mayCopy ? SNAPSHOT_CONNECTIONS : STREAM_CONNECTIONS,
      signal,
    );
    const built = await this.deps.build(definition, this.lease);
    this.current = built;
    this.currentStarted = false;
    const off = this.watch(built.pipeline, built.source);
    try {
      this.setState('starting');
      // Not given the signal: an interruption during start is handled once start settled, by stop() below.
      try {
        await built.pipeline.start();
      } finally {
        this.currentStarted = true;
      }
      this.backoff.reset();
      this.lastError = undefined;
      this.setState(built.pipeline.status);
      const ended = built.pipeline.wait();
      const interrupted = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await Promise.race([ended.catch(() => {}), interrupted]);
      if (signal.aborted) {
        this.setState('stopping');
        await this.stopWithin(built.pipeline, this.stopReason !== 'lease-lost', ended);
      }
      await ended;
    } finally {
      this.confirmed = built.source.confirmedLsn ?? this.confirmed;
      off();
    }
  }

  /**
   * Stops the pipeline, waiting at most `stopTimeoutMs` for it to end. One
   * that does not is abandoned with a `TIMEOUT` failure: its permits stay
   * taken (its connections may still be open) and the runner moves on, so a
   * stuck pipeline never hangs the manager's shutdown.
   */
  private async stopWithin(pipeline: Pipeline, drain: boolean, ended: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.deps.stopTimeoutMs);
    });
    const stopped = pipeline
      .stop({ drain })
      .catch((err) => this.recordFailure(toEtlError(err)))
      .then(() => ended.catch(() => {}));
    const outcome = await Promise.race([stopped, timedOut]);
    clearTimeout(timer);
    if (outcome !== 'timeout') return;
    this.permits = {}; // deliberately not given back
    throw new EtlError(
      'TIMEOUT',
      `Pipeline "${this.name}" did not stop within ${this.deps.stopTimeoutMs} ms`,
      {
        hint: 'Its source or destination did not close; its connection permits stay taken. Restart the worker if it persists.',
      },
    );
  }

  /** Mirrors the pipeline's events and gives snapshot permits back once its snapshot is over. */
  private watch(pipeline: Pipeline, source: PostgresSource): () => void {
    const { emitter } = this.deps;
    const offs = [
      pipeline.on('state', ({ status }) => {
        if (status === 'streaming') this.snapshotOver(source);
        this.setState(status);
      }),
      pipeline.on('commit', ({ checkpoint, rows }) => {
        this.confirmed = checkpoint.lsn;
        if (!checkpoint.snapshot) this.snapshotOver(source);
        emitter.emit('pipeline:commit', { name: this.name, checkpoint, rows });
      }),
      pipeline.on('error', ({ error, fatal, component }) => {
        if (fatal) this.lastError = error.toString();
        emitter.emit('pipeline:error', { name: this.name, error, fatal, component });
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /**
   * The snapshot's extra connections are closed once the source streams
   * changes (its change stream exists only after the copy and the
   * slot-creating connection are closed): give back the snapshot permit and
   * the connection permit beyond streaming's.
   */
  private snapshotOver(source: PostgresSource): void {
    if (source.streamStats === undefined) return;
    this.permits.snapshot?.release();
    this.permits.connections?.shrinkTo(STREAM_CONNECTIONS);
  }

  private releasePermits(): void {
    this.permits.snapshot?.release();
    this.permits.connections?.release();
    this.permits = {};
  }

  private recordFailure(error: EtlError): void {
    this.lastError = error.toString();
    this.deps.emitter.emit('pipeline:error', { name: this.name, error, fatal: true, component: 'manager' });
    if (error.code === 'CONFIG_INVALID' && !error.retryable) {
      this.deps.emitter.emit('definition:invalid', { name: this.name, error });
    }
    this.report();
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.stopReason === 'lease-lost') return;
    this.renewing = true;
    try {
      await this.lease.renew();
      this.armDeadline();
      // A snapshot may have ended without a state event: check at every renewal.
      if (this.current) this.snapshotOver(this.current.source);
    } catch (err) {
      const error = toEtlError(err, 'STATE_STORE');
      if (error.code === 'LEASE_LOST') this.lost(error);
      else this.deps.emitter.emit('error', { error, component: `lease:${this.name}` });
    } finally {
      this.renewing = false;
    }
  }

  /** Wakes up exactly when the lease runs out by this worker's clock, in case renewals keep failing. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(
      () => {
        if (!this.lease.valid) this.lost(this.expired());
        else this.armDeadline();
      },
      Math.max(0, this.lease.deadline - Date.now()),
    );
  }

  private expired(): EtlError {
    return new EtlError('LEASE_LOST', `Lease on pipeline "${this.name}" ran out before it could be renewed`, {
      hint: 'This worker could not reach Redis in time; another worker may own the pipeline now.',
    });
  }

  private lost(error: EtlError): void {
    if (this.stopReason === 'lease-lost') return;
    this.lease.markLost(error);
    this.stopReason = 'lease-lost';
    this.lastError = error.toString();
    this.interrupt.abort();
    // Stop at once, even when a graceful stop was draining: nothing more may be confirmed.
    // (A pipeline still starting is stopped by runOnce as soon as its start settles.)
    if (this.currentStarted) void this.current?.pipeline.stop({ drain: false }).catch(() => {});
    this.deps.emitter.emit('lease:lost', { name: this.name, token: this.lease.token, error });
    this.report();
  }

  private setState(state: ManagedPipelineState): void {
    if (state === this.state) return;
    this.state = state;
    this.deps.emitter.emit('pipeline:state', { name: this.name, state });
    this.report();
  }

  private report(): void {
    this.deps.report(this.status());
  }
}
