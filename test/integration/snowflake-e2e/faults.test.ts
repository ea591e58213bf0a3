/**
 * Faults injected by the emulator while a PostgreSQL pipeline streams into
 * Snowflake through the real snowflake-sdk: HTTP 503 and 429 (absorbed by
 * the driver's retries, the statement runs once), a hung MERGE (the
 * destination's statement timeout, a new session), the MERGE failing inside
 * the transaction (before and after it ran: ROLLBACK, retry), and the
 * COMMIT applied but its reply lost (connection dropped mid-reply, or no
 * reply at all: the watermark is re-read and the batch is not applied
 * twice). One fault per source transaction; after each, both tables equal
 * the source value by value — a keyed table, and a keyless one in append
 * mode where a batch applied twice would show as duplicate rows.
 */
import './support/env.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActiveFault,
  type FaultRule,
  type SnowflakeEmulator,
  startSnowflakeEmulator,
} from '../../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import {
  expectTableEqual,
  type RunningPipeline,
  startPipeline,
  transactionAt,
  waitForWatermark,
} from './support/harness.js';

let db: TestDatabase;
let emu: SnowflakeEmulator;
let run: RunningPipeline;
let phase = 0;
/** Steps and batches in order, shown when a comparison fails. */
const history: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('etl_sfe2e_faults');
  emu = await startSnowflakeEmulator();
  await db.query(`
    CREATE TABLE acct (id int PRIMARY KEY, n int NOT NULL, note text);
    CREATE TABLE log (id int NOT NULL, event text NOT NULL);
    ALTER TABLE log REPLICA IDENTITY FULL;
    INSERT INTO acct SELECT g, 0, 'seed ' || g FROM generate_series(1, 20) g;
  `);
  run = await startPipeline({
    name: 'faults',
    url: db.url,
    emu,
    tables: ['public.acct', 'public.log'],
    destination: { tablesWithoutKey: 'append', statementTimeoutMs: 4_000 },
  });
  run.pipeline.on('batch', ({ batch }) => {
    const entries = batch.entries.map((e) =>
      e.kind === 'rows' ? `${e.table.name}:${e.data.numRows}` : e.kind,
    );
    history.push(
      `batch ${batch.commitLsn}${batch.checkpoint.snapshot ? ' (snapshot)' : ''}: ${entries.join(', ')}`,
    );
  });
  await step();
});
afterAll(async () => {
  emu?.faults.clear();
  emu?.faults.releaseHung();
  await run?.stop();
  await emu?.close();
  await db?.drop();
});

/** One source transaction: inserts a key, updates and deletes others, appends to the log. */
async function step(): Promise<void> {
  phase++;
  const k = 100 + phase;
  const lsn = await transactionAt(
    db.url,
    `INSERT INTO acct VALUES (${k}, ${phase}, 'phase ${phase}');
     UPDATE acct SET n = n + 1, note = 'touched in phase ${phase}' WHERE id IN (${phase}, ${k - 1});
     DELETE FROM acct WHERE id = ${phase + 10};
     INSERT INTO log VALUES (${phase * 10 + 1}, 'event ${phase}'), (${phase * 10 + 2}, 'again ${phase}')`,
  );
  history.push(`step ${phase}: transaction at ${lsn}`);
  await waitForWatermark(emu, run, lsn, 45_000);
}

async function expectEqual(): Promise<void> {
  const context = () => [...history, ...run.errors].join('\n');
  await expectTableEqual(db.url, emu, 'public.acct', undefined, context);
  await expectTableEqual(db.url, emu, 'public.log', undefined, context);
}

/** Statements that ran (once per requestId) matching `pattern`. */
const ran = (pattern: RegExp) => emu.statements.filter((s) => pattern.test(s.sql)).length;
const retried = () => run.errors.filter((e) => e.startsWith('retried')).length;

