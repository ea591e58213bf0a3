import pg from 'pg';
import { EtlError, toEtlError } from '../errors.js';
import { DEFAULT_STOP_TIMEOUT_MS } from '../pipeline/pipeline-options.js';
import { connectRedis, type RedisClient } from '../state/redis/redis-client.js';
import { RedisStateStore } from '../state/redis/redis-state-store.js';
import type { StateStore } from '../state/state-store.js';
import { planBalance } from './balancer.js';
import { ComponentRegistry } from './component-registry.js';
import { DefinitionWatcher } from './definition-watcher.js';
import { FencedLease } from './fenced-lease.js';
import {
  type ManagedPipelineStatus,
  ManagerEmitter,
  type ManagerEvents,
  type ManagerListener,
} from './manager-events.js';
import { checkManagerSchema, migrateManagerSchema } from './manager-migration.js';
import {
  type PipelineManagerOptions,
  type ResolvedManagerOptions,
  resolveManagerOptions,
} from './manager-options.js';
import { managerSql } from './manager-sql.js';
import {
  type DefinitionRow,
  type InvalidDefinition,
  isInvalid,
  type PipelineDefinition,
  parseDefinition,
} from './pipeline-definition.js';
import { buildPipeline } from './pipeline-factory.js';
import { PipelineRunner } from './pipeline-runner.js';
import { StatusTable } from './status-table.js';
import { composeStatus, rowToWrite } from './status-view.js';
import { WorkerLimits } from './worker-limits.js';
import { WorkerRegistry } from './worker-registry.js';

/** Config-database connections: one for reads and one for status writes. */
const CONFIG_POOL_SIZE = 2;
/** Beyond the pipeline's own stop timeout (drain), closing its connections gets this long. */
const STOP_GRACE_MS = 10_000;
/** Notifications this close together are served by one read of the table. */
const NOTIFY_DEBOUNCE_MS = 25;

/**
 * Runs pipelines defined in a table of a configuration database, changed
 * live, shared by several workers.
 *
 * - **Definitions** live in `<schema>.pipelines` (see `docs/manager.md`;
 *   {@link PipelineManager.migrate} creates it). Each row is validated; a bad
 *   one is reported (`definition:invalid` event, `invalid` status row) and
 *   never stops the others. Secrets are never in the table: rows name
 *   credentials that the host's `credentials` callback resolves.
 * - **Live changes**: a trigger NOTIFYs every insert, update and delete; the
 *   manager LISTENs, and reads the table every `pollIntervalMs` too in case a
 *   notification was lost. Only the pipelines concerned are started,
 *   restarted (drained first) or stopped.
 * - **Several workers**: each pipeline runs on exactly one worker, the
 *   holder of its Redis lease, renewed every `renewIntervalMs`. The pipeline
 *   checks the lease (owner and fencing token) before every save and
 *   confirm; a worker that cannot renew stops its pipelines before the lease
 *   can expire, and the others take them over once it has. Pipelines are
 *   spread evenly over the live workers; a worker that stops hands its
 *   pipelines over (drained, lease released). PostgreSQL's one active
 *   consumer per slot is the last line of defence.
 * - **Limits**: source connections (a semaphore shared by this worker's
 *   pipelines), pipelines per worker, concurrent snapshots.
 * - **Status** per pipeline: {@link PipelineManager.status} (this worker's
 *   view, the others' rows included) and the `<schema>.pipeline_status` table.
 *
 * Construction validates the options and does no I/O.
 *
 * @example
 * ```ts
 * const manager = new PipelineManager({
 *   connectionString: process.env.CONFIG_DATABASE_URL!,
 *   redisUrl: process.env.REDIS_URL!,
 *   credentials: ({ ref }) => ({ connectionString: process.env[`PG_${ref.toUpperCase()}`] }),
 * });
 * await manager.migrate();
 * manager.on('definition:invalid', ({ name, error }) => console.error(name, error.toString()));
 * await manager.start();
 * // ... INSERT INTO etl_stream.pipelines ... takes effect within a second
 * await manager.stop(); // hands the pipelines over to the other workers
 * ```
 */
