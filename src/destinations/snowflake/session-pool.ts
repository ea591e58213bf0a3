import { abortError } from '../../async/abortable-sleep.js';
import { EtlError } from '../../errors.js';
import type { SnowflakeSession } from './snowflake-session.js';

interface Waiter {
  resolve(session: SnowflakeSession): void;
  reject(err: unknown): void;
}

/**
 * A bounded pool of Snowflake sessions. At most `max` sessions exist at once;
 * callers beyond that wait in order. A session marked broken is destroyed on
 * release instead of being reused. {@link SessionPool.close} ends every
 * session, idle or in use, and fails every waiter.
 */
export class SessionPool {
  private readonly idle: SnowflakeSession[] = [];
  private readonly all = new Set<SnowflakeSession>();
  private readonly waiters: Waiter[] = [];
  private opening = 0;
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly connect: (signal?: AbortSignal) => Promise<SnowflakeSession>,
  ) {}

  /** Sessions open now (idle or in use). */
  get size(): number {
    return this.all.size;
  }

  /** Runs `fn` with a session, releasing it afterwards (and discarding it when broken). */
  async use<T>(fn: (session: SnowflakeSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const session = await this.acquire(signal);
    try {
      return await fn(session);
    } finally {
      this.release(session);
    }
  }

  /** Takes an idle session, opens a new one when under the limit, or waits for one. */
  async acquire(signal?: AbortSignal): Promise<SnowflakeSession> {
    this.assertOpen();
    if (signal?.aborted) throw abortError(signal);
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.all.size + this.opening < this.max) return this.open(signal);
    return new Promise<SnowflakeSession>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (s) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Returns a session; a broken one is destroyed and its slot freed for a fresh login. */
  release(session: SnowflakeSession): void {
    if (this.closed || session.broken) {
      this.all.delete(session);
      void session.destroy();
      if (!this.closed) this.wakeWithNewSession();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(session);
    else this.idle.push(session);
  }

  /** Ends every session (also those in use: their running statement fails) and fails all waiters. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new EtlError('ABORTED', 'Snowflake destination closed');
    for (const w of this.waiters.splice(0)) w.reject(err);
    const sessions = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(sessions.map((s) => s.destroy()));
  }

  private async open(signal?: AbortSignal): Promise<SnowflakeSession> {
    this.opening++;
    try {
      const session = await this.connect(signal);
      if (this.closed) {
        await session.destroy();
        throw new EtlError('ABORTED', 'Snowflake destination closed');
      }
      this.all.add(session);
      return session;
    } finally {
      this.opening--;
    }
  }

  private wakeWithNewSession(): void {
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.open().then(
      (s) => waiter.resolve(s),
      (e) => waiter.reject(e),
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new EtlError('LIFECYCLE', 'Snowflake session pool used after close');
  }
}
