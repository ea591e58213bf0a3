import { abortError } from '../../async/abortable-sleep.js';
import { EtlError, redactSecrets } from '../../errors.js';
import { snowflakeError } from './snowflake-errors.js';
import type { ResolvedSnowflakeOptions } from './snowflake-options.js';
import { type DriverConnection, SnowflakeSession } from './snowflake-session.js';
import { SESSION_SETUP_SQL } from './sql.js';

/** The part of the `snowflake-sdk` module the destination uses. */
interface SnowflakeSdk {
  createConnection(options: Record<string, unknown>): DriverConnection;
  configure(options: Record<string, unknown>): void;
}

let sdk: Promise<SnowflakeSdk> | undefined;

/**
 * Loads `snowflake-sdk` on first use only, so importing etl-stream never
 * loads it (DESIGN §5).
 */
export function loadSnowflakeSdk(): Promise<SnowflakeSdk> {
  sdk ??= import('snowflake-sdk').then(
    (m) => ((m as { default?: SnowflakeSdk }).default ?? m) as SnowflakeSdk,
    (err: unknown) => {
      sdk = undefined;
      throw new EtlError('CONFIG_INVALID', 'The Snowflake destination needs the "snowflake-sdk" package', {
        cause: err,
        hint: 'Install it: npm install snowflake-sdk',
      });
    },
  );
  return sdk;
}

/**
 * The driver's connection options. The private key goes in as text
 * (`privateKey`), never as a file path; the driver keeps it in memory.
 */
export function connectionOptions(opts: ResolvedSnowflakeOptions): Record<string, unknown> {
  const base: Record<string, unknown> = {
    account: opts.account,
    username: opts.username,
    database: opts.database,
    schema: opts.schema,
    application: 'etl_stream',
    timeout: opts.connectTimeoutMs,
    clientSessionKeepAlive: false,
  };
  if (opts.warehouse) base.warehouse = opts.warehouse;
  if (opts.role) base.role = opts.role;
  if (opts.accessUrl) base.accessUrl = opts.accessUrl;
  if (opts.auth.kind === 'keypair') {
    base.authenticator = 'SNOWFLAKE_JWT';
    base.privateKey = opts.auth.key.reveal();
  } else {
    base.password = opts.auth.password;
  }
  return base;
}

/**
 * Routes the driver's process-global logger per `driverLog`: nowhere (no
 * `snowflake.log` in the host's working directory), to a sink, or left alone.
 */
function configureDriverLog(driver: SnowflakeSdk, option: ResolvedSnowflakeOptions['driverLog']): void {
  if (option === 'driver') return;
  const sink = typeof option === 'function' ? option : undefined;
  const forward = (level: 'error' | 'warn') => (message: unknown) =>
    sink?.(level, redactSecrets(String(message)));
  const ignore = () => {};
  driver.configure({
    logLevel: sink ? 'WARN' : 'OFF',
    customLogger: {
      error: forward('error'),
      warn: forward('warn'),
      info: ignore,
      debug: ignore,
      trace: ignore,
    },
  });
}

/** Opens one session: login with a time limit, honouring `signal`. */
export async function connectSession(
  opts: ResolvedSnowflakeOptions,
  signal?: AbortSignal,
): Promise<SnowflakeSession> {
  const driver = await loadSnowflakeSdk();
  if (signal?.aborted) throw abortError(signal);
  configureDriverLog(driver, opts.driverLog);
  let conn: DriverConnection;
  try {
    conn = driver.createConnection(connectionOptions(opts));
  } catch (err) {
    throw snowflakeError(err, { step: 'connect' });
  }
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        conn.destroy(() => {});
        reject(err);
      } else resolve();
    };
    const onAbort = () => done(abortError(signal!));
    const timer = setTimeout(
      () =>
        done(
          new EtlError('TIMEOUT', `Snowflake login did not finish within ${opts.connectTimeoutMs} ms`, {
            retryable: true,
            hint: 'Check network access to Snowflake (accessUrl, proxy settings).',
          }),
        ),
      opts.connectTimeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    // connect(cb), not connectAsync(): the latter resolves even when the login fails.
    conn.connect((err) => done(err ? snowflakeError(err, { step: 'connect' }) : undefined));
  });
  const session = new SnowflakeSession(conn, opts.statementTimeoutMs);
  try {
    for (const sql of SESSION_SETUP_SQL) await session.execute(sql, undefined, { step: 'connect' }, signal);
  } catch (err) {
    await session.destroy();
    throw err;
  }
  return session;
}
