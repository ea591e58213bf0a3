import { EtlError } from '../../errors.js';
import type { Lease } from '../state-store.js';
import { type RedisClient, redisError } from './redis-client.js';

/**
 * Takes the lease when it is free, expired, or already ours; the fencing
 * token comes from INCR on a separate key that never expires, so it only
 * grows. The lease value is `<token>:<owner>`.
 * KEYS: lease, token counter. ARGV: owner, ttlMs.
 * Returns `{token}` on success, `{0, currentValue, pttl}` when held by another owner.
 */
const ACQUIRE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ':', 1, true)
  local holder = sep and string.sub(current, sep + 1) or current
  if holder ~= ARGV[1] then return {0, current, redis.call('PTTL', KEYS[1])} end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return {token}
`;

/** Extends the lease only when it still holds this owner and token. KEYS: lease. ARGV: value, ttlMs. */
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** Deletes the lease only when it still holds this owner and token. KEYS: lease. ARGV: value. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Where a pipeline's lease lives in Redis. */
export interface RedisLeaseKeys {
  /** The lease itself (`<token>:<owner>`, expiring after the TTL). */
  readonly lease: string;
  /** The fencing-token counter (never expires). */
  readonly token: string;
}

/**
 * A lease on one pipeline held in Redis, so that several workers can share
 * pipelines and one takes over when another dies (its lease expires after
 * `ttlMs` without a renewal).
 *
 * Each acquisition gets a fencing token from `INCR`, strictly greater than
 * every earlier token of the pipeline: a worker checks
 * {@link RedisLease.assertHeld} before confirming a position, and a worker
 * that was paused past its TTL finds out there (`LEASE_LOST`) instead of
 * confirming over its successor. {@link RedisLease.renew} and
 * {@link RedisLease.release} are Lua scripts that act only when the lease
 * still holds this owner and token.
 *
 * @example
 * ```ts
 * const lease = await store.lease('orders', 'worker-1', { ttlMs: 15_000 });
 * const timer = setInterval(() => lease.renew().catch(stop), 5_000);
 * await lease.assertHeld(); // before each confirm
 * await lease.release();
 * ```
 */
export class RedisLease implements Lease {
  private readonly value: string;

  private constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisLeaseKeys,
    private readonly pipeline: string,
    readonly owner: string,
    readonly token: number,
    private readonly ttlMs: number,
  ) {
    this.value = `${token}:${owner}`;
  }

  /**
   * Takes the lease of `pipeline` for `owner`. Rejects with a retryable
   * `LEASE_LOST` when another owner holds an unexpired lease (its details
   * say who and for how long), and with `STATE_STORE` when Redis fails.
   */
  static async acquire(
    client: RedisClient,
    keys: RedisLeaseKeys,
    pipeline: string,
    owner: string,
    ttlMs: number,
  ): Promise<RedisLease> {
    let reply: unknown;
    try {
      reply = await client.eval(ACQUIRE_SCRIPT, 2, keys.lease, keys.token, owner, ttlMs);
    } catch (err) {
      throw redisError('take a lease', err);
    }
    const [token, holder, pttl] = reply as [number, string?, number?];
    if (token === 0) {
      const current = String(holder);
      const holderName = current.slice(current.indexOf(':') + 1);
      throw new EtlError('LEASE_LOST', `Pipeline "${pipeline}" is leased by "${holderName}"`, {
        retryable: true,
        hint: 'Another worker runs this pipeline; try again after its lease expires.',
        details: { pipeline, holder: holderName, expiresInMs: pttl },
      });
    }
    return new RedisLease(client, keys, pipeline, owner, Number(token), ttlMs);
  }

  /** Extends the lease by its TTL; rejects with `LEASE_LOST` when another owner took it meanwhile. */
  async renew(): Promise<void> {
    let renewed: unknown;
    try {
      renewed = await this.client.eval(RENEW_SCRIPT, 1, this.keys.lease, this.value, this.ttlMs);
    } catch (err) {
      throw redisError('renew a lease', err);
    }
    if (Number(renewed) !== 1) throw this.lost();
  }

  /** Resolves when the lease still holds this owner and token; rejects with `LEASE_LOST` otherwise. */
  async assertHeld(): Promise<void> {
    let current: string | null;
    try {
      current = await this.client.get(this.keys.lease);
    } catch (err) {
      throw redisError('check a lease', err);
    }
    if (current !== this.value) throw this.lost();
  }

  /** Gives the lease up, if still held; another worker can take it at once. */
  async release(): Promise<void> {
    try {
      await this.client.eval(RELEASE_SCRIPT, 1, this.keys.lease, this.value);
    } catch (err) {
      throw redisError('release a lease', err);
    }
  }

  private lost(): EtlError {
    return new EtlError(
      'LEASE_LOST',
      `Lease on pipeline "${this.pipeline}" (owner "${this.owner}", token ${this.token}) is no longer held`,
      {
        hint: 'Another worker took over this pipeline (this one missed renewals); stop confirming and exit.',
        details: { pipeline: this.pipeline, owner: this.owner, token: this.token },
      },
    );
  }
}
