import { EventEmitter } from 'eventemitter3';
import type { Checkpoint } from '../change/checkpoint.js';
import { EtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import type { PipelineStatus } from '../pipeline/pipeline-events.js';

/**
 * Where a managed pipeline is, as the manager sees it: the pipeline's own
 * {@link PipelineStatus} while it runs on a worker, or one of
 * - `waiting`: this worker owns it and waits for a source-connection or snapshot permit;
 * - `invalid`: its definition (or what it refers to) is wrong; it waits for the row to change;
 * - `disabled`: `enabled = false` in the table;
 * - `unassigned`: runnable, but no worker holds its lease (all are at their limit, or none is alive).
 */
export type ManagedPipelineState = PipelineStatus | 'waiting' | 'invalid' | 'disabled' | 'unassigned';

/** One pipeline's status, as {@link PipelineManager.status} and the status table report it. */
export interface ManagedPipelineStatus {
  /** Pipeline name. */
  readonly name: string;
  /** The worker that holds the pipeline's lease, when one does. */
  readonly owner: string | undefined;
  readonly state: ManagedPipelineState;
  /** The last LSN confirmed to the source. */
  readonly confirmedLsn: Lsn | undefined;
  /** Bytes of WAL the server sent past the confirmed LSN (an estimate the source keeps without querying). */
  readonly lagBytes: bigint | undefined;
  /** The last error, rendered for operators (secrets redacted). */
  readonly lastError: string | undefined;
  /** Whether this worker runs it (false: the figures come from the owner's row in the status table). */
  readonly local: boolean;
  /** When the figures were taken. */
  readonly updatedAt: Date;
}

/**
 * Typed events of a {@link PipelineManager}. Events only observe; a listener
 * that throws is reported on `error`, and an `error` nobody listens to never
 * crashes the host.
 */
export interface ManagerEvents {
  /** A definition failed validation (or referred to something missing); the other pipelines go on. */
  'definition:invalid': { readonly name: string; readonly error: EtlError };
  /** A pipeline run by this worker changed state. */
  'pipeline:state': { readonly name: string; readonly state: ManagedPipelineState };
  /** A pipeline run by this worker confirmed a batch. */
  'pipeline:commit': { readonly name: string; readonly checkpoint: Checkpoint; readonly rows: number };
  /** A pipeline run by this worker reported an error (`fatal`: it stopped; the manager restarts it with backoff). */
  'pipeline:error': {
    readonly name: string;
    readonly error: EtlError;
    readonly fatal: boolean;
    readonly component: string;
  };
  /** This worker took a pipeline's lease. */
  'lease:acquired': { readonly name: string; readonly token: number };
  /** This worker lost a pipeline's lease (not renewed in time, or taken): the pipeline was stopped unconfirmed. */
  'lease:lost': { readonly name: string; readonly token: number; readonly error: EtlError };
  /** This worker gave a pipeline's lease up (handover, disabled, removed, shutdown). */
  'lease:released': { readonly name: string; readonly token: number; readonly reason: StopReason };
  /** The manager's own machinery failed (config database, Redis, status table); it retries. */
  error: { readonly error: EtlError; readonly component: string };
}

/** Why a worker stops running a pipeline. */
export type StopReason = 'handover' | 'disabled' | 'removed' | 'invalid' | 'shutdown' | 'lease-lost';

/** A listener of one manager event type. */
export type ManagerListener<K extends keyof ManagerEvents> = (payload: ManagerEvents[K]) => void;

/** Typed events on eventemitter3; listeners that throw are reported on `error`, never rethrown. */
export class ManagerEmitter {
  private readonly ee = new EventEmitter();

  on<K extends keyof ManagerEvents>(type: K, listener: ManagerListener<K>): () => void {
    this.ee.on(type, listener);
    return () => {
      this.ee.off(type, listener);
    };
  }

  emit<K extends keyof ManagerEvents>(type: K, payload: ManagerEvents[K]): void {
    for (const listener of this.ee.listeners(type) as ManagerListener<K>[]) {
      try {
        listener(payload);
      } catch (err) {
        if (type === 'error') continue;
        this.emit('error', {
          error: new EtlError('INTERNAL', `A "${String(type)}" listener threw`, { cause: err }),
          component: 'listener',
        });
      }
    }
  }

  clear(): void {
    this.ee.removeAllListeners();
  }
}
