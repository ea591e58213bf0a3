/**
 * Runs the Snowflake emulator from the command line until Ctrl-C:
 *
 *   npx tsx src/testing/snowflake-emulator/cli.ts --port 0 --dir ./.sf
 *
 * Options: --port (0 = any free port), --host, --dir (stage directory; kept
 * after exit), --account, --user, --database, --schema. The password comes
 * from SNOWFLAKE_EMULATOR_PASSWORD, else the emulator's default test
 * password. Prints the options to pass to `snowflake.createConnection`; a
 * password is printed only when it is the default test password.
 */
import { parseArgs } from 'node:util';
import { startSnowflakeEmulator } from './emulator.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string' },
    dir: { type: 'string' },
    account: { type: 'string' },
    user: { type: 'string' },
    database: { type: 'string' },
    schema: { type: 'string' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number (0 for any free port), not ${values.port}`);
  process.exit(2);
}
const password = process.env.SNOWFLAKE_EMULATOR_PASSWORD;
const emu = await startSnowflakeEmulator({
  port,
  ...(values.host ? { host: values.host } : {}),
  ...(values.dir ? { stageDir: values.dir } : {}),
  ...(values.account ? { account: values.account } : {}),
  ...(values.user ? { user: values.user } : {}),
  ...(values.database ? { database: values.database } : {}),
  ...(values.schema ? { schema: values.schema } : {}),
  ...(password ? { password } : {}),
});
const shown = {
  ...emu.connectionOptions(),
  ...(password ? { password: '<SNOWFLAKE_EMULATOR_PASSWORD>' } : {}),
};
console.log(`Snowflake emulator listening on ${emu.accessUrl} (stages in ${emu.stageDir})`);
console.log('snowflake.createConnection options:');
console.log(JSON.stringify(shown, null, 2));
console.log(
  'Set SNOWFLAKE_DISABLE_PLATFORM_DETECTION=true and NO_PROXY=127.0.0.1 for the driver. Ctrl-C stops.',
);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void emu.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
