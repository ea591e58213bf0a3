/**
 * The destination inside the real runtime (ScriptedSource → Pipeline →
 * snowflake() destination → real snowflake-sdk → the Snowflake emulator): retryable faults are retried,
 * repeated ones open the circuit breaker and pause the pipeline until a probe
 * succeeds, a lost COMMIT reply is not applied twice, and a restart skips what
 * the watermark says was applied.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import {
  type SnowflakeDestination,
  snowflake,
} from '../../../src/destinations/snowflake/snowflake-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { PipelineStatus } from '../../../src/pipeline/pipeline-events.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { itemsBatch } from '../../support/batches.js';
import { ScriptedSource } from '../../support/scripted-source.js';
import { emulatorTarget, rowsOf, statementTexts } from './support/emulator.js';

let emu: SnowflakeEmulator;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-sfpipe-'));
  emu = await startSnowflakeEmulator();
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const t of ['ITEMS', 'ITEMS__ETL_STAGING', '_ETL_WATERMARKS'])
    await emu.query(`DROP TABLE IF EXISTS "DB"."PG"."${t}"`).catch(() => {});
});
afterEach(() => emu.faults.clear());

const I = ChangeOp.Insert;
const U = ChangeOp.Update;

/** Ten batches: ids 1..10 inserted, then each updated once. */
function script() {
  const batches = [];
  for (let i = 1; i <= 10; i++) {
    batches.push(itemsBatch([{ id: i, label: `v${i}`, op: I, lsn: BigInt(i * 10) }]));
  }
  for (let i = 1; i <= 10; i++) {
    batches.push(itemsBatch([{ id: i, label: `w${i}`, op: U, lsn: BigInt(1000 + i * 10) }]));
  }
  return batches;
}

function destination(): SnowflakeDestination {
  return snowflake(emulatorTarget(emu, { tempDir: dir }));
}

async function finalRows(): Promise<string[][]> {
  return (await rowsOf(
    emu,
    'SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY "ID"',
  )) as string[][];
}

const expected = Array.from({ length: 10 }, (_, i) => [String(i + 1), `w${i + 1}`]);

async function runUntilConfirmed(pipeline: Pipeline, source: ScriptedSource, lastLsn: bigint): Promise<void> {
  await pipeline.start();
  const deadline = Date.now() + 30_000;
  while (!source.confirmed.some((c) => c.commitLsn === lastLsn)) {
    if (Date.now() > deadline) throw new Error('pipeline did not confirm the last batch in time');
    await new Promise((r) => setTimeout(r, 20));
  }
  await pipeline.stop();
}

describe('Snowflake destination in the pipeline runtime', () => {
  it('retries faults, pauses on an open circuit, and ends equal to the source with no duplicate', async () => {
    let commits = 0;
    // Every statement of some batches fails for a while: the breaker opens, then a probe succeeds.
    let failing = 0;
    emu.faults.add({
      match: (sql) => {
        if (sql !== 'COMMIT') return false;
        commits++;
        if (commits === 6) failing = 5;
        return commits === 3;
      },
      action: { kind: 'error-after-apply' }, // applied, reply lost
    });
    emu.faults.add({
      match: (sql) => /^MERGE INTO .*"ITEMS"/.test(sql) && failing > 0 && failing-- > 0,
      times: Number.POSITIVE_INFINITY,
      action: { kind: 'error' },
    });
    const source = new ScriptedSource(script());
    const statuses: PipelineStatus[] = [];
    const pipeline = new Pipeline({
      name: 'p1',
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 50 },
    })
      .from(source)
      .to(destination());
    pipeline.on('state', ({ status }) => statuses.push(status));
    await runUntilConfirmed(pipeline, source, 1100n);
    expect(statuses).toContain('paused');
    expect(await finalRows()).toEqual(expected);
    expect(await rowsOf(emu, 'SELECT CAST("COMMIT_LSN" AS VARCHAR) FROM "PG"."_ETL_WATERMARKS"')).toEqual([
      ['1100'],
    ]);
  });

  it('after a restart, the watermark skips what was applied', async () => {
    const first = new ScriptedSource(script().slice(0, 12));
    const p1 = new Pipeline({ name: 'p2' }).from(first).to(destination());
    await runUntilConfirmed(p1, first, 1020n);
    // The source replays from the start (as after a crash before the state store saved anything).
    const merges = () => statementTexts(emu).filter((s) => /^MERGE INTO .*"ITEMS"/.test(s)).length;
    const before = merges();
    const second = new ScriptedSource(script());
    const p2 = new Pipeline({ name: 'p2' }).from(second).to(destination());
    await runUntilConfirmed(p2, second, 1100n);
    expect(merges() - before).toBe(8); // only the 8 batches after the watermark
    expect(await finalRows()).toEqual(expected);
  });
});
