/**
 * The real `snowflake-sdk`, promisified for the emulator tests. Set the
 * driver's environment switches before it loads (no cloud-metadata probes,
 * no telemetry after login, no proxy for 127.0.0.1).
 */
process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE = '1';
process.env.NO_PROXY = '127.0.0.1';

import snowflakeModule from 'snowflake-sdk';
import type { SnowflakeEmulator } from '../../../src/testing/index.js';

/** The driver module (CommonJS default export). */
export const snowflake = ((snowflakeModule as unknown as { default?: typeof snowflakeModule }).default ??
  snowflakeModule) as typeof snowflakeModule;
snowflake.configure({ logLevel: 'OFF' });

type Connection = ReturnType<typeof snowflake.createConnection>;

/** A Snowflake error as the driver raises it. */
export interface DriverError extends Error {
  code?: string | number;
  sqlState?: string;
}

/** A connected driver session. */
export interface Conn {
  readonly raw: Connection;
  /** Runs a statement; resolves with its rows. */
  exec(sql: string, binds?: unknown[], opts?: Record<string, unknown>): Promise<Record<string, unknown>[]>;
  /** Runs a statement that must fail; resolves with the driver's error. */
  fails(sql: string, binds?: unknown[]): Promise<DriverError>;
  /** Runs a statement and returns every value as the driver's string form. */
  text(sql: string, binds?: unknown[]): Promise<Record<string, string | null>[]>;
  close(): Promise<void>;
}

/** Connects with `snowflake.createConnection` + `connect(cb)`; rejects with the login error. */
export async function connect(
  emu: SnowflakeEmulator,
  overrides: Record<string, unknown> = {},
): Promise<Conn> {
  const raw = snowflake.createConnection(emu.connectionOptions(overrides) as never);
  await new Promise<void>((ok, fail) => raw.connect((err) => (err ? fail(err) : ok())));
  const exec = (sql: string, binds?: unknown[], opts: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>[]>((ok, fail) => {
      raw.execute({
        sqlText: sql,
        ...(binds ? { binds: binds as never } : {}),
        ...opts,
        complete: (err, _stmt, rows) => (err ? fail(err) : ok((rows ?? []) as Record<string, unknown>[])),
      });
    });
  return {
    raw,
    exec,
    fails: (sql, binds) =>
      exec(sql, binds).then(
        () => {
          throw new Error(`expected to fail: ${sql}`);
        },
        (err: DriverError) => err,
      ),
    text: (sql, binds) =>
      exec(sql, binds, { fetchAsString: ['Number', 'Date', 'JSON', 'Boolean', 'Buffer'] }) as Promise<
        Record<string, string | null>[]
      >,
    close: () => new Promise<void>((ok) => raw.destroy(() => ok())),
  };
}

/** Login errors come back through `connect`'s callback. */
export async function loginError(
  emu: SnowflakeEmulator,
  overrides: Record<string, unknown>,
): Promise<DriverError> {
  try {
    const c = await connect(emu, overrides);
    await c.close();
  } catch (err) {
    return err as DriverError;
  }
  throw new Error('expected the login to fail');
}
