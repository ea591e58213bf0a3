import { configError, EtlError } from '../../errors.js';
import { decodePipelineState, encodePipelineState } from '../pipeline-state-codec.js';
import type { PipelineState, StateStore } from '../state-store.js';
import { connectRedis, type RedisClient, redisError } from './redis-client.js';
import { RedisLease } from './redis-lease.js';

/** Options of {@link redisState}: give `url` or `client`. */
export interface RedisStateOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. The store opens and closes its own client. */
  readonly url?: string;
  /** An existing `ioredis` client (or any {@link RedisClient}); the store never closes it. */
  readonly client?: RedisClient;
  /** Prefix of every key the store writes. Default `etl-stream:`. */
  readonly keyPrefix?: string;
  /**
   * After each save, wait until this many replicas acknowledged it (Redis
   * `WAIT`). A save that fewer replicas acknowledged within `timeoutMs`
   * rejects with a retryable `STATE_STORE` error.
   */
  readonly waitForReplicas?: { readonly replicas: number; readonly timeoutMs: number };
  /** Time limit to connect, in milliseconds. Default 5 000. */
  readonly connectTimeoutMs?: number;
  /** Time limit for one command, in milliseconds. Default 5 000. */
  readonly commandTimeoutMs?: number;
}

/** Keeps etl-stream's keys recognisable and apart from the application's. */
export const DEFAULT_REDIS_KEY_PREFIX = 'etl-stream:';
/** A healthy Redis connects in milliseconds; an unreachable one must fail a save, not hang it. */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** Every command here is O(1); five seconds means Redis is not answering. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5_000;

/**
 * The default {@link StateStore}: one Redis key per pipeline holding its
 * state as versioned JSON (LSNs as `X/Y` text), written with one `SET`
 * (atomic). With `waitForReplicas`, a save resolves only once that many
 * replicas have the new value (`WAIT`), so a failover does not roll the
 * position back.
 *
 * When Redis is unreachable, loads and saves reject within the connect and
 * command timeouts with retryable `STATE_STORE` errors carrying a hint; they
 * never hang. The client reconnects in the background, so a restarted Redis
 * is used again by the next call.
 *
 * Leases ({@link RedisStateStore.lease}) let several workers share pipelines;
 * see {@link RedisLease}.
 *
 * Construction validates options and does no I/O; `ioredis` is loaded on
 * first use.
 *
 * @example
 * ```ts
 * const store = redisState({ url: process.env.REDIS_URL, waitForReplicas: { replicas: 1, timeoutMs: 500 } });
 * await store.save('orders', state);
 * const loaded = await store.load('orders');
 * await store.close();
 * ```
 */
export class RedisStateStore implements StateStore {
  private readonly url: string | undefined;
  private readonly ownClient: boolean;
  private readonly keyPrefix: string;
  private readonly waitForReplicas: { replicas: number; timeoutMs: number } | undefined;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private client: Promise<RedisClient> | undefined;
  private closed = false;

