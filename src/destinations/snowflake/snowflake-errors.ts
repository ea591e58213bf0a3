import { EtlError, isRetryable, redactSecrets } from '../../errors.js';

/**
 * Snowflake error codes that say "try again": internal errors, statement
 * timeouts and cancellations, expired or lost sessions, lock waits.
 */
const RETRYABLE_SQL_CODES = new Set([
  '000603', // internal error, processing aborted
  '000604', // statement cancelled
  '000605', // job aborted
  '000625', // statement reached its retry limit
  '000630', // statement timed out
  '000633', // lock wait timeout
  '390111', // session no longer exists
  '390112', // session expired
  '390114', // authentication token expired
]);

/** Driver error codes for network and HTTP failures (after the driver's own retries). */
const RETRYABLE_DRIVER_CODES = new Set([
  '401001',
  '401002',
  '401003',
  '401004',
  '402001',
  '402002',
  '407002',
]);

/** Snowflake codes of failed logins: wrong user, key or password, or a disabled user. */
const AUTH_CODES = new Set(['390100', '390101', '390144', '394304', '390186', '390318', '394300']);

/** What the destination was doing when a driver call failed; goes into the message and details. */
export interface ErrorContext {
  /** `connect`, `setup`, `put`, `copy`, `merge`, `commit`, `watermark`, ... */
  readonly step: string;
  /** Qualified source table, when the step concerns one. */
  readonly table?: string;
}

/**
 * Turns a `snowflake-sdk` error into an {@link EtlError} (code `SNOWFLAKE`)
 * with the right `retryable` flag, a hint, and secrets removed from the text.
 */
export function snowflakeError(err: unknown, ctx: ErrorContext): EtlError {
  if (err instanceof EtlError) return err;
  const e = (err ?? {}) as {
    code?: unknown;
    message?: unknown;
    sqlState?: unknown;
    response?: { status?: number };
  };
  const code = e.code === undefined || e.code === null ? '' : String(e.code);
  const message = redactSecrets(typeof e.message === 'string' ? e.message : String(err));
  const status = e.response?.status;
  const where = `${ctx.step}${ctx.table ? ` of ${ctx.table}` : ''}`;
  const details: Record<string, unknown> = { step: ctx.step };
  if (ctx.table) details.table = ctx.table;
  if (code) details.snowflakeCode = code;
  if (typeof e.sqlState === 'string') details.sqlState = e.sqlState;
  if (AUTH_CODES.has(code)) {
    return new EtlError('SNOWFLAKE', `Snowflake login failed (${code}): ${message}`, {
      cause: err,
      details,
      hint: 'Check username and account, and that the public key registered with ALTER USER ... SET RSA_PUBLIC_KEY matches privateKey (or the password).',
    });
  }
  const retryable =
    RETRYABLE_SQL_CODES.has(code) ||
    RETRYABLE_DRIVER_CODES.has(code) ||
    (status !== undefined && (status >= 500 || status === 429 || status === 408)) ||
    isRetryable(err);
  return new EtlError('SNOWFLAKE', `Snowflake ${where} failed${code ? ` (${code})` : ''}: ${message}`, {
    cause: err,
    retryable,
    details,
    hint: retryable
      ? 'A transient Snowflake or network failure; the batch is retried with backoff.'
      : 'Snowflake rejected the statement; check grants (USAGE on database/schema/warehouse, CREATE TABLE/STAGE on the schema) and the error text.',
  });
}

/**
 * True when a failed call says nothing about the statement but something about
 * the session's transport (network, HTTP, driver state): the session cannot be
 * trusted afterwards and is replaced. A Snowflake SQL error leaves it usable.
 */
export function isTransportFailure(err: unknown): boolean {
  const cause = err instanceof EtlError ? err.cause : err;
  const e = (cause ?? {}) as { code?: unknown; response?: { status?: number } };
  const code = e.code === undefined || e.code === null ? '' : String(e.code);
  return RETRYABLE_DRIVER_CODES.has(code) || e.response?.status !== undefined || isRetryable(cause);
}
