import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

/** The facts a benchmark number is meaningless without. */
export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  /**
   * 1-minute load average when the run started and when it ended. Near or
   * above the CPU count, other work shared the machine: the numbers are noise.
   */
  readonly loadAverage?: { readonly atStart: number; readonly atEnd: number };
}

const BYTES_PER_GIB = 1024 ** 3;

/** The 1-minute load average now, to one decimal. */
export function loadAverageNow(): number {
  return Math.round((loadavg()[0] ?? 0) * 10) / 10;
}

export function describeMachine(postgresVersion: string, loadAtStart: number): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / BYTES_PER_GIB) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
    postgres: postgresVersion,
    loadAverage: { atStart: loadAtStart, atEnd: loadAverageNow() },
  };
}
