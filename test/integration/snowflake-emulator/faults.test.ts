/**
 * Every fault kind, seen through the real driver: added latency, HTTP 503
 * and 429 (the driver retries with the same requestId; the statement runs
 * once), a hung request, a connection dropped before the statement ran and
 * one dropped mid-reply after it ran (the retry gets the cached reply: no
 * second run), an injected error on the Nth statement matching a pattern
 * inside a transaction, a lost COMMIT reply, and a failing login.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { type Conn, connect, loginError } from './driver.js';

let emu: SnowflakeEmulator;
let c: Conn;

beforeAll(async () => {
  emu = await startSnowflakeEmulator();
  c = await connect(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});
beforeEach(async () => {
  await c.exec('CREATE OR REPLACE TABLE f (id NUMBER(5,0), v VARCHAR)');
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.releaseHung();
});

const runs = (pattern: RegExp) => emu.statements.filter((s) => pattern.test(s.sql)).length;
const rows = async () => (await c.exec('SELECT id FROM f ORDER BY id')).map((r) => r.ID);

describe('faults', () => {
  it('adds latency to every request, or to the Nth matching statement', async () => {
    emu.faults.latencyMs = 150;
    let t = Date.now();
    await c.exec('SELECT 1');
    expect(Date.now() - t).toBeGreaterThanOrEqual(150);
    emu.faults.latencyMs = 0;
    const rule = emu.faults.add({ match: /^SELECT 2/, nth: 2, action: { kind: 'latency', ms: 300 } });
    t = Date.now();
    await c.exec('SELECT 2');
    expect(Date.now() - t).toBeLessThan(300);
    t = Date.now();
    await c.exec('SELECT 2');
    expect(Date.now() - t).toBeGreaterThanOrEqual(300);
    expect(rule.hits).toBe(1);
  });

  it('answers 503 and 429: the driver retries the same requestId and the statement runs once', async () => {
    const r503 = emu.faults.add({ match: "VALUES (1, '503')", action: { kind: 'http-status', status: 503 } });
    const r429 = emu.faults.add({ match: "VALUES (2, '429')", action: { kind: 'http-status', status: 429 } });
    await Promise.all([c.exec("INSERT INTO f VALUES (1, '503')"), c.exec("INSERT INTO f VALUES (2, '429')")]);
    expect([r503.hits, r429.hits]).toEqual([1, 1]);
    expect(runs(/VALUES \(1, '503'\)/)).toBe(1);
    expect(runs(/VALUES \(2, '429'\)/)).toBe(1);
    expect(await rows()).toEqual([1, 2]);
  });

  it('hangs a request until released; the driver then retries and the statement runs once', async () => {
    emu.faults.add({ match: "'hang'", action: { kind: 'hang' } });
    let done = false;
    const insert = c.exec("INSERT INTO f VALUES (3, 'hang')").then(() => (done = true));
    const started = Date.now();
    while (emu.faults.hanging === 0 && Date.now() - started < 5_000)
      await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    expect(await rows()).toEqual([]);
    expect(emu.faults.releaseHung()).toBe(1);
    await insert;
    expect(runs(/'hang'/)).toBe(1);
    expect(await rows()).toEqual([3]);
  });

  it('drops the connection before the statement runs, or mid-reply after it ran: it runs once', async () => {
    const before = emu.faults.add({ match: "'drop'", action: { kind: 'drop' } });
    const after = emu.faults.add({ match: "'applied'", action: { kind: 'drop-after-apply' } });
    await Promise.all([
      c.exec("INSERT INTO f VALUES (4, 'drop')"),
      c.exec("INSERT INTO f VALUES (5, 'applied')"),
    ]);
    expect([before.hits, after.hits]).toEqual([1, 1]);
    expect(runs(/'drop'/)).toBe(1);
    expect(runs(/'applied'/)).toBe(1);
    expect(await rows()).toEqual([4, 5]);
  });

  it('fails the Nth statement matching a pattern inside a transaction; the transaction stays usable', async () => {
    await c.exec("INSERT INTO f VALUES (1, 'a'), (2, 'b')");
    const rule = emu.faults.add({
      match: /^MERGE INTO/,
      nth: 2,
      action: { kind: 'error', code: '000603', sqlState: 'XX000', message: 'injected MERGE failure' },
    });
    await c.exec('BEGIN');
    const merge = (v: string) =>
      `MERGE INTO f t USING (SELECT 1 AS id, '${v}' AS v) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v`;
    await c.exec(merge('first'));
    expect(await c.fails(merge('second'))).toMatchObject({
      code: '000603',
      sqlState: 'XX000',
      message: 'injected MERGE failure',
    });
    await c.exec(merge('third'));
    await c.exec('COMMIT');
    expect(rule.hits).toBe(1);
    expect(await c.text('SELECT v FROM f WHERE id = 1')).toEqual([{ V: 'third' }]);
  });

  it('applies a COMMIT and drops its reply: the retried request gets the cached success', async () => {
    emu.faults.add({ match: /^COMMIT$/, action: { kind: 'drop-after-apply' } });
    await c.exec('BEGIN');
    await c.exec("INSERT INTO f VALUES (9, 'committed')");
    await c.exec('COMMIT');
    const other = await connect(emu);
    expect(await other.exec('SELECT id FROM f')).toEqual([{ ID: 9 }]);
    await other.close();
  });

  it('fails logins on demand', async () => {
    emu.faults.add({
      on: 'login',
      action: { kind: 'error', code: '390100', message: 'Incorrect username or password was specified.' },
    });
    expect(await loginError(emu, {})).toMatchObject({ code: '390100' });
  });
});
