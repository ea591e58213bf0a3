/**
 * `snowflake-sdk` reads these when it loads (the destination loads it lazily,
 * so importing this module first in a test file is enough): no cloud-metadata
 * probes, no telemetry after login, no proxy for the local emulator.
 */
process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE = '1';
process.env.NO_PROXY = [process.env.NO_PROXY, '127.0.0.1'].filter(Boolean).join(',');

export {};