export class PipelineManager {
  private readonly o: ResolvedManagerOptions;
  private readonly sql: ReturnType<typeof managerSql>;
  private readonly registry: ComponentRegistry;
  private readonly emitter = new ManagerEmitter();
  private readonly limits: WorkerLimits;
  private readonly runners = new Map<string, PipelineRunner>();
  private definitions = new Map<string, PipelineDefinition | InvalidDefinition>();
  private readonly reportedInvalid = new Map<string, string>();
  private owners = new Map<string, string>();
  private remote = new Map<string, ManagedPipelineStatus>();
  private workers: string[] = [];
  private pool: pg.Pool | undefined;
  private redis: RedisClient | undefined;
  private registryClient: WorkerRegistry | undefined;
  private store: StateStore | undefined;
  private watcher: DefinitionWatcher | undefined;
  private statusTable: StatusTable | undefined;
  private balanceTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private balancing: Promise<void> | undefined;
  private balanceAgain = false;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(options: PipelineManagerOptions) {
    this.o = resolveManagerOptions(options);
    this.sql = managerSql(this.o.schema);
    this.registry = new ComponentRegistry(options.destinations, options.transforms);
    this.limits = new WorkerLimits(this.o.limits.maxSourceConnections, this.o.limits.maxConcurrentSnapshots);
  }

