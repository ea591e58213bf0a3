/**
 * A destination written from scratch: it keeps every table as a JSON file
 * (`<dir>/<schema.table>.json`, current row per key) and follows the
 * contract that makes a pipeline effectively-once (docs/custom-destination.md):
 *
 * - write() resolves only when the batch is durable: the new state is
 *   written to a temp file, fsynced, and renamed over the old one;
 * - the watermark (commit LSN of the last batch) is in the same file, so data
 *   and watermark change together or not at all;
 * - committedLsn() returns it, so replays after a crash are skipped.
 *
 * Run: npx tsx examples/custom-destination.ts
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChangeBatch,
  ChangeOp,
  type Destination,
  type DestinationContext,
  qualifiedName,
} from 'etl-stream';
import { sampleBatch } from './support/sample-orders.js';

interface Snapshot {
  watermark: string | null; // commit LSN as decimal text
  tables: Record<string, Record<string, Record<string, unknown>>>; // table → key → row
}

class JsonFileDestination implements Destination {
  readonly name = 'json-files';
  private state: Snapshot = { watermark: null, tables: {} };
  constructor(private readonly file: string) {}

  async open(_ctx: DestinationContext): Promise<void> {
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    if (text) this.state = JSON.parse(text) as Snapshot;
  }

  async committedLsn(): Promise<bigint | undefined> {
    return this.state.watermark === null ? undefined : BigInt(this.state.watermark);
  }

  async write(batch: ChangeBatch): Promise<void> {
    const next: Snapshot = structuredClone(this.state);
    for (const entry of batch.entries) {
      if (entry.kind === 'truncate') for (const t of entry.tables) next.tables[qualifiedName(t)] = {};
      if (entry.kind !== 'rows') continue;
      const name = qualifiedName(entry.table);
      const table = (next.tables[name] ??= {});
      // Rows come in `_etl_seq` order: applying them one by one makes the last change per key win.
      for (const { _etl_op, _etl_lsn, _etl_seq, _etl_unchanged, ...row } of batch.rows(name)) {
        const key = JSON.stringify(entry.table.primaryKey.map((k) => String(row[k])));
        if (_etl_op === ChangeOp.Delete) delete table[key];
        else {
          // Unchanged TOAST columns keep the value the destination has.
          for (const col of (_etl_unchanged as string[] | null) ?? []) row[col] = table[key]?.[col] ?? null;
          table[key] = row;
        }
      }
    }
    next.watermark = batch.commitLsn.toString();
    await this.persist(next); // durable before resolving
    this.state = next;
  }

  async close(): Promise<void> {}

  private async persist(snapshot: Snapshot): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const handle = await open(tmp, 'w');
    await handle.writeFile(
      JSON.stringify(snapshot, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2),
    );
    await handle.sync();
    await handle.close();
    await rename(tmp, this.file); // atomic: readers see the old or the new file, never half of one
  }
}

const dir = join(tmpdir(), 'etl-stream-example');
await mkdir(dir, { recursive: true });
const dest = new JsonFileDestination(join(dir, 'state.json'));
await dest.open({ pipeline: 'example', signal: new AbortController().signal, emit: () => {} });

// What the pipeline runtime does with every batch: skip what is applied, write the rest.
for (const batch of [sampleBatch(), sampleBatch()]) {
  const applied = await dest.committedLsn();
  const todo = applied === undefined ? batch : batch.after(applied);
  if (todo.entries.length > 0) await dest.write(todo);
  console.log(`batch up to ${batch.commitLsn}: ${todo.numRows} rows applied`);
}
console.log(await readFile(join(dir, 'state.json'), 'utf8'));
