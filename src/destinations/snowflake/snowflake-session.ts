import { abortError } from '../../async/abortable-sleep.js';
import { EtlError } from '../../errors.js';
import { type ErrorContext, isTransportFailure, snowflakeError } from './snowflake-errors.js';

/** The part of a `snowflake-sdk` statement the destination uses. */
export interface DriverStatement {
  cancel?(cb?: (err?: unknown) => void): void;
}

/** The part of a `snowflake-sdk` connection the destination uses (a minimal structural type). */
export interface DriverConnection {
  connect(cb: (err: unknown, conn: unknown) => void): void;
  execute(opts: {
    sqlText: string;
    binds?: unknown[];
    fetchAsString?: string[];
    complete: (err: unknown, stmt: DriverStatement, rows?: Record<string, unknown>[]) => void;
  }): DriverStatement;
  destroy(cb: (err: unknown, conn: unknown) => void): void;
  isUp?(): boolean;
}

/** A row as the driver returns it, every value fetched as text (exact numbers). */
export type Row = Record<string, string | null>;

/** Time given to a session's logout before it is abandoned. */
const DESTROY_TIMEOUT_MS = 5_000;

/**
 * One Snowflake session. Statements run one at a time (a transaction lives
 * in its session); each has a time limit and honours an AbortSignal. When a
 * statement times out, is aborted, or the network fails, the session is marked
 * broken: the pool replaces it instead of reusing a session in an unknown state.
 */
export class SnowflakeSession {
  /** True once the session should not be reused. */
  broken = false;
  private destroyed = false;
  /** Fails the statement in flight, if any (used when the session is closed mid-statement). */
  private interrupt: ((err: EtlError) => void) | undefined;

  constructor(
    private readonly conn: DriverConnection,
    private readonly statementTimeoutMs: number,
  ) {}

  /**
   * Runs one statement and resolves with its rows (values as text). Rejects
   * with a Snowflake {@link EtlError} (retryable when transient), a `TIMEOUT`
   * (retryable) after `statementTimeoutMs`, or `ABORTED` when `signal` aborts.
   */
  execute(
    sql: string,
    binds: readonly unknown[] | undefined,
    ctx: ErrorContext,
    signal?: AbortSignal,
  ): Promise<Row[]> {
    if (this.destroyed)
      return Promise.reject(new EtlError('LIFECYCLE', 'Snowflake session used after close'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<Row[]>((resolve, reject) => {
      let settled = false;
      let stmt: DriverStatement | undefined;
      const finish = (err: unknown, rows?: Row[]) => {
        if (settled) return;
        settled = true;
        this.interrupt = undefined;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(rows ?? []);
      };
      const giveUp = (err: EtlError) => {
        this.broken = true;
        try {
          stmt?.cancel?.(() => {});
        } catch {
          // the session is replaced anyway
        }
        finish(err);
      };
      const onAbort = () => giveUp(abortError(signal!));
      const timer = setTimeout(
        () =>
          giveUp(
            new EtlError(
              'TIMEOUT',
              `Snowflake ${ctx.step} did not answer within ${this.statementTimeoutMs} ms`,
              {
                retryable: true,
                details: { step: ctx.step, ...(ctx.table ? { table: ctx.table } : {}) },
                hint: 'The statement is retried on a new session; raise statementTimeoutMs for very large batches.',
              },
            ),
          ),
        this.statementTimeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.interrupt = giveUp;
      try {
        stmt = this.conn.execute({
          sqlText: sql,
          ...(binds && binds.length > 0 ? { binds: [...binds] } : {}),
          fetchAsString: ['Number', 'Date', 'JSON', 'Boolean', 'Buffer'],
          complete: (err, _stmt, rows) => {
            if (err) {
              const error = snowflakeError(err, ctx);
              if (isTransportFailure(err)) this.broken = true;
              finish(error);
            } else finish(undefined, (rows ?? []) as Row[]);
          },
        });
      } catch (err) {
        finish(snowflakeError(err, ctx));
      }
    });
  }

  /** Logs the session out (bounded wait); later calls do nothing. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.interrupt?.(new EtlError('ABORTED', 'Snowflake session closed while a statement was running'));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DESTROY_TIMEOUT_MS);
      try {
        this.conn.destroy(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}
