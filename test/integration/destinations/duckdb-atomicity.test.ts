import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int64, Utf8 } from 'apache-arrow';
import { afterAll, expect, it } from 'vitest';
import { duckdb } from '../../../src/destinations/duckdb/duckdb-destination.js';
import { batch, change, col, DOCS, rows, table } from './change-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'etl-duckdb-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const signal = new AbortController().signal;

const BROKEN = table('public', 'broken', [
  col('id', 'bigint', new Int64(), true),
  col('v', 'text', new Utf8()),
]);

it('a batch failing midway leaves no trace: data, new tables and watermark roll back together', async () => {
  const dest = duckdb({ path: join(dir, 'atomic.duckdb') });
  await dest.open({ pipeline: 'p', signal, emit: () => {} });
  await dest.write(batch(1n, 0x10n, [rows(DOCS, [change.ins(0x10n, { id: 1n, title: 'a', body: 'b' })])]), {
    signal,
  });

  const good = rows(DOCS, [change.upd(0x20n, { id: 1n, title: 'changed', body: 'b' })]);
  const bad = rows(BROKEN, [change.ins(0x20n, { id: 1n, v: 'x' })], 1);
  // The schema says the key is a column the rows do not have: staged fine, the MERGE cannot bind.
  const keyless = { ...bad, table: { ...BROKEN, primaryKey: ['missing'] } } as typeof bad;
  await expect(dest.write(batch(0x20n, 0x20n, [good, keyless]), { signal })).rejects.toMatchObject({
    code: 'DESTINATION',
  });

  expect(await dest.query('SELECT id, title FROM public.docs')).toEqual([{ id: '1', title: 'a' }]);
  expect(await dest.committedLsn('p')).toBe(0x10n);
  expect(await dest.query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'broken'")).toEqual([
    { n: '0' },
  ]);

  // The destination is usable afterwards: the same batch, fixed, applies.
  await dest.write(batch(0x20n, 0x20n, [good]), { signal });
  expect(await dest.query('SELECT id, title FROM public.docs')).toEqual([{ id: '1', title: 'changed' }]);
  expect(await dest.committedLsn('p')).toBe(0x20n);
  await dest.close();
});

it('close() while a write is in flight aborts it (ABORTED) and still closes the file cleanly', async () => {
  const path = join(dir, 'abort.duckdb');
  const dest = duckdb({ path });
  await dest.open({ pipeline: 'p', signal, emit: () => {} });
  const many = Array.from({ length: 200_000 }, (_, i) =>
    change.ins(0x10n, { id: BigInt(i), title: `t${i}`, body: 'x'.repeat(50) }),
  );
  const writing = dest.write(batch(1n, 0x10n, [rows(DOCS, many)]), { signal }).then(
    () => 'committed',
    (e: { code?: string }) => e.code,
  );
  await new Promise((r) => setTimeout(r, 20));
  await dest.close();
  const outcome = await writing;
  // Either it had committed already, or it was aborted and rolled back: never half applied.
  const again = duckdb({ path });
  await again.open({ pipeline: 'p', signal, emit: () => {} });
  const count = outcome === 'committed' ? '200000' : '0';
  const tables = await again.query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'docs'");
  if (tables[0]?.n === '1')
    expect(await again.query('SELECT count(*) AS n FROM public.docs')).toEqual([{ n: count }]);
  else expect(outcome).toBe('ABORTED');
  expect(await again.committedLsn('p')).toBe(outcome === 'committed' ? 0x10n : undefined);
  await again.close();
});
