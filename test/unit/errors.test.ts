import { describe, expect, it } from 'vitest';
import { configError, EtlError, isRetryable, redactSecrets, toEtlError } from '../../src/errors.js';

describe('errors', () => {
  it('carries code, retryable, hint and cause without pasting the cause into the message', () => {
    const cause = new Error('socket hang up');
    const err = new EtlError('CONNECTION', 'Lost the replication connection', {
      retryable: true,
      hint: 'Check the network.',
      cause,
    });
    expect(err.code).toBe('CONNECTION');
    expect(err.retryable).toBe(true);
    expect(err.hint).toBe('Check the network.');
    expect(err.cause).toBe(cause);
    expect(err.message).toBe('Lost the replication connection');
    expect(String(err)).toBe(
      'EtlError [CONNECTION]: Lost the replication connection (hint: Check the network.)',
    );
  });

  it('names the option to change', () => {
    const err = configError('batch.maxRows', 'must be a positive integer, got -1');
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe('Invalid option `batch.maxRows`: must be a positive integer, got -1');
    expect(err.details).toEqual({ field: 'batch.maxRows' });
  });

  it('treats network failures as retryable and others as not', () => {
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isRetryable(new Error('x'))).toBe(false);
    expect(
      toEtlError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'CONNECTION').retryable,
    ).toBe(true);
  });

  it('redacts passwords, private keys and tokens', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    expect(redactSecrets(`key ${pem} end`)).toBe('key *** end');
    expect(redactSecrets('postgres://etl:s3cr3t@db:5432/app')).toBe('postgres://etl:***@db:5432/app');
    expect(redactSecrets('redis://:hunter2@cache:6379')).toBe('redis://:***@cache:6379');
    expect(redactSecrets('{"password":"p4ss","user":"u"}')).toBe('{"password":"***","user":"u"}');
    expect(redactSecrets('passphrase=abc token: xyz')).toBe('passphrase=*** token: ***');
    const err = new EtlError('CONNECTION', 'connect postgres://u:pw@h/db failed');
    expect(err.message).not.toContain('pw@');
  });
});
