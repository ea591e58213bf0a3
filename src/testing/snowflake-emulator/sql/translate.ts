/**
 * Translates Snowflake SQL expressions and queries, token by token, to the
 * engine's dialect: identifiers folded and encoded (see names.ts), types
 * mapped, functions renamed, binds inlined as typed literals, MINUS → EXCEPT,
 * INFORMATION_SCHEMA views replaced by their current contents. Unknown
 * functions pass through, so the engine rejects them (never silently).
 */
import { SnowflakeSqlError, syntaxError, unsupported } from '../errors.js';
import { engineIdent, literal, resolveName } from '../names.js';
import { engineType, parseSfType, type SfType } from '../types.js';
import { DATE_PART_FIRST, RENAMES, SESSION_FUNCTIONS, strftimeFormat } from './functions.js';
import { KEYWORDS, LITERAL_PREFIXES } from './keywords.js';
import { isOp, isWord, type Token } from './tokens.js';

/** A bind value as the driver sends it. */
export interface Bind {
  readonly type: string;
  readonly value: string | null;
}

/** What the translator needs from the session. */
export interface TranslateContext {
  readonly binds: readonly Bind[];
  /** Next positional (`?`) bind to use; advanced as binds are consumed. */
  nextBind: number;
  /** Value of `CURRENT_DATABASE()` and the like (null when unset). */
  sessionValue(name: string): string | null;
  /** SQL of a subquery standing for `[db.]INFORMATION_SCHEMA.<view>`. */
  infoSchema(database: string | undefined, view: string): string;
}

/** Renders a bind as a literal of the type the driver declared. */
export function bindLiteral(b: Bind | undefined): string {
  if (!b) throw new SnowflakeSqlError('002049', '42601', 'SQL compilation error: Bind variable ? not set.');
  if (b.value === null || b.value === undefined) return 'NULL';
  const v = String(b.value);
  switch (b.type.toUpperCase()) {
    case 'FIXED':
      return /^[-+]?\d+$/.test(v) ? v : literal(v);
    case 'REAL':
      return `CAST(${literal(v)} AS DOUBLE)`;
    case 'BOOLEAN':
      return /^(true|1)$/i.test(v) ? 'TRUE' : 'FALSE';
    default:
      return literal(v);
  }
}

/** Reads a type starting at `tokens[i]`; returns it and the index after it. */
export function readType(tokens: readonly Token[], i: number): [SfType, number] {
  const first = tokens[i];
  if (first?.kind !== 'word') throw syntaxError(`a data type was expected at '${first?.value ?? 'end'}'`);
  let name = first.value;
  i++;
  // Multi-word names: DOUBLE PRECISION, CHARACTER VARYING, TIMESTAMP WITH [LOCAL] TIME ZONE.
  const more = (w: string) => isWord(tokens[i], w);
  if (/^DOUBLE$/i.test(name) && more('PRECISION')) name += ` ${tokens[i++]!.value}`;
  else if (/^(CHAR|CHARACTER)$/i.test(name) && more('VARYING')) name += ` ${tokens[i++]!.value}`;
  else if (/^TIMESTAMP$/i.test(name) && (more('WITH') || more('WITHOUT'))) {
    const words: string[] = [];
    while (isWord(tokens[i], 'WITH', 'WITHOUT', 'LOCAL', 'TIME', 'ZONE')) words.push(tokens[i++]!.value);
    name += ` ${words.join(' ')}`;
  }
  const args: number[] = [];
  if (isOp(tokens[i], '(')) {
    i++;
    while (!isOp(tokens[i], ')')) {
      const t = tokens[i];
      if (t?.kind === 'number') args.push(Number(t.value));
      else if (!isOp(t, ','))
        throw syntaxError(`unexpected '${t?.value ?? 'end'}' in the arguments of type ${name}`);
      i++;
    }
    i++;
  }
  return [parseSfType(name, args), i];
}

/** Index of the `)` matching the `(` at `open`. */
export function matchingParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')') && --depth === 0) return i;
  }
  throw syntaxError("missing ')'");
}

/** Indexes of the top-level commas between `open` and its matching `)`. */
function topLevelCommas(tokens: readonly Token[], open: number, close: number): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = open + 1; i < close; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')')) depth--;
    else if (depth === 0 && isOp(tokens[i], ',')) out.push(i);
  }
  return out;
}

