// The Snowflake destination's public surface (to be re-exported from src/index.ts).
export type { SnowflakeNamingOptions } from './naming.js';
export { SnowflakeDestination, snowflake } from './snowflake-destination.js';
export type { DriverLogSink, SnowflakeOptions } from './snowflake-options.js';
