/**
 * A streaming parser of PostgreSQL array text (`array_out`): `{1,2,NULL}`,
 * `{{1,2},{3,4}}`, `{"a b","c\"d"}`, `[0:1]={7,8}` (bounds are dropped: Arrow
 * lists start at 0). It reports structure and elements to a visitor and
 * never builds strings: unquoted and escape-free quoted elements are handed
 * over as slices of the input; elements with escapes are unescaped into a
 * reused scratch buffer.
 */

/** Receives the structure of one array value. Returning false stops the parse. */
export interface ArrayLiteralVisitor {
  /** A `{` opens a (sub)array. */
  open(): boolean;
  /** The matching `}`. */
  close(): void;
  /** One element's text, `buf[start..end)` (unescaped). */
  element(buf: Uint8Array, start: number, end: number): boolean;
  /** An unquoted `NULL`. */
  nullElement(): boolean;
}

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

let scratch = new Uint8Array(256);

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

function ensureScratch(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

function isNullWord(buf: Uint8Array, start: number, end: number): boolean {
  return (
    end - start === 4 &&
    (buf[start]! | 0x20) === 0x6e &&
    (buf[start + 1]! | 0x20) === 0x75 &&
    (buf[start + 2]! | 0x20) === 0x6c &&
    (buf[start + 3]! | 0x20) === 0x6c
  );
}

/**
 * Parses `buf[start..end)` as an array literal with element `delimiter`
 * (`,` or `;` for box). Returns false when the visitor stopped or the text is
 * malformed.
 */
export function parseArrayLiteral(
  buf: Uint8Array,
  start: number,
  end: number,
  delimiter: number,
  visitor: ArrayLiteralVisitor,
): boolean {
  let i = start;
  if (buf[i] === 0x5b /* [ */) {
    while (i < end && buf[i] !== 0x3d /* = */) i++;
    i++;
  }
  let depth = 0;
  while (i < end) {
    const c = buf[i]!;
    if (c === LBRACE) {
      if (!visitor.open()) return false;
      depth++;
      i++;
    } else if (c === RBRACE) {
      visitor.close();
      depth--;
      i++;
      if (depth === 0) return true;
    } else if (c === delimiter || isSpace(c)) {
      i++;
    } else if (c === QUOTE) {
      i++;
      const s = i;
      let escaped = false;
      while (i < end && buf[i] !== QUOTE) {
        if (buf[i] === BACKSLASH) {
          escaped = true;
          i++;
        }
        i++;
      }
      const ok = escaped ? visitor.element(...unescaped(buf, s, i)) : visitor.element(buf, s, i);
      if (!ok) return false;
      i++; // closing quote
    } else {
      const s = i;
      let escaped = false;
      let lastSignificant = i;
      while (i < end) {
        const d = buf[i]!;
        if (d === delimiter || d === RBRACE) break;
        if (d === BACKSLASH) {
          escaped = true;
          i++;
          lastSignificant = i + 1;
        } else if (!isSpace(d)) lastSignificant = i + 1;
        i++;
      }
      const e = lastSignificant;
      let ok: boolean;
      if (escaped) ok = visitor.element(...unescaped(buf, s, e));
      else if (isNullWord(buf, s, e)) ok = visitor.nullElement();
      else ok = visitor.element(buf, s, e);
      if (!ok) return false;
    }
  }
  return false;
}

function unescaped(buf: Uint8Array, start: number, end: number): [Uint8Array, number, number] {
  const out = ensureScratch(end - start);
  let o = 0;
  for (let i = start; i < end; i++) {
    let c = buf[i]!;
    if (c === BACKSLASH && i + 1 < end) c = buf[++i]!;
    out[o++] = c;
  }
  return [out, 0, o];
}
