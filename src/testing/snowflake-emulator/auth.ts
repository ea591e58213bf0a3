/**
 * Users and login checks: a password, or key-pair authentication
 * (`SNOWFLAKE_JWT`) where the JWT's RS256 signature is verified against the
 * public key registered for the user and its `iss`/`sub` claims must name
 * `ACCOUNT.USER[.SHA256:<fingerprint of that key>]`. Secrets stay in memory.
 */
import { createHash, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { SnowflakeSqlError } from './errors.js';

/** A user the emulator accepts. */
export interface EmulatorUser {
  /** Login name (case-insensitive, as in Snowflake). */
  readonly name: string;
  /** Password, for password logins. */
  readonly password?: string;
  /** PEM public key (SPKI), for key-pair logins. */
  readonly publicKey?: string;
}

interface StoredUser {
  readonly name: string;
  readonly password?: string;
  readonly key?: KeyObject;
  readonly fingerprint?: string;
}

/** 390100: what Snowflake answers to a wrong user name or password. */
export function badCredentials(): SnowflakeSqlError {
  return new SnowflakeSqlError('390100', '08004', 'Incorrect username or password was specified.');
}

/** 390144: what Snowflake answers to a JWT it cannot accept. */
export function badJwt(): SnowflakeSqlError {
  return new SnowflakeSqlError('390144', '08001', 'JWT token is invalid.');
}

/** The registered users. */
export class UserDirectory {
  private readonly users = new Map<string, StoredUser>();

  /** Adds or replaces a user. */
  add(user: EmulatorUser): void {
    if (!user.name) throw new Error('addUser: `name` is required');
    if (user.password === undefined && user.publicKey === undefined)
      throw new Error(`addUser(${user.name}): give a \`password\`, a \`publicKey\`, or both`);
    let key: KeyObject | undefined;
    let fingerprint: string | undefined;
    if (user.publicKey !== undefined) {
      try {
        key = createPublicKey(user.publicKey);
      } catch (err) {
        throw new Error(`addUser(${user.name}): \`publicKey\` is not a PEM public key`, { cause: err });
      }
      const der = key.export({ type: 'spki', format: 'der' });
      fingerprint = `SHA256:${createHash('sha256').update(der).digest('base64')}`;
    }
    this.users.set(user.name.toUpperCase(), {
      name: user.name.toUpperCase(),
      ...(user.password === undefined ? {} : { password: user.password }),
      ...(key ? { key, fingerprint: fingerprint! } : {}),
    });
  }

  /** Checks a password login; returns the user's name or throws 390100. */
  checkPassword(login: string, password: string): string {
    const u = this.users.get(login.toUpperCase());
    if (!u?.password || !sameText(u.password, password)) throw badCredentials();
    return u.name;
  }

  /** Checks a key-pair login's JWT; returns the user's name or throws 390144. */
  checkJwt(account: string, login: string, token: string): string {
    const u = this.users.get(login.toUpperCase());
    if (!u?.key) throw badJwt();
    const [h, p, s] = token.split('.');
    if (!h || !p || !s) throw badJwt();
    let header: { alg?: string };
    let claims: { iss?: string; sub?: string; exp?: number };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      throw badJwt();
    }
    if (header.alg !== 'RS256') throw badJwt();
    const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), u.key, Buffer.from(s, 'base64url'));
    if (!ok) throw badJwt();
    const subject = `${account.toUpperCase()}.${u.name}`;
    if (claims.sub !== subject) throw badJwt();
    if (claims.iss !== subject && claims.iss !== `${subject}.${u.fingerprint}`) throw badJwt();
    if (typeof claims.exp === 'number') {
      // snowflake-sdk writes exp in milliseconds, other clients in seconds.
      const expMs = claims.exp > 1e12 ? claims.exp : claims.exp * 1000;
      if (expMs < Date.now()) throw badJwt();
    }
    return u.name;
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
