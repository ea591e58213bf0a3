/**
 * Key-pair auth end to end: an encrypted PKCS#8 key (with a passphrase),
 * generated here, is given to `snowflake()` as PEM text; a PostgreSQL
 * pipeline logs in with it (JWT, checked by the emulator against the public
 * key) and applies batches. Afterwards no file under the working directory
 * (a fresh one for this test, and the repository the tests started in), the
 * OS temp directory, the emulator's stage folders or the driver's cache
 * directory holds the key: neither a slice of the PEM body (as given, or as
 * decrypted in memory), nor of its DER bytes, nor the passphrase.
 */
import './support/env.js';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { expectTableEqual, startPipeline, transactionAt, waitForWatermark } from './support/harness.js';

const passphrase = `pass-${randomBytes(12).toString('hex')}`;
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const decrypted = createPrivateKey({ key: privateKey, format: 'pem', passphrase });
const plainPem = decrypted.export({ format: 'pem', type: 'pkcs8' }).toString();
const der = decrypted.export({ format: 'der', type: 'pkcs8' });

/** What must not be in any file: base64 slices of both PEM bodies, a DER slice, the passphrase. */
const NEEDLES: Buffer[] = [
  Buffer.from(privateKey.split('\n')[4]!.slice(0, 48)),
  Buffer.from(plainPem.split('\n')[5]!.slice(0, 48)),
  der.subarray(200, 240),
  Buffer.from(passphrase),
];

let db: TestDatabase;
let emu: SnowflakeEmulator;
let work: string;
let originalCwd: string;
let startedAt: number;

beforeAll(async () => {
  startedAt = Date.now() - 1_000;
  originalCwd = process.cwd();
  work = await mkdtemp(join(tmpdir(), 'etl-sfe2e-key-'));
  await mkdir(join(work, 'cwd'));
  process.chdir(join(work, 'cwd')); // the driver's own files (if any) would land here
  db = await createTestDatabase('etl_sfe2e_key');
  emu = await startSnowflakeEmulator({ user: 'ETL_KEY', publicKey, stageDir: join(work, 'stage') });
  await db.query(`CREATE TABLE secrets_free (id int PRIMARY KEY, v text, b bytea);
                  INSERT INTO secrets_free SELECT g, 'v' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 200) g`);
});
afterAll(async () => {
  process.chdir(originalCwd);
  await emu?.close();
  await db?.drop();
  await rm(work, { recursive: true, force: true });
});

/** Files under `root` written since the test started (older ones cannot hold a key made now) holding a needle. */
async function scan(root: string, hits: string[], seen: { files: number }): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return; // vanished or unreadable (another process's private directory)
  }
  for (const e of entries) {
    const path = join(root, e.name);
    if (e.isDirectory()) {
      if (e.name === '.git') continue;
      await scan(path, hits, seen);
    } else if (e.isFile()) {
      const info = await stat(path).catch(() => undefined);
      if (!info || info.mtimeMs < startedAt || info.size > 256 * 1024 * 1024) continue;
      const bytes = await readFile(path).catch(() => undefined);
      if (!bytes) continue;
      seen.files++;
      if (NEEDLES.some((n) => bytes.includes(n))) hits.push(path);
    }
  }
}

describe('key-pair auth', () => {
  it('logs in with the encrypted key and streams PostgreSQL into Snowflake', async () => {
    const run = await startPipeline({
      name: 'keypair',
      url: db.url,
      emu,
      tables: ['public.secrets_free'],
      destination: {
        username: 'etl_key',
        password: undefined,
        privateKey,
        privateKeyPassphrase: passphrase,
        tempDir: work,
      },
    });
    try {
      let last = 0n;
      for (let i = 0; i < 3; i++)
        last = await transactionAt(
          db.url,
          `UPDATE secrets_free SET v = v || '+' WHERE id % 3 = ${i}; INSERT INTO secrets_free VALUES (${300 + i}, 'new', '\\x00')`,
        );
      await waitForWatermark(emu, run, last);
      await expectTableEqual(db.url, emu, 'public.secrets_free');
    } finally {
      await run.stop();
    }
    expect(run.errors).toEqual([]);
    expect(emu.logins.length).toBeGreaterThan(0);
    expect(emu.logins.map((l) => [l.authenticator, l.errorCode ?? null])).toEqual(
      emu.logins.map(() => ['SNOWFLAKE_JWT', null]),
    );
    // Parquet files went through the temp directory and the stage.
    expect(emu.statements.filter((s) => /^PUT 'file:\/\//.test(s.sql)).length).toBeGreaterThanOrEqual(2);
  });

  it('the scan finds a planted copy of each needle (so a clean scan means something)', async () => {
    const control = join(work, 'control');
    await mkdir(control);
    for (const [i, n] of NEEDLES.entries())
      await writeFile(join(control, `planted-${i}`), Buffer.concat([Buffer.from('x'), n]));
    const hits: string[] = [];
    await scan(control, hits, { files: 0 });
    await rm(control, { recursive: true, force: true });
    expect(hits.sort()).toEqual(NEEDLES.map((_, i) => join(control, `planted-${i}`)).sort());
  });

  it('no file under the working directory, the temp directory or the stage holds the key', async () => {
    const hits: string[] = [];
    const seen = { files: 0 };
    const roots = [
      process.cwd(),
      originalCwd,
      tmpdir(),
      emu.stageDir,
      join(homedir(), '.cache', 'snowflake'),
    ];
    for (const root of roots) await scan(root, hits, seen);
    expect(hits).toEqual([]);
    // The scan read what the run wrote (the emulator's DuckDB files, at least).
    expect(seen.files).toBeGreaterThan(0);
  });
});
