import { type RedisClient, redisError } from '../state/redis/redis-client.js';
import { RedisLease, type RedisLeaseKeys } from '../state/redis/redis-lease.js';

/**
 * Records this worker as alive until now + TTL (by Redis's clock, so worker
 * clocks do not matter), drops members whose time ran out, and returns the
 * live members. KEYS: members. ARGV: worker id ('' to only read), ttlMs.
 */
const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/** KEYS: the lease keys. Returns their values (`<token>:<owner>` or nil). */
const OWNERS_SCRIPT = `return redis.call('MGET', unpack(KEYS))`;

/** KEYS: members. ARGV: worker id. */
const LEAVE_SCRIPT = `return redis.call('ZREM', KEYS[1], ARGV[1])`;

/** Redis caps the arguments of one script call; owners are read in chunks of this many keys. */
const OWNERS_CHUNK = 1_000;

/**
 * Worker membership and pipeline leases in Redis: who is alive (a sorted
 * set scored by expiry time), who owns which pipeline (the lease keys of
 * {@link RedisLease}, compatible with `RedisStateStore.lease`), and taking a
 * lease.
 */
export class WorkerRegistry {
  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
    readonly workerId: string,
  ) {}

  /** Renews this worker's membership for `ttlMs` and returns every live worker id, sorted. */
  async heartbeat(ttlMs: number): Promise<string[]> {
    try {
      const members = await this.client.eval(HEARTBEAT_SCRIPT, 1, this.membersKey, this.workerId, ttlMs);
      return (members as string[]).map(String).sort();
    } catch (err) {
      throw redisError('renew worker membership', err);
    }
  }

  /** Removes this worker from the members at once (a clean shutdown), so others rebalance without waiting. */
  async leave(): Promise<void> {
    try {
      await this.client.eval(LEAVE_SCRIPT, 1, this.membersKey, this.workerId);
    } catch (err) {
      throw redisError('leave the worker set', err);
    }
  }

  /** The current owner of each pipeline's lease (absent: nobody holds it). */
  async owners(pipelines: readonly string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    for (let i = 0; i < pipelines.length; i += OWNERS_CHUNK) {
      const chunk = pipelines.slice(i, i + OWNERS_CHUNK);
      let values: unknown;
      try {
        values = await this.client.eval(
          OWNERS_SCRIPT,
          chunk.length,
          ...chunk.map((p) => this.leaseKeys(p).lease),
        );
      } catch (err) {
        throw redisError('read lease owners', err);
      }
      (values as (string | null)[]).forEach((value, j) => {
        if (typeof value === 'string') owners.set(chunk[j]!, value.slice(value.indexOf(':') + 1));
      });
    }
    return owners;
  }

  /** Takes the pipeline's lease; rejects with a retryable `LEASE_LOST` while another worker holds it. */
  acquire(pipeline: string, ttlMs: number): Promise<RedisLease> {
    return RedisLease.acquire(this.client, this.leaseKeys(pipeline), pipeline, this.workerId, ttlMs);
  }

  private get membersKey(): string {
    return `${this.keyPrefix}workers`;
  }

  private leaseKeys(pipeline: string): RedisLeaseKeys {
    return { lease: `${this.keyPrefix}lease:${pipeline}`, token: `${this.keyPrefix}lease-token:${pipeline}` };
  }
}
