/**
 * Snowflake identifiers are case-sensitive once resolved (`"a"` and `"A"` are
 * two columns; unquoted `a` means `A`), while the embedded engine compares
 * names case-insensitively. So every name is stored in an encoded form in
 * which each lower-case character is preceded by a marker (`¦`, itself
 * doubled): `"Ab"` is stored as `A¦b`, `"AB"` as `AB`. Folding the case of an
 * encoded name can never make it equal to another encoded name, so the
 * engine's case-insensitive lookups resolve exactly as Snowflake's would.
 * Names leave the emulator (result columns, SHOW, INFORMATION_SCHEMA,
 * messages) decoded.
 */

const MARK = '¦';

/** Encodes a resolved Snowflake name for the engine. */
export function encodeName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (ch === MARK) out += MARK + MARK;
    else if (ch !== ch.toUpperCase()) out += MARK + ch;
    else out += ch;
  }
  return out;
}

/** Decodes a name read back from the engine. */
export function decodeName(stored: string): string {
  return stored.includes(MARK) ? stored.replace(/¦(.)/gsu, '$1') : stored;
}

/** Decodes every encoded name inside a text (error messages). */
export const decodeNames = decodeName;

/** The resolved name of an identifier as written: unquoted folds to upper case. */
export function resolveName(text: string, quoted: boolean): string {
  return quoted ? text : text.toUpperCase();
}

/** An engine identifier: the resolved name, encoded and double-quoted. */
export function engineIdent(name: string): string {
  return `"${encodeName(name).replace(/"/g, '""')}"`;
}

/** A single-quoted SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
