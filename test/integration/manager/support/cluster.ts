/**
 * Helpers of the multi-worker tests: worker processes whose events the test
 * reads, a continuous writer, a TCP proxy that can cut a worker off from
 * Redis, and who owns what according to Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { onTestFailed } from 'vitest';
import { parseLsn } from '../../../../src/lsn.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** One event a worker printed. */
export interface WorkerEvent {
  readonly t: number;
  readonly ev: string;
  readonly name?: string;
  readonly commitLsn?: string;
  readonly [field: string]: unknown;
}

/** A running worker process. */
export interface Worker {
  readonly id: string;
  readonly proc: ChildProcess;
  readonly events: WorkerEvent[];
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** Starts a worker process with the given settings (see worker.ts). */
export function startWorker(id: string, env: Record<string, string>): Worker {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, ...env, MGR_WORKER_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: WorkerEvent[] = [];
  let buffered = '';
  let stderr = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as WorkerEvent);
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { id, proc, events, exited, stderr: () => stderr };
}

/** Whether a worker confirmed a commit LSN at or past `lsn` for `name`. */
export function deliveredBy(workers: readonly Worker[], name: string, lsn: bigint): boolean {
  return workers.some((w) =>
    w.events.some((e) => e.ev === 'commit' && e.name === name && BigInt(e.commitLsn!) >= lsn),
  );
}

/** The owner of each pipeline's lease, read straight from Redis. */
export async function leaseOwners(
  redis: Redis,
  prefix: string,
  names: readonly string[],
): Promise<Map<string, string>> {
  const values = await redis.mget(...names.map((n) => `${prefix}lease:${n}`));
  const owners = new Map<string, string>();
  values.forEach((v, i) => {
    if (v) owners.set(names[i]!, v.slice(v.indexOf(':') + 1));
  });
  return owners;
}

/** How many pipelines each worker owns. */
export function spread(owners: Map<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const owner of owners.values()) counts[owner] = (counts[owner] ?? 0) + 1;
  return counts;
}

/**
 * Inserts one row into every table, one transaction per round, until
 * stopped; `stop()` returns the WAL position taken inside the last
 * transaction (see `commitChanges`): a pipeline that confirmed a commit LSN
 * at or past it has delivered every row.
 */
export function startWriter(url: string, tables: readonly string[], everyMs: number) {
  let running = true;
  let next = 1;
  let last = 0n;
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a failed test drops the database under it; the loop's query reports it
  const done = (async () => {
    await client.connect();
    while (running) {
      await client.query('BEGIN');
      for (const t of tables)
        await client.query(`INSERT INTO ${t} (id, payload) VALUES ($1, $2)`, [next, `${t} #${next}`]);
      const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      await client.query('COMMIT');
      last = parseLsn(rows[0]!.lsn);
      next++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await client.end();
  })();
  done.catch(() => {}); // a test that fails before stop() drops the database under the writer
  return {
    /** Rows inserted into each table so far. */
    get rows(): number {
      return next - 1;
    },
    /** Stops and returns a position below the last transaction's commit LSN and above every other's. */
    async stop(): Promise<bigint> {
      running = false;
      await done;
      return last;
    },
  };
}

/**
 * A TCP proxy in front of Redis. `pause()` stops forwarding bytes both ways
 * (they are held, as a partitioned network holds them; nothing is reset), and
 * connections opened meanwhile hang; `resume()` delivers what was held.
 */
export async function startProxy(target: { host: string; port: number }) {
  let paused = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (data) => {
        if (paused) held.push(() => to.write(data));
        else to.write(data);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** When the calling test fails, prints what each worker did (events but commits, and its stderr). */
export function explainFailure(workers: readonly Worker[]): void {
  onTestFailed(() => {
    for (const w of workers) {
      const lines = w.events.filter((e) => e.ev !== 'commit').map((e) => JSON.stringify(e));
      console.error(`--- worker ${w.id}\n${lines.join('\n')}\n--- stderr\n${w.stderr().slice(-4_000)}`);
    }
  });
}
