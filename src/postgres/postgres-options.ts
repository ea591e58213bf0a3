import { tmpdir } from 'node:os';
import { configError } from '../errors.js';
import type { QualifiedTable } from './sql.js';

/** Reconnection policy of the replication stream. */
export interface ReconnectOptions {
  /** Consecutive failed attempts before the source gives up (`Infinity`: until stopped). */
  readonly maxAttempts?: number;
  /** First delay before reconnecting. */
  readonly initialDelayMs?: number;
  /** Longest delay between attempts. */
  readonly maxDelayMs?: number;
}

/** Options of {@link postgres}. */
export interface PostgresSourceOptions {
  /** `postgres://user:password@host:port/database`. The role needs REPLICATION and SELECT on the tables. */
  readonly connectionString: string;
  /** Publication to stream. Default: `etl_<pipeline>` (lower-cased, `-` → `_`). */
  readonly publication?: string;
  /** Replication slot: `[a-z0-9_]{1,63}`. Default: `etl_<pipeline>` (lower-cased, `-` → `_`). */
  readonly slot?: string;
  /**
   * Tables to stream, as `schema.table` (quote parts with `"` when they hold
   * dots or capitals: `"Sales"."Orders"`). Optional when the publication
   * exists: then its tables are streamed.
   */
  readonly tables?: readonly string[];
  /** Create the publication when it does not exist. Default true. */
  readonly createPublication?: boolean;
  /**
   * Add configured tables missing from an existing publication. Default:
   * only when etl-stream created that publication; otherwise a mismatch fails
   * with `PG_PUBLICATION_MISMATCH`.
   */
  readonly addTablesToPublication?: boolean;
  /**
   * Binary values on the wire: `auto` (default) uses pgoutput's binary mode
   * when every published column type has a binary decoder (PostgreSQL 14+),
   * text otherwise; `false` forces text, also for the snapshot's COPY;
   * `true` requires binary and fails at start when a type cannot be decoded from it.
   */
  readonly binary?: 'auto' | boolean;
  /** pgoutput protocol: `auto` picks the newest the server speaks (1 below 14, 2 on 14, 3 on 15, 4 on 16+). */
  readonly protocolVersion?: 'auto' | 1 | 2 | 3 | 4;
  /** Emit a logical message every `intervalMs` so the slot advances when our tables are quiet. */
  readonly heartbeat?: { readonly intervalMs: number };
  /** `initial` copies the tables when the slot is created; `never` streams changes only. */
  readonly snapshot?: 'initial' | 'never';
  /** Rows per snapshot chunk (one batch, one resumable step). */
  readonly snapshotChunkRows?: number;
  /**
   * What to do when the replication slot was lost (invalidated because the
   * server removed WAL it still needed, or dropped) while the pipeline has a
   * saved position: the changes in between are gone from Postgres.
   * `fail` (default) stops with `PG_SLOT_INVALID` and the manual recovery
   * steps. `resnapshot` rebuilds: it empties every destination table
   * (TRUNCATE entries), records that durably, drops the lost slot, creates a
   * new one and copies every table again, then streams from the new slot,
   * all without operator action, at start or while streaming; a crash at any
   * step resumes the rebuild. See docs/postgres-source.md, "Recovering from a lost slot".
   */
  readonly onSlotLost?: 'fail' | 'resnapshot';
  /** Memory for large streamed transactions before they spill to disk. */
  readonly streamMemoryLimitBytes?: number;
  /** Directory for spill files. Default: the OS temp directory. */
  readonly spillDir?: string;
  /** Values a target type cannot hold: fail the pipeline, or write null and report. */
  readonly unrepresentable?: 'fail' | 'null';
  /** Let tables without a primary key or replica identity through (inserts only make sense for them). */
  readonly appendOnly?: boolean;
  /** How often a standby status update is sent at least; keep it well below `wal_sender_timeout`. */
  readonly statusIntervalMs?: number;
  /** Reconnection policy after a lost replication connection. */
  readonly reconnect?: ReconnectOptions;
}

