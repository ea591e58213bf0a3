/**
 * Snowflake-style errors: a `code`, a `sqlState` and a message, sent to the
 * driver as `{ success: false, code, message, data: { errorCode, sqlState } }`
 * so it raises an `OperationFailedError` like the real service does.
 */
import { decodeNames } from './names.js';

/** An error the emulator reports the way Snowflake would. */
export class SnowflakeSqlError extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
    this.name = 'SnowflakeSqlError';
  }
}

/** 001003: SQL the emulator (or Snowflake) cannot compile. */
export function syntaxError(detail: string): SnowflakeSqlError {
  return new SnowflakeSqlError('001003', '42000', `SQL compilation error:\n${detail}`);
}

/** 001003 for statements Snowflake has but the emulator does not run. */
export function unsupported(what: string): SnowflakeSqlError {
  return syntaxError(`${what} is not supported by the etl-stream Snowflake emulator.`);
}

/** 002003: a named object that does not exist. */
export function doesNotExist(kind: string, name: string): SnowflakeSqlError {
  return new SnowflakeSqlError(
    '002003',
    '42S02',
    `SQL compilation error:\n${kind} '${name}' does not exist or not authorized.`,
  );
}

/** 100090: several source rows of a MERGE hit one target row (ERROR_ON_NONDETERMINISTIC_MERGE). */
export function duplicateRow(values: string): SnowflakeSqlError {
  return new SnowflakeSqlError(
    '100090',
    '42P18',
    `Duplicate row detected during DML action\nRow Values: [${values}]`,
  );
}

/** Maps an error of the embedded engine (DuckDB) to the closest Snowflake error. */
export function fromEngineError(err: unknown): SnowflakeSqlError {
  if (err instanceof SnowflakeSqlError) return err;
  const raw = decodeNames(err instanceof Error ? err.message : String(err));
  const message = raw.split('\n\nLINE ')[0]!.trim();
  const first = message.replace(/^[A-Za-z ]+ Error: /, '');
  if (/^Catalog Error: .*does not exist/.test(message)) {
    const m = /with name "?([^"!]+?)"? does not exist/.exec(message);
    if (/Scalar Function|Aggregate Function|Table Function|Macro Function/.test(message))
      return new SnowflakeSqlError(
        '002140',
        '42601',
        `SQL compilation error:\nUnknown function ${m?.[1] ?? first}`,
      );
    return doesNotExist('Object', m?.[1] ?? first);
  }
  if (/^Catalog Error: .*already exists/.test(message)) {
    const m = /name "?([^"!]+?)"? already exists/.exec(message);
    return new SnowflakeSqlError(
      '002002',
      '42710',
      `SQL compilation error:\nObject '${m?.[1] ?? first}' already exists.`,
    );
  }
  if (/^Binder Error: Referenced column/.test(message)) {
    const m = /Referenced column "([^"]+)"/.exec(message);
    return new SnowflakeSqlError(
      '000904',
      '42000',
      `SQL compilation error: error line 1 at position 0\ninvalid identifier '${m?.[1] ?? first}'`,
    );
  }
  if (/^(Parser|Binder) Error/.test(message)) return syntaxError(first);
  if (/^Conversion Error/.test(message)) return new SnowflakeSqlError('100038', '22018', first);
  if (/^Constraint Error: NOT NULL/.test(message))
    return new SnowflakeSqlError('100072', '22000', `NULL result in a non-nullable column (${first})`);
  if (/^Out of Range Error/.test(message)) return new SnowflakeSqlError('100046', '22003', first);
  if (/^Invalid Input Error/.test(message)) return new SnowflakeSqlError('100069', '22000', first);
  if (/^TransactionContext Error|Transaction conflict/.test(message))
    return new SnowflakeSqlError('000625', '57014', `Statement aborted: ${first}`);
  return new SnowflakeSqlError('000603', 'XX000', `SQL execution internal error: ${first}`);
}
