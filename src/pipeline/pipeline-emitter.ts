import { EventEmitter } from 'eventemitter3';
import { EtlError } from '../errors.js';
import type { PipelineEvents } from './pipeline-events.js';

/** A listener of one event type. */
export type Listener<K extends keyof PipelineEvents> = (payload: PipelineEvents[K]) => void;

/**
 * Typed events on eventemitter3. Unlike Node's EventEmitter, an `error` event
 * with no listener is simply dropped, so it never crashes the host; a listener
 * that throws is reported as a non-fatal `error` and the run goes on.
 */
export class PipelineEmitter {
  private readonly ee = new EventEmitter();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof PipelineEvents>(type: K, listener: Listener<K>): () => void {
    this.ee.on(type, listener);
    return () => {
      this.ee.off(type, listener);
    };
  }

  /** Subscribes for one event. */
  once<K extends keyof PipelineEvents>(type: K, listener: Listener<K>): () => void {
    this.ee.once(type, listener);
    return () => {
      this.ee.off(type, listener);
    };
  }

  /** Emits to every listener; never throws. */
  emit<K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]): void {
    const listeners = this.ee.listeners(type) as Listener<K>[];
    for (const listener of listeners) {
      try {
        listener(payload);
      } catch (err) {
        if (type === 'error') continue; // a failing error listener must not loop
        this.emit('error', {
          error: new EtlError('INTERNAL', `A "${String(type)}" event listener threw`, { cause: err }),
          fatal: false,
          component: 'listener',
        });
      }
    }
  }

  /** Number of listeners of a type. */
  listenerCount(type: keyof PipelineEvents): number {
    return this.ee.listenerCount(type);
  }

  /** Removes every listener. */
  clear(): void {
    this.ee.removeAllListeners();
  }
}
