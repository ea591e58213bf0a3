/**
 * Runs one Snowflake statement: picks the handler by its leading keywords.
 * Anything not recognised is a Snowflake compilation error (001003), never
 * a silent success.
 */
import { copyInto } from './copy-into.js';
import { alterTable, create, drop, use } from './ddl.js';
import { dml, merge, select, truncate } from './dml.js';
import type { Engine } from './engine.js';
import { Exec } from './engine.js';
import { syntaxError, unsupported } from './errors.js';
import type { ParamValue, Session } from './session.js';
import { describe, show } from './show.js';
import { Scanner } from './sql/scanner.js';
import { isOp } from './sql/tokens.js';
import type { Bind } from './sql/translate.js';
import { list, put, remove } from './stage-commands.js';
import { STATEMENT_TYPE, StatementContext, type StatementResult, statusResult } from './statement-context.js';

/** Runs `sql` (one statement) for a session. */
export async function runStatement(
  engine: Engine,
  session: Session,
  sql: string,
  binds: readonly Bind[],
  account: string,
): Promise<StatementResult> {
  const sc = new Scanner(sql);
  const exec = new Exec(engine, session);
  const ctx = new StatementContext(engine, session, exec, sql, sc.tokens, binds, account);
  const first = sc.peek();
  if (!first) throw syntaxError('empty SQL statement');
  const word = first.kind === 'word' ? first.value.toUpperCase() : '';
  if (isOp(first, '(') || word === 'SELECT' || word === 'WITH' || word === 'VALUES') return select(ctx);
  switch (word) {
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
      return dml(ctx, word);
    case 'MERGE':
      return merge(ctx);
    case 'TRUNCATE':
      sc.pos++;
      return truncate(ctx, sc);
    case 'COPY':
      return copyInto(ctx, sc);
    case 'PUT':
      return put(ctx);
    case 'GET':
      throw unsupported('GET (downloading staged files)');
    case 'LIST':
    case 'LS':
      sc.pos++;
      return list(ctx, sc);
    case 'REMOVE':
    case 'RM':
      sc.pos++;
      return remove(ctx, sc);
    case 'CREATE':
      sc.pos++;
      return create(ctx, sc);
    case 'DROP':
      sc.pos++;
      return drop(ctx, sc);
    case 'ALTER':
      sc.pos++;
      if (sc.accept('SESSION')) return alterSession(ctx, sc);
      if (sc.accept('TABLE')) return alterTable(ctx, sc);
      throw unsupported(`ALTER ${sc.peek()?.value ?? ''}`);
    case 'USE':
      sc.pos++;
      return use(ctx, sc);
    case 'SHOW':
      sc.pos++;
      return show(ctx, sc);
    case 'DESC':
    case 'DESCRIBE':
      sc.pos++;
      return describe(ctx, sc);
    case 'BEGIN':
    case 'START':
      if (word === 'START') sc.expect('START', 'TRANSACTION');
      else {
        sc.pos++;
        if (!sc.done && !sc.accept('TRANSACTION') && !sc.accept('WORK'))
          throw unsupported('BEGIN … END blocks (Snowflake Scripting)');
      }
      exec.begin();
      return statusResult('Statement executed successfully.', STATEMENT_TYPE.tcl);
    case 'COMMIT':
      await exec.commit();
      return statusResult('Statement executed successfully.', STATEMENT_TYPE.tcl);
    case 'ROLLBACK':
      await exec.rollback();
      return statusResult('Statement executed successfully.', STATEMENT_TYPE.tcl);
    case 'GRANT':
    case 'REVOKE':
      // Access control is not modelled: every user may do everything.
      return statusResult('Statement executed successfully.');
    default:
      throw syntaxError(
        `syntax error line 1 at position 0 unexpected '${first.value}'. (The etl-stream Snowflake emulator does not run this statement.)`,
      );
  }
}

/** ALTER SESSION SET k = v [, …] | UNSET k [, …]. */
async function alterSession(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const params = ctx.session.params;
  if (sc.accept('UNSET')) {
    do params.delete(sc.ident().toUpperCase());
    while (sc.acceptOp(','));
  } else {
    sc.expect('SET');
    const opts = sc.options();
    for (const [k, v] of Object.entries(opts)) {
      if (typeof v !== 'string') throw syntaxError(`bad value for session parameter ${k}`);
      const value: ParamValue = /^-?\d+$/.test(v)
        ? Number(v)
        : v === 'TRUE'
          ? true
          : v === 'FALSE'
            ? false
            : v;
      params.set(k, value);
      if (k === 'TIMEZONE') {
        await ctx.exec.plain(`SET TimeZone = '${String(v).replace(/'/g, "''")}'`).catch(() => {
          throw syntaxError(`invalid value [${v}] for parameter 'TIMEZONE'`);
        });
      }
    }
  }
  return statusResult('Statement executed successfully.', STATEMENT_TYPE.scl);
}
