/**
 * Vitest global setup: one PostgreSQL (wal_level=logical) and one Redis for
 * the whole run. Uses ETL_TEST_PG_URL / ETL_TEST_REDIS_URL when set, else
 * starts private instances that are removed at the end.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { type PrivateService, startPrivatePostgres, startPrivateRedis } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    redisUrl: string;
  }
}

async function checkLogical(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
    if (rows[0]?.wal_level !== 'logical') {
      throw new Error(
        `ETL_TEST_PG_URL points at a server with wal_level=${rows[0]?.wal_level}; the tests need wal_level=logical. ` +
          'Set `wal_level = logical` in postgresql.conf and restart it, or unset ETL_TEST_PG_URL to let the tests ' +
          'start a private PostgreSQL.',
      );
    }
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: PrivateService[] = [];
  try {
    let pgUrl = process.env.ETL_TEST_PG_URL;
    if (pgUrl) await checkLogical(pgUrl);
    else {
      const svc = await startPrivatePostgres();
      started.push(svc);
      pgUrl = svc.url;
    }
    let redisUrl = process.env.ETL_TEST_REDIS_URL;
    if (!redisUrl) {
      const svc = await startPrivateRedis();
      started.push(svc);
      redisUrl = svc.url;
    }
    project.provide('pgAdminUrl', pgUrl);
    project.provide('redisUrl', redisUrl);
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
  return async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };
}
