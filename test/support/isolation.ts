import type { TestDatabase } from './postgres.js';

/**
 * Used by two test files that run in parallel: each creates the same-named
 * table and publication in its own database plus its own slot, writes its own
 * marker, and must read back only its own marker.
 */
export async function markerThroughOwnSlot(db: TestDatabase, marker: string): Promise<string[]> {
  await db.query('CREATE TABLE shared_name (marker text)');
  await db.query('CREATE PUBLICATION shared_pub FOR TABLE shared_name');
  const slot = `iso_${db.name}`;
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await db.query('INSERT INTO shared_name VALUES ($1)', [marker]);
  // Give the other file time to write its marker too, then read this slot.
  await new Promise((r) => setTimeout(r, 300));
  const { rows } = await db.query<{ data: Buffer }>(
    `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', 'shared_pub')`,
    [slot],
  );
  // Insert messages: 'I', relid(4), 'N', ncols(2), 't', len(4), text
  return rows
    .map((r) => r.data)
    .filter((b) => b[0] === 0x49)
    .map((b) => b.toString('utf8', 13, 13 + b.readInt32BE(9)));
}
