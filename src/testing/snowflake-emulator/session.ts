/**
 * One Snowflake session: its engine connection, current database and
 * schema, session parameters, and transaction state. Statements of a session
 * run one at a time.
 *
 * Transactions follow Snowflake: BEGIN opens one; a failed statement inside
 * it undoes only itself (the engine aborts its whole transaction, so the
 * statements that succeeded are replayed into a fresh one); DDL commits the
 * open transaction first. Writers are serialised by one {@link WriteLock}:
 * a transaction takes it at its first statement and holds it to COMMIT or
 * ROLLBACK, so concurrent sessions block (as on Snowflake's table locks)
 * instead of failing on the engine's write conflicts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { SnowflakeSqlError } from './errors.js';

/** A session parameter value. */
export type ParamValue = string | number | boolean;

export class Session {
  /** Statement (engine SQL) log of the open transaction, for replay after a failed statement. */
  replay: string[] = [];
  /** A Snowflake transaction is open (BEGIN seen). */
  inTxn = false;
  /** The engine transaction is open (and this session holds the write lock). */
  engineTxn = false;
  /** Scratch files to delete when the transaction ends. */
  scratch: string[] = [];
  lastActive = Date.now();
  running = 0;
  closed = false;
  lastQueryId: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: number,
    readonly token: string,
    readonly masterToken: string,
    readonly user: string,
    readonly conn: DuckDBConnection,
    public database: string | null,
    public schema: string | null,
    public warehouse: string | null,
    public role: string | null,
    readonly params: Map<string, ParamValue>,
  ) {}

  /** Runs `fn` after the session's earlier statements. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      this.running++;
      try {
        return await fn();
      } finally {
        this.running--;
        this.lastActive = Date.now();
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** The session's TIMEZONE. */
  get timezone(): string {
    return String(this.params.get('TIMEZONE') ?? 'UTC');
  }
}

/** How long a writer waits, and when an idle holder is aborted. */
export interface LockTimings {
  /** Wait at most this long for the lock (Snowflake: LOCK_TIMEOUT). */
  readonly lockTimeoutMs: number;
  /** A holder idle (no statement running) for this long while another waits loses its transaction. */
  readonly idleTransactionTimeoutMs: number;
}

/** The one write lock of the engine. */
export class WriteLock {
  private holder: Session | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly timings: LockTimings,
    /** Rolls back an idle holder's transaction (which releases the lock). */
    private readonly abortIdle: (s: Session) => Promise<void>,
  ) {}

  holds(s: Session): boolean {
    return this.holder === s;
  }

  async acquire(s: Session, statement: string): Promise<void> {
    const started = Date.now();
    while (this.holder !== undefined && this.holder !== s) {
      const holder = this.holder;
      if (
        holder.closed ||
        (holder.running === 0 && Date.now() - holder.lastActive > this.timings.idleTransactionTimeoutMs)
      ) {
        await this.abortIdle(holder);
        if (this.holder === holder) this.release(holder);
        continue;
      }
      if (Date.now() - started > this.timings.lockTimeoutMs) {
        throw new SnowflakeSqlError(
          '000625',
          '57014',
          `Statement '${statement.slice(0, 80)}' reached its lock timeout of ${this.timings.lockTimeoutMs} ms waiting for session ${holder.id}'s transaction.`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 50);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
    this.holder = s;
  }

  release(s: Session): void {
    if (this.holder !== s) return;
    this.holder = undefined;
    for (const w of this.waiters.splice(0)) w();
  }
}
