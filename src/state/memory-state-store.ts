import { configError, EtlError } from '../errors.js';
import { decodePipelineState, encodePipelineState } from './pipeline-state-codec.js';
import type { Lease, PipelineState, StateStore } from './state-store.js';

/** One pipeline's lease, as the memory store keeps it. */
interface HeldLease {
  owner: string;
  token: number;
  expiresAt: number;
}

/**
 * A {@link StateStore} that keeps state in this process's memory: for tests,
 * examples and pipelines whose destination keeps its own watermark (the
 * replication slot still remembers the confirmed position across restarts).
 *
 * States are stored encoded, exactly as the Redis and Postgres stores store
 * them, so a state that would not survive those stores does not survive this
 * one either. Leases work between pipelines of the same process (fencing
 * tokens increase per pipeline).
 *
 * @example
 * ```ts
 * const store = memoryState();
 * await store.save('orders', { checkpoint: { lsn: 2n, commitLsn: 1n }, destinations: {}, updatedAt: new Date().toISOString() });
 * (await store.load('orders'))?.checkpoint.lsn; // 2n
 * ```
 */
export class MemoryStateStore implements StateStore {
  private readonly states = new Map<string, string>();
  private readonly leases = new Map<string, HeldLease>();
  private readonly tokens = new Map<string, number>();
  private closed = false;

  /** The last saved state, or undefined. */
  async load(pipeline: string): Promise<PipelineState | undefined> {
    this.assertOpen();
    const text = this.states.get(pipeline);
    return text === undefined ? undefined : decodePipelineState(text, pipeline);
  }

  /** Replaces the pipeline's state. */
  async save(pipeline: string, state: PipelineState): Promise<void> {
    this.assertOpen();
    this.states.set(pipeline, encodePipelineState(state));
  }

  /** Forgets the pipeline's state. */
  async delete(pipeline: string): Promise<void> {
    this.assertOpen();
    this.states.delete(pipeline);
  }

  /**
   * Takes the pipeline's lease for `owner` for `ttlMs`. Rejects with a
   * retryable `LEASE_LOST` while another owner holds an unexpired lease.
   */
  async lease(pipeline: string, owner: string, opts: { ttlMs: number }): Promise<Lease> {
    this.assertOpen();
    if (!Number.isInteger(opts.ttlMs) || opts.ttlMs <= 0) {
      throw configError('ttlMs', `must be a positive integer of milliseconds, got ${String(opts.ttlMs)}`);
    }
    const current = this.leases.get(pipeline);
    if (current && current.owner !== owner && current.expiresAt > Date.now()) {
      throw new EtlError('LEASE_LOST', `Pipeline "${pipeline}" is leased by "${current.owner}"`, {
        retryable: true,
        hint: 'Another worker runs this pipeline; try again after its lease expires.',
        details: { pipeline, holder: current.owner },
      });
    }
    const token = (this.tokens.get(pipeline) ?? 0) + 1;
    this.tokens.set(pipeline, token);
    const held: HeldLease = { owner, token, expiresAt: Date.now() + opts.ttlMs };
    this.leases.set(pipeline, held);
    const isHeld = () => {
      const now = this.leases.get(pipeline);
      return now?.token === token && now.expiresAt > Date.now();
    };
    const lost = () =>
      new EtlError('LEASE_LOST', `Lease on pipeline "${pipeline}" (token ${token}) is no longer held`, {
        hint: 'Another worker took over this pipeline; stop confirming and exit.',
        details: { pipeline, owner, token },
      });
    return {
      owner,
      token,
      renew: async () => {
        if (!isHeld()) throw lost();
        held.expiresAt = Date.now() + opts.ttlMs;
      },
      assertHeld: async () => {
        if (!isHeld()) throw lost();
      },
      release: async () => {
        if (this.leases.get(pipeline)?.token === token) this.leases.delete(pipeline);
      },
    };
  }

  /** Marks the store closed; later calls reject with `LIFECYCLE`. */
  async close(): Promise<void> {
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new EtlError('LIFECYCLE', 'Memory state store used after close()');
  }
}

/**
 * Creates a {@link MemoryStateStore}: state that lives as long as the process.
 *
 * @example
 * ```ts
 * new Pipeline({ name: 'orders' }).from(source).to(memory()).state(memoryState());
 * ```
 */
export function memoryState(): MemoryStateStore {
  return new MemoryStateStore();
}