  /** This worker's id (the owner recorded in leases and status rows). */
  get workerId(): string {
    return this.o.workerId;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof ManagerEvents>(type: K, listener: ManagerListener<K>): () => void {
    return this.emitter.on(type, listener);
  }

  /**
   * Creates or upgrades the manager's tables, trigger and functions in the
   * configuration database (idempotent; safe when several workers run it at
   * once). The same SQL is in `docs/manager.md` for running by hand.
   */
  async migrate(): Promise<void> {
    const client = new pg.Client({ connectionString: this.o.connectionString });
    client.on('error', () => {});
    try {
      await client.connect();
      await migrateManagerSchema(client, this.sql);
    } catch (err) {
      throw toEtlError(
        err,
        'CONNECTION',
        `Migrating the pipeline manager schema failed: ${(err as Error).message}`,
      );
    } finally {
      await client.end().catch(() => {});
    }
  }

  /**
   * Checks the schema, joins the workers, reads the definitions and starts
   * the pipelines this worker should run. Resolves once running; rejects (and
   * closes what it opened) when the configuration database or Redis cannot
   * be used. Refuses a second call.
   */
  async start(): Promise<void> {
    if (this.started) throw new EtlError('LIFECYCLE', 'PipelineManager.start() was already called');
    this.started = true;
    try {
      this.pool = new pg.Pool({ connectionString: this.o.connectionString, max: CONFIG_POOL_SIZE });
      this.pool.on('error', () => {});
      await checkManagerSchema(this.pool, this.sql, this.o.schema);
      this.statusTable = new StatusTable(this.pool, this.sql, (error) =>
        this.emitter.emit('error', { error: toEtlError(error), component: 'status-table' }),
      );
      this.redis =
        this.o.redisClient ??
        (await connectRedis(this.o.redisUrl!, {
          connectTimeoutMs: Math.min(5_000, this.o.renewIntervalMs),
          commandTimeoutMs: Math.max(100, Math.min(5_000, this.o.renewIntervalMs)),
        }));
      this.registryClient = new WorkerRegistry(this.redis, this.o.keyPrefix, this.o.workerId);
      this.store = this.o.state ?? new RedisStateStore({ client: this.redis, keyPrefix: this.o.keyPrefix });
      this.workers = await this.registryClient.heartbeat(this.o.leaseTtlMs);
      const pool = this.pool;
      this.watcher = new DefinitionWatcher({
        connectionString: this.o.connectionString,
        listenSql: this.sql.listen,
        read: async () => (await pool.query<DefinitionRow>(this.sql.readDefinitions)).rows,
        onRows: (rows) => this.onRows(rows),
        onError: (error) => this.emitter.emit('error', { error, component: 'definitions' }),
        pollIntervalMs: this.o.pollIntervalMs,
        debounceMs: NOTIFY_DEBOUNCE_MS,
      });
      await this.watcher.start();
      await this.balance();
      this.balanceTimer = setInterval(() => void this.balance(), this.o.balanceIntervalMs);
      this.statusTimer = setInterval(() => void this.refreshStatus(), this.o.statusIntervalMs);
    } catch (err) {
      await this.close();
      throw toEtlError(err, 'CONNECTION');
    }
  }

  /**
   * Stops every pipeline this worker runs — each drained, then its lease
   * released so another worker takes it over at once — leaves the worker
   * set, and closes the manager's connections. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** `await using manager = ...` stops it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Every defined pipeline as this worker sees it: the live status of those
   * it runs, and for the others their owner (from Redis) and the last row
   * their owner wrote in the status table. Sorted by name.
   */
  status(): ManagedPipelineStatus[] {
    return composeStatus({
      definitions: this.definitions,
      local: (name) => {
        const runner = this.runners.get(name);
        return runner && !runner.stopping ? runner.status() : undefined;
      },
      owners: this.owners,
      rows: this.remote,
    });
  }

  /** Reads the status table: every pipeline's row as its owner last wrote it. */
  async statusRows(): Promise<ManagedPipelineStatus[]> {
    if (!this.statusTable) throw new EtlError('LIFECYCLE', 'statusRows() before start()');
    return this.statusTable.read();
  }

  private async onRows(rows: DefinitionRow[]): Promise<void> {
    const next = new Map<string, PipelineDefinition | InvalidDefinition>();
    for (const row of rows) next.set(row.name, parseDefinition(row, this.registry));
    const before = this.definitions;
    this.definitions = next;
    for (const [name, d] of next) {
      const runner = this.runners.get(name);
      if (isInvalid(d)) {
        if (this.reportedInvalid.get(name) !== d.fingerprint) {
          this.reportedInvalid.set(name, d.fingerprint);
          this.emitter.emit('definition:invalid', { name, error: d.error });
          this.report(name, undefined);
        }
        void runner?.stop('invalid');
      } else if (!d.enabled) {
        if (runner) void runner.stop('disabled');
        if (before.get(name)?.fingerprint !== d.fingerprint) this.report(name, undefined);
      } else {
        this.reportedInvalid.delete(name);
        runner?.update(d);
      }
    }
    for (const name of before.keys()) {
      if (next.has(name)) continue;
      void this.runners.get(name)?.stop('removed');
      this.reportedInvalid.delete(name);
      this.report(name, undefined);
    }
    if (this.registryClient) void this.balance();
  }

  /** Renews membership, then takes free pipelines up to this worker's quota or hands over those above it. */
  private balance(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.balancing) {
      this.balanceAgain = true;
      return this.balancing;
    }
    this.balancing = (async () => {
      do {
        this.balanceAgain = false;
        try {
          await this.balanceOnce();
        } catch (err) {
          this.emitter.emit('error', { error: toEtlError(err, 'STATE_STORE'), component: 'balance' });
        }
      } while (this.balanceAgain && !this.stopping);
    })().finally(() => {
      this.balancing = undefined;
    });
    return this.balancing;
  }

  private async balanceOnce(): Promise<void> {
    const registry = this.registryClient!;
    this.workers = await registry.heartbeat(this.o.leaseTtlMs);
    const runnable = [...this.definitions.values()]
      .filter((d): d is PipelineDefinition => !isInvalid(d) && d.enabled)
      .map((d) => d.name);
    this.owners = await registry.owners([...this.definitions.keys()]);
    const active = () => [...this.runners.values()].filter((r) => !r.stopping).map((r) => r.name);
    const plan = planBalance({
      me: this.o.workerId,
      workers: this.workers,
      runnable,
      owners: this.owners,
      mine: active(),
      maxPipelines: this.o.limits.maxPipelinesPerWorker,
    });
    for (const name of plan.shed) void this.runners.get(name)?.stop('handover');
    for (const name of plan.acquire) {
      if (this.stopping || active().length >= plan.quota) break;
      if (this.runners.has(name)) continue; // still handing it over
      const definition = this.definitions.get(name);
      if (!definition || isInvalid(definition) || !definition.enabled) continue;
      const askedAt = Date.now();
      let lease: Awaited<ReturnType<WorkerRegistry['acquire']>>;
      try {
        lease = await registry.acquire(name, this.o.leaseTtlMs);
      } catch (err) {
        if (err instanceof EtlError && err.code === 'LEASE_LOST') continue; // another worker was faster
        throw err;
      }
      this.owners.set(name, this.o.workerId);
      this.emitter.emit('lease:acquired', { name, token: lease.token });
      this.startRunner(definition, new FencedLease(lease, name, this.o.leaseTtlMs, askedAt));
    }
  }

