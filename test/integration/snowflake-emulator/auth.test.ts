/**
 * Logins through the real driver: password, key pair (SNOWFLAKE_JWT, the
 * driver signs an RS256 JWT with an encrypted private key held in memory),
 * and Snowflake's error codes for wrong passwords, unknown users, other
 * accounts and keys that do not match the registered public key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { connect, loginError } from './driver.js';

const passphrase = randomBytes(12).toString('hex');
const pair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
const registered = pair();
const stranger = pair();

let emu: SnowflakeEmulator;
beforeAll(async () => {
  emu = await startSnowflakeEmulator({ account: 'acme-test' });
  emu.addUser({ name: 'loader', publicKey: registered.publicKey });
});
afterAll(() => emu?.close());

const keyPair = (privateKey: string, username = 'loader') => ({
  username,
  authenticator: 'SNOWFLAKE_JWT',
  privateKey,
  privateKeyPass: passphrase,
  password: undefined,
});

describe('login', () => {
  it('accepts the right password and runs as that user', async () => {
    const c = await connect(emu);
    expect(
      await c.exec('SELECT CURRENT_USER() AS U, CURRENT_ACCOUNT() AS A, CURRENT_DATABASE() AS D'),
    ).toEqual([{ U: 'ETL', A: 'ACME-TEST', D: 'DB' }]);
    await c.close();
  });

  it('rejects a wrong password, an unknown user and another account with 390100', async () => {
    for (const overrides of [{ password: 'wrong' }, { username: 'nobody' }, { account: 'other' }]) {
      const err = await loginError(emu, overrides);
      expect(err, JSON.stringify(overrides)).toMatchObject({ code: '390100' });
      expect(err.message).toMatch(/Incorrect username or password was specified/);
    }
  });

  it('accepts a key-pair login whose JWT is signed by the registered key', async () => {
    const c = await connect(emu, keyPair(registered.privateKey));
    expect(await c.exec('SELECT CURRENT_USER() AS U')).toEqual([{ U: 'LOADER' }]);
    await c.close();
  });

  it('rejects a JWT signed by another key, or for a user without that key, with 390144', async () => {
    expect(await loginError(emu, keyPair(stranger.privateKey))).toMatchObject({ code: '390144' });
    expect(await loginError(emu, keyPair(registered.privateKey, 'ETL'))).toMatchObject({ code: '390144' });
  });

  it('refuses statements on a session that was logged out', async () => {
    const c = await connect(emu);
    await c.close();
    const err = await c.exec('SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });
});
