/**
 * One worker of the manager example: a PipelineManager process. Run several
 * against the same configuration database and Redis; they share the
 * pipelines, and one that stops hands its pipelines over.
 *
 * Env: CONFIG_DATABASE_URL, REDIS_URL, SHOP_DATABASE_URL (the source the `shop` credentials name),
 * WORKER_ID. Stop with SIGTERM or Ctrl-C.
 */
import { PipelineManager } from 'etl-stream';

const manager = new PipelineManager({
  connectionString: process.env.CONFIG_DATABASE_URL!,
  redisUrl: process.env.REDIS_URL!,
  workerId: process.env.WORKER_ID,
  // Definitions only name credentials; the secrets come from this process's environment.
  credentials: ({ ref, use }) => {
    if (use === 'source' && ref === 'shop') return { connectionString: process.env.SHOP_DATABASE_URL };
    throw new Error(`unknown credentials "${ref}"`);
  },
  leaseTtlMs: 6_000,
  limits: { maxSourceConnections: 12, maxConcurrentSnapshots: 2 },
});

const log = (text: string) => console.log(`[${manager.workerId}] ${text}`);
manager.on('lease:acquired', ({ name }) => log(`took ${name}`));
manager.on('lease:released', ({ name, reason }) => log(`handed ${name} over (${reason})`));
manager.on('lease:lost', ({ name }) => log(`lost the lease of ${name}`));
manager.on('pipeline:state', ({ name, state }) => log(`${name} is ${state}`));
manager.on('definition:invalid', ({ name, error }) => log(`${name} is invalid: ${error.message}`));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void manager.stop().then(() => process.exit(0)));
}
await manager.start();
log('running');
