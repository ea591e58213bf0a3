/**
 * The fixed-rate writer of the latency workload: `pgbench --rate` issuing
 * single-row insert transactions, each stamped with the wall clock right
 * before commit. A separate C process, so it takes no time from the
 * contender's event loop.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HarnessPostgres } from './harness-postgres.js';
import { LATENCY_PGBENCH_SCRIPT, LATENCY_RATE_TPS, type Workload } from './workloads.js';

/** Connections pgbench spreads the rate over; a few absorb the occasional slow commit. */
const WRITER_CONNECTIONS = 4;

/** Achieved by one writer run. */
export interface WriterRun {
  readonly rows: number;
  readonly seconds: number;
}

/** Runs the writer for `seconds`; resolves with the number of rows it inserted. */
export async function writeAtFixedRate(
  pg: HarnessPostgres,
  workload: Workload,
  seconds: number,
): Promise<WriterRun> {
  const dir = mkdtempSync(join(tmpdir(), 'etl-bench-pgbench-'));
  const script = join(dir, 'latency.sql');
  writeFileSync(script, LATENCY_PGBENCH_SCRIPT);
  const before = await pg.rowCount(workload.table);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        pg.program('pgbench'),
        [
          '--no-vacuum',
          `--client=${WRITER_CONNECTIONS}`,
          '--jobs=1',
          `--rate=${LATENCY_RATE_TPS}`,
          `--time=${seconds}`,
          `--file=${script}`,
          pg.url,
        ],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
          // Each commit flushes its WAL, as on a production primary: a walsender only sends flushed
          // WAL, so with the harness default (synchronous_commit=off) rows would wait up to 3 × the WAL
          // writer's delay before any contender could see them.
          env: { ...process.env, PGOPTIONS: '-c synchronous_commit=on' },
        },
      );
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`pgbench exited ${code}: ${stderr.trim()}`)),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows: (await pg.rowCount(workload.table)) - before, seconds };
}
