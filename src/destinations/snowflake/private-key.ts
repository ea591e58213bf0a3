import { createPrivateKey } from 'node:crypto';
import { inspect } from 'node:util';
import { configError } from '../../errors.js';

/**
 * A private key held in memory only, as unencrypted PKCS#8 PEM (what the
 * driver's `privateKey` option takes). The text sits in a private field and
 * prints as `[PrivateKey redacted]` in logs, `JSON.stringify` and `inspect`.
 */
export class PrivateKeyMaterial {
  readonly #pem: string;

  constructor(pem: string) {
    this.#pem = pem;
  }

  /** The PEM text, for the driver's connection options only. */
  reveal(): string {
    return this.#pem;
  }

  toString(): string {
    return '[PrivateKey redacted]';
  }

  toJSON(): string {
    return '[PrivateKey redacted]';
  }

  [inspect.custom](): string {
    return '[PrivateKey redacted]';
  }
}

/**
 * Parses a PEM private key (PKCS#8, PKCS#1, or encrypted PKCS#8 with its
 * passphrase), decrypting in memory. Errors name the option, never the key.
 */
export function privateKeyFromPem(pem: unknown, passphrase: unknown): PrivateKeyMaterial {
  if (typeof pem !== 'string' || !pem.includes('PRIVATE KEY-----')) {
    throw configError(
      'privateKey',
      'must be the PEM text of a private key ("-----BEGIN PRIVATE KEY-----..."), not a path',
      'Read the key into memory yourself (e.g. from a secret manager or env var) and pass its text.',
    );
  }
  if (passphrase !== undefined && typeof passphrase !== 'string') {
    throw configError('privateKeyPassphrase', 'must be a string');
  }
  const encrypted = pem.includes('ENCRYPTED');
  if (encrypted && passphrase === undefined) {
    throw configError('privateKeyPassphrase', 'is required: the private key is encrypted');
  }
  try {
    const key = createPrivateKey({
      key: pem,
      format: 'pem',
      ...(passphrase === undefined ? {} : { passphrase }),
    });
    if (key.asymmetricKeyType !== 'rsa') {
      throw configError(
        'privateKey',
        `must be an RSA key (Snowflake key-pair auth), got ${key.asymmetricKeyType}`,
      );
    }
    return new PrivateKeyMaterial(key.export({ format: 'pem', type: 'pkcs8' }).toString());
  } catch (err) {
    if ((err as { code?: string }).code === 'CONFIG_INVALID') throw err;
    throw encrypted
      ? configError('privateKeyPassphrase', 'does not decrypt the private key')
      : configError('privateKey', 'could not be parsed as a PEM private key');
  }
}
