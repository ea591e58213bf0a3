/**
 * Loads the one etl-stream part the benchmark drives that may not have
 * landed yet: the Snowflake emulator (`startSnowflakeEmulator` from
 * src/testing/index.ts). It is loaded by path at run time and described here
 * by the minimal shape the benchmark uses, so the harness compiles and runs
 * without it and reports the etl-snowflake contender as not run, with the
 * reason, instead of failing or inventing numbers. The harness runs the
 * emulator in its own process, so the contender's RSS and event-loop delay
 * are the pipeline's alone (the two still share the machine's CPUs).
 */
import { ContenderUnavailable, type EmulatorLogin } from './contender.js';

/** A running Snowflake emulator, as far as the benchmark needs it (see src/testing/snowflake-emulator). */
export interface BenchSnowflakeEmulator extends EmulatorLogin {
  close(): Promise<void>;
}

const TESTING_MODULE = '../../src/testing/index.ts';
const EMULATOR_EXPORT = 'startSnowflakeEmulator';

/** `startSnowflakeEmulator()`, or throws {@link ContenderUnavailable} saying why not. */
export async function loadSnowflakeEmulator(): Promise<() => Promise<BenchSnowflakeEmulator>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL(TESTING_MODULE, import.meta.url).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ContenderUnavailable(
      `not available yet: src/testing/index.ts does not load (${(err as Error).message})`,
    );
  }
  const start = mod[EMULATOR_EXPORT];
  if (typeof start !== 'function')
    throw new ContenderUnavailable(
      `not run: the Snowflake emulator has not landed (src/testing/index.ts has no ${EMULATOR_EXPORT} export)`,
    );
  return start as () => Promise<BenchSnowflakeEmulator>;
}

/** Why the emulator cannot be started, or undefined when it can. */
export async function emulatorUnavailable(): Promise<string | undefined> {
  try {
    await loadSnowflakeEmulator();
    return undefined;
  } catch (err) {
    if (err instanceof ContenderUnavailable) return err.message;
    throw err;
  }
}

/** The login part of a running emulator, to hand to a contender process. */
export function emulatorLogin(e: BenchSnowflakeEmulator): EmulatorLogin {
  const { accessUrl, account, user, password, database, schema, warehouse, role } = e;
  return { accessUrl, account, user, password, database, schema, warehouse, role };
}
