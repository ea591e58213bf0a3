/**
 * One manager worker in its own process, so tests can run several, SIGKILL
 * one, or cut one off from Redis. Settings come from the environment; every
 * manager event is printed as one JSON line on stdout (`{ t, ev, name, ... }`,
 * `t` in epoch milliseconds). SIGTERM stops the manager (handing its
 * pipelines over) and exits 0.
 */
import { PipelineManager } from '../../../../src/manager/pipeline-manager.js';
import { postgresState } from '../../../../src/state/postgres-state-store.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const leaseTtlMs = Number(process.env.MGR_LEASE_TTL_MS ?? '3000');
const manager = new PipelineManager({
  connectionString: env('MGR_CONFIG_URL'),
  redisUrl: env('MGR_REDIS_URL'),
  keyPrefix: env('MGR_PREFIX'),
  workerId: env('MGR_WORKER_ID'),
  credentials: ({ ref }) => {
    if (ref !== 'src') throw new Error(`no credentials named ${ref}`);
    return { connectionString: env('MGR_SOURCE_URL') };
  },
  // The partition test keeps state in Postgres, so that only the lease stands between a cut-off worker and a confirm.
  ...(process.env.MGR_STATE === 'postgres'
    ? { state: postgresState({ connectionString: env('MGR_CONFIG_URL') }) }
    : {}),
  leaseTtlMs,
  renewIntervalMs: Math.floor(leaseTtlMs / 3),
  balanceIntervalMs: 500,
  pollIntervalMs: 2_000,
  statusIntervalMs: 1_000,
  restartBackoff: { initialDelayMs: 200, maxDelayMs: 1_000 },
  pipeline: { stopTimeoutMs: 5_000, retry: { initialDelayMs: 100, maxDelayMs: 500 } },
});

const print = (ev: string, fields: Record<string, unknown>) =>
  process.stdout.write(
    `${JSON.stringify({ t: Date.now(), ev, ...fields }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
  );

manager.on('lease:acquired', ({ name, token }) => print('acquired', { name, token }));
manager.on('lease:released', ({ name, token, reason }) => print('released', { name, token, reason }));
manager.on('lease:lost', ({ name, token, error }) => print('lost', { name, token, error: error.toString() }));
manager.on('pipeline:state', ({ name, state }) => print('state', { name, state }));
manager.on('pipeline:commit', ({ name, checkpoint }) =>
  print('commit', { name, lsn: checkpoint.lsn, commitLsn: checkpoint.commitLsn }),
);
manager.on('pipeline:error', ({ name, error, fatal }) =>
  process.stderr.write(`${name} ${fatal ? 'fatal' : 'retrying'}: ${error.toString()}\n`),
);

process.once('SIGTERM', () => {
  void manager.stop().then(
    () => {
      print('stopped', {});
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});

await manager.start();
print('ready', {});
