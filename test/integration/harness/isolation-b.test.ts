import { afterAll, beforeAll, expect, it } from 'vitest';
import { markerThroughOwnSlot } from '../../support/isolation.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

it('file b sees only its own database, publication and slot', async () => {
  expect(await markerThroughOwnSlot(db, 'from-b')).toEqual(['from-b']);
});
