import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { configError } from '../errors.js';
import type { Monitor } from '../monitor/monitor.js';
import type { RedisClient } from '../state/redis/redis-client.js';
import { DEFAULT_REDIS_KEY_PREFIX } from '../state/redis/redis-state-store.js';
import type { StateStore } from '../state/state-store.js';
import type { DestinationFactory, TransformFactory } from './component-registry.js';
import { DEFAULT_MANAGER_SCHEMA, validSchemaName } from './manager-sql.js';
import type { PipelineDefinition } from './pipeline-definition.js';
import type { CredentialsResolver, ManagedPipelineOptions } from './pipeline-factory.js';

/** Limits a worker enforces on the pipelines it runs. */
export interface ManagerLimits {
  /**
   * Source connections this worker's pipelines may hold together (a shared
   * semaphore). A pipeline holds 3 while it may snapshot and 2 while it
   * streams, taken all at once before it starts; pipelines that do not fit
   * wait in state `waiting`. The cluster-wide total is at most workers × this.
   */
  readonly maxSourceConnections?: number;
  /** Pipelines one worker runs at most; the rest are left to other workers. */
  readonly maxPipelinesPerWorker?: number;
  /** Initial snapshots (table copies) one worker runs at the same time. */
  readonly maxConcurrentSnapshots?: number;
}

/** Options of `new PipelineManager(...)`. */
export interface PipelineManagerOptions {
  /** The configuration database holding the definitions and status tables. */
  readonly connectionString: string;
  /** Schema of the manager's tables. Default `etl_stream`. */
  readonly schema?: string;
  /** Redis for worker membership and pipeline leases: `redis://...`. Give this or `redisClient`. */
  readonly redisUrl?: string;
  /** An existing ioredis client (never closed by the manager). Give this or `redisUrl`. */
  readonly redisClient?: RedisClient;
  /** Prefix of every Redis key the manager writes. Default `etl-stream:`. */
  readonly keyPrefix?: string;
  /** This worker's id, unique among the workers. Default: host name, process id and a random suffix. */
  readonly workerId?: string;
  /** Resolves the credentials references of definitions (secrets are never in the table). */
  readonly credentials: CredentialsResolver;
  /** More destination kinds definitions may name (besides memory, duckdb, ndjson, snowflake). */
  readonly destinations?: Readonly<Record<string, DestinationFactory>>;
  /** More transforms definitions may name (besides dropColumns, selectColumns, renameColumns, renameTables, maskColumns, filterTables). */
  readonly transforms?: Readonly<Record<string, TransformFactory>>;
  /** Where pipelines keep their state. Default: a Redis state store on the same Redis and prefix. Closed by the manager. */
  readonly state?: StateStore;
  /** Limits enforced on this worker. */
  readonly limits?: ManagerLimits;
  /** A pipeline's lease (and a worker's membership) expires this long after its last renewal. Default 15 000. */
  readonly leaseTtlMs?: number;
  /** How often leases are renewed. Default a third of `leaseTtlMs`. */
  readonly renewIntervalMs?: number;
  /** How often the worker renews its membership and rebalances. Default a third of `leaseTtlMs`. */
  readonly balanceIntervalMs?: number;
  /** How often definitions are read when no notification came. Default 10 000. */
  readonly pollIntervalMs?: number;
  /** How often the status rows of running pipelines are refreshed (lag). Default 5 000. */
  readonly statusIntervalMs?: number;
  /** Delays between restarts of a failed pipeline. Default 1 s, doubling up to 60 s. */
  readonly restartBackoff?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** Options applied to every pipeline (retry, stop timeout, in-flight batches, circuit breaker). */
  readonly pipeline?: ManagedPipelineOptions;
  /** Monitors added to every pipeline this worker runs (a health handler shows them all), or per definition. */
  readonly monitors?: readonly Monitor[] | ((definition: PipelineDefinition) => readonly Monitor[]);
}

/** Enough for a few dozen pipelines per worker without exhausting a default `max_connections` of 100. */
export const DEFAULT_MAX_SOURCE_CONNECTIONS = 40;
/** A worker is a Node process: past this many streams, add workers rather than pipelines. */
export const DEFAULT_MAX_PIPELINES_PER_WORKER = 50;
/** Snapshots are heavy on the source; two at a time per worker keeps it responsive. */
export const DEFAULT_MAX_CONCURRENT_SNAPSHOTS = 2;
/** A dead worker's pipelines move within this time; long enough to ride out a GC pause or a Redis failover. */
export const DEFAULT_LEASE_TTL_MS = 15_000;
/** Notifications carry changes at once; the poll only catches what a lost notification missed. */
export const DEFAULT_POLL_INTERVAL_MS = 10_000;
/** Status rows (lag especially) stay this fresh. */
export const DEFAULT_STATUS_INTERVAL_MS = 5_000;
/** Smallest lease TTL: renewals every third of it must fit Redis round trips. */
const MIN_LEASE_TTL_MS = 300;

/** Options after validation, with every default filled in. */
export interface ResolvedManagerOptions {
  readonly connectionString: string;
  readonly schema: string;
  readonly redisUrl: string | undefined;
  readonly redisClient: RedisClient | undefined;
  readonly keyPrefix: string;
  readonly workerId: string;
  readonly credentials: CredentialsResolver;
  readonly state: StateStore | undefined;
  readonly limits: Required<ManagerLimits>;
  readonly leaseTtlMs: number;
  readonly renewIntervalMs: number;
  readonly balanceIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly statusIntervalMs: number;
  readonly restartBackoff: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly pipeline: ManagedPipelineOptions;
  readonly monitors: (definition: PipelineDefinition) => readonly Monitor[];
}

