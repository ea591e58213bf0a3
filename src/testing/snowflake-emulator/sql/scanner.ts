/**
 * A cursor over a statement's tokens for the command-style statements the
 * emulator parses itself (PUT, COPY, LIST, REMOVE, CREATE STAGE, SHOW, …):
 * keywords, qualified names, stage references, `KEY = value` options.
 */
import { syntaxError } from '../errors.js';
import { resolveName } from '../names.js';
import { isOp, isWord, type Token, tokenize } from './tokens.js';

/** A possibly qualified object name, resolved (case folded). */
export interface QualifiedName {
  readonly parts: readonly string[];
}

/** A stage reference: `@name`, `@db.schema.name`, `@%table`, `@~`, with an optional path. */
export interface StageRef {
  readonly kind: 'named' | 'table' | 'user';
  readonly name: QualifiedName;
  /** Path under the stage, without a leading slash (may be empty). */
  readonly path: string;
}

/** An option value: a word, string, number, or parenthesised list of options or values. */
export type OptionValue = string | OptionList | OptionMap;
/** A parenthesised list of values. */
export interface OptionList extends Array<OptionValue> {}
/** A parenthesised list of `KEY = value` options. */
export interface OptionMap {
  [key: string]: OptionValue;
}

export class Scanner {
  readonly tokens: Token[];
  pos = 0;

  constructor(readonly sql: string) {
    this.tokens = tokenize(sql);
  }

  get done(): boolean {
    return this.pos >= this.tokens.length;
  }

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  /** Consumes the words if they come next (all of them), else leaves the cursor. */
  accept(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) if (!isWord(this.peek(k), words[k]!)) return false;
    this.pos += words.length;
    return true;
  }

  expect(...words: string[]): void {
    if (!this.accept(...words))
      throw syntaxError(`expected ${words.join(' ')} near '${this.peek()?.value ?? 'end'}'`);
  }

  acceptOp(op: string): boolean {
    if (!isOp(this.peek(), op)) return false;
    this.pos++;
    return true;
  }

  expectOp(op: string): void {
    if (!this.acceptOp(op)) throw syntaxError(`expected '${op}' near '${this.peek()?.value ?? 'end'}'`);
  }

  /** A single identifier, resolved. */
  ident(): string {
    const t = this.peek();
    if (t?.kind === 'word') {
      this.pos++;
      return resolveName(t.value, false);
    }
    if (t?.kind === 'qident') {
      this.pos++;
      return t.value;
    }
    throw syntaxError(`an identifier was expected near '${t?.value ?? 'end'}'`);
  }

  /** `a`, `a.b` or `a.b.c`. */
  qualified(): QualifiedName {
    const parts = [this.ident()];
    while (isOp(this.peek(), '.') && (this.peek(1)?.kind === 'word' || this.peek(1)?.kind === 'qident')) {
      this.pos++;
      parts.push(this.ident());
    }
    return { parts };
  }

  string(): string {
    const t = this.peek();
    if (t?.kind !== 'string') throw syntaxError(`a string was expected near '${t?.value ?? 'end'}'`);
    this.pos++;
    return t.value;
  }

  /** A stage reference, from the raw text (paths are not tokens). Accepts `'@stage/path'` too. */
  stage(): StageRef {
    const t = this.peek();
    if (t?.kind === 'string') {
      this.pos++;
      return parseStageRef(t.value);
    }
    if (!t || !isOp(t, '@')) throw syntaxError(`a stage (@name) was expected near '${t?.value ?? 'end'}'`);
    // The reference runs to the next whitespace (or the end) in the source text.
    let end = t.start + 1;
    let inQuote = false;
    while (end < this.sql.length) {
      const ch = this.sql[end]!;
      if (ch === '"') inQuote = !inQuote;
      else if (!inQuote && (/\s/.test(ch) || ch === ';' || ch === ')')) break;
      end++;
    }
    while (this.pos < this.tokens.length && this.tokens[this.pos]!.start < end) this.pos++;
    return parseStageRef(this.sql.slice(t.start, end));
  }

  /** `KEY = value` pairs until the end (or a closing parenthesis). */
  options(): Record<string, OptionValue> {
    const out: Record<string, OptionValue> = {};
    while (!this.done && !isOp(this.peek(), ')')) {
      if (this.acceptOp(',')) continue;
      const key = this.peek();
      if (key?.kind !== 'word') throw syntaxError(`unexpected '${key?.value ?? 'end'}'`);
      this.pos++;
      let name = key.value.toUpperCase();
      // Two-word keys: FILE_FORMAT is one token, but e.g. "ON_ERROR" too; nothing more to join.
      if (!this.acceptOp('=')) {
        out[name] = 'TRUE';
        continue;
      }
      out[name] = this.value();
      name = '';
    }
    return out;
  }

  private value(): OptionValue {
    const t = this.peek();
    if (!t) throw syntaxError('an option value was expected');
    if (isOp(t, '(')) {
      this.pos++;
      // A list of options (KEY = v …) or of values ('a', 'b').
      const isOptions = this.peek()?.kind === 'word' && isOp(this.peek(1), '=');
      if (isOptions) {
        const o = this.options();
        this.expectOp(')');
        return o;
      }
      const list: OptionValue[] = [];
      while (!this.acceptOp(')')) {
        if (this.acceptOp(',')) continue;
        list.push(this.value());
      }
      return list;
    }
    this.pos++;
    if (t.kind === 'op' && t.value === '-' && this.peek()?.kind === 'number')
      return `-${this.tokens[this.pos++]!.value}`;
    return t.kind === 'word' ? t.value.toUpperCase() : t.value;
  }
}

/** Parses `@db.schema.stage/path`, `@%table/path`, `@~/path`. */
export function parseStageRef(text: string): StageRef {
  let s = text.trim();
  if (!s.startsWith('@')) throw syntaxError(`a stage must start with @: ${text}`);
  s = s.slice(1);
  if (s.startsWith('~')) return { kind: 'user', name: { parts: [] }, path: trimPath(s.slice(1)) };
  let kind: StageRef['kind'] = 'named';
  if (s.startsWith('%')) {
    kind = 'table';
    s = s.slice(1);
  }
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    if (s[i] === '"') {
      let v = '';
      i++;
      while (i < s.length) {
        if (s[i] === '"' && s[i + 1] === '"') {
          v += '"';
          i += 2;
        } else if (s[i] === '"') break;
        else v += s[i++];
      }
      i++;
      parts.push(v);
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(s.slice(i));
      if (!m) throw syntaxError(`bad stage name in ${text}`);
      parts.push(m[0].toUpperCase());
      i += m[0].length;
    }
    if (s[i] === '.') {
      i++;
      continue;
    }
    break;
  }
  return { kind, name: { parts }, path: trimPath(s.slice(i)) };
}

function trimPath(p: string): string {
  return p.replace(/^\/+/, '');
}
