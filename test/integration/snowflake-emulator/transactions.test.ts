/**
 * Transactions through the real driver, seen from a second session:
 * COMMIT publishes, ROLLBACK discards, DDL commits the open transaction, a
 * failed statement undoes only itself, logout and an idle detached
 * transaction end their work; heartbeat keeps a session alive.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { type Conn, connect } from './driver.js';

let emu: SnowflakeEmulator;
let a: Conn;
let b: Conn;

beforeAll(async () => {
  emu = await startSnowflakeEmulator({ idleTransactionTimeoutMs: 300, lockTimeoutMs: 5_000 });
  a = await connect(emu);
  b = await connect(emu);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await emu?.close();
});
beforeEach(async () => {
  await a.exec('CREATE OR REPLACE TABLE tx (id NUMBER(5,0), v VARCHAR)');
});

const count = async (c: Conn) => (await c.exec('SELECT COUNT(*) AS N FROM tx'))[0]!.N;

describe('transactions', () => {
  it('COMMIT makes the work visible to other sessions; until then they see none of it', async () => {
    await a.exec('BEGIN TRANSACTION');
    await a.exec("INSERT INTO tx VALUES (1, 'a'), (2, 'b')");
    await a.exec("UPDATE tx SET v = 'z' WHERE id = 1");
    expect(await count(a)).toBe(2);
    expect(await count(b)).toBe(0);
    await a.exec('COMMIT');
    expect(await b.text('SELECT id, v FROM tx ORDER BY id')).toEqual([
      { ID: '1', V: 'z' },
      { ID: '2', V: 'b' },
    ]);
  });

  it('ROLLBACK discards the work', async () => {
    await a.exec("INSERT INTO tx VALUES (1, 'kept')");
    await a.exec('BEGIN');
    await a.exec("INSERT INTO tx VALUES (2, 'gone')");
    await a.exec('DELETE FROM tx WHERE id = 1');
    await a.exec('ROLLBACK');
    expect(await b.text('SELECT id, v FROM tx')).toEqual([{ ID: '1', V: 'kept' }]);
  });

  it('DDL commits the open transaction first', async () => {
    await a.exec('BEGIN');
    await a.exec("INSERT INTO tx VALUES (1, 'before ddl')");
    await a.exec('CREATE OR REPLACE TABLE other (x INT)');
    await a.exec('ROLLBACK'); // nothing left to roll back
    expect(await b.text('SELECT v FROM tx')).toEqual([{ V: 'before ddl' }]);
  });

  it('a failed statement inside a transaction undoes only itself; the transaction stays open', async () => {
    await a.exec('BEGIN');
    await a.exec("INSERT INTO tx VALUES (1, 'one')");
    expect(await a.fails("INSERT INTO tx VALUES ('not a number', 'x')")).toMatchObject({ code: '100038' });
    expect(await a.fails('SELECT nope FROM tx')).toMatchObject({ code: '000904' });
    await a.exec("INSERT INTO tx VALUES (2, 'two')");
    expect(await count(b)).toBe(0);
    await a.exec('COMMIT');
    expect(await b.text('SELECT id FROM tx ORDER BY id')).toEqual([{ ID: '1' }, { ID: '2' }]);
  });

  it('a writer waits for another session’s transaction and then sees its commit', async () => {
    await a.exec('BEGIN');
    await a.exec("INSERT INTO tx VALUES (1, 'a')");
    let done = false;
    const waiting = b.exec("UPDATE tx SET v = 'b' WHERE id = 1").then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    await a.exec('COMMIT');
    expect(await waiting).toEqual([
      { 'number of rows updated': 1, 'number of multi-joined rows updated': 0 },
    ]);
    expect(await a.text('SELECT v FROM tx')).toEqual([{ V: 'b' }]);
  });

  it('logout rolls back the session’s open transaction', async () => {
    const c = await connect(emu);
    await c.exec('BEGIN');
    await c.exec("INSERT INTO tx VALUES (7, 'never')");
    await c.close();
    await a.exec("INSERT INTO tx VALUES (8, 'after')"); // does not wait for the gone session
    expect(await a.text('SELECT id FROM tx')).toEqual([{ ID: '8' }]);
  });

  it('an idle transaction that blocks another session is aborted (a detached client)', async () => {
    const c = await connect(emu);
    await c.exec('BEGIN');
    await c.exec("INSERT INTO tx VALUES (1, 'abandoned')");
    // c goes quiet (like a killed client); a's write waits, then c's transaction is rolled back.
    await a.exec("INSERT INTO tx VALUES (2, 'mine')");
    expect(await a.text('SELECT id FROM tx')).toEqual([{ ID: '2' }]);
    await c.exec('COMMIT'); // commits nothing
    expect(await a.text('SELECT id FROM tx')).toEqual([{ ID: '2' }]);
    await c.close();
  });

  it('answers heartbeats of a live session and rejects a logged-out one', async () => {
    const c = await connect(emu);
    expect(await c.raw.isValidAsync()).toBe(true);
    await c.close();
    expect(await c.raw.isValidAsync()).toBe(false);
  });
});
