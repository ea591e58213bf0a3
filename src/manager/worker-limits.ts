import { Semaphore } from 'async-mutex';
import { abortError } from '../async/abortable-sleep.js';

/**
 * Connections a Postgres source holds while it may take a snapshot: its
 * normal connection (checks, heartbeats), the replication connection that
 * creates the slot and exports the snapshot, and the connection that copies
 * the tables in that snapshot.
 */
export const SNAPSHOT_CONNECTIONS = 3;
/** Connections a Postgres source holds while streaming: its normal connection and the replication connection. */
export const STREAM_CONNECTIONS = 2;

/**
 * Permits taken from a weighted semaphore, all at once (so two pipelines
 * each holding part of what they need can never wait on each other), and
 * given back in part or in whole.
 */
export class Permits {
  private released = false;

  constructor(
    private readonly semaphore: Semaphore,
    private count: number,
  ) {}

  /** Permits still held. */
  get held(): number {
    return this.count;
  }

  /** Gives back all but `count` permits. */
  shrinkTo(count: number): void {
    if (this.released || count >= this.count) return;
    this.semaphore.release(this.count - count);
    this.count = count;
  }

  /** Gives every permit back. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.count > 0) this.semaphore.release(this.count);
    this.count = 0;
  }
}

/**
 * The limits one worker enforces on its pipelines: a semaphore of source
 * connections and one of concurrent snapshots. Waits are first come, first
 * served, and abortable: an aborted wait rejects at once, and the permits it
 * would have got are given back the moment they are granted.
 */
export class WorkerLimits {
  private readonly connections: Semaphore;
  private readonly snapshots: Semaphore;

  constructor(
    readonly maxSourceConnections: number,
    readonly maxConcurrentSnapshots: number,
  ) {
    this.connections = new Semaphore(maxSourceConnections);
    this.snapshots = new Semaphore(maxConcurrentSnapshots);
  }

  /** Source connections free right now. */
  get freeConnections(): number {
    return this.connections.getValue();
  }

  /** Takes `count` source connections, waiting until they are free. */
  acquireConnections(count: number, signal: AbortSignal): Promise<Permits> {
    return acquire(this.connections, Math.min(count, this.maxSourceConnections), signal);
  }

  /** Takes one snapshot slot, waiting until one is free. */
  acquireSnapshot(signal: AbortSignal): Promise<Permits> {
    return acquire(this.snapshots, 1, signal);
  }
}

async function acquire(semaphore: Semaphore, count: number, signal: AbortSignal): Promise<Permits> {
  if (signal.aborted) throw abortError(signal);
  const granted = semaphore.acquire(count);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([granted, aborted]);
    return new Permits(semaphore, count);
  } catch (err) {
    // Abandoned: whatever is granted later goes straight back.
    void granted.then(([, release]) => release());
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
