/**
 * Queries and DML: SELECT, INSERT, UPDATE, DELETE, TRUNCATE and MERGE, with
 * Snowflake's result rows (`number of rows inserted`, …). A MERGE where
 * several source rows join one target row and one of them would update it
 * fails like Snowflake's nondeterministic-merge error (100090); several
 * deletes, or several unmatched inserts, are fine.
 */
import { engineRef, objectName } from './ddl.js';
import { duplicateRow, syntaxError } from './errors.js';
import { encodeRows, fixedColumn } from './result-encoding.js';
import type { Scanner } from './sql/scanner.js';
import { isOp, isWord, type Token } from './sql/tokens.js';
import { selectListAliases } from './sql/translate.js';
import {
  STATEMENT_TYPE,
  type StatementContext,
  type StatementResult,
  statusResult,
} from './statement-context.js';

function countResult(names: string[], counts: number[], statementTypeId: number): StatementResult {
  return {
    rowtype: names.map((n) => fixedColumn(n)),
    rowset: [counts.map(String)],
    statementTypeId,
  };
}

function changed(r: { getRows(): unknown[][] } | undefined): number {
  const v = r?.getRows()[0]?.[0];
  return v === undefined || v === null ? 0 : Number(v);
}

/** SELECT / WITH / VALUES. */
export async function select(ctx: StatementContext): Promise<StatementResult> {
  const sql = await ctx.translate(0, ctx.tokens.length, selectListAliases(ctx.sql, ctx.tokens));
  const r = await ctx.exec.run([sql], { write: false });
  if (!r) throw syntaxError('empty query');
  const enc = encodeRows(r.columnNames(), r.columnTypes(), r.getRows(), ctx.session.timezone);
  return { ...enc, statementTypeId: STATEMENT_TYPE.select };
}

/** INSERT, UPDATE, DELETE. */
export async function dml(
  ctx: StatementContext,
  kind: 'INSERT' | 'UPDATE' | 'DELETE',
): Promise<StatementResult> {
  if (kind === 'INSERT' && isWord(ctx.tokens[1], 'OVERWRITE', 'ALL', 'FIRST'))
    throw syntaxError(
      `INSERT ${ctx.tokens[1]!.value.toUpperCase()} is not supported by the etl-stream Snowflake emulator.`,
    );
  const sql = await ctx.translate();
  const n = changed(await ctx.exec.run([sql], { write: true }));
  if (kind === 'INSERT') return countResult(['number of rows inserted'], [n], STATEMENT_TYPE.insert);
  if (kind === 'UPDATE')
    return countResult(
      ['number of rows updated', 'number of multi-joined rows updated'],
      [n, 0],
      STATEMENT_TYPE.update,
    );
  return countResult(['number of rows deleted'], [n], STATEMENT_TYPE.delete);
}

/** TRUNCATE [TABLE] [IF EXISTS] name: DML in Snowflake (transactional). */
export async function truncate(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  sc.accept('TABLE');
  const ifExists = sc.accept('IF', 'EXISTS');
  const o = objectName(ctx, sc.qualified().parts);
  const exists = (await ctx.engine.tables(ctx.session.conn, o.db, o.schema)).some((t) => t.name === o.name);
  if (!exists && ifExists) return statusResult('Statement executed successfully.');
  await ctx.exec.run([`DELETE FROM ${engineRef(o)}`], { write: true });
  ctx.engine.loadHistory.delete(engineRef(o));
  return statusResult('Statement executed successfully.');
}

interface Clause {
  readonly matched: boolean;
  readonly action: 'UPDATE' | 'DELETE' | 'INSERT';
  /** Token range of the AND condition, if any. */
  readonly cond?: [number, number];
}

