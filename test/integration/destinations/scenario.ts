/**
 * One sequence of batches every destination test applies, step by step:
 * inserts, updates, deletes, a key deleted and re-inserted in one batch,
 * unchanged TOAST values within and across batches, truncates between
 * inserts, a column added, a large transaction in chunks. Each test file
 * writes its own expected tables by hand.
 */
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { batch, change, DOCS, DOCS_V2, EVENTS, rows, schemaChange, truncate } from './change-builder.js';

const { ins, upd, del } = change;

export const SCENARIO = {
  /** Three docs and one event. */
  b1: batch(0x100n, 0x110n, [
    rows(DOCS, [
      ins(0x110n, { id: 1n, title: 't1', body: 'b1' }),
      ins(0x110n, { id: 2n, title: 't2', body: 'b2' }),
      ins(0x110n, { id: 3n, title: 't3', body: 'b3' }),
    ]),
    rows(EVENTS, [ins(0x110n, { msg: 'e1' })], 3),
  ]),
  /**
   * 1: title updated, body unchanged (kept from the destination).
   * 2: deleted. 3: deleted and re-inserted. 4: inserted, deleted, re-inserted,
   * then updated with body unchanged (kept from the re-insert in this batch).
   */
  b2: batch(0x200n, 0x210n, [
    rows(DOCS, [
      upd(0x200n, { id: 1n, title: 'T1' }, ['body']),
      del(0x200n, { id: 2n }),
      del(0x200n, { id: 3n }),
      ins(0x200n, { id: 3n, title: 't3b', body: 'b3b' }),
      ins(0x210n, { id: 4n, title: 'x', body: 'bx' }),
      del(0x210n, { id: 4n }),
      ins(0x210n, { id: 4n, title: 'y', body: 'b4' }),
      upd(0x210n, { id: 4n, title: 'y2' }, ['body']),
    ]),
  ]),
  /** 1: body changed, then title changed with body unchanged. Events: e2 (seq 2), TRUNCATE (seq 3), e3 (seq 4). */
  b3: batch(0x300n, 0x310n, [
    rows(DOCS, [
      upd(0x300n, { id: 1n, title: 'T1', body: 'B1new' }),
      upd(0x310n, { id: 1n, title: 'T1x' }, ['body']),
    ]),
    rows(EVENTS, [ins(0x300n, { msg: 'e2' }), ins(0x310n, { msg: 'e3' })], [2, 4]),
    truncate([EVENTS], 0x300n, 3),
  ]),
  /** Docs: insert 6 (seq 0), TRUNCATE (seq 1), insert 7 (seq 2), update 7 with body unchanged (seq 3). */
  b4: batch(0x400n, 0x410n, [
    rows(
      DOCS,
      [
        ins(0x400n, { id: 6n, title: 't6', body: 'b6' }),
        ins(0x410n, { id: 7n, title: 't7', body: 'b7' }),
        upd(0x410n, { id: 7n, title: 't7b' }, ['body']),
      ],
      [0, 2, 3],
    ),
    truncate([DOCS], 0x400n, 1),
  ]),
  /** `ALTER TABLE docs ADD COLUMN rating`, then 8 inserted with a rating and 7 rated (body unchanged). */
  b5: batch(0x500n, 0x510n, [
    schemaChange(DOCS_V2, DOCS, 0x500n, 0),
    rows(
      DOCS_V2,
      [
        ins(0x500n, { id: 8n, title: 't8', body: 'b8', rating: 5 }),
        upd(0x510n, { id: 7n, title: 't7b', rating: 3 }, ['body']),
      ],
      1,
    ),
  ]),
  /** A large transaction in two chunks: 9 inserted in the first, updated (body unchanged) in the second. */
  b6a: batch(
    0x600n,
    0x510n,
    [rows(DOCS_V2, [ins(0x610n, { id: 9n, title: 't9', body: 'b9', rating: 1 })])],
    true,
  ),
  b6b: batch(0x600n, 0x610n, [rows(DOCS_V2, [upd(0x610n, { id: 9n, title: 't9b', rating: 2 }, ['body'])])]),
} satisfies Record<string, ChangeBatch>;
