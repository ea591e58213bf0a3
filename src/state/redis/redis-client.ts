import { EtlError } from '../../errors.js';

/**
 * The part of an `ioredis` client the Redis state store uses. Pass your own
 * client (`redisState({ client })`) when the application already has one; any
 * object with these methods works.
 */
export interface RedisClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  wait(replicas: number, timeoutMs: number): Promise<number>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** Settings that make every command fail fast while Redis is unreachable, instead of queuing forever. */
export interface RedisConnectOptions {
  /** Time limit to establish the TCP connection, in milliseconds. */
  readonly connectTimeoutMs: number;
  /** Time limit for one command's reply, in milliseconds. */
  readonly commandTimeoutMs: number;
}

/**
 * Opens an `ioredis` client, loading the package only now (importing
 * etl-stream does not load it). Reconnects in the background forever; a
 * command issued while disconnected fails after one reconnect attempt or
 * `commandTimeoutMs`, whichever comes first.
 */
export async function connectRedis(url: string, options: RedisConnectOptions): Promise<RedisClient> {
  let Redis: new (url: string, options: Record<string, unknown>) => RedisClient & EventSource;
  try {
    ({ Redis } = (await import('ioredis')) as unknown as { Redis: typeof Redis });
  } catch (err) {
    throw new EtlError('STATE_STORE', 'Cannot load the `ioredis` package', {
      hint: 'Install it next to etl-stream: npm install ioredis',
      cause: err,
    });
  }
  const client = new Redis(url, {
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    // Reconnect quickly at first, then every second: a restarted Redis is picked up soon.
    retryStrategy: (times: number) => Math.min(times * 100, 1_000),
    lazyConnect: false,
  });
  // ioredis reports connection failures as 'error' events; commands report them too, so this only keeps them quiet.
  client.on('error', () => {});
  return client;
}

/** The event part of an ioredis client. */
interface EventSource {
  on(event: 'error', listener: (err: unknown) => void): unknown;
}

/** Wraps a Redis failure as a `STATE_STORE` error; connection problems are retryable with a hint. */
export function redisError(step: string, err: unknown): EtlError {
  if (err instanceof EtlError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.name : '';
  const code = (err as { code?: unknown } | null)?.code;
  const connection =
    name === 'MaxRetriesPerRequestError' ||
    /timed? ?out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|LOADING|READONLY|TRYAGAIN|CLUSTERDOWN/i.test(
      `${message} ${String(code ?? '')}`,
    );
  return new EtlError('STATE_STORE', `Redis state store failed to ${step}: ${message}`, {
    retryable: connection,
    hint: connection
      ? 'Check that Redis is running and reachable at the configured url; the pipeline retries meanwhile.'
      : 'Check the Redis permissions (ACL) and that the keys under keyPrefix hold etl-stream values.',
    cause: err,
  });
}
