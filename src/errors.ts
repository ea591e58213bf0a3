/**
 * The one error family of etl-stream. Every error the library raises is an
 * {@link EtlError}: it carries a stable `code`, whether retrying can help
 * (`retryable`), a `hint` telling the operator what to change, and the
 * underlying `cause` (chained, never pasted into the message).
 */

/** Stable error codes. Each maps to one retry rule and one operator-facing fix. */
export type EtlErrorCode =
  /** Options given to a factory or builder are invalid. Fix the named field. */
  | 'CONFIG_INVALID'
  /** The server is not set up for logical replication (wal_level, slots, senders). */
  | 'PG_NOT_LOGICAL'
  /** The role lacks a privilege it needs (REPLICATION, SELECT, CREATE on the database). */
  | 'PG_PRIVILEGE'
  /** A configured table does not exist or is not in the publication. */
  | 'PG_UNKNOWN_TABLE'
  /** A table has no usable replica identity (no primary key, REPLICA IDENTITY NOTHING). */
  | 'PG_NO_REPLICA_IDENTITY'
  /** The replication slot is used by another process. */
  | 'PG_SLOT_ACTIVE'
  /** The slot was invalidated (WAL removed) or belongs to another plugin/database. */
  | 'PG_SLOT_INVALID'
  /** Publication exists but does not match the configuration. */
  | 'PG_PUBLICATION_MISMATCH'
  /** The replication protocol sent something we cannot decode. */
  | 'PG_PROTOCOL'
  /** A value cannot be represented in the target type and the policy is `fail`. */
  | 'VALUE_UNREPRESENTABLE'
  /** A network or service failure that is expected to pass. */
  | 'CONNECTION'
  /** An operation did not finish within its time limit. */
  | 'TIMEOUT'
  /** An operation was cancelled through its AbortSignal. */
  | 'ABORTED'
  /** A destination failed to write a batch. */
  | 'DESTINATION'
  /** The state store failed to load or save. */
  | 'STATE_STORE'
  /**
   * Changes a destination needs can no longer be read from the source: the
   * replication slot is gone, or a destination is behind what the slot still
   * holds. Restore the destination, or rebuild it from a new snapshot.
   */
  | 'POSITION_GAP'
  /** The pipeline lost its lease to another worker; it must stop confirming. */
  | 'LEASE_LOST'
  /** The circuit breaker is open; work is paused, not dropped. */
  | 'CIRCUIT_OPEN'
  /** A component was used after it was closed, or started twice. */
  | 'LIFECYCLE'
  /** Snowflake returned an error. */
  | 'SNOWFLAKE'
  /** A bug: an invariant did not hold. Please report it. */
  | 'INTERNAL';

/** Options accepted by {@link EtlError}. */
export interface EtlErrorOptions {
  /** Whether retrying the same operation may succeed. Defaults to `false`. */
  retryable?: boolean;
  /** What the operator should change, in one or two sentences. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Extra structured facts (table, lsn, ...). Never secrets. */
  details?: Record<string, unknown>;
}

/**
 * An error raised by etl-stream.
 *
 * @example
 * ```ts
 * try { await pipeline.start(); }
 * catch (err) {
 *   if (err instanceof EtlError && err.code === 'PG_NOT_LOGICAL') console.error(err.hint);
 * }
 * ```
 */
export class EtlError extends Error {
  /** Stable machine-readable code. */
  readonly code: EtlErrorCode;
  /** Whether retrying the same operation may succeed. */
  readonly retryable: boolean;
  /** What to change, for the operator. */
  readonly hint: string | undefined;
  /** Extra structured facts about the failure. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: EtlErrorCode, message: string, options: EtlErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EtlError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint === undefined ? undefined : redactSecrets(options.hint);
    this.details = options.details;
  }

  /** A one-line rendering with the hint, for logs. */
  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}${this.hint ? ` (hint: ${this.hint})` : ''}`;
  }
}

/** Builds a `CONFIG_INVALID` error naming the field to change. */
export function configError(field: string, problem: string, hint?: string): EtlError {
  return new EtlError('CONFIG_INVALID', `Invalid option \`${field}\`: ${problem}`, {
    hint: hint ?? `Change \`${field}\` and try again.`,
    details: { field },
  });
}

/** True when `err` is an {@link EtlError} that says retrying may help, or a plain network error. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof EtlError) return err.retryable;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_NODE_CODES.has(code);
}

/** Node and libpq socket error codes that mean "the network hiccupped, try again". */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

/** Wraps any thrown value into an {@link EtlError}, keeping it as `cause`. */
export function toEtlError(err: unknown, code: EtlErrorCode = 'INTERNAL', message?: string): EtlError {
  if (err instanceof EtlError) return err;
  const text = message ?? (err instanceof Error ? err.message : String(err));
  return new EtlError(code, text, { cause: err, retryable: isRetryable(err) });
}

const SECRET_PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi,
  /(redis(?:s)?:\/\/[^:/@\s]*:)[^@\s]+@/gi,
  /((?:password|passphrase|privateKey|private_key|token|secret)["']?\s*[:=]\s*["']?)[^"'\s,}]+/gi,
];

/**
 * Removes passwords, private keys and tokens from a text before it reaches an
 * error, a log line or an event.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) {
    out = out.replace(re, (_m, keep?: string) => (typeof keep === 'string' ? `${keep}***@` : '***'));
  }
  // The key=value pattern should not end in '@'.
  return out.replace(
    /((?:password|passphrase|privateKey|private_key|token|secret)["']?\s*[:=]\s*["']?)\*\*\*@/gi,
    '$1***',
  );
}
