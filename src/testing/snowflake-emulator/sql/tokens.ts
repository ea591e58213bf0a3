/**
 * A tokenizer for Snowflake SQL: words, quoted identifiers, string literals
 * (with Snowflake's backslash escapes and `$$…$$`), numbers, bind markers and
 * operators. Comments and whitespace are dropped; each token keeps its source
 * offsets so statement texts can be cut out of the original.
 */
import { syntaxError } from '../errors.js';

/** One token of a statement. */
export interface Token {
  readonly kind: 'word' | 'qident' | 'string' | 'number' | 'bind' | 'op';
  /** Words: as written; quoted identifiers and strings: the unescaped value; binds: `?` or the number. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

const OPS = ['::', '<>', '!=', '<=', '>=', '||', '=>', '->'];

/** Splits `sql` into tokens. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if ((c === '-' && sql[i + 1] === '-') || (c === '/' && sql[i + 1] === '/')) {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c) || c.charCodeAt(0) > 127) {
      while (i < n && (/[A-Za-z0-9_$]/.test(sql[i]!) || sql.charCodeAt(i) > 127)) i++;
      out.push({ kind: 'word', value: sql.slice(start, i), start, end: i });
      continue;
    }
    if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw syntaxError('unterminated quoted identifier');
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += sql[i++];
      }
      if (value.length === 0) throw syntaxError('empty quoted identifier');
      out.push({ kind: 'qident', value, start, end: i });
      continue;
    }
    if (c === "'") {
      const [value, next] = readString(sql, i);
      out.push({ kind: 'string', value, start, end: next });
      i = next;
      continue;
    }
    if (c === '$' && sql[i + 1] === '$') {
      const end = sql.indexOf('$$', i + 2);
      if (end < 0) throw syntaxError('unterminated $$ string');
      out.push({ kind: 'string', value: sql.slice(i + 2, end), start, end: end + 2 });
      i = end + 2;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      while (i < n && /[0-9]/.test(sql[i]!)) i++;
      if (sql[i] === '.' && /[0-9]/.test(sql[i + 1] ?? '')) {
        i++;
        while (i < n && /[0-9]/.test(sql[i]!)) i++;
      } else if (sql[i] === '.' && !/[A-Za-z_]/.test(sql[i + 1] ?? '')) i++;
      if ((sql[i] === 'e' || sql[i] === 'E') && /[-+0-9]/.test(sql[i + 1] ?? '')) {
        i += 2;
        while (i < n && /[0-9]/.test(sql[i]!)) i++;
      }
      out.push({ kind: 'number', value: sql.slice(start, i), start, end: i });
      continue;
    }
    if (c === '?') {
      out.push({ kind: 'bind', value: '?', start, end: ++i });
      continue;
    }
    if (c === ':' && /[0-9]/.test(sql[i + 1] ?? '') && out.at(-1)?.kind !== 'word') {
      i++;
      while (i < n && /[0-9]/.test(sql[i]!)) i++;
      out.push({ kind: 'bind', value: sql.slice(start + 1, i), start, end: i });
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (OPS.includes(two)) {
      out.push({ kind: 'op', value: two, start, end: (i += 2) });
      continue;
    }
    out.push({ kind: 'op', value: c, start, end: ++i });
  }
  return out;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0', Z: '\x1a' };

/** Reads a single-quoted Snowflake string starting at `i`; returns its value and the offset after it. */
function readString(sql: string, i: number): [string, number] {
  let value = '';
  i++;
  for (;;) {
    if (i >= sql.length) throw syntaxError('unterminated string literal');
    const ch = sql[i]!;
    if (ch === "'") {
      if (sql[i + 1] === "'") {
        value += "'";
        i += 2;
        continue;
      }
      return [value, i + 1];
    }
    if (ch === '\\' && i + 1 < sql.length) {
      const e = sql[i + 1]!;
      if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(sql.slice(i + 2, i + 4))) {
        value += String.fromCharCode(Number.parseInt(sql.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(sql.slice(i + 2, i + 6))) {
        value += String.fromCharCode(Number.parseInt(sql.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      value += ESCAPES[e] ?? e;
      i += 2;
      continue;
    }
    value += ch;
    i++;
  }
}

/** Splits a text into statements at top-level semicolons (empty statements dropped). */
export function splitStatements(sql: string): string[] {
  const tokens = tokenize(sql);
  const out: string[] = [];
  let start = 0;
  for (const t of tokens) {
    if (t.kind === 'op' && t.value === ';') {
      const text = sql.slice(start, t.start).trim();
      if (text) out.push(text);
      start = t.end;
    }
  }
  const rest = sql.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

/** Whether token `t` is the word `word` (case-insensitive). */
export function isWord(t: Token | undefined, ...words: string[]): boolean {
  return t?.kind === 'word' && words.includes(t.value.toUpperCase());
}

/** Whether token `t` is the operator `op`. */
export function isOp(t: Token | undefined, op: string): boolean {
  return t?.kind === 'op' && t.value === op;
}