  private startRunner(definition: PipelineDefinition, lease: FencedLease): void {
    const store = this.store!;
    // Pipelines close their state store when they stop: they get a view whose close() leaves the shared one open.
    const shared: StateStore = {
      load: (p) => store.load(p),
      save: (p, s) => store.save(p, s),
      close: async () => {},
    };
    const factory = {
      registry: this.registry,
      credentials: this.o.credentials,
      pipelineOptions: this.o.pipeline,
      monitors: this.o.monitors,
    };
    const runner = new PipelineRunner(definition, lease, {
      workerId: this.o.workerId,
      limits: this.limits,
      store: shared,
      emitter: this.emitter,
      build: (d, l) => buildPipeline(d, factory, { lease: l, store: shared }),
      renewIntervalMs: this.o.renewIntervalMs,
      restartBackoff: this.o.restartBackoff,
      stopTimeoutMs: (this.o.pipeline.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS) + STOP_GRACE_MS,
      report: (status) => this.report(status.name, status),
    });
    this.runners.set(definition.name, runner);
    void runner.done.then(() => {
      if (this.runners.get(definition.name) === runner) this.runners.delete(definition.name);
      // The pipeline may belong here again (a lost lease nobody took) or elsewhere: look again.
      if (!this.stopping) void this.balance();
    });
  }

  /**
   * Writes a pipeline's status row: what the definition says when it is
   * removed (no row), invalid or disabled — whatever its runner reports while
   * it winds down — and otherwise the runner's status.
   */
  private report(name: string, status: ManagedPipelineStatus | undefined): void {
    const row = rowToWrite(name, this.definitions.get(name), status);
    if (row !== undefined) this.statusTable?.write(name, row);
  }

  private async refreshStatus(): Promise<void> {
    if (!this.statusTable || this.stopping) return;
    for (const runner of this.runners.values()) {
      if (!runner.stopping) this.statusTable?.write(runner.name, runner.status());
    }
    try {
      const rows = await this.statusTable.read();
      this.remote = new Map(rows.map((r) => [r.name, r]));
    } catch (err) {
      this.emitter.emit('error', { error: toEtlError(err, 'CONNECTION'), component: 'status-table' });
    }
  }

  private async doStop(): Promise<void> {
    if (!this.started) return;
    clearInterval(this.balanceTimer);
    clearInterval(this.statusTimer);
    await this.balancing?.catch(() => {});
    // Leave first, so the other workers' next look counts this one out and takes the pipelines released below.
    await this.registryClient
      ?.leave()
      .catch((error) => this.emitter.emit('error', { error: toEtlError(error), component: 'membership' }));
    await this.watcher?.stop();
    await Promise.all([...this.runners.values()].map((r) => r.stop('shutdown')));
    await this.close();
  }

  /** Closes the state store and the connections the manager opened (a Redis client passed in stays open). */
  private async close(): Promise<void> {
    await this.watcher?.stop().catch(() => {});
    await this.statusTable?.settle().catch(() => {});
    await this.store?.close().catch(() => {});
    if (this.redis && !this.o.redisClient) {
      const redis = this.redis;
      await redis.quit().catch(() => redis.disconnect());
    }
    await this.pool?.end().catch(() => {});
    this.pool = undefined;
  }
}
