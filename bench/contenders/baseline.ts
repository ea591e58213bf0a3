/**
 * The baseline: what a Node user writes by hand today.
 * Streams: pg-logical-replication's `LogicalReplicationService` with its
 * `PgoutputPlugin`, default settings (it acknowledges every message on
 * receipt), counting rows. Snapshot: `pg` reading the table in keyset pages.
 */
import pg from 'pg';
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { describeProtocol } from '../pgoutput-options.js';
import type { ContenderRun, NodeContender, RunReport } from './contender.js';

/** Rows per page of the hand-written snapshot reader: large enough to amortise round trips. */
const SNAPSHOT_PAGE_ROWS = 10_000;

export const baseline: NodeContender = (run) =>
  run.job.workload.kind === 'snapshot' ? snapshotByPages(run) : stream(run);

async function stream(run: ContenderRun): Promise<RunReport> {
  const { job, goal } = run;
  if (!job.slot) throw new Error('a stream run needs a slot');
  const plugin = new PgoutputPlugin({
    protoVersion: job.protocol.protoVersion === 1 ? 1 : 2,
    publicationNames: [job.workload.publication],
  });
  const service = new LogicalReplicationService({ connectionString: job.url });
  const timed = job.workload.kind === 'latency';
  let failure: Error | undefined;
  const failed = new Promise<void>((_, reject) =>
    service.on('error', (err: Error) => {
      failure ??= err;
      reject(err);
    }),
  );
  failed.catch(() => {});
  // Done once the transaction holding the last row has committed, like pg_recvlogical at --endpos.
  // Latency runs learn the row count late, possibly after that commit went by.
  let betweenTransactions = true;
  const finishedAtCommit = new Promise<void>((resolve) => {
    void goal.reached.then(() => betweenTransactions && resolve());
    service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
      switch (msg.tag) {
        case 'begin':
          betweenTransactions = false;
          break;
        case 'insert':
          if (timed) goal.arrived(Number(msg.new.id));
          goal.add(1);
          break;
        case 'update':
        case 'delete':
          goal.add(1);
          break;
        case 'commit':
          betweenTransactions = true;
          if (goal.done) resolve();
          break;
      }
    });
  });
  service.on('start', () => run.ready());
  const subscribed = service.subscribe(plugin, job.slot);
  subscribed.catch((err: Error) => {
    failure ??= err;
  });
  try {
    await Promise.race([finishedAtCommit, failed, subscribed.then(() => failed)]);
  } finally {
    await service.destroy().catch(() => {});
  }
  if (failure) throw failure;
  return { protocol: describeProtocol({ ...job.protocol, protoVersion: plugin.options.protoVersion }) };
}

/** SELECT … WHERE id > $last ORDER BY id LIMIT n, until a short page; rows parsed by `pg`'s type parsers. */
async function snapshotByPages(run: ContenderRun): Promise<RunReport> {
  const { job, goal } = run;
  const client = new pg.Client({ connectionString: job.url });
  await client.connect();
  try {
    run.ready();
    let last = '0';
    for (;;) {
      const page = await client.query<{ id: string }>(
        `SELECT * FROM ${job.workload.table} WHERE id > $1 ORDER BY id LIMIT ${SNAPSHOT_PAGE_ROWS}`,
        [last],
      );
      goal.add(page.rows.length);
      const tail = page.rows.at(-1);
      if (!tail || page.rows.length < SNAPSHOT_PAGE_ROWS) break;
      last = tail.id;
    }
  } finally {
    await client.end();
  }
  return { protocol: 'SELECT pages (text)' };
}
