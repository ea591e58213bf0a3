import { tmpdir } from 'node:os';
import type { ParquetCompression } from '../../arrow/parquet-worker.js';
import { configError } from '../../errors.js';
import { Naming, type SnowflakeNamingOptions } from './naming.js';
import { type PrivateKeyMaterial, privateKeyFromPem } from './private-key.js';

/** Options of `snowflake({...})`. Validated when the destination is created; errors name the field. */
export interface SnowflakeOptions {
  /** Destination name among the pipeline's destinations. Default `snowflake`. */
  readonly name?: string;
  /** Account identifier, e.g. `myorg-myaccount`. */
  readonly account: string;
  /** Login name of the user the pipeline runs as. */
  readonly username: string;
  /**
   * Key-pair auth: the user's private key as PEM text (PKCS#8, or PKCS#1, or
   * encrypted PKCS#8 with {@link SnowflakeOptions.privateKeyPassphrase}). Kept
   * in memory only; never written to disk, never logged.
   */
  readonly privateKey?: string;
  /** Passphrase of an encrypted {@link SnowflakeOptions.privateKey}; the key is decrypted in memory. */
  readonly privateKeyPassphrase?: string;
  /** Password auth (when no private key is given). */
  readonly password?: string;
  /** Database the tables, stage and watermark live in. */
  readonly database: string;
  /** Default target schema (see `naming.schemas` for per-source-schema targets). */
  readonly schema: string;
  /** Warehouse that runs COPY and MERGE. */
  readonly warehouse?: string;
  /** Role to use. */
  readonly role?: string;
  /** Full URL of the Snowflake endpoint (private link, or a local emulator like `http://127.0.0.1:8080`). */
  readonly accessUrl?: string;
  /** How source names become Snowflake names. */
  readonly naming?: SnowflakeNamingOptions;
  /** `hard` (default): deletes remove rows. `soft`: rows stay with `_ETL_DELETED = TRUE`. */
  readonly deletes?: 'hard' | 'soft';
  /** Columns dropped in Postgres: `keep` (default; left null from then on) or `drop` them in Snowflake too. */
  readonly droppedColumns?: 'keep' | 'drop';
  /** Tables without a primary key: `error` (default), or `append` every change as a row with `_ETL_OP`/`_ETL_LSN`/`_ETL_SEQ`. */
  readonly tablesWithoutKey?: 'error' | 'append';
  /** Internal stage for the Parquet files, in the default schema. Default `_ETL_STAGE`. */
  readonly stage?: string;
  /** Table holding one watermark row per pipeline, in the default schema. Default `_ETL_WATERMARKS`. */
  readonly watermarkTable?: string;
  /** Most Snowflake sessions open at once. */
  readonly maxConnections?: number;
  /** Most tables uploaded (PUT) in parallel per batch. */
  readonly maxParallelUploads?: number;
  /** Parquet worker threads. */
  readonly parquetThreads?: number;
  /** Parquet compression. Default `snappy`. */
  readonly parquetCompression?: ParquetCompression;
  /** Longest a single statement may run before it is cancelled and retried. */
  readonly statementTimeoutMs?: number;
  /** Longest a login may take. */
  readonly connectTimeoutMs?: number;
  /** Parent of the private directory Parquet files are written to before PUT. Default `os.tmpdir()`. */
  readonly tempDir?: string;
  /**
   * What happens to `snowflake-sdk`'s own log. `off` (default): nothing (by
   * itself the driver writes `snowflake.log` into the working directory and
   * echoes to the console). A function receives warnings and errors, with
   * secrets redacted. `driver`: leave the driver's logging as it is configured.
   * The driver's logger is global to the process.
   */
  readonly driverLog?: 'off' | 'driver' | DriverLogSink;
}

/** Receives `snowflake-sdk` log lines (warnings and errors), secrets redacted. */
export type DriverLogSink = (level: 'error' | 'warn', message: string) => void;

/** Options after validation, with defaults filled in and the key decrypted. */
export interface ResolvedSnowflakeOptions {
  readonly name: string;
  readonly account: string;
  readonly username: string;
  readonly auth:
    | { readonly kind: 'keypair'; readonly key: PrivateKeyMaterial }
    | { readonly kind: 'password'; readonly password: string };
  readonly database: string;
  readonly schema: string;
  readonly warehouse: string | undefined;
  readonly role: string | undefined;
  readonly accessUrl: string | undefined;
  readonly naming: Naming;
  readonly deletes: 'hard' | 'soft';
  readonly droppedColumns: 'keep' | 'drop';
  readonly tablesWithoutKey: 'error' | 'append';
  readonly stage: string;
  readonly watermarkTable: string;
  readonly maxConnections: number;
  readonly maxParallelUploads: number;
  readonly parquetThreads: number | undefined;
  readonly parquetCompression: ParquetCompression | undefined;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly tempDir: string;
  readonly driverLog: 'off' | 'driver' | DriverLogSink;
}

