/**
 * {@link startSnowflakeEmulator}: a local Snowflake for tests and
 * development, driven by the real `snowflake-sdk` over HTTP.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type EmulatorUser, UserDirectory } from './auth.js';
import { Engine } from './engine.js';
import { EmulatorFaults } from './faults.js';
import { EmulatorServer, type LoginRecord, type StatementRecord } from './http-server.js';
import { engineIdent } from './names.js';
import type { Session } from './session.js';
import { runStatement } from './statements.js';

/** Default password of the emulator's default user (a test credential, fine to print). */
export const DEFAULT_EMULATOR_PASSWORD = 'emulator';

/** Options of {@link startSnowflakeEmulator}. Every field has a default. */
export interface SnowflakeEmulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Account name logins must use. Default `emu`. */
  readonly account?: string;
  /** Default user. Default `ETL`. */
  readonly user?: string;
  /** Default user's password. Default `'emulator'`. */
  readonly password?: string;
  /** PEM public key of the default user, for key-pair (JWT) logins. */
  readonly publicKey?: string;
  /** Database created at start (sessions without one use it). Default `DB`. */
  readonly database?: string;
  /** Schema created in it (besides PUBLIC). Default `PUBLIC`. */
  readonly schema?: string;
  /** Warehouse name reported to sessions (not modelled). Default `WH`. */
  readonly warehouse?: string;
  /** Role name reported to sessions (not modelled). Default `SYSADMIN`. */
  readonly role?: string;
  /** Directory for staged files. Default: a new private temp directory, removed on close. */
  readonly stageDir?: string;
  /** How long a statement waits for another session's transaction before failing (000625). Default 30 000 ms. */
  readonly lockTimeoutMs?: number;
  /**
   * A transaction idle this long (no statement running) is rolled back when
   * another session waits for it — like Snowflake aborting a detached
   * session's transaction. Default 5 000 ms.
   */
  readonly idleTransactionTimeoutMs?: number;
}

/** What to pass to `snowflake.createConnection` to reach the emulator. */
export interface EmulatorConnectionOptions {
  readonly accessUrl: string;
  readonly account: string;
  readonly username: string;
  readonly password?: string;
  readonly database: string;
  readonly schema: string;
  readonly warehouse: string;
  readonly role: string;
  readonly [key: string]: unknown;
}

