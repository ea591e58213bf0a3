import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** The harness's Redis URL. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix unique to the calling test file, so files never share keys. */
export function uniqueKeyPrefix(label = 'test'): string {
  return `etl-test:${label}:${randomBytes(4).toString('hex')}:`;
}
