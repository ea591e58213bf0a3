import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { streamError } from '../../../src/postgres/replication-stream.js';

/** An error as the server sends it (pg parses it into a DatabaseError with the SQLSTATE in `code`). */
function serverError(code: string, message: string): pg.DatabaseError {
  const err = new pg.DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

/** A socket error as Node raises it: `code` is a name, and `EPIPE` has five characters like a SQLSTATE. */
function socketError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -32, syscall });
}

describe('streamError', () => {
  it('retries socket errors, whatever the length of their code', () => {
    for (const code of ['EPIPE', 'ECONNRESET', 'ETIMEDOUT']) {
      const e = streamError(socketError(code, 'write'));
      expect([e.code, e.retryable], code).toEqual(['CONNECTION', true]);
    }
  });

  it('retries a terminated walsender and an active slot, fails on a refusal or a lost slot', () => {
    const cases: [string, string, string, boolean][] = [
      ['57P01', 'terminating connection due to administrator command', 'CONNECTION', true],
      ['08006', 'connection failure', 'CONNECTION', true],
      ['55006', 'replication slot "s" is active for PID 42', 'PG_SLOT_ACTIVE', true],
      ['42704', 'replication slot "s" does not exist', 'PG_SLOT_INVALID', false],
      ['55000', 'cannot read from logical replication slot "s"', 'PG_SLOT_INVALID', false],
      ['42501', 'permission denied', 'PG_PROTOCOL', false],
    ];
    for (const [state, message, code, retryable] of cases) {
      const e = streamError(serverError(state, message));
      expect([e.code, e.retryable], state).toEqual([code, retryable]);
    }
  });
});
