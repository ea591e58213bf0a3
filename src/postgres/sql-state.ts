import pg from 'pg';

/**
 * The SQLSTATE of an error the PostgreSQL server sent, or undefined for any
 * other error. Socket errors carry a `code` too (`EPIPE` is five characters,
 * like a SQLSTATE), so a `code` alone must never be read as one.
 */
export function sqlStateOf(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' ? err.code : undefined;
}