/** Bounded so that one chunk (one batch) stays a few tens of MB for typical rows. */
export const DEFAULT_SNAPSHOT_CHUNK_ROWS = 50_000;
/** Large transactions beyond this spill to disk; a few streamed transactions fit in a small container. */
export const DEFAULT_STREAM_MEMORY_LIMIT_BYTES = 64 * 1024 * 1024;
/** Well below the default `wal_sender_timeout` (60 s), so the walsender never times us out. */
export const DEFAULT_STATUS_INTERVAL_MS = 10_000;
/** A restart or failover usually completes within a handful of attempts over a minute or so. */
export const DEFAULT_RECONNECT_ATTEMPTS = 10;
/** A blip costs little. */
export const DEFAULT_RECONNECT_INITIAL_DELAY_MS = 200;
/** Keeps retrying a few times a minute during a longer outage. */
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 15_000;
/** A heartbeat more often than this would only add WAL. */
const MIN_HEARTBEAT_MS = 1_000;

/** Options after validation, with every default filled in (slot and publication may still depend on the pipeline). */
export interface ResolvedPostgresOptions {
  readonly connectionString: string;
  readonly publication: string | undefined;
  readonly slot: string | undefined;
  readonly tables: readonly QualifiedTable[] | undefined;
  readonly createPublication: boolean;
  readonly addTablesToPublication: boolean | undefined;
  readonly binary: 'auto' | boolean;
  readonly protocolVersion: 'auto' | 1 | 2 | 3 | 4;
  readonly heartbeatMs: number | undefined;
  readonly snapshot: 'initial' | 'never';
  readonly snapshotChunkRows: number;
  readonly onSlotLost: 'fail' | 'resnapshot';
  readonly streamMemoryLimitBytes: number;
  readonly spillDir: string;
  readonly unrepresentable: 'fail' | 'null';
  readonly appendOnly: boolean;
  readonly statusIntervalMs: number;
  readonly reconnect: Required<ReconnectOptions>;
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

/** The slot (and publication) name a pipeline gets by default: `etl_<name>` in slot-safe characters. */
export function defaultSlotName(pipeline: string): string {
  return `etl_${pipeline.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/**
 * Splits `schema.table` into its parts. Parts may be double-quoted (`""`
 * inside for a quote); unquoted parts are taken as written (case kept).
 * Returns undefined when the text is not exactly two parts.
 */
export function parseQualifiedName(text: string): QualifiedTable | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
    } else {
      const end = text.indexOf('.', i);
      part = text.slice(i, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end;
      if (part === '' || part.includes('"')) return undefined;
    }
    parts.push(part);
    if (i === text.length) break;
    if (text[i] !== '.') return undefined;
    i++;
  }
  const [schema, name] = parts;
  return parts.length === 2 && schema && name ? { schema, name } : undefined;
}

function positiveInt(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw configError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function oneOf<T>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw configError(
      field,
      `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function bool(field: string, value: unknown, fallback: boolean): boolean;
function bool(field: string, value: unknown, fallback: undefined): boolean | undefined;
function bool(field: string, value: unknown, fallback: boolean | undefined): boolean | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw configError(field, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function identifierName(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    Buffer.byteLength(value) > 63 ||
    value.includes('\0')
  ) {
    throw configError(field, `must be a name of 1-63 bytes, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates the options of {@link postgres} up front, naming the field to change. */
export function resolvePostgresOptions(o: PostgresSourceOptions): ResolvedPostgresOptions {
  if (o === null || typeof o !== 'object') {
    throw configError('options', 'expected an object like { connectionString, publication, tables }');
  }
  if (typeof o.connectionString !== 'string' || o.connectionString.trim() === '') {
    throw configError(
      'connectionString',
      'must be a non-empty connection string',
      'Pass something like postgres://user:password@host:5432/database.',
    );
  }
  if (o.slot !== undefined && (typeof o.slot !== 'string' || !SLOT_NAME.test(o.slot))) {
    throw configError(
      'slot',
      `must match [a-z0-9_]{1,63} (Postgres slot names), got ${JSON.stringify(o.slot)}`,
      'Use lower-case letters, digits and underscores, e.g. "etl_orders".',
    );
  }
  let tables: QualifiedTable[] | undefined;
  if (o.tables !== undefined) {
    if (!Array.isArray(o.tables) || o.tables.length === 0) {
      throw configError('tables', 'must be a non-empty array of "schema.table" names');
    }
    tables = o.tables.map((t, i) => {
      const parsed = typeof t === 'string' ? parseQualifiedName(t) : undefined;
      if (!parsed) {
        throw configError(
          `tables[${i}]`,
          `expected "schema.table", got ${JSON.stringify(t)}`,
          'Qualify every table with its schema, e.g. "public.orders" (quote parts with " when needed).',
        );
      }
      return parsed;
    });
  }
  const protocolVersion = oneOf('protocolVersion', o.protocolVersion, ['auto', 1, 2, 3, 4] as const, 'auto');
  const binary = oneOf('binary', o.binary, ['auto', true, false] as const, 'auto');
  if (binary === true && protocolVersion === 1) {
    throw configError('binary', 'binary mode needs protocolVersion 2 or later (PostgreSQL 14+)');
  }
  let heartbeatMs: number | undefined;
  if (o.heartbeat !== undefined) {
    heartbeatMs = positiveInt('heartbeat.intervalMs', o.heartbeat?.intervalMs, 0);
    if (heartbeatMs < MIN_HEARTBEAT_MS)
      throw configError('heartbeat.intervalMs', `must be at least ${MIN_HEARTBEAT_MS}`);
  }
  const maxAttempts = o.reconnect?.maxAttempts ?? DEFAULT_RECONNECT_ATTEMPTS;
  if (!(maxAttempts === Number.POSITIVE_INFINITY || (Number.isInteger(maxAttempts) && maxAttempts > 0))) {
    throw configError(
      'reconnect.maxAttempts',
      `must be a positive integer or Infinity, got ${String(maxAttempts)}`,
    );
  }
  if (o.spillDir !== undefined && (typeof o.spillDir !== 'string' || o.spillDir === '')) {
    throw configError('spillDir', 'must be a directory path');
  }
  return {
    connectionString: o.connectionString,
    publication: identifierName('publication', o.publication),
    slot: o.slot,
    tables,
    createPublication: bool('createPublication', o.createPublication, true),
    addTablesToPublication: bool('addTablesToPublication', o.addTablesToPublication, undefined),
    binary,
    protocolVersion,
    heartbeatMs,
    snapshot: oneOf('snapshot', o.snapshot, ['initial', 'never'] as const, 'initial'),
    snapshotChunkRows: positiveInt('snapshotChunkRows', o.snapshotChunkRows, DEFAULT_SNAPSHOT_CHUNK_ROWS),
    streamMemoryLimitBytes: positiveInt(
      'streamMemoryLimitBytes',
      o.streamMemoryLimitBytes,
      DEFAULT_STREAM_MEMORY_LIMIT_BYTES,
    ),
    spillDir: o.spillDir ?? tmpdir(),
    unrepresentable: oneOf('unrepresentable', o.unrepresentable, ['fail', 'null'] as const, 'fail'),
    onSlotLost: oneOf('onSlotLost', o.onSlotLost, ['fail', 'resnapshot'] as const, 'fail'),
    appendOnly: bool('appendOnly', o.appendOnly, false),
    statusIntervalMs: positiveInt('statusIntervalMs', o.statusIntervalMs, DEFAULT_STATUS_INTERVAL_MS),
    reconnect: {
      maxAttempts,
      initialDelayMs: positiveInt(
        'reconnect.initialDelayMs',
        o.reconnect?.initialDelayMs,
        DEFAULT_RECONNECT_INITIAL_DELAY_MS,
      ),
      maxDelayMs: positiveInt(
        'reconnect.maxDelayMs',
        o.reconnect?.maxDelayMs,
        DEFAULT_RECONNECT_MAX_DELAY_MS,
      ),
    },
  };
}