  constructor(options: RedisStateOptions) {
    const { url, client } = options ?? {};
    if ((url === undefined) === (client === undefined)) {
      throw configError(
        'url',
        'give exactly one of `url` and `client`',
        'Pass redisState({ url: "redis://host:6379" }).',
      );
    }
    if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
      throw configError('url', 'must start with redis:// or rediss://');
    }
    if (client !== undefined && (typeof client.get !== 'function' || typeof client.eval !== 'function')) {
      throw configError('client', 'must be an ioredis client');
    }
    this.url = url;
    this.ownClient = client === undefined;
    if (client) this.client = Promise.resolve(client);
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    if (typeof this.keyPrefix !== 'string') throw configError('keyPrefix', 'must be a string');
    this.connectTimeoutMs = positiveInteger(
      'connectTimeoutMs',
      options.connectTimeoutMs,
      DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
    );
    this.commandTimeoutMs = positiveInteger(
      'commandTimeoutMs',
      options.commandTimeoutMs,
      DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    );
    const wait = options.waitForReplicas;
    if (wait !== undefined) {
      if (!Number.isInteger(wait.replicas) || wait.replicas < 0) {
        throw configError('waitForReplicas.replicas', 'must be a non-negative integer');
      }
      positiveInteger('waitForReplicas.timeoutMs', wait.timeoutMs, 1);
      if (wait.timeoutMs >= this.commandTimeoutMs) {
        throw configError(
          'waitForReplicas.timeoutMs',
          `must be below commandTimeoutMs (${this.commandTimeoutMs})`,
        );
      }
      this.waitForReplicas = { replicas: wait.replicas, timeoutMs: wait.timeoutMs };
    }
  }

  /** The key holding `pipeline`'s state. */
  stateKey(pipeline: string): string {
    return `${this.keyPrefix}state:${pipeline}`;
  }

  /** The last saved state, or undefined for a new pipeline. */
  async load(pipeline: string): Promise<PipelineState | undefined> {
    const client = await this.connected();
    let text: string | null;
    try {
      text = await client.get(this.stateKey(pipeline));
    } catch (err) {
      throw redisError('load', err);
    }
    return text === null ? undefined : decodePipelineState(text, pipeline);
  }

  /** Writes the state with one `SET`; with `waitForReplicas`, then waits for the replicas. */
  async save(pipeline: string, state: PipelineState): Promise<void> {
    const client = await this.connected();
    let acknowledged: number | undefined;
    try {
      await client.set(this.stateKey(pipeline), encodePipelineState(state));
      if (this.waitForReplicas) {
        acknowledged = await client.wait(this.waitForReplicas.replicas, this.waitForReplicas.timeoutMs);
      }
    } catch (err) {
      throw redisError('save', err);
    }
    if (this.waitForReplicas && (acknowledged ?? 0) < this.waitForReplicas.replicas) {
      throw new EtlError(
        'STATE_STORE',
        `Only ${acknowledged} of ${this.waitForReplicas.replicas} Redis replicas acknowledged the state of pipeline "${pipeline}" within ${this.waitForReplicas.timeoutMs} ms`,
        {
          retryable: true,
          hint: 'Check the Redis replicas (INFO replication), or lower waitForReplicas.replicas.',
          details: { pipeline, acknowledged, required: this.waitForReplicas.replicas },
        },
      );
    }
  }

  /** Deletes the pipeline's state key. */
  async delete(pipeline: string): Promise<void> {
    const client = await this.connected();
    try {
      await client.del(this.stateKey(pipeline));
    } catch (err) {
      throw redisError('delete', err);
    }
  }

  /**
   * Takes the pipeline's lease for `owner`, expiring after `ttlMs` without a
   * renewal. Rejects with a retryable `LEASE_LOST` while another owner holds it.
   */
  async lease(pipeline: string, owner: string, opts: { ttlMs: number }): Promise<RedisLease> {
    positiveInteger('ttlMs', opts?.ttlMs, 1);
    if (typeof owner !== 'string' || owner === '') throw configError('owner', 'must be a non-empty string');
    const client = await this.connected();
    const keys = {
      lease: `${this.keyPrefix}lease:${pipeline}`,
      token: `${this.keyPrefix}lease-token:${pipeline}`,
    };
    return RedisLease.acquire(client, keys, pipeline, owner, opts.ttlMs);
  }

  /** Closes the client the store opened (never a client that was passed in). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownClient || !this.client) return;
    const client = await this.client.catch(() => undefined);
    if (!client) return;
    // QUIT waits for Redis; when it is down, drop the socket instead of waiting.
    await client.quit().catch(() => client.disconnect());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private connected(): Promise<RedisClient> {
    if (this.closed) return Promise.reject(new EtlError('LIFECYCLE', 'Redis state store used after close()'));
    this.client ??= connectRedis(this.url!, {
      connectTimeoutMs: this.connectTimeoutMs,
      commandTimeoutMs: this.commandTimeoutMs,
    });
    return this.client;
  }
}

/**
 * Creates a {@link RedisStateStore}. Options are validated now (errors name
 * the field); nothing connects until the first call.
 *
 * @example
 * ```ts
 * pipeline.state(redisState({ url: process.env.REDIS_URL, keyPrefix: 'etl-stream:' }));
 * ```
 */
export function redisState(options: RedisStateOptions): RedisStateStore {
  return new RedisStateStore(options);
}

function positiveInteger(field: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0)
    throw configError(field, `must be a positive integer, got ${String(value)}`);
  return v;
}