const COPY_ACCT = /^COPY INTO "DB"\."PG"\."ACCT__ETL_STAGING"/;
const MERGE_ACCT = /^MERGE INTO "DB"\."PG"\."ACCT" t /;
const APPEND_LOG = /^INSERT INTO "DB"\."PG"\."LOG" /;
const COMMIT = /^COMMIT$/;
const WATERMARK_READ = /^SELECT CAST\("COMMIT_LSN"/;

/**
 * Runs one step with `rule` armed and one after it; both tables equal the
 * source after each. Returns the rule and how the runtime saw the fault
 * (every step is one batch: a statement that ran once per batch ran twice).
 */
async function withFault(rule: FaultRule): Promise<{ fault: ActiveFault; retries: number; rereads: number }> {
  const retriesBefore = retried();
  const readsBefore = ran(WATERMARK_READ);
  const fault = emu.faults.add(rule);
  try {
    await step();
    await expectEqual();
  } finally {
    fault.remove();
  }
  // The next transaction is applied only once the pipeline got past the fault (batches apply in order).
  await step();
  await expectEqual();
  return { fault, retries: retried() - retriesBefore, rereads: ran(WATERMARK_READ) - readsBefore };
}

// A hung request stays open after the destination gave up on it; once released (at the end), the
// driver of the abandoned session retries it. Hangs therefore come last for the statements they
// match, so such a late retry cannot take the hit of a later rule.
describe('faults injected by the emulator', () => {
  it('starts equal', async () => {
    await expectEqual();
  });

  // One attempt each: the driver's backoff before a second retry can outlast the statement timeout.
  it('HTTP 503 on COPY: the driver retries, the statement runs once', async () => {
    const copies = ran(COPY_ACCT);
    const { fault, retries } = await withFault({
      match: COPY_ACCT,
      action: { kind: 'http-status', status: 503 },
    });
    expect(fault.hits).toBe(1);
    expect(retries).toBe(0);
    expect(ran(COPY_ACCT) - copies).toBe(2);
  });

  it('HTTP 429 on the MERGE: the driver retries, the statement runs once', async () => {
    const merges = ran(MERGE_ACCT);
    const { fault, retries } = await withFault({
      match: MERGE_ACCT,
      action: { kind: 'http-status', status: 429 },
    });
    expect(fault.hits).toBe(1);
    expect(retries).toBe(0);
    expect(ran(MERGE_ACCT) - merges).toBe(2);
  });

  it('the MERGE fails inside the transaction: ROLLBACK, retry', async () => {
    const { fault, retries } = await withFault({ match: MERGE_ACCT, action: { kind: 'error' } });
    expect(fault.hits).toBe(1);
    expect(retries).toBe(1);
  });

  it('the append fails after it ran, inside the transaction: ROLLBACK undoes it, no duplicate', async () => {
    const { fault, retries } = await withFault({ match: APPEND_LOG, action: { kind: 'error-after-apply' } });
    expect(fault.hits).toBe(1);
    expect(retries).toBe(1);
  });

  it('the connection drops after COMMIT, before the reply: the watermark says applied, nothing twice', async () => {
    const appends = ran(APPEND_LOG);
    // Every attempt of that COMMIT is dropped mid-reply, the driver's retry included.
    const { fault, retries, rereads } = await withFault({
      match: COMMIT,
      times: 2,
      action: { kind: 'drop-after-apply' },
    });
    expect(fault.hits).toBe(2);
    expect(retries).toBe(1);
    expect(rereads).toBe(1);
    // The batch was applied once: the retry found it under the watermark.
    expect(ran(APPEND_LOG) - appends).toBe(2);
  });

  it('COMMIT applied and never answered: timeout, the watermark says applied, nothing twice', async () => {
    const appends = ran(APPEND_LOG);
    const { fault, retries, rereads } = await withFault({
      match: COMMIT,
      action: { kind: 'hang-after-apply' },
    });
    expect(fault.hits).toBe(1);
    expect(retries).toBe(1);
    expect(rereads).toBe(1);
    expect(ran(APPEND_LOG) - appends).toBe(2);
  });

  it('a hung MERGE: the statement times out, the batch is retried on a new session', async () => {
    const { fault, retries, rereads } = await withFault({ match: MERGE_ACCT, action: { kind: 'hang' } });
    expect(fault.hits).toBe(1);
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(rereads).toBe(retries);
    expect(run.errors.at(-1)).toMatch(/TIMEOUT|did not answer/);
  });

  it('ends equal after a last undisturbed step; only retryable errors were reported', async () => {
    await step();
    await expectEqual();
    expect(run.errors.filter((e) => !e.startsWith('retried'))).toEqual([]);
    expect(run.pipeline.status).toBe('streaming');
  });
});