/**
 * Translates `tokens[from, to)`. `aliases` maps a token index to text
 * appended after it (select-list names).
 */
export function translate(
  tokens: readonly Token[],
  ctx: TranslateContext,
  from = 0,
  to = tokens.length,
  aliases: ReadonlyMap<number, string> = new Map(),
): string {
  const out: string[] = [];
  /** Text replacing a `)` (closing a rewritten call). */
  const closers = new Map<number, string>();
  /** Tokens replaced by other text (e.g. a format string). */
  const replaced = new Map<number, string>();
  /** Depth of CAST( … ) calls, to read the type after their AS. */
  const castDepths: number[] = [];
  let depth = 0;
  const push = (s: string) => out.push(s);
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (replaced.has(i)) {
      push(replaced.get(i)!);
    } else if (t.kind === 'word') {
      const upper = t.value.toUpperCase();
      if (isOp(next, '(')) {
        const close = matchingParen(tokens, i + 1);
        if (upper === 'CAST' || upper === 'TRY_CAST') {
          castDepths.push(depth + 1);
          push(upper);
        } else if (SESSION_FUNCTIONS.has(upper)) {
          const v = ctx.sessionValue(upper);
          push(v === null ? 'NULL' : literal(v));
          i = close;
          if (aliases.has(i)) push(aliases.get(i)!);
          continue;
        } else if (upper === 'ARRAY_CONSTRUCT') {
          push('json_array');
        } else if (upper === 'TO_TIMESTAMP_NTZ' || upper === 'TO_TIMESTAMP') {
          push(topLevelCommas(tokens, i + 1, close).length > 0 ? 'sf_ts_scaled' : 'sf_to_timestamp_ntz');
        } else if (upper === 'TO_VARCHAR' || upper === 'TO_CHAR') {
          const commas = topLevelCommas(tokens, i + 1, close);
          const fmt = tokens[(commas[0] ?? -1) + 1];
          if (commas.length === 1 && fmt?.kind === 'string' && commas[0]! + 2 === close) {
            push('strftime');
            replaced.set(commas[0]! + 1, literal(strftimeFormat(fmt.value)));
          } else if (commas.length === 0) push('sf_to_varchar');
          else throw unsupported(`${upper} with this format`);
        } else if (DATE_PART_FIRST.has(upper)) {
          push(RENAMES[upper]!);
          const part = tokens[i + 2];
          if (part?.kind === 'word') replaced.set(i + 2, literal(part.value.toLowerCase()));
        } else {
          push(RENAMES[upper] ?? t.value);
        }
      } else if (upper === 'MINUS') {
        push('EXCEPT');
      } else if (upper === 'AS' && castDepths.at(-1) === depth) {
        push('AS');
        const [type, after] = readType(tokens, i + 1);
        push(engineType(type));
        i = after - 1;
      } else if (LITERAL_PREFIXES.has(upper) && next?.kind === 'string') {
        push(upper);
      } else if (upper === 'INFORMATION_SCHEMA' && isOp(next, '.') && tokens[i + 2]) {
        push(ctx.infoSchema(undefined, nameOf(tokens[i + 2]!)));
        i += 2;
      } else if (isOp(next, '.') && isWord(tokens[i + 2], 'INFORMATION_SCHEMA') && isOp(tokens[i + 3], '.')) {
        push(ctx.infoSchema(nameOf(t), nameOf(tokens[i + 4]!)));
        i += 4;
      } else if (KEYWORDS.has(upper)) {
        push(upper);
      } else {
        push(engineIdent(resolveName(t.value, false)));
      }
    } else if (t.kind === 'qident') {
      if (isOp(next, '.') && isWord(tokens[i + 2], 'INFORMATION_SCHEMA') && isOp(tokens[i + 3], '.')) {
        push(ctx.infoSchema(t.value, nameOf(tokens[i + 4]!)));
        i += 4;
      } else push(engineIdent(t.value));
    } else if (t.kind === 'string') {
      push(literal(t.value));
    } else if (t.kind === 'number') {
      push(t.value);
    } else if (t.kind === 'bind') {
      push(bindLiteral(t.value === '?' ? ctx.binds[ctx.nextBind++] : ctx.binds[Number(t.value) - 1]));
    } else if (t.value === '(') {
      depth++;
      push('(');
    } else if (t.value === ')') {
      if (castDepths.at(-1) === depth) castDepths.pop();
      depth--;
      push(closers.get(i) ?? ')');
    } else if (t.value === '::') {
      push('::');
      const [type, after] = readType(tokens, i + 1);
      push(engineType(type));
      i = after - 1;
    } else if (t.value === ':') {
      throw unsupported('The `:` path operator on VARIANT values (use GET_PATH)');
    } else {
      push(t.value);
    }
    if (aliases.has(i)) push(aliases.get(i)!);
  }
  return join(out);
}

