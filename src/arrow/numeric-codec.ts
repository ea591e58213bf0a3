/**
 * Exact `numeric` decoding: PostgreSQL text or binary (`numeric_send`) values
 * into the 128-bit two's complement integers of an Arrow Decimal128 column,
 * and binary values into PostgreSQL's own text rendering. No value passes
 * through an inexact JS `number`: digits are accumulated into four 32-bit limbs.
 */

/** Outcome of decoding one numeric value into a Decimal128 slot. */
export const DecimalStatus = { Ok: 0, NaN: 1, Infinity: 2, NegativeInfinity: 3, Overflow: 4 } as const;
/** A value of {@link DecimalStatus}. */
export type DecimalStatus = (typeof DecimalStatus)[keyof typeof DecimalStatus];

const TWO_32 = 4_294_967_296;
/** Below this an accumulator times 10 000 plus a 4-digit group still fits exactly in a double. */
const SMALL_LIMIT = 900_000_000_000;

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

// The four limbs being accumulated (little-endian), plus the fast-path accumulator.
let w0 = 0;
let w1 = 0;
let w2 = 0;
let w3 = 0;
let small = 0;
let isSmall = true;

function reset(): void {
  w0 = w1 = w2 = w3 = 0;
  small = 0;
  isSmall = true;
}

/** acc = acc × m + a; returns false on overflow past 128 bits. */
function mulAdd(m: number, a: number): boolean {
  if (isSmall) {
    if (small < SMALL_LIMIT) {
      small = small * m + a;
      return true;
    }
    w0 = small % TWO_32;
    w1 = Math.floor(small / TWO_32);
    isSmall = false;
  }
  let t = w0 * m + a;
  let c = Math.floor(t / TWO_32);
  w0 = t - c * TWO_32;
  t = w1 * m + c;
  c = Math.floor(t / TWO_32);
  w1 = t - c * TWO_32;
  t = w2 * m + c;
  c = Math.floor(t / TWO_32);
  w2 = t - c * TWO_32;
  t = w3 * m + c;
  c = Math.floor(t / TWO_32);
  w3 = t - c * TWO_32;
  return c === 0 && w3 < 0x80000000;
}

/** Stores the accumulator (negated when `negative`) at `out[at * 4 ...]`. */
function store(out: Uint32Array, at: number, negative: boolean): void {
  if (isSmall) {
    w0 = small % TWO_32;
    w1 = Math.floor(small / TWO_32);
  }
  let i = at * 4;
  if (!negative) {
    out[i] = w0;
    out[i + 1] = w1;
    out[i + 2] = w2;
    out[i + 3] = w3;
    return;
  }
  // Two's complement: invert and add one, carrying through the limbs.
  let carry = 1;
  for (const w of [w0, w1, w2, w3]) {
    const v = (~w >>> 0) + carry;
    carry = v >= TWO_32 ? 1 : 0;
    out[i++] = v >>> 0;
  }
}

function special(buf: Uint8Array, start: number): DecimalStatus {
  const c = buf[start];
  if (c === 0x4e /* N */) return DecimalStatus.NaN;
  if (c === 0x49 /* I */) return DecimalStatus.Infinity;
  if (c === 0x2d && buf[start + 1] === 0x49) return DecimalStatus.NegativeInfinity;
  return DecimalStatus.Ok;
}

/**
 * Decodes numeric text (`-12.50`, `NaN`, `Infinity`) into the unscaled
 * Decimal128 integer for `scale` (value × 10^scale) at `out[at*4 .. at*4+3]`.
 * Returns {@link DecimalStatus.Overflow} when the value needs more than 128
 * bits or has non-zero digits past `scale`.
 */
