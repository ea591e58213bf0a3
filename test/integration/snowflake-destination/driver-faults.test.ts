/**
 * The Snowflake destination through the real `snowflake-sdk`, inside the
 * pipeline runtime, against the Snowflake emulator: key-pair login
 * from an encrypted in-memory key, faults (5xx, 429, a hang, a failure inside
 * the transaction, a COMMIT whose reply is lost), and the end state equal to
 * the scripted source with no duplicate and no gap. Afterwards no file under
 * the working directory, the temp directory or the stage holds the key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { snowflake } from '../../../src/destinations/snowflake/snowflake-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import {
  type FaultAction,
  type SnowflakeEmulator,
  startSnowflakeEmulator,
} from '../../../src/testing/index.js';
import { ScriptedSource } from '../../support/scripted-source.js';
import { expectedItems, expectedLog, workloadBatch } from './support/crash-workload.js';
import { emulatorTarget, rowsOf, statementTexts } from './support/emulator.js';

const passphrase = randomBytes(16).toString('hex');
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

let emu: SnowflakeEmulator;
let work: string;
let originalCwd: string;

beforeAll(async () => {
  originalCwd = process.cwd();
  work = await mkdtemp(join(tmpdir(), 'etl-sf-it-'));
  process.chdir(work); // the driver's own files (if any) would land here
  emu = await startSnowflakeEmulator({ user: 'etl', publicKey, stageDir: join(work, 'stage') });
});
afterAll(async () => {
  process.chdir(originalCwd);
  await emu?.close();
  await rm(work, { recursive: true, force: true });
});

function watermarkReads(): number {
  return statementTexts(emu).filter((s) => /^SELECT CAST\("COMMIT_LSN"/.test(s)).length;
}

const select = (sql: string) => rowsOf(emu, sql);

async function run(name: string, batches: ChangeBatch[]): Promise<{ retries: number; statuses: string[] }> {
  const source = new ScriptedSource(batches);
  const pipeline = new Pipeline({
    name,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
    circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 200 },
  })
    .from(source)
    .to(
      snowflake({
        ...emulatorTarget(emu, {
          username: 'etl',
          privateKey,
          privateKeyPassphrase: passphrase,
          tablesWithoutKey: 'append',
          statementTimeoutMs: 2_000,
          connectTimeoutMs: 10_000,
          tempDir: work,
        }),
        password: undefined,
      } as never),
    );
  let retries = 0;
  const statuses: string[] = [];
  pipeline.on('error', ({ fatal }) => {
    if (!fatal) retries++;
  });
  pipeline.on('state', ({ status }) => statuses.push(status));
  await pipeline.start();
  const last = batches.at(-1)!.commitLsn;
  const deadline = Date.now() + 50_000;
  while (!source.confirmed.some((c) => c.commitLsn === last)) {
    if (Date.now() > deadline || pipeline.status === 'failed')
      throw new Error(`pipeline did not finish (${pipeline.status})`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await pipeline.stop();
  return { retries, statuses };
}

describe('Snowflake destination through snowflake-sdk', () => {
  it('logs in with the encrypted key and applies batches', async () => {
    await run('happy', [workloadBatch(1), workloadBatch(2), workloadBatch(3)]);
    expect(emu.logins.length).toBeGreaterThan(0);
    expect(emu.logins.every((l) => l.authenticator === 'SNOWFLAKE_JWT' && l.errorCode === undefined)).toBe(
      true,
    );
    expect(await select('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY "ID"')).toEqual(
      expectedItems(3),
    );
    expect(
      await select(
        `SELECT CAST("COMMIT_LSN" AS VARCHAR) FROM "PG"."_ETL_WATERMARKS" WHERE "PIPELINE" = 'happy'`,
      ),
    ).toEqual([['300']]);
  });

  it('ends equal to the source under 5xx, 429, a hang, a failed MERGE and lost COMMIT replies', async () => {
    await select('DROP TABLE IF EXISTS "PG"."ITEMS"');
    await select('DROP TABLE IF EXISTS "PG"."LOG"');
    const http = (status: number): FaultAction => ({ kind: 'http-status', status });
    const faults: [RegExp, FaultAction][] = [
      [/^COPY INTO .*"ITEMS__ETL_STAGING"/, http(503)],
      [/^COPY INTO .*"ITEMS__ETL_STAGING"/, http(503)],
      [/^MERGE INTO .*"ITEMS" t/, http(429)],
      [/^MERGE INTO .*"ITEMS" t/, { kind: 'hang' }],
      [/^MERGE INTO .*"LOG"|^INSERT INTO .*"LOG"/, { kind: 'error' }],
      [/^COMMIT$/, { kind: 'hang-after-apply' }],
      [/^COMMIT$/, { kind: 'drop-after-apply' }],
      [/^MERGE INTO .*"_ETL_WATERMARKS"/, { kind: 'error' }],
      [/^COMMIT$/, { kind: 'error-after-apply' }],
    ];
    // One fault per batch, in order: batch k gets fault k (armed when the batch starts loading).
    let armed = 0;
    let current: number | undefined;
    emu.faults.add({
      match: (sql) => {
        if (
          (/^BEGIN/.test(sql) || /^DELETE FROM .*__ETL_STAGING/.test(sql)) &&
          current === undefined &&
          armed < faults.length
        )
          current = armed++;
        return false;
      },
      action: { kind: 'latency', ms: 0 },
    });
    for (const [k, [pattern, action]] of faults.entries()) {
      emu.faults.add({
        match: (sql) => {
          if (current !== k || !pattern.test(sql)) return false;
          current = undefined;
          return true;
        },
        action,
      });
    }
    const batches = Array.from({ length: 12 }, (_, i) => workloadBatch(i + 1));
    const readsBefore = watermarkReads();
    const { retries } = await run('faulty', batches);
    emu.faults.clear();
    emu.faults.releaseHung();
    expect(armed).toBe(faults.length);
    expect(await select('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY "ID"')).toEqual(
      expectedItems(12),
    );
    // Append-only table: exactly one row per batch — no duplicate, no gap.
    expect(await select('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."LOG" ORDER BY "ID"')).toEqual(
      expectedLog(12),
    );
    expect(
      await select(
        `SELECT CAST("COMMIT_LSN" AS VARCHAR) FROM "PG"."_ETL_WATERMARKS" WHERE "PIPELINE" = 'faulty'`,
      ),
    ).toEqual([['1200']]);
    // 5xx, 429 and the dropped COMMIT reply are absorbed by the driver's own retries (the retry of a
    // dropped reply gets the reply cached under its requestId); what reaches the runtime is retried.
    expect(retries).toBeGreaterThanOrEqual(5);
    // Every failed write re-read the watermark before its retry (plus the read at open).
    expect(watermarkReads() - readsBefore).toBe(retries + 1);
  });

  it('leaves no file holding the key under the working directory, the temp directory or the stage', async () => {
    const decrypted = (await import('node:crypto'))
      .createPrivateKey({ key: privateKey, format: 'pem', passphrase })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString();
    // Distinctive base64 lines of the key as given and as decrypted in memory.
    const needles = [privateKey, decrypted].map((pem) => pem.split('\n')[3]!).concat([passphrase]);
    const hits: string[] = [];
    for (const root of [process.cwd(), tmpdir(), emu.stageDir, originalCwd]) {
      await scan(root, needles, hits, root === originalCwd ? 1 : 8);
    }
    expect(hits).toEqual([]);
  });
});

/** Collects files under `dir` (to `depth`) whose text contains a needle. Skips node_modules and big files. */
async function scan(dir: string, needles: string[], hits: string[], depth: number): Promise<void> {
  if (depth < 0) return;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== '.git') await scan(path, needles, hits, depth - 1);
    } else if (e.isFile()) {
      try {
        if ((await stat(path)).size > 64 * 1024 * 1024) continue;
        const text = (await readFile(path)).toString('latin1');
        if (needles.some((n) => text.includes(n))) hits.push(path);
      } catch {
        // unreadable or gone: not ours
      }
    }
  }
}
