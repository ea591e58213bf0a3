// Compiled by the packaging smoke test against the installed tarball: the published types must resolve.
import {
  type ChangeBatch,
  type Destination,
  dropColumns,
  EtlError,
  formatLsn,
  memory,
  memoryState,
  Pipeline,
  parseLsn,
  postgres,
} from 'etl-stream';

const lsn: bigint = parseLsn('16/B374D848');
const text: string = formatLsn(lsn);
const dest: Destination = {
  name: 'noop',
  async write(batch: ChangeBatch) {
    void batch.numRows;
  },
  async close() {},
};
const err = new EtlError('CONFIG_INVALID', 'x', { hint: 'y' });

export { dest, err, text };

// The builder and factories type-check from the published .d.ts (not run: no server here).
export function build(connectionString: string): Pipeline {
  return new Pipeline({ name: 'orders' })
    .from(postgres({ connectionString, tables: ['public.orders'] }))
    .transform(dropColumns({ 'public.orders': ['card_number'] }))
    .to(memory())
    .state(memoryState())
    .batch({ maxRows: 10_000, maxDelayMs: 500 });
}
