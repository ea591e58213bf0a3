/**
 * The harness leaves nothing behind: no postgres or redis-server process and
 * no temp directory, after a clean stop and after a process that dies.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startPrivatePostgres, startPrivateRedis } from '../../support/services.js';

const execFileAsync = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `dir` (postgres backends carry the data dir in their parent's args). */
async function processesUsing(dir: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((l) => l.includes(dir));
}

async function waitGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

describe('harness teardown', () => {
  it('stop() ends postgres and redis-server and removes their directories', async () => {
    const pg = await startPrivatePostgres();
    const redis = await startPrivateRedis();
    expect(alive(pg.pid)).toBe(true);
    expect(alive(redis.pid)).toBe(true);
    expect(existsSync(pg.dir)).toBe(true);
    await Promise.all([pg.stop(), redis.stop()]);
    expect(alive(pg.pid)).toBe(false);
    expect(alive(redis.pid)).toBe(false);
    expect(existsSync(pg.dir)).toBe(false);
    expect(existsSync(redis.dir)).toBe(false);
    expect(await processesUsing(pg.dir)).toEqual([]);
  });

  it('a process that crashes after starting services leaves nothing behind', async () => {
    const script = join(import.meta.dirname, '../../fixtures/crash-after-start.ts');
    const result = await execFileAsync(process.execPath, ['--import', 'tsx', script]).then(
      (r) => ({ ...r, code: 0 }),
      (e: { stdout: string; stderr: string; code: number }) => e,
    );
    expect(result.code).not.toBe(0);
    const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, result.stderr).toBeDefined();
    const started = JSON.parse(line!) as { pgPid: number; pgDir: string; redisPid: number; redisDir: string };
    expect(await waitGone(started.pgPid)).toBe(true);
    expect(await waitGone(started.redisPid)).toBe(true);
    expect(existsSync(started.pgDir)).toBe(false);
    expect(existsSync(started.redisDir)).toBe(false);
    // Postgres backends notice their postmaster died and exit on their own.
    const deadline = Date.now() + 10_000;
    while ((await processesUsing(started.pgDir)).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await processesUsing(started.pgDir)).toEqual([]);
  });
});
