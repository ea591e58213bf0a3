/**
 * Options of the Snowflake destination: validated up front, secrets never
 * shown, the driver not loaded until used. (The destination's flow runs
 * against the emulator in test/integration/snowflake-destination.)
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { snowflake } from '../../../src/destinations/snowflake/snowflake-destination.js';

const { privateKey: pkcs8 } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const { privateKey: encrypted } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 's3cret' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

const base = { account: 'emu', username: 'etl', database: 'memory', schema: 'main' };

describe('snowflake() options', () => {
  it('validates up front and names the field', () => {
    expect(() => snowflake({ ...base, account: '' } as never)).toThrow(/`account`/);
    expect(() => snowflake({ ...base })).toThrow(/`privateKey`.*no credentials/);
    expect(() => snowflake({ ...base, privateKey: pkcs8, password: 'x' })).toThrow(/`password`/);
    expect(() => snowflake({ ...base, privateKey: '/home/me/key.p8' })).toThrow(/`privateKey`.*PEM/);
    expect(() => snowflake({ ...base, privateKey: encrypted })).toThrow(/`privateKeyPassphrase`.*encrypted/);
    expect(() => snowflake({ ...base, privateKey: encrypted, privateKeyPassphrase: 'wrong' })).toThrow(
      /`privateKeyPassphrase`/,
    );
    expect(() => snowflake({ ...base, password: 'p', deletes: 'sometimes' as never })).toThrow(/`deletes`/);
    expect(() => snowflake({ ...base, password: 'p', maxConnections: 0 })).toThrow(/`maxConnections`/);
    expect(() => snowflake({ ...base, password: 'p', naming: { case: 'title' as never } })).toThrow(
      /naming.case/,
    );
  });

  it('decrypts an encrypted key in memory and never shows key material', () => {
    const dest = snowflake({ ...base, privateKey: encrypted, privateKeyPassphrase: 's3cret' });
    const shown = JSON.stringify(dest) + require('node:util').inspect(dest, { depth: 10 });
    expect(shown).not.toContain('PRIVATE KEY');
    expect(shown).not.toContain('s3cret');
    try {
      snowflake({ ...base, privateKey: encrypted, privateKeyPassphrase: 'wrong' });
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('wrong');
      expect(String((err as Error).message)).not.toContain('BEGIN');
    }
  });

  it('does not load snowflake-sdk when created', () => {
    snowflake({ ...base, password: 'p' });
    expect(Object.keys(require.cache ?? {}).some((k) => k.includes('snowflake-sdk'))).toBe(false);
  });
});