/** The resolved name of an identifier token. */
export function nameOf(t: Token): string {
  if (t.kind === 'qident') return t.value;
  if (t.kind === 'word') return resolveName(t.value, false);
  throw syntaxError(`an identifier was expected at '${t.value}'`);
}

/** Joins output pieces with spaces, except around dots. */
function join(parts: readonly string[]): string {
  let s = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const prev = parts[i - 1];
    if (i > 0 && p !== '.' && prev !== '.') s += ' ';
    s += p;
  }
  return s;
}

/**
 * Names for the top-level select list of a query, the way Snowflake names
 * result columns: a column reference keeps its name, an unnamed expression is
 * named by its text in upper case. Returns token index → ` AS "…"` to append.
 */
export function selectListAliases(sql: string, tokens: readonly Token[]): Map<number, string> {
  const out = new Map<number, string>();
  let i = 0;
  // Skip a WITH clause: its CTEs are parenthesised, so the first top-level SELECT after it is the query.
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isOp(t, '(')) depth++;
    else if (isOp(t, ')')) depth--;
    else if (depth === 0 && isWord(t, 'SELECT')) break;
  }
  if (i >= tokens.length) return out;
  i++;
  while (isWord(tokens[i], 'DISTINCT', 'ALL')) i++;
  const ends = new Set([
    'FROM',
    'WHERE',
    'GROUP',
    'HAVING',
    'QUALIFY',
    'ORDER',
    'LIMIT',
    'UNION',
    'EXCEPT',
    'MINUS',
    'INTERSECT',
    'INTO',
    'OFFSET',
    'FETCH',
  ]);
  let start = i;
  depth = 0;
  const finish = (endIdx: number) => {
    if (endIdx <= start) return;
    const item = tokens.slice(start, endIdx);
    const last = item.at(-1)!;
    const before = item.at(-2);
    if (item.length === 1 && isOp(last, '*')) return;
    if (item.some((t, k) => isWord(t, 'AS') && !inParens(item, k))) return;
    if (
      (last.kind === 'word' || last.kind === 'qident') &&
      item.length >= 2 &&
      before &&
      !isOp(before, '.') &&
      !isOp(before, '::') &&
      (before.kind !== 'op' || before.value === ')') &&
      !KEYWORDS.has(last.value.toUpperCase())
    )
      return; // implicit alias
    const isRef = item.every((t, k) =>
      k % 2 === 0 ? t.kind === 'word' || t.kind === 'qident' || isOp(t, '*') : isOp(t, '.'),
    );
    if (isRef && !KEYWORDS.has(item[0]!.value.toUpperCase())) return;
    const text = sql.slice(item[0]!.start, last.end).toUpperCase();
    out.set(endIdx - 1, ` AS ${engineIdent(text)}`);
  };
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isOp(t, '(')) depth++;
    else if (isOp(t, ')')) depth--;
    else if (depth === 0 && isWord(t, 'CASE')) depth += 0;
    if (depth === 0 && isOp(t, ',')) {
      finish(i);
      start = i + 1;
    } else if (depth === 0 && t.kind === 'word' && ends.has(t.value.toUpperCase())) {
      break;
    }
  }
  finish(i);
  return out;
}

function inParens(item: readonly Token[], k: number): boolean {
  let depth = 0;
  for (let j = 0; j < k; j++) {
    if (isOp(item[j], '(')) depth++;
    else if (isOp(item[j], ')')) depth--;
  }
  return depth > 0;
}
