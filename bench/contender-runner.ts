/**
 * The harness side of a Node contender run: starts a fresh child process
 * (see contender-process.ts), hands it the job, and collects its result.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childCommand } from './child-build.js';
import {
  type ContenderJob,
  type ContenderMessage,
  type ContenderResult,
  type HarnessMessage,
  HUGEPAGES_TUNABLE,
} from './contenders/contender.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Extra time the harness allows beyond the job's own timeout before killing the child. */
const KILL_GRACE_MS = 10_000;
const MAX_STDERR_CHARS = 4000;

export interface RunHooks {
  /** Write a V8 CPU profile of the contender's timed section to `<dir>/<workload>-<contender>.cpuprofile`. */
  readonly cpuProfileDir?: string;
  /**
   * Called once the contender is streaming. Latency runs start the fixed-rate
   * writer here and return how many rows it wrote; the contender then stops
   * after receiving that many.
   */
  readonly onReady?: () => Promise<number>;
}

export function runNodeContender(job: ContenderJob, hooks: RunHooks = {}): Promise<ContenderResult> {
  return new Promise((resolve) => {
    const { script, execArgv } = childCommand('contender-process');
    const child = fork(script, [], {
      cwd: REPO_ROOT,
      execArgv,
      env: job.contender === 'etl-hugepages' ? withTunable(process.env, HUGEPAGES_TUNABLE) : process.env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += d;
    });
    let settled = false;
    const settle = (result: ContenderResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(killer);
      resolve(result);
    };
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      settle({ status: 'failed', reason: `contender process did not finish within ${job.timeoutMs} ms` });
    }, job.timeoutMs + KILL_GRACE_MS);
    const tell = (msg: HarnessMessage) => {
      if (child.connected) child.send(msg);
    };
    child.on('message', (msg: ContenderMessage) => {
      if (msg.type === 'result') settle(msg.result);
      else if (msg.type === 'ready' && hooks.onReady) {
        hooks.onReady().then(
          (rows) => tell({ type: 'expect', rows }),
          (err: Error) => {
            child.kill('SIGKILL');
            settle({ status: 'failed', reason: `writer failed: ${err.message}` });
          },
        );
      }
    });
    child.once('error', (err) =>
      settle({ status: 'failed', reason: `cannot start contender: ${err.message}` }),
    );
    child.once('exit', (code, signal) =>
      settle({
        status: 'failed',
        reason: `contender process exited (${code ?? signal}) without a result: ${stderr.trim()}`,
      }),
    );
    const profile = hooks.cpuProfileDir
      ? join(hooks.cpuProfileDir, `${job.workload.name}-${job.contender}.cpuprofile`)
      : undefined;
    tell({ type: 'job', job: profile ? { ...job, cpuProfilePath: profile } : job });
  });
}

/** `env` with a `GLIBC_TUNABLES=...` setting added to the tunables already there. */
function withTunable(env: NodeJS.ProcessEnv, setting: string): NodeJS.ProcessEnv {
  const value = setting.slice('GLIBC_TUNABLES='.length);
  const current = env.GLIBC_TUNABLES;
  return { ...env, GLIBC_TUNABLES: current ? `${current}:${value}` : value };
}
