import { describe, expect, it } from 'vitest';
import { decodePipelineState, encodePipelineState } from '../../../src/state/pipeline-state-codec.js';
import type { PipelineState } from '../../../src/state/state-store.js';

const STATE: PipelineState = {
  checkpoint: {
    lsn: 0xffff_ffff_ffff_ffffn,
    commitLsn: 0x16b374d848n,
    snapshot: {
      consistentPoint: 5n,
      tables: { 'public.a': { status: 'done', rows: 3, lastKey: ['x', null] } },
    },
  },
  destinations: { d: 0n },
  updatedAt: '2025-01-01T00:00:00.000Z',
};

describe('pipeline state codec', () => {
  it('round-trips exactly, with LSNs as Postgres text', () => {
    const text = encodePipelineState(STATE);
    expect(JSON.parse(text)).toEqual({
      v: 1,
      checkpoint: {
        lsn: 'FFFFFFFF/FFFFFFFF',
        commitLsn: '16/B374D848',
        snapshot: {
          consistentPoint: '0/5',
          tables: { 'public.a': { status: 'done', rows: 3, lastKey: ['x', null] } },
        },
      },
      destinations: { d: '0/0' },
      updatedAt: '2025-01-01T00:00:00.000Z',
    });
    expect(decodePipelineState(text)).toEqual(STATE);
  });

  it('round-trips backfill progress and the streamed tables', () => {
    const state: PipelineState = {
      checkpoint: {
        lsn: 10n,
        commitLsn: 9n,
        backfill: { tables: { 'public.b': { status: 'copying', rows: 7, lastKey: ['7'] } } },
        tables: ['public.a', 'public.b'],
      },
      destinations: {},
      updatedAt: '2025-01-01T00:00:00.000Z',
    };
    const text = encodePipelineState(state);
    expect(JSON.parse(text).checkpoint).toEqual({
      lsn: '0/A',
      commitLsn: '0/9',
      backfill: { tables: { 'public.b': { status: 'copying', rows: 7, lastKey: ['7'] } } },
      tables: ['public.a', 'public.b'],
    });
    expect(decodePipelineState(text)).toEqual(state);
  });

  it.each([
    ['not json', 'not JSON'],
    ['[]', 'not a JSON object'],
    ['{"v":2}', 'unknown version 2'],
    ['{"v":1}', '`checkpoint` is missing'],
    ['{"v":1,"checkpoint":{"lsn":"1/2","commitLsn":12}}', '`checkpoint.commitLsn` is not an LSN'],
    ['{"v":1,"checkpoint":{"lsn":"1/2","commitLsn":"1/1"},"destinations":{"d":"x"}}', '`destinations.d`'],
    ['{"v":1,"checkpoint":{"lsn":"1/2","commitLsn":"1/1"},"destinations":{}}', '`updatedAt` is missing'],
    [
      '{"v":1,"checkpoint":{"lsn":"1/2","commitLsn":"1/1","snapshot":{"consistentPoint":"0/1","tables":{"t":{"status":"odd","rows":1}}}},"destinations":{},"updatedAt":"x"}',
      'tables.t.status',
    ],
    [
      '{"v":1,"checkpoint":{"lsn":"1/2","commitLsn":"1/1","backfill":{"tables":{"t":{"status":"done","rows":-1}}}},"destinations":{},"updatedAt":"x"}',
      'checkpoint.backfill.tables.t.rows',
    ],
    [
      '{"v":1,"checkpoint":{"lsn":"1/2","commitLsn":"1/1","tables":[1]},"destinations":{},"updatedAt":"x"}',
      '`checkpoint.tables` is not a list',
    ],
  ])('rejects %s with a STATE_STORE error naming the problem', (text, problem) => {
    let thrown: unknown;
    try {
      decodePipelineState(text, 'orders');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'STATE_STORE', retryable: false });
    expect((thrown as Error).message).toContain('pipeline "orders"');
    expect((thrown as Error).message).toContain(problem);
  });
});
