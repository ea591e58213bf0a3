/**
 * The Snowflake emulator for the destination tests: the real `snowflake()`
 * destination talks to it through the real `snowflake-sdk`. Checks read the
 * emulator's tables directly (`emu.query`), as rows of text.
 */
process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE = '1';
process.env.NO_PROXY = '127.0.0.1';

import type { SnowflakeOptions } from '../../../../src/destinations/snowflake/snowflake-options.js';
import type { SnowflakeEmulator } from '../../../../src/testing/index.js';

/** Destination options that reach `emu` as its default user, with password login. */
export function emulatorTarget(
  emu: SnowflakeEmulator,
  extra: Partial<SnowflakeOptions> = {},
): SnowflakeOptions {
  return {
    account: emu.account,
    username: emu.user,
    password: emu.password,
    accessUrl: emu.accessUrl,
    database: emu.database,
    schema: 'PG',
    driverLog: 'off',
    ...extra,
  } as SnowflakeOptions;
}

/** Runs SQL on the emulator directly; each row as its values (text as Snowflake sends it). */
export async function rowsOf(emu: SnowflakeEmulator, sql: string): Promise<(string | null)[][]> {
  return (await emu.query(sql)).map((r) => Object.values(r));
}

/** The SQL texts the emulator ran for drivers, in order. */
export function statementTexts(emu: SnowflakeEmulator): string[] {
  return emu.statements.map((s) => s.sql);
}
