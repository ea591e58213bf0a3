export type { EmulatorUser } from './auth.js';
export {
  type EmulatorConnectionOptions,
  type SnowflakeEmulator,
  type SnowflakeEmulatorOptions,
  startSnowflakeEmulator,
} from './emulator.js';
export type { ActiveFault, EmulatorFaults, FaultAction, FaultRule } from './faults.js';
export type { LoginRecord, StatementRecord } from './http-server.js';