/** Splits a MERGE into its parts (token indexes), tracking parentheses and CASE … END. */
function parseMerge(tokens: readonly Token[]): {
  target: [number, number];
  targetAlias: string | undefined;
  source: [number, number];
  on: [number, number];
  clauses: Clause[];
} {
  let depth = 0;
  const top: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isOp(t, '(') || isWord(t, 'CASE')) depth++;
    else if (isOp(t, ')') || isWord(t, 'END')) depth--;
    else if (depth === 0 && isWord(t, 'USING', 'ON', 'WHEN')) top.push(i);
  }
  const using = top.find((i) => isWord(tokens[i], 'USING'));
  const on = top.find((i) => isWord(tokens[i], 'ON') && i > (using ?? 0));
  const whens = top.filter((i) => isWord(tokens[i], 'WHEN'));
  if (!isWord(tokens[1], 'INTO') || using === undefined || on === undefined || whens.length === 0)
    throw syntaxError('MERGE INTO <target> USING <source> ON <condition> WHEN … was expected');
  // Target: name [AS] [alias].
  let targetEnd = using;
  let targetAlias: string | undefined;
  const last = tokens[using - 1]!;
  const before = tokens[using - 2];
  if ((last.kind === 'word' || last.kind === 'qident') && before && !isOp(before, '.') && using - 2 >= 2) {
    targetAlias = last.kind === 'qident' ? last.value : last.value.toUpperCase();
    targetEnd = isWord(before, 'AS') ? using - 2 : using - 1;
  }
  const clauses: Clause[] = whens.map((w, k) => {
    const end = whens[k + 1] ?? tokens.length;
    const notMatched = isWord(tokens[w + 1], 'NOT');
    const afterMatched = w + (notMatched ? 3 : 2);
    let i = afterMatched;
    if (isWord(tokens[i], 'BY')) i += 2; // BY TARGET / BY SOURCE
    let cond: [number, number] | undefined;
    let then = i;
    while (then < end && !isWord(tokens[then], 'THEN')) then++;
    if (isWord(tokens[i], 'AND')) cond = [i + 1, then];
    const action = tokens[then + 1]?.value.toUpperCase();
    if (action !== 'UPDATE' && action !== 'DELETE' && action !== 'INSERT')
      throw syntaxError(`unexpected MERGE action '${action ?? 'end'}'`);
    return { matched: !notMatched, action, ...(cond ? { cond } : {}) };
  });
  return { target: [2, targetEnd], targetAlias, source: [using + 1, on], on: [on + 1, whens[0]!], clauses };
}

/** MERGE INTO … USING … ON … WHEN …. */
export async function merge(ctx: StatementContext): Promise<StatementResult> {
  const p = parseMerge(ctx.tokens);
  const target = await ctx.translate(p.target[0], p.target[1]);
  const alias = p.targetAlias
    ? ` AS ${await ctx.translate(p.target[1] + (isWord(ctx.tokens[p.target[1]], 'AS') ? 1 : 0), p.source[0] - 1)}`
    : '';
  const source = await ctx.translate(p.source[0], p.source[1]);
  const on = await ctx.translate(p.on[0], p.on[1]);
  const matched = p.clauses.filter((c) => c.matched);
  // Which matched clause applies to a joined row: the first whose condition holds.
  const whens: string[] = [];
  for (const c of matched) {
    const cond = c.cond ? await ctx.translate(c.cond[0], c.cond[1]) : 'TRUE';
    whens.push(`WHEN ${cond} THEN '${c.action === 'DELETE' ? 'D' : 'U'}'`);
  }
  const targetRef = p.targetAlias
    ? await ctx.translate(p.target[1] + (isWord(ctx.tokens[p.target[1]], 'AS') ? 1 : 0), p.source[0] - 1)
    : target;
  const statement = await ctx.translate();
  const sqls: string[] = [];
  if (whens.length > 0) {
    const check =
      `SELECT _sf_rid FROM (SELECT ${targetRef}.rowid AS _sf_rid, CASE ${whens.join(' ')} END AS _sf_act ` +
      `FROM ${target}${alias} JOIN ${source} ON ${on}) WHERE _sf_act IS NOT NULL ` +
      `GROUP BY _sf_rid HAVING count(*) > 1 AND bool_or(_sf_act = 'U') LIMIT 1`;
    const dup = await ctx.exec.run([check], { write: false });
    const rid = dup?.getRows()[0]?.[0];
    if (rid !== undefined) {
      const row = await ctx.exec.run([`SELECT * FROM ${target} WHERE rowid = ${String(rid)}`], {
        write: false,
      });
      const values = row
        ? (encodeRows(row.columnNames(), row.columnTypes(), row.getRows(), ctx.session.timezone).rowset[0] ??
          [])
        : [];
      throw duplicateRow(values.map((v) => (v === null ? 'NULL' : JSON.stringify(v))).join(', '));
    }
  }
  sqls.push(`${statement} RETURNING merge_action`);
  const r = await ctx.exec.run(sqls, { write: true });
  const counts = { INSERT: 0, UPDATE: 0, DELETE: 0 };
  for (const row of r?.getRows() ?? []) counts[String(row[0]) as keyof typeof counts]++;
  const present = (['INSERT', 'UPDATE', 'DELETE'] as const).filter((a) =>
    p.clauses.some((c) => c.action === a),
  );
  const names = present.map((a) => `number of rows ${a.toLowerCase().replace(/e$/, '')}ed`);
  const values = present.map((a) => counts[a]);
  return countResult(names, values, STATEMENT_TYPE.merge);
}
