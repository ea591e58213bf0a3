/**
 * SIGKILL at arbitrary instants: a child process runs the pipeline into the
 * Snowflake emulator (through the real snowflake-sdk) and is killed several
 * times mid-stream; each restart replays from the start and the destination's
 * watermark skips what was applied. The end state equals the workload with no
 * duplicate and no gap.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { expectedItems, expectedLog } from './support/crash-workload.js';
import { rowsOf } from './support/emulator.js';

const CHILD = fileURLToPath(new URL('./support/crash-child.ts', import.meta.url));
const BATCHES = 30;

let emu: SnowflakeEmulator;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'etl-sf-crash-'));
  // A killed child never logs out: its open transaction is rolled back once it blocks the next child.
  emu = await startSnowflakeEmulator({ stageDir: join(work, 'stage'), idleTransactionTimeoutMs: 500 });
  emu.faults.latencyMs = 5; // widens the windows between statements a kill can land in
});
afterAll(async () => {
  await emu?.close();
  await rm(work, { recursive: true, force: true });
});

function child(): { proc: ChildProcess; commits: () => number; done: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      ETL_SF_URL: emu.accessUrl,
      ETL_SF_ACCOUNT: emu.account,
      ETL_SF_USER: emu.user,
      ETL_SF_PASSWORD: emu.password,
      ETL_SF_BATCHES: String(BATCHES),
      SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
      SF_TELEMETRY_DISABLE_CONNECTION_SHAPE: '1',
      NO_PROXY: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let commits = 0;
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => {
    commits += (d.toString().match(/^commit /gm) ?? []).length;
  });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    }),
  );
  return { proc, commits: () => commits, done };
}

const select = (sql: string) => rowsOf(emu, sql);

it('ends equal to the source after repeated SIGKILLs', async () => {
  for (let round = 0; round < 4; round++) {
    const run = child();
    // Kill a little after the run got going: somewhere in staging, COPY, the transaction or the commit.
    const started = Date.now();
    while (run.commits() < 1 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 400)));
    run.proc.kill('SIGKILL');
    expect(await run.done).toBe(null);
  }
  const last = child();
  expect(await last.done).toBe(0);
  expect(await select('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY "ID"')).toEqual(
    expectedItems(BATCHES),
  );
  expect(await select('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."LOG" ORDER BY "ID"')).toEqual(
    expectedLog(BATCHES),
  );
  expect(await select(`SELECT CAST("COMMIT_LSN" AS VARCHAR) FROM "PG"."_ETL_WATERMARKS"`)).toEqual([
    [String(BATCHES * 100)],
  ]);
}, 120_000);
