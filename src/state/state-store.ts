import type { Checkpoint } from '../change/checkpoint.js';
import type { Lsn } from '../lsn.js';

/** What a pipeline persists between runs. */
export interface PipelineState {
  /** The last checkpoint every destination made durable and the source was told about. */
  readonly checkpoint: Checkpoint;
  /** Per destination name: the commit LSN it has made durable (for fan-out). */
  readonly destinations: Readonly<Record<string, Lsn>>;
  /** When the state was saved, ISO 8601. */
  readonly updatedAt: string;
}

/** A lease on a pipeline, for running it on one of several workers. */
export interface Lease {
  /** Who holds it. */
  readonly owner: string;
  /** Monotonic fencing token: a higher token wins; check it before confirming. */
  readonly token: number;
  /** Renews the lease; rejects with `LEASE_LOST` when another owner took it. */
  renew(): Promise<void>;
  /** Throws `LEASE_LOST` when the lease is no longer held with this token. */
  assertHeld(): Promise<void>;
  /** Gives the lease up. */
  release(): Promise<void>;
}

/**
 * Where a pipeline keeps its checkpoint. `RedisStateStore` is the default;
 * memory and Postgres stores are included.
 *
 * Contract: {@link StateStore.save} is atomic (a reader sees the old or the
 * new state, never a mix) and resolves only when the state is durable by the
 * store's standard (for Redis, optionally after `WAIT` for replicas). Saves for
 * one pipeline are never concurrent.
 */
export interface StateStore {
  /** The last saved state, or undefined for a new pipeline. */
  load(pipeline: string): Promise<PipelineState | undefined>;
  /** Saves atomically; resolves when durable. */
  save(pipeline: string, state: PipelineState): Promise<void>;
  /** Takes a lease on the pipeline for `owner` (several workers). */
  lease?(pipeline: string, owner: string, opts: { ttlMs: number }): Promise<Lease>;
  /** Forgets the pipeline's state (used when a pipeline is deleted). */
  delete?(pipeline: string): Promise<void>;
  /** Releases connections. Called once. */
  close(): Promise<void>;
}