/** A running emulator. Close it with {@link SnowflakeEmulator.close} (or `await using`). */
export interface SnowflakeEmulator {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, for the driver's `accessUrl`. */
  readonly accessUrl: string;
  readonly account: string;
  readonly database: string;
  readonly schema: string;
  readonly warehouse: string;
  readonly role: string;
  /** Default user name. */
  readonly user: string;
  /** Default user's password. */
  readonly password: string;
  /** Where staged files live. */
  readonly stageDir: string;
  /** Fault injection (latency, HTTP errors, hangs, dropped connections, failing the Nth matching statement). */
  readonly faults: EmulatorFaults;
  /** Every statement run for a driver, in order (once per requestId: driver retries are not repeated). */
  readonly statements: readonly StatementRecord[];
  /** Every login attempt, in order. */
  readonly logins: readonly LoginRecord[];
  /** Registers (or replaces) a user: a password, a PEM public key for key-pair logins, or both. */
  addUser(user: EmulatorUser): void;
  /** Options for `snowflake.createConnection`, for the default user (with its password) unless overridden. */
  connectionOptions(overrides?: Record<string, unknown>): EmulatorConnectionOptions;
  /**
   * Runs SQL directly (no HTTP, no driver) in a session of its own and
   * returns the rows with each value as Snowflake sends it on the wire: text
   * as is, numbers as decimal text, booleans `1`/`0`, dates as days since the
   * epoch, timestamps as epoch seconds. For checks; cast in SQL for readable
   * values (`CAST(x AS VARCHAR)`).
   */
  query(sql: string): Promise<Record<string, string | null>[]>;
  /** Stops the server, ends every session, removes a stage directory it created. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a local Snowflake emulator: an HTTP server speaking the protocol of
 * the real `snowflake-sdk` (login with password or key pair, queries with
 * binds, PUT to internal stages, heartbeat, logout) over an embedded DuckDB
 * running Snowflake SQL. Needs the optional peer dependency
 * `@duckdb/node-api`. See docs/snowflake-emulator.md.
 *
 * @example
 * ```ts
 * import snowflake from 'snowflake-sdk';
 * import { startSnowflakeEmulator } from 'etl-stream/testing';
 *
 * await using emu = await startSnowflakeEmulator();
 * const conn = snowflake.createConnection(emu.connectionOptions());
 * await new Promise((ok, fail) => conn.connect((err) => (err ? fail(err) : ok(conn))));
 * conn.execute({ sqlText: 'SELECT 1 AS X', complete: (err, _stmt, rows) => console.log(err ?? rows) });
 * ```
 */
export async function startSnowflakeEmulator(
  options: SnowflakeEmulatorOptions = {},
): Promise<SnowflakeEmulator> {
  const account = options.account ?? 'emu';
  if (!/^\w+([.-]\w+)*$/.test(account))
    throw new Error(
      `startSnowflakeEmulator: \`account\` ${JSON.stringify(account)} is not a valid account name`,
    );
  const user = (options.user ?? 'ETL').toUpperCase();
  const password = options.password ?? DEFAULT_EMULATOR_PASSWORD;
  const database = options.database ?? 'DB';
  const schema = options.schema ?? 'PUBLIC';
  const warehouse = options.warehouse ?? 'WH';
  const role = options.role ?? 'SYSADMIN';
  const ownDir = options.stageDir === undefined;
  const stageDir = ownDir ? await mkdtemp(join(tmpdir(), 'etl-sf-emulator-')) : resolve(options.stageDir!);
  await mkdir(stageDir, { recursive: true, mode: 0o700 });
  const engine = await Engine.create(stageDir, {
    lockTimeoutMs: options.lockTimeoutMs ?? 30_000,
    idleTransactionTimeoutMs: options.idleTransactionTimeoutMs ?? 5_000,
  });
  await engine.createDatabase(database, true);
  if (schema !== 'PUBLIC') {
    const conn = await engine.instance.connect();
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${engineIdent(database)}.${engineIdent(schema)}`);
    conn.closeSync();
  }
  const users = new UserDirectory();
  users.add({ name: user, password, ...(options.publicKey ? { publicKey: options.publicKey } : {}) });
  const faults = new EmulatorFaults();
  const statements: StatementRecord[] = [];
  const logins: LoginRecord[] = [];
  const server = new EmulatorServer({
    logins,
    engine,
    users,
    faults,
    account,
    statements,
    defaults: { database, schema, warehouse, role },
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.http.once('error', fail);
    server.http.listen(options.port ?? 0, host, () => ok());
  });
  const port = (server.http.address() as AddressInfo).port;
  const accessUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let direct: Session | undefined;
  let closed = false;

  const emulator: SnowflakeEmulator = {
    host,
    port,
    accessUrl,
    account,
    database,
    schema,
    warehouse,
    role,
    user,
    password,
    stageDir,
    faults,
    statements,
    logins,
    addUser: (u) => users.add(u),
    connectionOptions: (overrides = {}) => ({
      accessUrl,
      account,
      username: user,
      password,
      database,
      schema,
      warehouse,
      role,
      ...overrides,
    }),
    async query(sql) {
      if (closed) throw new Error('The Snowflake emulator is closed');
      direct ??= await engine.openSession(
        { id: 0, token: '', masterToken: '', user },
        { database, schema, warehouse, role },
        new Map(),
      );
      const s = direct;
      const r = await s.serial(() => runStatement(engine, s, sql, [], account));
      return r.rowset.map((row) => Object.fromEntries(r.rowtype.map((c, i) => [c.name, row[i] ?? null])));
    },
    async close() {
      if (closed) return;
      closed = true;
      faults.releaseHung();
      server.http.closeAllConnections();
      await new Promise<void>((ok) => server.http.close(() => ok()));
      await server.closeSessions();
      if (direct) await engine.closeSession(direct).catch(() => {});
      engine.close();
      if (ownDir) await rm(stageDir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]() {
      return emulator.close();
    },
  };
  return emulator;
}
