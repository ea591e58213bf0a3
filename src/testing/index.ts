// Test helpers for users' own tests: import from 'etl-stream/testing'.
export {
  type FaultInjectingDestination,
  type FaultPlan,
  faultInjecting,
} from './fault-injecting-destination.js';
export {
  findPostgresBinaries,
  freePort,
  type PrivatePostgresOptions,
  type PrivateService,
  startPrivatePostgres,
  startPrivateRedis,
} from './private-services.js';
export {
  type ActiveFault,
  type EmulatorConnectionOptions,
  type EmulatorFaults,
  type EmulatorUser,
  type FaultAction,
  type FaultRule,
  type LoginRecord,
  type SnowflakeEmulator,
  type SnowflakeEmulatorOptions,
  type StatementRecord,
  startSnowflakeEmulator,
} from './snowflake-emulator/index.js';
