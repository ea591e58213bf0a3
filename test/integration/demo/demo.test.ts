/**
 * `npm run demo`, run as a user would (a child process, `tsx
 * examples/demo/index.ts`): it ends with a passing verdict on a private
 * PostgreSQL it starts and removes itself; on a DATABASE_URL it fails the
 * verdict when DuckDB was tampered with and drops what it created; it refuses
 * a server without wal_level=logical, saying how to fix it; and Ctrl-C stops
 * it, leaving no process or directory behind.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { startPrivatePostgres } from '../../support/services.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the demo; `onOutput` sees stdout as it grows (and may signal the child). */
function runDemo(
  args: string[],
  env: Record<string, string | undefined>,
  onOutput?: (stdout: string, child: ReturnType<typeof spawn>) => void,
): Promise<DemoRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo/index.ts', ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    onOutput?.(stdout, child);
  });
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** The private PostgreSQL's data directory, as the demo prints it. */
function privateDir(stdout: string): string | undefined {
  return /data in (\S+?etl-stream-pg-[A-Za-z0-9]+)/.exec(stdout)?.[1];
}

async function processesUsing(dir: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((l) => l.includes(dir));
}

/** Postgres backends notice their postmaster is gone and exit on their own: give them a moment. */
async function expectNothingLeft(dir: string): Promise<void> {
  expect(existsSync(dir)).toBe(false);
  const deadline = Date.now() + 10_000;
  while ((await processesUsing(dir)).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await processesUsing(dir)).toEqual([]);
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'etl-demo-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('streams a live workload into DuckDB and ends with a passing verdict', async () => {
    const duckdbPath = join(work, 'match.duckdb');
    const run = await runDemo(['--seconds', '5', '--duckdb', duckdbPath], { DATABASE_URL: undefined });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^VERDICT: MATCH\. 2 tables, [\d,]+ rows, [\d,]+ values: DuckDB equals PostgreSQL\.$/m,
    );
    expect(run.stdout).toMatch(/✔ etl_demo\.customers .*identical/);
    expect(run.stdout).toMatch(
      /✔ etl_demo\.orders .*identical; coupon \(dropped at the source\) not compared/,
    );
    expect(run.stdout).toContain('ADD COLUMN loyalty_points');
    expect(run.stdout).toMatch(/[\d,]+ of the updates left the TOASTed notes untouched/);
    expect(existsSync(duckdbPath)).toBe(true);
    const dir = privateDir(run.stdout);
    expect(dir, run.stdout).toBeDefined();
    await expectNothingLeft(dir!);
  }, 60_000);

  describe('on DATABASE_URL', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase('etl_demo_t');
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('fails the verdict when DuckDB differs, and drops its schema, slot and publication', async () => {
      const run = await runDemo(['--seconds', '2', '--corrupt', '--duckdb', join(work, 'corrupt.duckdb')], {
        DATABASE_URL: db.url,
      });
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^VERDICT: MISMATCH\. /m);
      expect(run.stdout).toMatch(/id=\d+: amount is [\d.]+ in PostgreSQL, [\d.]+ in DuckDB/);
      expect(run.stdout).toMatch(/missing from DuckDB: id=\d+/);
      const left = await db.query(
        `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'etl_demo')::int AS slots,
                (SELECT count(*) FROM pg_publication WHERE pubname = 'etl_demo')::int AS publications,
                (SELECT count(*) FROM pg_namespace WHERE nspname = 'etl_demo')::int AS schemas`,
      );
      expect(left.rows[0]).toEqual({ slots: 0, publications: 0, schemas: 0 });
    }, 60_000);

    it('refuses a schema etl_demo it did not create', async () => {
      await db.query('CREATE SCHEMA etl_demo');
      try {
        const run = await runDemo(['--seconds', '1'], { DATABASE_URL: db.url });
        expect(run.code).toBe(1);
        expect(run.stdout).toContain('Schema etl_demo already exists and was not created by the demo');
      } finally {
        await db.query('DROP SCHEMA etl_demo');
      }
    }, 60_000);
  });

  it('refuses a server without wal_level=logical and says how to fix it', async () => {
    const server = await startPrivatePostgres({ settings: { wal_level: 'replica' } });
    try {
      const run = await runDemo(['--seconds', '1'], { DATABASE_URL: server.url });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('wal_level = replica');
      expect(run.stdout).toContain('ALTER SYSTEM SET wal_level = logical;');
      expect(run.stdout).toContain('unset DATABASE_URL');
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('stops on Ctrl-C (SIGINT) and leaves no process or directory behind', async () => {
    let sent = false;
    const run = await runDemo(
      ['--seconds', '9', '--duckdb', join(work, 'interrupted.duckdb')],
      { DATABASE_URL: undefined },
      (stdout, child) => {
        // Interrupt in the middle of the stream (after the first schema change).
        if (!sent && stdout.includes('ADD COLUMN loyalty_points')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    );
    expect(sent, run.stdout + run.stderr).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stdout).toContain('Interrupted: no verdict.');
    expect(run.stdout).not.toContain('VERDICT');
    const dir = privateDir(run.stdout);
    expect(dir).toBeDefined();
    await expectNothingLeft(dir!);
  }, 60_000);
});