export function decimalFromText(
  buf: Uint8Array,
  start: number,
  end: number,
  scale: number,
  out: Uint32Array,
  at: number,
): DecimalStatus {
  const sp = special(buf, start);
  if (sp !== DecimalStatus.Ok) return sp;
  reset();
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative || buf[i] === 0x2b) i++;
  let frac = -1;
  let chunk = 0;
  let chunkDigits = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2e) {
      frac = 0;
      continue;
    }
    const d = c - 48;
    if (frac >= 0) {
      if (frac >= scale) {
        if (d !== 0) return DecimalStatus.Overflow;
        continue;
      }
      frac++;
    }
    chunk = chunk * 10 + d;
    if (++chunkDigits === 4) {
      if (!mulAdd(10_000, chunk)) return DecimalStatus.Overflow;
      chunk = 0;
      chunkDigits = 0;
    }
  }
  for (let pad = scale - Math.max(frac, 0); pad > 0; pad--) {
    chunk *= 10;
    if (++chunkDigits === 4) {
      if (!mulAdd(10_000, chunk)) return DecimalStatus.Overflow;
      chunk = 0;
      chunkDigits = 0;
    }
  }
  if (chunkDigits > 0 && !mulAdd(10 ** chunkDigits, chunk)) return DecimalStatus.Overflow;
  store(out, at, negative);
  return DecimalStatus.Ok;
}

function u16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

function i16(buf: Uint8Array, at: number): number {
  return (u16(buf, at) << 16) >> 16;
}

/**
 * Decodes a binary numeric (`numeric_send`: ndigits, weight, sign, dscale,
 * base-10 000 digits) into the unscaled Decimal128 integer for `scale`.
 */
export function decimalFromBinary(
  buf: Uint8Array,
  start: number,
  scale: number,
  out: Uint32Array,
  at: number,
): DecimalStatus {
  const ndigits = u16(buf, start);
  const weight = i16(buf, start + 2);
  const sign = u16(buf, start + 4);
  if (sign === NUMERIC_NAN) return DecimalStatus.NaN;
  if (sign === NUMERIC_PINF) return DecimalStatus.Infinity;
  if (sign === NUMERIC_NINF) return DecimalStatus.NegativeInfinity;
  reset();
  const fracGroups = Math.ceil(Math.max(scale, 0) / 4);
  // The last fraction group carries only `4 - excess` digits of the scale.
  const excess = fracGroups * 4 - scale;
  const first = start + 8;
  for (let p = Math.max(weight, 0); p >= -fracGroups; p--) {
    const idx = weight - p;
    const d = idx >= 0 && idx < ndigits ? u16(buf, first + idx * 2) : 0;
    if (p === -fracGroups && excess > 0) {
      const unit = 10 ** excess;
      if (d % unit !== 0 || !mulAdd(10_000 / unit, d / unit)) return DecimalStatus.Overflow;
    } else if (!mulAdd(10_000, d)) return DecimalStatus.Overflow;
  }
  // Groups past the scale must be zero.
  for (let idx = weight + fracGroups + 1; idx < ndigits; idx++) {
    if (idx >= 0 && u16(buf, first + idx * 2) !== 0) return DecimalStatus.Overflow;
  }
  store(out, at, sign === NUMERIC_NEG);
  return DecimalStatus.Ok;
}

/** PostgreSQL's text rendering (`numeric_out`) of a binary numeric: exact, with `dscale` fraction digits. */
export function numericTextFromBinary(buf: Uint8Array, start: number): string {
  const ndigits = u16(buf, start);
  const weight = i16(buf, start + 2);
  const sign = u16(buf, start + 4);
  const dscale = u16(buf, start + 6);
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PINF) return 'Infinity';
  if (sign === NUMERIC_NINF) return '-Infinity';
  const first = start + 8;
  const group = (idx: number): number => (idx >= 0 && idx < ndigits ? u16(buf, first + idx * 2) : 0);
  let text = sign === NUMERIC_POS ? '' : '-';
  if (weight < 0) text += '0';
  else {
    text += String(group(0));
    for (let idx = 1; idx <= weight; idx++) text += String(group(idx)).padStart(4, '0');
  }
  if (dscale > 0) {
    let frac = '';
    for (let idx = weight + 1; frac.length < dscale; idx++) frac += String(group(idx)).padStart(4, '0');
    text += `.${frac.slice(0, dscale)}`;
  }
  return text;
}
