/**
 * fp32 ⇄ IEEE binary16 and fp32 ⇄ bfloat16 bit conversions for tests, written independently
 * of native/core/dtype.h. float → half rounds to nearest, ties to even; NaN stays a (quiet) NaN.
 * The input is first rounded to fp32 (Math.fround), since the engine's weights are fp32 values.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

export function bitsF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

/** q = m / 2^shift rounded to nearest, ties to even (m < 2^31, 1 ≤ shift ≤ 30). */
function shiftRoundEven(m: number, shift: number): number {
  const q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** fp32 → binary16 bits. */
export function f32ToF16Bits(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 127 + 15; // the biased binary16 exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) in binary16: count units of 2^-24. The value is m · 2^(exp - 150),
    // so the unit count is m / 2^(126 - exp) = m / 2^(14 - e). fp32 subnormals (exp 0) are far
    // below 2^-25 and round to zero.
    if (exp === 0) return sign;
    const shift = 14 - e;
    if (shift > 24) return sign; // below 2^-25: rounds to zero
    return sign | shiftRoundEven(mant | 0x800000, shift); // 0x400 here is the smallest normal
  }
  // Normal: drop 13 mantissa bits, rounding; a carry into the exponent is correct (up to inf).
  return sign | shiftRoundEven((e << 23) | mant, 13);
}

/** binary16 bits → fp32 (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** fp32 → bfloat16 bits. */
export function f32ToBf16Bits(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  const hi = bits >>> 16;
  const rem = bits & 0xffff;
  const rounded = rem > 0x8000 || (rem === 0x8000 && (hi & 1) === 1) ? hi + 1 : hi;
  return rounded & 0xffff; // the largest finite values round up to inf (0x7f80 / 0xff80)
}

/** bfloat16 bits → fp32 (exact). */
export function bf16BitsToF32(h: number): number {
  return bitsF32((h & 0xffff) << 16);
}

/** A Float32Array to F16 bits. */
export function toF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

/** A Float32Array to BF16 bits. */
export function toBf16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]!);
  return out;
}