function positiveInt(field: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw configError(field, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Validates the manager's options up front, naming the field to change. */
export function resolveManagerOptions(o: PipelineManagerOptions): ResolvedManagerOptions {
  if (o === null || typeof o !== 'object') {
    throw configError('options', 'expected an object like { connectionString, redisUrl, credentials }');
  }
  if (typeof o.connectionString !== 'string' || o.connectionString === '') {
    throw configError(
      'connectionString',
      'must be the connection string of the configuration database',
      'Pass something like postgres://etl@config-db:5432/etl.',
    );
  }
  if ((o.redisUrl === undefined) === (o.redisClient === undefined)) {
    throw configError(
      'redisUrl',
      'give exactly one of `redisUrl` and `redisClient`',
      'Pass redisUrl: "redis://host:6379".',
    );
  }
  if (o.redisUrl !== undefined && (typeof o.redisUrl !== 'string' || !/^rediss?:\/\//.test(o.redisUrl))) {
    throw configError('redisUrl', 'must start with redis:// or rediss://');
  }
  if (o.redisClient !== undefined && typeof o.redisClient?.eval !== 'function') {
    throw configError('redisClient', 'must be an ioredis client');
  }
  if (typeof o.credentials !== 'function') {
    throw configError(
      'credentials',
      'must be a function ({ ref, pipeline, use }) => secrets',
      'Resolve references from the environment or a secret manager, e.g. ({ ref }) => ({ connectionString: process.env[ref] }).',
    );
  }
  const keyPrefix = o.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw configError('keyPrefix', 'must be a string');
  const workerId = o.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  if (typeof workerId !== 'string' || !/^[^\s:]{1,200}$/.test(workerId)) {
    throw configError('workerId', 'must be 1-200 characters without spaces or ":"');
  }
  if (o.state !== undefined && (typeof o.state?.load !== 'function' || typeof o.state.save !== 'function')) {
    throw configError('state', 'expected a StateStore such as redisState({ url })');
  }
  const leaseTtlMs = positiveInt('leaseTtlMs', o.leaseTtlMs, DEFAULT_LEASE_TTL_MS, MIN_LEASE_TTL_MS);
  const third = Math.max(1, Math.floor(leaseTtlMs / 3));
  const renewIntervalMs = positiveInt('renewIntervalMs', o.renewIntervalMs, third);
  if (renewIntervalMs >= leaseTtlMs / 2) {
    throw configError(
      'renewIntervalMs',
      `must be below half of leaseTtlMs (${leaseTtlMs}), got ${renewIntervalMs}`,
      'Renew at least twice per lease period so one slow renewal does not lose the lease.',
    );
  }
  const balanceIntervalMs = positiveInt('balanceIntervalMs', o.balanceIntervalMs, third);
  if (balanceIntervalMs >= leaseTtlMs / 2) {
    throw configError('balanceIntervalMs', `must be below half of leaseTtlMs (${leaseTtlMs})`);
  }
  const limits = o.limits ?? {};
  const monitors = o.monitors ?? [];
  if (typeof monitors !== 'function' && !Array.isArray(monitors)) {
    throw configError('monitors', 'must be a list of monitors or a function of the definition');
  }
  const restart = o.restartBackoff ?? {};
  const maxSourceConnections = positiveInt(
    'limits.maxSourceConnections',
    limits.maxSourceConnections,
    DEFAULT_MAX_SOURCE_CONNECTIONS,
  );
  if (maxSourceConnections < 3) {
    throw configError(
      'limits.maxSourceConnections',
      `must be at least 3 (what one pipeline holds during its snapshot), got ${maxSourceConnections}`,
    );
  }
  return {
    connectionString: o.connectionString,
    schema: validSchemaName('schema', o.schema ?? DEFAULT_MANAGER_SCHEMA),
    redisUrl: o.redisUrl,
    redisClient: o.redisClient,
    keyPrefix,
    workerId,
    credentials: o.credentials,
    state: o.state,
    limits: {
      maxSourceConnections,
      maxPipelinesPerWorker: positiveInt(
        'limits.maxPipelinesPerWorker',
        limits.maxPipelinesPerWorker,
        DEFAULT_MAX_PIPELINES_PER_WORKER,
      ),
      maxConcurrentSnapshots: positiveInt(
        'limits.maxConcurrentSnapshots',
        limits.maxConcurrentSnapshots,
        DEFAULT_MAX_CONCURRENT_SNAPSHOTS,
      ),
    },
    leaseTtlMs,
    renewIntervalMs,
    balanceIntervalMs,
    pollIntervalMs: positiveInt('pollIntervalMs', o.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS),
    statusIntervalMs: positiveInt('statusIntervalMs', o.statusIntervalMs, DEFAULT_STATUS_INTERVAL_MS),
    restartBackoff: {
      initialDelayMs: positiveInt('restartBackoff.initialDelayMs', restart.initialDelayMs, 1_000),
      maxDelayMs: positiveInt('restartBackoff.maxDelayMs', restart.maxDelayMs, 60_000),
    },
    pipeline: o.pipeline ?? {},
    monitors: typeof monitors === 'function' ? monitors : () => monitors,
  };
}
