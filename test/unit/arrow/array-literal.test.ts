import { describe, expect, it } from 'vitest';
import { parseArrayLiteral } from '../../../src/arrow/array-literal.js';

const dec = new TextDecoder();

function events(text: string, delimiter = ','): { ok: boolean; ev: string[] } {
  const ev: string[] = [];
  const b = new TextEncoder().encode(text);
  const ok = parseArrayLiteral(b, 0, b.length, delimiter.charCodeAt(0), {
    open: () => ev.push('{') > 0,
    close: () => void ev.push('}'),
    element: (buf, s, e) => ev.push(`'${dec.decode(buf.subarray(s, e))}'`) > 0,
    nullElement: () => ev.push('NULL') > 0,
  });
  return { ok, ev };
}

describe('parseArrayLiteral', () => {
  it('parses flat arrays with NULLs and quoted elements', () => {
    expect(events('{1,NULL,3}')).toEqual({ ok: true, ev: ['{', "'1'", 'NULL', "'3'", '}'] });
    expect(events('{"NULL",null,""}').ev).toEqual(['{', "'NULL'", 'NULL', "''", '}']);
    expect(events('{"a b","c\\"d","e\\\\f","😀"}').ev).toEqual([
      '{',
      "'a b'",
      `'c"d'`,
      "'e\\f'",
      "'😀'",
      '}',
    ]);
  });

  it('parses nested arrays, bounds decorations and empty arrays', () => {
    expect(events('{{1,NULL},{"}",","}}').ev).toEqual([
      '{',
      '{',
      "'1'",
      'NULL',
      '}',
      '{',
      "'}'",
      "','",
      '}',
      '}',
    ]);
    expect(events('[0:1]={7,8}').ev).toEqual(['{', "'7'", "'8'", '}']);
    expect(events('[2:3][1:1]={{1},{2}}').ev).toEqual(['{', '{', "'1'", '}', '{', "'2'", '}', '}']);
    expect(events('{}').ev).toEqual(['{', '}']);
  });

  it('trims unquoted whitespace, keeps quoted and escaped characters', () => {
    expect(events('{ " sp " , x y ,a\\,b}').ev).toEqual(['{', "' sp '", "'x y'", "'a,b'", '}']);
  });

  it('uses the type delimiter (box uses ;)', () => {
    expect(events('{(1,1),(0,0);(3,3),(2,2)}', ';').ev).toEqual(['{', "'(1,1),(0,0)'", "'(3,3),(2,2)'", '}']);
  });

  it('reports malformed text', () => {
    expect(events('{1,2').ok).toBe(false);
  });
});