/** One session applies a batch while others upload files; four covers both with room for a watermark read. */
export const DEFAULT_MAX_CONNECTIONS = 4;
/** Parallel PUTs per batch: enough to hide per-file latency, few enough not to saturate the uplink. */
export const DEFAULT_MAX_PARALLEL_UPLOADS = 4;
/** A MERGE of a large batch on a small warehouse can take minutes; a hung request cannot take longer than this. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15 * 60_000;
/** Logins normally take under a second; a minute covers a cold network path. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
/** Default name of the internal stage. */
export const DEFAULT_STAGE = '_ETL_STAGE';
/** Default name of the watermark table. */
export const DEFAULT_WATERMARK_TABLE = '_ETL_WATERMARKS';

/** Paths the PUT statement can carry in a quoted literal. */
const SAFE_DIR = /^[A-Za-z0-9_./:\-@ ]+$/;

function requiredString(field: string, value: unknown, hint?: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw configError(field, 'is required (a non-empty string)', hint);
  }
  return value;
}

function optionalString(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw configError(field, 'must be a non-empty string');
  return value;
}

function positiveInt(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw configError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw configError(
      field,
      `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/** Validates `snowflake({...})` options up front. Never echoes a secret in an error. */
export function resolveSnowflakeOptions(opts: SnowflakeOptions): ResolvedSnowflakeOptions {
  if (opts === null || typeof opts !== 'object') {
    throw configError(
      'options',
      'expected an object like { account, username, privateKey, database, schema }',
    );
  }
  const account = requiredString(
    'account',
    opts.account,
    'Use the account identifier, e.g. "myorg-myaccount".',
  );
  if (!/^\w+([.-]\w+)*$/.test(account)) {
    throw configError('account', `must look like "myorg-myaccount", got ${JSON.stringify(account)}`);
  }
  const username = requiredString('username', opts.username);
  let auth: ResolvedSnowflakeOptions['auth'];
  if (opts.privateKey !== undefined) {
    if (opts.password !== undefined) {
      throw configError('password', 'give either privateKey (key-pair auth) or password, not both');
    }
    auth = { kind: 'keypair', key: privateKeyFromPem(opts.privateKey, opts.privateKeyPassphrase) };
  } else if (opts.password !== undefined) {
    if (opts.privateKeyPassphrase !== undefined) {
      throw configError('privateKeyPassphrase', 'is only used with privateKey');
    }
    auth = { kind: 'password', password: requiredString('password', opts.password) };
  } else {
    throw configError(
      'privateKey',
      'no credentials: give privateKey (key-pair auth, recommended) or password',
      "Pass the PEM text of the user's private key, e.g. privateKey: process.env.SNOWFLAKE_PRIVATE_KEY.",
    );
  }
  const accessUrl = optionalString('accessUrl', opts.accessUrl);
  if (accessUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(accessUrl)) {
    throw configError('accessUrl', `must be an http(s) URL, got ${JSON.stringify(accessUrl)}`);
  }
  const schema = requiredString('schema', opts.schema);
  const tempDir = optionalString('tempDir', opts.tempDir) ?? tmpdir();
  if (!SAFE_DIR.test(tempDir)) {
    throw configError(
      'tempDir',
      `${JSON.stringify(tempDir)} has characters that cannot go into a PUT file path`,
      'Use a directory whose path has only letters, digits, spaces and ./_-: characters.',
    );
  }
  return {
    name: optionalString('name', opts.name) ?? 'snowflake',
    account,
    username,
    auth,
    database: requiredString('database', opts.database),
    schema,
    warehouse: optionalString('warehouse', opts.warehouse),
    role: optionalString('role', opts.role),
    accessUrl,
    naming: new Naming(schema, opts.naming),
    deletes: oneOf('deletes', opts.deletes, ['hard', 'soft'], 'hard'),
    droppedColumns: oneOf('droppedColumns', opts.droppedColumns, ['keep', 'drop'], 'keep'),
    tablesWithoutKey: oneOf('tablesWithoutKey', opts.tablesWithoutKey, ['error', 'append'], 'error'),
    stage: optionalString('stage', opts.stage) ?? DEFAULT_STAGE,
    watermarkTable: optionalString('watermarkTable', opts.watermarkTable) ?? DEFAULT_WATERMARK_TABLE,
    maxConnections: positiveInt('maxConnections', opts.maxConnections, DEFAULT_MAX_CONNECTIONS),
    maxParallelUploads: positiveInt(
      'maxParallelUploads',
      opts.maxParallelUploads,
      DEFAULT_MAX_PARALLEL_UPLOADS,
    ),
    parquetThreads:
      opts.parquetThreads === undefined ? undefined : positiveInt('parquetThreads', opts.parquetThreads, 1),
    parquetCompression:
      opts.parquetCompression === undefined
        ? undefined
        : oneOf<ParquetCompression>(
            'parquetCompression',
            opts.parquetCompression,
            ['snappy', 'zstd', 'uncompressed'],
            'snappy',
          ),
    statementTimeoutMs: positiveInt(
      'statementTimeoutMs',
      opts.statementTimeoutMs,
      DEFAULT_STATEMENT_TIMEOUT_MS,
    ),
    connectTimeoutMs: positiveInt('connectTimeoutMs', opts.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    tempDir,
    driverLog:
      typeof opts.driverLog === 'function'
        ? opts.driverLog
        : oneOf<'off' | 'driver'>('driverLog', opts.driverLog, ['off', 'driver'], 'off'),
  };
}
