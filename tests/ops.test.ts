/**
 * Every fast CPU kernel against its reference twin (native/cpu/matmul.cpp), on fresh seeded
 * random inputs at awkward shapes. The seed is in each describe's name; rerun a failure with
 * GPT_TEST_SEED=<seed> npx vitest run tests/ops.test.ts.
 */
import { describe, expect, it } from "vitest";

import type { NativeDtype, NativeEpilogue, NativeImpl, NativeOps } from "../bindings.js";
import { native } from "../lib/native.js";
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32Bits,
  f32ToBf16Bits,
  f32ToF16Bits,
  toBf16,
  toF16,
} from "./helpers/half.js";
import { activate } from "./helpers/activations.js";
import { errors } from "./helpers/errors.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const ops: NativeOps = native().ops;

const DTYPES: NativeDtype[] = ["F32", "F16", "BF16"];
const EPILOGUES: NativeEpilogue[] = ["store", "gelu-tanh", "gelu-erf", "relu", "residual"];
const ACTIVATIONS = ["gelu-tanh", "gelu-erf", "relu"] as const;

/** Weight values → the typed array of their storage bits (and the values they round to). */
function encodeWeight(values: Float32Array, dtype: NativeDtype): Float32Array | Uint16Array {
  if (dtype === "F32") return values;
  return dtype === "F16" ? toF16(values) : toBf16(values);
}

const TOLERANCE = 1e-5;

function expectClose(fast: Float32Array, ref: Float32Array, what: string): void {
  const e = errors(fast, ref);
  const at = e.worst >= 0 ? ` (worst at ${e.worst}: fast ${fast[e.worst]}, reference ${ref[e.worst]})` : "";
  expect(e.rel, `${what}: relative L2 error${at}`).toBeLessThanOrEqual(TOLERANCE);
  expect(e.maxRel, `${what}: max abs error / max |ref|${at}`).toBeLessThanOrEqual(TOLERANCE);
}

function expectAllFinite(a: Float32Array, what: string): void {
  const bad = a.findIndex((x) => !Number.isFinite(x));
  expect(bad, `${what}: element ${bad} is ${a[bad]} (not written?)`).toBe(-1);
}

// ---------------------------------------------------------------------------------------------
// The bit converters the tests encode weights with

describe("tests/helpers/half.ts", () => {
  it("f32 → f16 rounds to nearest even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff], // largest finite
      [65519.99, 0x7bff], // just below the tie
      [65520, 0x7c00], // tie between 0x7bff (odd) and inf: rounds to inf
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1e-7, 0x0002], // subnormal: 1.678 units of 2^-24
      [2 ** -25, 0x0000], // half a unit: ties to even (zero)
      [3 * 2 ** -25, 0x0002], // 1.5 units: ties to even (2)
      [5 * 2 ** -25, 0x0002], // 2.5 units: ties to even (2)
      [2 ** -14 - 2 ** -25, 0x0400], // 1023.5 units: ties to even, carrying into the exponent
      [1 + 2 ** -11, 0x3c00], // tie, even stays
      [1 + 3 * 2 ** -11, 0x3c02], // tie, odd rounds up
      [1e-10, 0x0000],
    ];
    for (const [x, bits] of cases) expect(f32ToF16Bits(x).toString(16), `f16(${x})`).toBe(bits.toString(16));
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it("f16 → f32 → f16 is the identity on every finite bit pattern", () => {
    const wrong: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      const back = f32ToF16Bits(f16BitsToF32(h));
      if (back !== h) wrong.push(`0x${h.toString(16)} → 0x${back.toString(16)}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it("f32 → bf16 rounds to nearest even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3f80],
      [-2, 0xc000],
      [Math.PI, 0x4049],
      [1 + 2 ** -8, 0x3f80], // tie, even stays
      [1 + 3 * 2 ** -8, 0x3f82], // tie, odd rounds up
      [1 + 2 ** -8 + 2 ** -20, 0x3f81], // above the tie
      [3.4028234663852886e38, 0x7f80], // fp32 max rounds to inf
      [Infinity, 0x7f80],
      [1e-40, 0x0001], // fp32 subnormal 0x000116c2 → 0x0001
    ];
    for (const [x, bits] of cases) expect(f32ToBf16Bits(x).toString(16), `bf16(${x})`).toBe(bits.toString(16));
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
    for (let i = 0; i < 1000; i++) {
      const h = (i * 65.537) & 0xffff;
      if ((h & 0x7f80) === 0x7f80) continue;
      expect(f32ToBf16Bits(bf16BitsToF32(h))).toBe(h);
    }
    expect(f32Bits(bf16BitsToF32(0x3f80))).toBe(0x3f800000);
  });
});

// ---------------------------------------------------------------------------------------------
// matmul

interface MatmulCase {
  rows: number;
  k: number;
  n: number;
  threads: number;
}

// A representative cross-product: every listed rows, k and n value appears with several of the
// others, including the register-block (4 rows) and strip (32 columns) boundaries on both sides.
const MATMUL_SHAPES: MatmulCase[] = [
  { rows: 1, k: 1, n: 1, threads: 1 },
  { rows: 1, k: 48, n: 257, threads: 3 },
  { rows: 1, k: 128, n: 33, threads: 2 },
  { rows: 2, k: 3, n: 5, threads: 2 },
  { rows: 2, k: 77, n: 64, threads: 1 },
  { rows: 3, k: 16, n: 31, threads: 3 },
  { rows: 3, k: 128, n: 100, threads: 1 },
  { rows: 4, k: 16, n: 32, threads: 1 },
  { rows: 4, k: 77, n: 257, threads: 2 },
  { rows: 5, k: 1, n: 33, threads: 3 },
  { rows: 5, k: 48, n: 31, threads: 2 },
  { rows: 7, k: 3, n: 100, threads: 3 },
  { rows: 7, k: 128, n: 32, threads: 2 },
  { rows: 17, k: 77, n: 5, threads: 1 },
  { rows: 17, k: 48, n: 64, threads: 3 },
  { rows: 64, k: 128, n: 257, threads: 3 },
  { rows: 64, k: 16, n: 1, threads: 2 },
  // Past one GEMM task's chunk of rows (96), so later chunks must land in their own rows.
  { rows: 97, k: 48, n: 33, threads: 1 },
  { rows: 130, k: 77, n: 64, threads: 2 },
  { rows: 200, k: 16, n: 100, threads: 3 },
];

function runMatmul(
  impl: NativeImpl,
  c: MatmulCase,
  input: Float32Array,
  weight: Float32Array | Uint16Array,
  dtype: NativeDtype,
  bias: Float32Array,
  epilogue: NativeEpilogue,
  start: Float32Array,
): Float32Array {
  const out = Float32Array.from(start);
  ops.matmul({ impl, input, rows: c.rows, weight, dtype, k: c.k, n: c.n, bias, epilogue, out, threads: c.threads });
  return out;
}

describe(`ops.matmul fast vs reference (seed ${SEED})`, () => {
  let caseIndex = 0;
  for (const dtype of DTYPES)
    for (const epilogue of EPILOGUES)
      for (const c of MATMUL_SHAPES) {
        const seed = deriveSeed(SEED, caseIndex++);
        it(`${dtype} ${epilogue} rows ${c.rows} k ${c.k} n ${c.n} threads ${c.threads} (case seed ${seed})`, () => {
          const rng = new Prng(seed);
          const input = rng.floats(c.rows * c.k);
          const weight = encodeWeight(rng.normals(c.k * c.n, 0.5), dtype);
          const bias = rng.floats(c.n, -0.5, 0.5);
          // residual adds into `out`: both impls start from the same random copy. store and the
          // activations must write every element: the NaN poison would survive anywhere they do not.
          const start =
            epilogue === "residual" ? rng.floats(c.rows * c.n, -2, 2) : new Float32Array(c.rows * c.n).fill(NaN);
          const ref = runMatmul("reference", c, input, weight, dtype, bias, epilogue, start);
          const fast = runMatmul("fast", c, input, weight, dtype, bias, epilogue, start);
          expectAllFinite(ref, "reference");
          expectAllFinite(fast, "fast");
          expectClose(fast, ref, `${dtype} ${epilogue} ${c.rows}×${c.k}·${c.k}×${c.n}`);
        });
      }

  for (const dtype of DTYPES)
    it(`${dtype}: a row's result is bit-identical alone, at any place among 1 to 130 rows, and at 1, 2 or 3 threads (seed ${SEED})`, () => {
      // Batch invariance: the one-row path (decode) and the GEMM (prefill, batches) must compute
      // every output element in the same order, or a sequence's tokens would depend on its batch.
      const rng = new Prng(deriveSeed(SEED, 10_100 + DTYPES.indexOf(dtype)));
      const k = 77;
      const n = 300; // past one 256-column decode block, with a ragged tail
      const rows = 130; // past one GEMM task's 96-row chunk
      const input = rng.floats(rows * k);
      const weight = encodeWeight(rng.normals(k * n, 0.5), dtype);
      const bias = rng.floats(n, -0.5, 0.5);
      const start = rng.floats(rows * n, -2, 2);
      for (const epilogue of EPILOGUES) {
        const run = (r0: number, count: number, threads: number) => {
          const out = Float32Array.from(start.subarray(r0 * n, (r0 + count) * n));
          ops.matmul({ impl: "fast", input: input.subarray(r0 * k, (r0 + count) * k), rows: count, weight, dtype, k, n, bias, epilogue, out, threads });
          return out;
        };
        const all = run(0, rows, 2);
        for (const [r0, count, threads] of [
          [0, 1, 1], [5, 1, 3], [129, 1, 2], [3, 2, 1], [10, 13, 3], [100, 30, 1], [0, 97, 3],
        ] as const)
          expect(Array.from(run(r0, count, threads)), `${epilogue}: rows ${r0}…${r0 + count - 1} at ${threads} threads`).toEqual(
            Array.from(all.subarray(r0 * n, (r0 + count) * n)),
          );
      }
    });

  it(`reference matches a JS double-precision product (seed ${SEED})`, () => {
    // Pins the oracle itself: out = epilogue(in · W + b) in the documented [in, out] layout.
    const rng = new Prng(deriveSeed(SEED, 10_000));
    const rows = 3;
    const k = 5;
    const n = 7;
    const input = rng.floats(rows * k);
    const w = rng.floats(k * n);
    const bias = rng.floats(n);
    const start = rng.floats(rows * n);
    for (const epilogue of EPILOGUES) {
      const out = Float32Array.from(start);
      ops.matmul({ impl: "reference", input, rows, weight: w, dtype: "F32", k, n, bias, epilogue, out, threads: 1 });
      for (let r = 0; r < rows; r++)
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let i = 0; i < k; i++) acc += input[r * k + i]! * w[i * n + j]!;
          const v = acc + bias[j]!;
          const want = epilogue === "residual" ? start[r * n + j]! + v : activate(epilogue, v);
          expect(out[r * n + j]!, `${epilogue} [${r}, ${j}]`).toBeCloseTo(want, 5);
        }
    }
  });

  for (const dtype of ["F16", "BF16"] as const)
    it(`widens every ${dtype} bit pattern as the JS decoder does (fast and reference)`, () => {
      // in = [1], k = 1: out[j] = widen(W[0, j]) + 0, across all 65536 patterns (NaN and inf included).
      const n = 0x10000;
      const weight = new Uint16Array(n);
      for (let i = 0; i < n; i++) weight[i] = i;
      const decode = dtype === "F16" ? f16BitsToF32 : bf16BitsToF32;
      for (const impl of ["fast", "reference"] as const) {
        const out = new Float32Array(n).fill(12345);
        ops.matmul({
          impl,
          input: new Float32Array([1]),
          rows: 1,
          weight,
          dtype,
          k: 1,
          n,
          bias: new Float32Array(n),
          epilogue: "store",
          out,
          threads: 2,
        });
        let mismatches = 0;
        let first = "";
        for (let i = 0; i < n; i++) {
          const want = Math.fround(decode(i) + 0);
          const got = out[i]!;
          const same = Number.isNaN(want) ? Number.isNaN(got) : got === want;
          if (!same && mismatches++ === 0) first = `0x${i.toString(16)}: got ${got}, want ${want}`;
        }
        expect(mismatches, `${impl}: first mismatch ${first}`).toBe(0);
      }
    });

  it(`reads typed arrays that are views at an offset into a larger buffer (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 10_001));
    const rows = 5;
    const k = 33;
    const n = 37;
    const view = (data: Float32Array | Uint16Array, pad: number) => {
      const Ctor = data instanceof Float32Array ? Float32Array : Uint16Array;
      const big = new Ctor(data.length + 2 * pad);
      big.set(data, pad);
      return big.subarray(pad, pad + data.length);
    };
    for (const dtype of DTYPES) {
      const input = rng.floats(rows * k);
      const weight = encodeWeight(rng.normals(k * n), dtype);
      const bias = rng.floats(n);
      for (const impl of ["fast", "reference"] as const) {
        const plain = new Float32Array(rows * n);
        ops.matmul({ impl, input, rows, weight, dtype, k, n, bias, epilogue: "store", out: plain, threads: 2 });
        const outBig = new Float32Array(rows * n + 6).fill(-7);
        const out = outBig.subarray(3, 3 + rows * n);
        ops.matmul({
          impl,
          input: view(input, 5) as Float32Array,
          rows,
          weight: view(weight, 3),
          dtype,
          k,
          n,
          bias: view(bias, 1) as Float32Array,
          epilogue: "store",
          out,
          threads: 2,
        });
        expect(Array.from(out), `${dtype} ${impl}`).toEqual(Array.from(plain));
        expect([outBig[0], outBig[1], outBig[2], outBig.at(-1)], "writes stay inside the view").toEqual([-7, -7, -7, -7]);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// lmHead

describe(`ops.lmHead fast vs reference (seed ${SEED})`, () => {
  let caseIndex = 1000;
  let threadCycle = 0;
  for (const dtype of DTYPES)
    for (const vocab of [1, 63, 64, 65, 1000])
      for (const c of [16, 48, 50])
        for (const rows of [1, 3, 9]) {
          const seed = deriveSeed(SEED, caseIndex++);
          const threads = 1 + (threadCycle++ % 3);
          it(`${dtype} vocab ${vocab} c ${c} rows ${rows} threads ${threads} (case seed ${seed})`, () => {
            const rng = new Prng(seed);
            const input = rng.floats(rows * c);
            const weight = encodeWeight(rng.normals(vocab * c, 0.5), dtype);
            const run = (impl: NativeImpl) => {
              const out = new Float32Array(rows * vocab).fill(NaN);
              ops.lmHead({ impl, input, rows, weight, dtype, vocab, c, out, threads });
              return out;
            };
            const ref = run("reference");
            const fast = run("fast");
            expectAllFinite(ref, "reference");
            expectAllFinite(fast, "fast");
            // Each logit is one dot product: with few logits a relative error can be dominated by a
            // single sum that cancels to near zero, so gate each on its condition Σ|x|·|w| instead.
            const absInput = input.map(Math.abs);
            const absWeight =
              weight instanceof Float32Array ? weight.map(Math.abs) : weight.map((bits) => bits & 0x7fff);
            const scale = new Float32Array(rows * vocab);
            ops.lmHead({ impl: "reference", input: absInput, rows, weight: absWeight, dtype, vocab, c, out: scale, threads });
            const worst = Math.max(...Array.from(fast, (f, i) => Math.abs(f - ref[i]!) / scale[i]!));
            expect(worst, `${dtype} lmHead ${rows}×${c} · (${vocab}×${c})ᵀ: max |fast − ref| / Σ|x||w|`).toBeLessThanOrEqual(
              TOLERANCE,
            );
          });
        }

  it(`a row's logits are bit-identical alone, among other rows, and at 1, 2 or 3 threads (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 10_110));
    const rows = 9;
    const vocab = 1003; // a last block of 43: three vocabulary rows outside the 4 × 4 tiles
    const c = 50; // a masked last piece of 2
    const input = rng.floats(rows * c);
    for (const dtype of DTYPES) {
      const weight = encodeWeight(rng.normals(vocab * c, 0.5), dtype);
      const run = (r0: number, count: number, threads: number) => {
        const out = new Float32Array(count * vocab);
        ops.lmHead({ impl: "fast", input: input.subarray(r0 * c, (r0 + count) * c), rows: count, weight, dtype, vocab, c, out, threads });
        return out;
      };
      const all = run(0, rows, 2);
      for (const [r0, count, threads] of [[0, 1, 1], [4, 1, 3], [8, 1, 2], [2, 5, 1]] as const)
        expect(Array.from(run(r0, count, threads)), `${dtype} rows ${r0}…${r0 + count - 1}`).toEqual(
          Array.from(all.subarray(r0 * vocab, (r0 + count) * vocab)),
        );
    }
  });

  it(`reference is in · wteᵀ with wte stored [vocab, c] (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 10_002));
    const rows = 2;
    const vocab = 5;
    const c = 3;
    const input = rng.floats(rows * c);
    const wte = rng.floats(vocab * c);
    const out = new Float32Array(rows * vocab);
    ops.lmHead({ impl: "reference", input, rows, weight: wte, dtype: "F32", vocab, c, out, threads: 1 });
    for (let r = 0; r < rows; r++)
      for (let v = 0; v < vocab; v++) {
        let acc = 0;
        for (let i = 0; i < c; i++) acc += input[r * c + i]! * wte[v * c + i]!;
        expect(out[r * vocab + v]!).toBeCloseTo(acc, 5);
      }
  });
});

// ---------------------------------------------------------------------------------------------
// attention over the paged pool (head_dim a multiple of 16 takes the AVX-512 kernel where there
// is one; others the generic loop)

const BLOCK = 16;

interface AttentionCase {
  heads: number;
  /** Grouped-query attention's KV heads (a divisor of heads); heads when absent. */
  kvHeads?: number;
  headDim: number;
  /** Blocks in the pool. */
  blocks: number;
  /** Each sequence's rows of this call, at positions start … start + rows − 1. */
  sequences: { start: number; rows: number }[];
  threads: number;
}

const ATTENTION_SHAPES: AttentionCase[] = [
  { heads: 1, headDim: 16, blocks: 2, sequences: [{ start: 0, rows: 1 }], threads: 1 },
  { heads: 2, headDim: 64, blocks: 9, sequences: [{ start: 0, rows: 17 }], threads: 3 },
  { heads: 3, headDim: 64, blocks: 12, sequences: [{ start: 37, rows: 1 }, { start: 0, rows: 5 }], threads: 2 },
  { heads: 2, headDim: 48, blocks: 7, sequences: [{ start: 5, rows: 3 }], threads: 2 },
  { heads: 1, headDim: 128, blocks: 16, sequences: [{ start: 98, rows: 2 }, { start: 15, rows: 1 }], threads: 1 },
  { heads: 4, headDim: 32, blocks: 20, sequences: [{ start: 61, rows: 9 }, { start: 16, rows: 16 }, { start: 3, rows: 1 }], threads: 3 },
  { heads: 2, headDim: 8, blocks: 4, sequences: [{ start: 3, rows: 4 }], threads: 2 },
  { heads: 3, headDim: 24, blocks: 3, sequences: [{ start: 0, rows: 12 }], threads: 3 },
  { heads: 1, headDim: 144, blocks: 5, sequences: [{ start: 4, rows: 5 }, { start: 31, rows: 2 }], threads: 2 },
  { heads: 12, headDim: 64, blocks: 70, sequences: [{ start: 900, rows: 1 }], threads: 2 },
  // Grouped-query attention: SmolLM2's 9 query heads on 3 KV heads, a head width of 80, one KV head.
  { heads: 9, kvHeads: 3, headDim: 16, blocks: 9, sequences: [{ start: 20, rows: 7 }, { start: 0, rows: 3 }], threads: 3 },
  { heads: 2, kvHeads: 1, headDim: 80, blocks: 6, sequences: [{ start: 0, rows: 19 }, { start: 50, rows: 1 }], threads: 2 },
  { heads: 8, kvHeads: 2, headDim: 64, blocks: 42, sequences: [{ start: 600, rows: 1 }, { start: 33, rows: 4 }], threads: 2 },
];

/** A random attention call: scattered, distinct blocks for each sequence, a pool of normal noise. */
function attentionCall(c: AttentionCase, rng: Prng) {
  const kvHeads = c.kvHeads ?? c.heads;
  const order = Array.from({ length: c.blocks }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const rows = c.sequences.reduce((n, s) => n + s.rows, 0);
  const positions = new Int32Array(rows);
  const tableStarts = new Int32Array(rows);
  const tables: number[] = [];
  let row = 0;
  for (const seq of c.sequences) {
    const need = Math.ceil((seq.start + seq.rows) / BLOCK);
    const start = tables.length;
    tables.push(...order.splice(0, need));
    for (let t = 0; t < seq.rows; t++, row++) {
      positions[row] = seq.start + t;
      tableStarts[row] = start;
    }
  }
  // Scores of a few units: a softmax neither flat nor one-hot.
  return {
    qkv: rng.normals(rows * (c.heads + 2 * kvHeads) * c.headDim, 0.7),
    rows,
    heads: c.heads,
    kvHeads,
    headDim: c.headDim,
    positions,
    tableStarts,
    tables: Int32Array.from(tables),
    blocks: c.blocks,
    pool: rng.normals(2 * c.blocks * kvHeads * BLOCK * c.headDim, 0.7),
  };
}

function runAttention(impl: NativeImpl, call: ReturnType<typeof attentionCall>, threads: number) {
  const out = new Float32Array(call.rows * call.heads * call.headDim).fill(NaN);
  const pool = Float32Array.from(call.pool);
  ops.attention({ impl, ...call, pool, out, threads });
  return { out, pool };
}

describe(`ops.attention fast vs reference (seed ${SEED})`, () => {
  let caseIndex = 2000;
  for (const c of ATTENTION_SHAPES) {
    const seed = deriveSeed(SEED, caseIndex++);
    const seqs = c.sequences.map((s) => `${s.start}+${s.rows}`).join(", ");
    const name = `heads ${c.heads}${c.kvHeads ? ` kvHeads ${c.kvHeads}` : ""} headDim ${c.headDim} blocks ${c.blocks} sequences [${seqs}] threads ${c.threads}`;
    it(`${name} (case seed ${seed})`, () => {
      const call = attentionCall(c, new Prng(seed));
      const ref = runAttention("reference", call, 1);
      const fast = runAttention("fast", call, c.threads);
      expectAllFinite(ref.out, "reference");
      expectAllFinite(fast.out, "fast");
      const differ = fast.pool.findIndex((x, i) => !Object.is(x, ref.pool[i]));
      expect(differ, "both append the same keys and values").toBe(-1);
      expectClose(fast.out, ref.out, `attention ${name}`);
    });
  }

  // A prompt's consecutive rows are attended to together, four at a time, sharing their keys
  // (native/cpu/attention_avx512.cpp): each must still get what it gets alone.
  it.each([1, 4, 5])(`a row's result is bit-identical alone, among its prompt's rows and other sequences, and at 1, 2 or 3 threads (shape %i, seed ${SEED})`, (shape) => {
    const c = ATTENTION_SHAPES[shape]!;
    const call = attentionCall(c, new Prng(deriveSeed(SEED, 2100 + shape)));
    const together = runAttention("fast", call, 2).out;
    const C = c.heads * c.headDim;
    for (const threads of [1, 3]) expect(Array.from(runAttention("fast", call, threads).out), `threads ${threads}`).toEqual(Array.from(together));
    // Each row on its own: the same pool (with the keys of the rows before it already appended).
    const pool = runAttention("fast", call, 2).pool;
    for (let r = 0; r < call.rows; r++) {
      const out = new Float32Array(C).fill(NaN);
      ops.attention({
        impl: "fast",
        ...call,
        qkv: call.qkv.subarray(r * 3 * C, (r + 1) * 3 * C),
        rows: 1,
        positions: call.positions.subarray(r, r + 1),
        tableStarts: Int32Array.of(0),
        tables: call.tables.subarray(call.tableStarts[r]!),
        pool: Float32Array.from(pool),
        out,
        threads: 2,
      });
      expect(Array.from(out), `row ${r}`).toEqual(Array.from(together.subarray(r * C, (r + 1) * C)));
    }
  });

  it(`reference is softmax(q kᵀ / √D) v over positions 0 … position, through the block table (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 10_003));
    const heads = 2;
    const D = 3;
    const blocks = 3;
    const C = heads * D;
    const rows = 2;
    // One sequence at positions 17 and 18: block 2 holds positions 0–15, block 0 holds 16–31.
    const tables = Int32Array.of(2, 0);
    const positions = Int32Array.of(17, 18);
    const qkv = rng.floats(rows * 3 * C, -1, 1);
    const pool = rng.floats(2 * blocks * heads * BLOCK * D, -1, 1);
    const out = new Float32Array(rows * C);
    ops.attention({ impl: "reference", qkv, rows, heads, headDim: D, positions, tableStarts: Int32Array.of(0, 0), tables, blocks, pool, out, threads: 1 });
    const at = (kv: 0 | 1, p: number, h: number, d: number) =>
      kv * blocks * heads * BLOCK * D + ((tables[Math.floor(p / BLOCK)]! * heads + h) * BLOCK + (p % BLOCK)) * D + d;
    for (let t = 0; t < rows; t++)
      for (let h = 0; h < heads; h++) {
        const q = (d: number) => qkv[t * 3 * C + h * D + d]!;
        // This call's own keys and values landed at its positions.
        for (let d = 0; d < D; d++) {
          expect(pool[at(0, positions[t]!, h, d)]).toBe(qkv[t * 3 * C + C + h * D + d]!);
          expect(pool[at(1, positions[t]!, h, d)]).toBe(qkv[t * 3 * C + 2 * C + h * D + d]!);
        }
        const scores: number[] = [];
        for (let j = 0; j <= positions[t]!; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += q(d) * pool[at(0, j, h, d)]!;
          scores.push(s / Math.sqrt(D));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) {
          let want = 0;
          for (let j = 0; j < e.length; j++) want += (e[j]! / sum) * pool[at(1, j, h, d)]!;
          expect(out[t * C + h * D + d]!, `row ${t} head ${h} dim ${d}`).toBeCloseTo(want, 5);
        }
      }
  });

  // The variants other families use: GPT-Neo's unscaled scores and local windows, BLOOM's ALiBi
  // (3 and 12 heads: not powers of two), and both at once.
  const VARIANTS: { name: string; variant: (heads: number) => { scale?: number; window?: number; slopes?: Float32Array } }[] = [
    { name: "window 5", variant: () => ({ window: 5 }) },
    { name: "window 16, scale 1", variant: () => ({ window: 16, scale: 1 }) },
    { name: "window 1", variant: () => ({ window: 1 }) },
    { name: "ALiBi", variant: (heads) => ({ slopes: ops.alibiSlopes(heads) }) },
    { name: "ALiBi, window 7, scale 0.3", variant: (heads) => ({ slopes: ops.alibiSlopes(heads), window: 7, scale: 0.3 }) },
  ];
  for (const [v, { name, variant }] of VARIANTS.entries())
    for (const shape of [2, 4, 5, 9]) {
      const c = ATTENTION_SHAPES[shape]!;
      const seed = deriveSeed(SEED, 2200 + 10 * v + shape);
      it(`${name}: heads ${c.heads} headDim ${c.headDim} sequences [${c.sequences.map((q) => `${q.start}+${q.rows}`).join(", ")}] (case seed ${seed})`, () => {
        const call = { ...attentionCall(c, new Prng(seed)), ...variant(c.heads) };
        const ref = runAttention("reference", call, 1);
        const fast = runAttention("fast", call, c.threads);
        expectAllFinite(fast.out, "fast");
        expectClose(fast.out, ref.out, `attention ${name}`);
        const plain = runAttention("reference", attentionCall(c, new Prng(seed)), 1);
        expect(Array.from(ref.out), "the variant changes the result").not.toEqual(Array.from(plain.out));
      });
    }

  it(`reference with a window, a scale and ALiBi is their definition, through the block table (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 10_004));
    const [heads, D, blocks, window, scale] = [3, 4, 3, 6, 0.45];
    const C = heads * D;
    const tables = Int32Array.of(2, 0);
    const positions = Int32Array.of(3, 20);
    const qkv = rng.floats(2 * 3 * C, -1, 1);
    const pool = rng.floats(2 * blocks * heads * BLOCK * D, -1, 1);
    const slopes = ops.alibiSlopes(heads);
    const out = new Float32Array(2 * C);
    ops.attention({ impl: "reference", qkv, rows: 2, heads, headDim: D, positions, tableStarts: Int32Array.of(0, 0), tables, blocks, pool, out, threads: 1, window, scale, slopes });
    const at = (kv: 0 | 1, p: number, h: number, d: number) =>
      kv * blocks * heads * BLOCK * D + ((tables[Math.floor(p / BLOCK)]! * heads + h) * BLOCK + (p % BLOCK)) * D + d;
    for (let t = 0; t < 2; t++)
      for (let h = 0; h < heads; h++) {
        const i = positions[t]!;
        const keys: number[] = [];
        for (let j = Math.max(0, i - window + 1); j <= i; j++) keys.push(j);
        const scores = keys.map((j) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qkv[t * 3 * C + h * D + d]! * pool[at(0, j, h, d)]!;
          return dot * scale + slopes[h]! * (j - i);
        });
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) {
          const want = keys.reduce((acc, j, n) => acc + (e[n]! / sum) * pool[at(1, j, h, d)]!, 0);
          expect(out[t * C + h * D + d]!, `row ${t} head ${h} dim ${d}`).toBeCloseTo(want, 5);
        }
      }
  });

  it("alibiSlopes are transformers' build_alibi_tensor slopes, for powers of two and the heads between", () => {
    // transformers: base 2^(−2^−(log2(p) − 3)) to the powers 1 … p for the largest power of two
    // p ≤ heads, then 2^(−2^−(log2(2p) − 3)) to the odd powers for the rest.
    const expected = (heads: number) => {
      const p = 2 ** Math.floor(Math.log2(heads));
      const base = Math.fround(2 ** -(2 ** -(Math.log2(p) - 3)));
      const slopes = Array.from({ length: p }, (_, i) => base ** (i + 1));
      const extra = Math.fround(2 ** -(2 ** -(Math.log2(2 * p) - 3)));
      for (let i = 0; i < heads - p; i++) slopes.push(extra ** (2 * i + 1));
      return slopes;
    };
    for (const heads of [1, 2, 3, 5, 6, 8, 12, 16, 20, 32, 112]) {
      const got = ops.alibiSlopes(heads);
      expect(got.length).toBe(heads);
      expected(heads).forEach((want, h) => expect(Math.abs(got[h]! - want) / want, `heads ${heads} slope ${h}`).toBeLessThan(1e-6));
    }
    expect(Array.from(ops.alibiSlopes(8))).toEqual([0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]);
  });

  it("rejects a position its block table does not cover, or a block outside the pool", () => {
    const call = attentionCall(ATTENTION_SHAPES[3]!, new Prng(1));
    const out = new Float32Array(call.rows * call.heads * call.headDim);
    const run = (patch: Record<string, unknown>) => () =>
      ops.attention({ impl: "fast", ...call, out, threads: 1, ...patch } as Parameters<NativeOps["attention"]>[0]);
    expect(run({ positions: Int32Array.of(40, 6, 7) })).toThrow(/row 0: position 40 is not covered by its block table/);
    expect(run({ tables: Int32Array.of(7) })).toThrow(/tables\[0\] = 7 is outside the pool of 7 blocks/);
    expect(run({ positions: [5, 6, 7] })).toThrow(/positions must be an Int32Array/);
  });
});

describe(`ops.attention with grouped-query heads (seed ${SEED})`, () => {
  it(`the reference equals multi-head attention over each KV head repeated for its group (seed ${SEED})`, () => {
    // The definition of GQA (transformers' repeat_kv): query head h attends with KV head h / group.
    const c: AttentionCase = { heads: 6, kvHeads: 2, headDim: 24, blocks: 5, sequences: [{ start: 9, rows: 6 }, { start: 0, rows: 2 }], threads: 1 };
    const call = attentionCall(c, new Prng(deriveSeed(SEED, 2200)));
    const D = c.headDim, H = c.heads, G = H / c.kvHeads!;
    const rows = call.rows;
    const qkvMha = new Float32Array(rows * 3 * H * D);
    for (let r = 0; r < rows; r++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++) {
          const kv = Math.floor(h / G);
          const src = call.qkv.subarray(r * (H + 2 * c.kvHeads!) * D);
          qkvMha[r * 3 * H * D + h * D + d] = src[h * D + d]!;
          qkvMha[r * 3 * H * D + H * D + h * D + d] = src[H * D + kv * D + d]!;
          qkvMha[r * 3 * H * D + 2 * H * D + h * D + d] = src[(H + c.kvHeads!) * D + kv * D + d]!;
        }
    const poolMha = new Float32Array(2 * c.blocks * H * BLOCK * D);
    const half = c.blocks * c.kvHeads! * BLOCK * D;
    for (let t = 0; t < 2; t++)
      for (let b = 0; b < c.blocks; b++)
        for (let h = 0; h < H; h++)
          for (let i = 0; i < BLOCK * D; i++)
            poolMha[t * (poolMha.length / 2) + (b * H + h) * BLOCK * D + i] =
              call.pool[t * half + (b * c.kvHeads! + Math.floor(h / G)) * BLOCK * D + i]!;
    const gqa = runAttention("reference", call, 1).out;
    const mha = runAttention("reference", { ...call, kvHeads: H, qkv: qkvMha, pool: poolMha }, 1).out;
    expectAllFinite(gqa, "gqa");
    expect(Array.from(gqa)).toEqual(Array.from(mha));
  });

  it(`a row's result is bit-identical alone and at 1, 2 or 3 threads (seed ${SEED})`, () => {
    const c = ATTENTION_SHAPES.find((x) => x.kvHeads === 3)!;
    const call = attentionCall(c, new Prng(deriveSeed(SEED, 2201)));
    const together = runAttention("fast", call, 2);
    for (const threads of [1, 3]) expect(Array.from(runAttention("fast", call, threads).out), `threads ${threads}`).toEqual(Array.from(together.out));
    const W = (c.heads + 2 * c.kvHeads!) * c.headDim, O = c.heads * c.headDim;
    for (let r = 0; r < call.rows; r++) {
      const out = new Float32Array(O).fill(NaN);
      ops.attention({
        impl: "fast",
        ...call,
        qkv: call.qkv.subarray(r * W, (r + 1) * W),
        rows: 1,
        positions: call.positions.subarray(r, r + 1),
        tableStarts: Int32Array.of(0),
        tables: call.tables.subarray(call.tableStarts[r]!),
        pool: Float32Array.from(together.pool),
        out,
        threads: 2,
      });
      expect(Array.from(out), `row ${r}`).toEqual(Array.from(together.out.subarray(r * O, (r + 1) * O)));
    }
  });

  it("rejects kvHeads that do not divide heads", () => {
    const call = attentionCall({ heads: 4, kvHeads: 2, headDim: 8, blocks: 1, sequences: [{ start: 0, rows: 1 }], threads: 1 }, new Prng(1));
    expect(() => runAttention("fast", { ...call, kvHeads: 3 }, 1)).toThrow(/kvHeads dividing heads/);
  });
});

// ---------------------------------------------------------------------------------------------
// SwiGLU (Llama's MLP): out[j] = silu(y[2j]) · y[2j + 1] for y = x·W + b, half W's width

const silu = (x: number): number => x / (1 + Math.exp(-x));

// ---------------------------------------------------------------------------------------------
// int8 matrices (the "int8" dtype: native/cpu/quantize.h)

/** Round half to even, as nearbyintf does in the default rounding mode. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The quantization of quantize.h, in JS: fp32 scale max|W| / 127 per column, values round(W / scale) in fp32. */
function quantizeTwin(w: Float32Array, k: number, n: number): { values: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let amax = 0;
    for (let i = 0; i < k; i++) amax = Math.max(amax, Math.abs(w[i * n + j]!));
    scales[j] = Math.fround(amax / 127);
  }
  const values = new Int8Array(k * n);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < n; j++) {
      const s = scales[j]!;
      values[i * n + j] = s === 0 ? 0 : Math.max(-127, Math.min(127, roundHalfEven(Math.fround(w[i * n + j]! / s))));
    }
  return { values, scales };
}

describe(`int8 matrices (seed ${SEED})`, () => {
  it("quantizeInt8 equals its JS twin bit for bit, from F32, F16 and BF16, zero columns and ties included", () => {
    const rng = new Prng(deriveSeed(SEED, 20_000));
    for (const dtype of DTYPES)
      for (const [k, n] of [[1, 1], [3, 5], [77, 33], [128, 257]] as const) {
        const values = rng.normals(k * n, 0.3);
        // A column of zeros, and a column whose values sit on .5 steps of its scale (ties).
        if (n > 2) for (let i = 0; i < k; i++) {
          values[i * n + 1] = 0;
          values[i * n + 2] = i === 0 ? 127 : ((i % 7) - 3) + 0.5;
        }
        const weight = encodeWeight(values, dtype);
        const stored = dtype === "F32" ? values : dtype === "F16" ? Float32Array.from(weight as Uint16Array, f16BitsToF32) : Float32Array.from(weight as Uint16Array, bf16BitsToF32);
        const got = ops.quantizeInt8({ weight, dtype, k, n });
        const want = quantizeTwin(stored, k, n);
        expect(Array.from(got.scales), `${dtype} ${k}×${n} scales`).toEqual(Array.from(want.scales));
        expect(Array.from(got.values), `${dtype} ${k}×${n} values`).toEqual(Array.from(want.values));
        if (n > 2) {
          expect(got.scales[1]).toBe(0);
          expect(Math.max(...Array.from(got.values).map(Math.abs))).toBe(127);
        }
      }
  });

  it("a weight that is not finite cannot be quantized: a RangeError naming it", () => {
    const w = new Float32Array(12).fill(0.5);
    w[7] = NaN;
    expect(() => ops.quantizeInt8({ weight: w, dtype: "F32", k: 3, n: 4 })).toThrow(/cannot quantize to int8: weight \(1, 3\) is nan/);
    w[7] = -Infinity;
    expect(() => ops.quantizeInt8({ weight: w, dtype: "F32", k: 3, n: 4 })).toThrow(/weight \(1, 3\) is -inf/);
  });

  const INT8_EPILOGUES: NativeEpilogue[] = [...EPILOGUES, "swiglu"];
  let caseIndex = 0;
  for (const epilogue of INT8_EPILOGUES)
    for (const c of MATMUL_SHAPES) {
      const n = epilogue === "swiglu" ? c.n + (c.n % 2) : c.n;
      const seed = deriveSeed(SEED, 21_000 + caseIndex++);
      it(`fast vs reference: ${epilogue} rows ${c.rows} k ${c.k} n ${n} threads ${c.threads} (case seed ${seed})`, () => {
        const rng = new Prng(seed);
        const input = rng.floats(c.rows * c.k);
        const { values, scales } = ops.quantizeInt8({ weight: rng.normals(c.k * n, 0.5), dtype: "F32", k: c.k, n });
        const bias = rng.floats(n, -0.5, 0.5);
        const width = epilogue === "swiglu" ? n / 2 : n;
        const start = epilogue === "residual" ? rng.floats(c.rows * width, -2, 2) : new Float32Array(c.rows * width).fill(NaN);
        const run = (impl: NativeImpl) => {
          const out = Float32Array.from(start);
          ops.matmul({ impl, input, rows: c.rows, weight: values, scales, dtype: "I8", k: c.k, n, bias, epilogue, out, threads: c.threads });
          return out;
        };
        const ref = run("reference");
        const fast = run("fast");
        expectAllFinite(ref, "reference");
        expectAllFinite(fast, "fast");
        expectClose(fast, ref, `I8 ${epilogue} ${c.rows}×${c.k}·${c.k}×${n}`);
      });
    }

  it("the reference is Σ x · value · scale + bias, in double (the oracle pinned)", () => {
    const rng = new Prng(deriveSeed(SEED, 22_000));
    const [rows, k, n] = [3, 9, 7];
    const input = rng.floats(rows * k);
    const { values, scales } = ops.quantizeInt8({ weight: rng.normals(k * n, 0.5), dtype: "F32", k, n });
    const bias = rng.floats(n);
    const out = new Float32Array(rows * n);
    ops.matmul({ impl: "reference", input, rows, weight: values, scales, dtype: "I8", k, n, bias, epilogue: "store", out, threads: 1 });
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += input[r * k + i]! * values[i * n + j]!;
        expect(out[r * n + j]).toBe(Math.fround(Math.fround(acc * scales[j]!) + bias[j]!));
      }
  });

  it(`a row's result is bit-identical alone, at any place among 1 to 130 rows, and at 1, 2 or 3 threads`, () => {
    const rng = new Prng(deriveSeed(SEED, 23_000));
    const [k, n, rows] = [77, 300, 130];
    const input = rng.floats(rows * k);
    const { values, scales } = ops.quantizeInt8({ weight: rng.normals(k * n, 0.5), dtype: "F32", k, n });
    const bias = rng.floats(n, -0.5, 0.5);
    const start = rng.floats(rows * n, -2, 2);
    for (const epilogue of INT8_EPILOGUES) {
      const width = epilogue === "swiglu" ? n / 2 : n;
      const run = (r0: number, count: number, threads: number) => {
        const out = Float32Array.from(start.subarray(r0 * width, (r0 + count) * width));
        ops.matmul({ impl: "fast", input: input.subarray(r0 * k, (r0 + count) * k), rows: count, weight: values, scales, dtype: "I8", k, n, bias, epilogue, out, threads });
        return out;
      };
      const all = run(0, rows, 2);
      for (const [r0, count, threads] of [[0, 1, 1], [5, 1, 3], [129, 1, 2], [3, 2, 1], [10, 13, 3], [100, 30, 1], [0, 97, 3]] as const)
        expect(Array.from(run(r0, count, threads)), `${epilogue}: rows ${r0}…${r0 + count - 1} at ${threads} threads`).toEqual(
          Array.from(all.subarray(r0 * width, (r0 + count) * width)),
        );
    }
  });

  it("int8 products stay near the unquantized ones (the quantization error is what it should be)", () => {
    const rng = new Prng(deriveSeed(SEED, 24_000));
    const [rows, k, n] = [8, 256, 96];
    const input = rng.floats(rows * k);
    const w = rng.normals(k * n, 0.5);
    const { values, scales } = ops.quantizeInt8({ weight: w, dtype: "F32", k, n });
    const bias = new Float32Array(n);
    const exact = new Float32Array(rows * n);
    const int8 = new Float32Array(rows * n);
    ops.matmul({ impl: "reference", input, rows, weight: w, dtype: "F32", k, n, bias, epilogue: "store", out: exact, threads: 1 });
    ops.matmul({ impl: "fast", input, rows, weight: values, scales, dtype: "I8", k, n, bias, epilogue: "store", out: int8, threads: 2 });
    // Each weight is off by at most half a step (scale / 2): a sum of k such errors times uniform
    // inputs has a relative L2 error of order 1 / (127 · √3 · ‖w‖ / max|w|) ≈ 1 %.
    const e = errors(int8, exact);
    expect(e.rel).toBeGreaterThan(1e-4);
    expect(e.rel).toBeLessThan(0.02);
  });
});

describe(`ops.matmul with the swiglu epilogue (seed ${SEED})`, () => {
  let caseIndex = 20_000;
  for (const dtype of DTYPES)
    for (const c0 of MATMUL_SHAPES) {
      const c = { ...c0, n: c0.n + (c0.n % 2) };
      const seed = deriveSeed(SEED, caseIndex++);
      it(`${dtype} rows ${c.rows} k ${c.k} n ${c.n} threads ${c.threads}: fast vs reference (case seed ${seed})`, () => {
        const rng = new Prng(seed);
        const input = rng.floats(c.rows * c.k);
        const weight = encodeWeight(rng.normals(c.k * c.n, 0.5), dtype);
        const bias = rng.floats(c.n, -0.5, 0.5);
        // out is rows × n/2, every element written: the NaN poison would survive anywhere it is not.
        const start = new Float32Array((c.rows * c.n) / 2).fill(NaN);
        const ref = runMatmul("reference", c, input, weight, dtype, bias, "swiglu", start);
        const fast = runMatmul("fast", c, input, weight, dtype, bias, "swiglu", start);
        expectAllFinite(ref, "reference");
        expectAllFinite(fast, "fast");
        expectClose(fast, ref, `${dtype} swiglu ${c.rows}×${c.k}·${c.k}×${c.n}`);
      });
    }

  for (const dtype of DTYPES)
    it(`${dtype}: a row's result is bit-identical alone, among 1 to 130 rows, and at 1, 2 or 3 threads (seed ${SEED})`, () => {
      const rng = new Prng(deriveSeed(SEED, 20_900 + DTYPES.indexOf(dtype)));
      const k = 77, n = 302, rows = 130, half = n / 2;
      const input = rng.floats(rows * k);
      const weight = encodeWeight(rng.normals(k * n, 0.5), dtype);
      const bias = rng.floats(n, -0.5, 0.5);
      const run = (r0: number, count: number, threads: number) => {
        const out = new Float32Array(count * half).fill(NaN);
        ops.matmul({ impl: "fast", input: input.subarray(r0 * k, (r0 + count) * k), rows: count, weight, dtype, k, n, bias, epilogue: "swiglu", out, threads });
        return out;
      };
      const all = run(0, rows, 2);
      for (const [r0, count, threads] of [[0, 1, 1], [5, 1, 3], [129, 1, 2], [3, 2, 1], [10, 13, 3], [100, 30, 1], [0, 97, 3]] as const)
        expect(Array.from(run(r0, count, threads)), `rows ${r0}…${r0 + count - 1} at ${threads} threads`).toEqual(
          Array.from(all.subarray(r0 * half, (r0 + count) * half)),
        );
    });

  it(`reference is silu(gate) · up of a JS double-precision product, pairs interleaved (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 20_950));
    const rows = 3, k = 5, n = 8;
    const input = rng.floats(rows * k, -2, 2);
    const w = rng.floats(k * n, -1, 1);
    const bias = rng.floats(n);
    const out = new Float32Array((rows * n) / 2);
    ops.matmul({ impl: "reference", input, rows, weight: w, dtype: "F32", k, n, bias, epilogue: "swiglu", out, threads: 1 });
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < n / 2; j++) {
        const y = (col: number) => {
          let acc = bias[col]!;
          for (let i = 0; i < k; i++) acc += input[r * k + i]! * w[i * n + col]!;
          return acc;
        };
        expect(out[r * (n / 2) + j]!, `[${r}, ${j}]`).toBeCloseTo(silu(y(2 * j)) * y(2 * j + 1), 5);
      }
  });

  it("rejects an odd n", () => {
    const out = new Float32Array(3);
    expect(() =>
      ops.matmul({ impl: "fast", input: new Float32Array(2), rows: 1, weight: new Float32Array(6), dtype: "F32", k: 2, n: 3, bias: new Float32Array(3), epilogue: "swiglu", out, threads: 1 }),
    ).toThrow(/even n/);
  });
});

describe(`ops.activation swiglu (seed ${SEED})`, () => {
  it("fast agrees with the reference within 1e-6 · max(1, |gate · up|) over a grid of pairs, the extremes and random pairs", () => {
    const rng = new Prng(deriveSeed(SEED, 3100));
    const pairs: number[] = [];
    for (let g = -40; g <= 40; g += 0.05) pairs.push(g, rng.floats(1, -4, 4)[0]!);
    for (const g of [0, -0, 1e-30, -1e-30, 88, -88, 3.4e38, -3.4e38, 1e20, -1e20]) pairs.push(g, 1.5);
    pairs.push(...rng.normals(4098, 3));
    const input = Float32Array.from(pairs);
    const ref = new Float32Array(input.length / 2).fill(NaN);
    const fast = new Float32Array(input.length / 2).fill(NaN);
    ops.activation({ impl: "reference", epilogue: "swiglu", input, out: ref });
    ops.activation({ impl: "fast", epilogue: "swiglu", input, out: fast });
    const bad: string[] = [];
    for (let i = 0; i < ref.length; i++) {
      const scale = Math.max(1, Math.abs(input[2 * i]! * input[2 * i + 1]!));
      if (fast[i] !== ref[i] && !(Math.abs(fast[i]! - ref[i]!) <= 1e-6 * scale)) bad.push(`swiglu(${input[2 * i]}, ${input[2 * i + 1]}): fast ${fast[i]}, reference ${ref[i]}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it("the reference is silu(gate) · up in double precision; NaN stays NaN", () => {
    const xs = [0.5, 2, -1, 3, -2.75, -0.5, 3.5, 0.25, -0.03125, 7];
    const ref = new Float32Array(xs.length / 2);
    ops.activation({ impl: "reference", epilogue: "swiglu", input: Float32Array.from(xs), out: ref });
    for (let i = 0; i < ref.length; i++) expect(ref[i], `pair ${i}`).toBeCloseTo(silu(xs[2 * i]!) * xs[2 * i + 1]!, 6);
    const out = new Float32Array(2);
    ops.activation({ impl: "fast", epilogue: "swiglu", input: Float32Array.from([NaN, 1, 1, NaN]), out });
    expect(out.every(Number.isNaN)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The activations (the matmul epilogue's fast paths, here over a wide input range)

describe(`ops.activation fast vs reference (seed ${SEED})`, () => {
  for (const epilogue of ACTIVATIONS)
    it(`${epilogue} agrees within 1e-6 · max(1, |x|) from -40 to 40, at the extremes, and on random inputs`, () => {
      const rng = new Prng(deriveSeed(SEED, 3000 + ACTIVATIONS.indexOf(epilogue)));
      const grid = Array.from({ length: 8001 }, (_, i) => -40 + i * 0.01);
      const special = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 3.4e38, -3.4e38, 1e20, -1e20, 88, -88, 9.5, -9.5];
      const input = Float32Array.from([...grid, ...special, ...rng.normals(4099, 3)]);
      const ref = new Float32Array(input.length).fill(NaN);
      const fast = new Float32Array(input.length).fill(NaN);
      ops.activation({ impl: "reference", epilogue, input, out: ref });
      ops.activation({ impl: "fast", epilogue, input, out: fast });
      const bad: string[] = [];
      for (let i = 0; i < input.length; i++) {
        const x = input[i]!;
        if (!(Math.abs(fast[i]! - ref[i]!) <= 1e-6 * Math.max(1, Math.abs(x))))
          bad.push(`${epilogue}(${x}): fast ${fast[i]}, reference ${ref[i]}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
    });

  for (const epilogue of ACTIVATIONS)
    it(`${epilogue} is NaN for NaN, and the reference matches the formula in double precision`, () => {
      const out = new Float32Array(3);
      ops.activation({ impl: "fast", epilogue, input: Float32Array.from([NaN, 1, -1]), out });
      expect(Number.isNaN(out[0])).toBe(true);
      const xs = [0.5, 1, -1, -2.75, 3.5, -0.03125];
      const ref = new Float32Array(xs.length);
      ops.activation({ impl: "reference", epilogue, input: Float32Array.from(xs), out: ref });
      xs.forEach((x, i) => expect(ref[i], `${epilogue}(${x})`).toBeCloseTo(activate(epilogue, x), 6));
    });
});

// ---------------------------------------------------------------------------------------------
// RMSNorm (Llama's): x / √(mean(x²) + eps) · gamma, per row

describe(`ops.rmsnorm (seed ${SEED})`, () => {
  it.each([
    [1, 1, 1e-6, 1],
    [3, 7, 1e-5, 2],
    [17, 48, 1e-6, 3],
    [2, 1000, 1e-5, 2],
    [5, 576, 1e-5, 1],
  ])("%i rows × %i wide, eps %f, %i threads: the formula in double", (rows, c, eps, threads) => {
    const rng = new Prng(deriveSeed(SEED, 5000 + c));
    const x = rng.floats(rows * c, -3, 5);
    const gamma = rng.floats(c, 0.5, 1.5);
    const out = new Float32Array(rows * c).fill(NaN);
    ops.rmsnorm({ x, rows, gamma, eps, out, threads });
    for (let t = 0; t < rows; t++) {
      const row = x.subarray(t * c, (t + 1) * c);
      const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / c + eps);
      for (let j = 0; j < c; j++) {
        const want = (row[j]! / rms) * gamma[j]!;
        expect(Math.abs(out[t * c + j]! - want), `row ${t} col ${j}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      }
    }
    // Each row is its own task: the same alone as among others.
    const alone = new Float32Array(c);
    ops.rmsnorm({ x: x.subarray((rows - 1) * c), rows: 1, gamma, eps, out: alone, threads: 1 });
    expect(Array.from(alone)).toEqual(Array.from(out.subarray((rows - 1) * c)));
  });
});

// ---------------------------------------------------------------------------------------------
// Rotary position embedding: q and k heads turned in place, v untouched

/** transformers' rotary in double: rotate_half (pairs i, i + dims/2) or rotate_every_two, the angle a float product. */
function rotaryReference(qkv: Float32Array, rows: number, positions: Int32Array, qHeads: number, kvHeads: number, D: number, dims: number, interleaved: boolean, invFreq: Float32Array) {
  const out = Float64Array.from(qkv);
  const width = (qHeads + 2 * kvHeads) * D;
  for (let r = 0; r < rows; r++)
    for (let h = 0; h < qHeads + kvHeads; h++)
      for (let i = 0; i < dims / 2; i++) {
        const angle = Math.fround(positions[r]! * invFreq[i]!);
        const [a, b] = interleaved ? [2 * i, 2 * i + 1] : [i, i + dims / 2];
        const at = r * width + h * D;
        const x1 = qkv[at + a]!, x2 = qkv[at + b]!;
        out[at + a] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
        out[at + b] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
      }
  return out;
}

/** Llama's frequencies: theta^(−2i/dims), in float as transformers computes them. */
const invFreqOf = (dims: number, theta: number) => Float32Array.from({ length: dims / 2 }, (_, i) => 1 / theta ** Math.fround((2 * i) / dims));

describe(`ops.rotary (seed ${SEED})`, () => {
  it.each([
    // [qHeads, kvHeads, headDim, dims, interleaved]: Llama (full, half-split), GQA 9/3 heads of 80,
    // NeoX's partial rotary (a quarter), GPT-J's interleaved on the first 64 of 256.
    [4, 4, 64, 64, false],
    [9, 3, 80, 80, false],
    [2, 2, 80, 20, false],
    [3, 1, 256, 64, true],
  ] as const)("%i q heads, %i kv heads of %i, %i rotated, interleaved %s", (qHeads, kvHeads, D, dims, interleaved) => {
    const rng = new Prng(deriveSeed(SEED, 6000 + D + dims));
    const rows = 5;
    const positions = Int32Array.of(0, 1, 17, 999, 4095);
    const qkv = rng.floats(rows * (qHeads + 2 * kvHeads) * D, -2, 2);
    const invFreq = invFreqOf(dims, 10000);
    const want = rotaryReference(qkv, rows, positions, qHeads, kvHeads, D, dims, interleaved, invFreq);
    const got = Float32Array.from(qkv);
    ops.rotary({ qkv: got, rows, positions, qHeads, kvHeads, headDim: D, dims, interleaved, invFreq, threads: 2 });
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
    expect(err).toBeLessThanOrEqual(2e-6);
    // Position 0 turns nothing; v and the values past `dims` are not touched.
    const width = (qHeads + 2 * kvHeads) * D;
    expect(Array.from(got.subarray(0, width))).toEqual(Array.from(qkv.subarray(0, width)));
    for (let r = 0; r < rows; r++) {
      const v = r * width + (qHeads + kvHeads) * D;
      expect(Array.from(got.subarray(v, v + kvHeads * D))).toEqual(Array.from(qkv.subarray(v, v + kvHeads * D)));
      if (dims < D) expect(got[r * width + dims]).toBe(qkv[r * width + dims]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Argument validation

describe("ops argument validation", () => {
  const rows = 2;
  const k = 3;
  const n = 4;
  type MatmulArgs = Parameters<NativeOps["matmul"]>[0];
  type LmHeadArgs = Parameters<NativeOps["lmHead"]>[0];
  const good = (): MatmulArgs => ({
    impl: "fast",
    input: new Float32Array(rows * k).fill(1),
    rows,
    weight: new Float32Array(k * n).fill(1),
    dtype: "F32",
    k,
    n,
    bias: new Float32Array(n),
    epilogue: "store",
    out: new Float32Array(rows * n),
    threads: 1,
  });
  const goodLm = (): LmHeadArgs => ({
    impl: "fast",
    input: new Float32Array(rows * k).fill(1),
    rows,
    weight: new Float32Array(n * k).fill(1),
    dtype: "F32",
    vocab: n,
    c: k,
    out: new Float32Array(rows * n),
    threads: 1,
  });
  /** Calls with `good()` changed by `patch`; the casts let the tests pass what the types forbid. */
  const matmulWith = (patch: Record<string, unknown>) => () => ops.matmul({ ...good(), ...patch } as MatmulArgs);
  const lmHeadWith = (patch: Record<string, unknown>) => () => ops.lmHead({ ...goodLm(), ...patch } as LmHeadArgs);

  it("accepts the well-formed arguments", () => {
    for (const impl of ["fast", "reference"] as const) {
      const a = { ...good(), impl };
      ops.matmul(a);
      expect(Array.from(a.out)).toEqual(new Array(rows * n).fill(k));
      const b = { ...goodLm(), impl };
      ops.lmHead(b);
      expect(Array.from(b.out)).toEqual(new Array(rows * n).fill(k));
      for (const dtype of ["F16", "BF16"] as const) {
        const ones = dtype === "F16" ? 0x3c00 : 0x3f80;
        ops.matmul({ ...good(), impl, dtype, weight: new Uint16Array(k * n).fill(ones) });
        ops.lmHead({ ...goodLm(), impl, dtype, weight: new Uint16Array(n * k).fill(ones) });
      }
    }
  });

  it("rejects a weight of the wrong typed-array kind with a TypeError", () => {
    expect(matmulWith({ dtype: "F16" })).toThrow(TypeError);
    expect(matmulWith({ dtype: "F16" })).toThrow(/weight array type does not match F16/);
    expect(matmulWith({ dtype: "BF16", weight: new Float32Array(k * n) })).toThrow(/does not match BF16/);
    expect(matmulWith({ weight: new Uint16Array(k * n) })).toThrow(/does not match F32/);
    expect(matmulWith({ weight: new Float64Array(k * n) })).toThrow(TypeError);
    expect(matmulWith({ dtype: "F16", weight: new Int16Array(k * n) })).toThrow(TypeError);
    expect(matmulWith({ weight: Array.from({ length: k * n }, () => 1) })).toThrow(/weight must be a typed array/);
    expect(lmHeadWith({ dtype: "F16" })).toThrow(/weight array type does not match F16/);
    expect(lmHeadWith({ weight: new Uint16Array(n * k) })).toThrow(TypeError);
  });

  it("rejects a weight whose length disagrees with its shape with a RangeError", () => {
    expect(matmulWith({ weight: new Float32Array(k * n + 1) })).toThrow(RangeError);
    expect(matmulWith({ weight: new Float32Array(k * n - 1) })).toThrow(/weight length disagrees with its shape/);
    expect(matmulWith({ dtype: "F16", weight: new Uint16Array(k * n * 2) })).toThrow(RangeError);
    expect(lmHeadWith({ weight: new Float32Array(n * k + 3) })).toThrow(RangeError);
    expect(lmHeadWith({ dtype: "BF16", weight: new Uint16Array(1) })).toThrow(/weight length disagrees/);
  });

  it("rejects input, bias and out of the wrong kind (TypeError) or length (RangeError)", () => {
    for (const key of ["input", "bias", "out"] as const) {
      const length = key === "input" ? rows * k : key === "bias" ? n : rows * n;
      expect(matmulWith({ [key]: new Float64Array(length) }), key).toThrow(TypeError);
      expect(matmulWith({ [key]: new Float64Array(length) }), key).toThrow(`${key} must be a Float32Array`);
      expect(matmulWith({ [key]: Array.from({ length }, () => 0) }), key).toThrow(TypeError);
      expect(matmulWith({ [key]: new Float32Array(length + 1) }), key).toThrow(RangeError);
      expect(matmulWith({ [key]: new Float32Array(length - 1) }), key).toThrow(
        `${key} must hold ${length} floats`,
      );
    }
    for (const key of ["input", "out"] as const) {
      const length = key === "input" ? rows * k : rows * n;
      expect(lmHeadWith({ [key]: new Uint16Array(length) }), key).toThrow(`${key} must be a Float32Array`);
      expect(lmHeadWith({ [key]: new Float32Array(length + 1) }), key).toThrow(RangeError);
    }
  });

  it("rejects unknown dtype, epilogue and impl names, and non-numeric sizes, with a TypeError", () => {
    expect(matmulWith({ dtype: "F64" })).toThrow(/unknown dtype F64/);
    expect(matmulWith({ dtype: "f32" })).toThrow(TypeError);
    expect(matmulWith({ epilogue: "geglu" })).toThrow(/unknown epilogue geglu/);
    expect(matmulWith({ impl: "slow" })).toThrow(/impl must be fast or reference/);
    expect(matmulWith({ rows: "2" })).toThrow(/expected a number in field rows/);
    expect(matmulWith({ k: undefined })).toThrow(TypeError);
    expect(matmulWith({ threads: null })).toThrow(/field threads/);
    expect(lmHeadWith({ dtype: "F8" })).toThrow(/unknown dtype/);
    expect(lmHeadWith({ vocab: "4" })).toThrow(/field vocab/);
    expect(lmHeadWith({ impl: 1 })).toThrow(TypeError);
  });

  it("rejects a missing argument object with a TypeError instead of crashing", () => {
    const untyped = ops as unknown as { matmul: (...a: unknown[]) => void; lmHead: (...a: unknown[]) => void };
    expect(() => untyped.matmul()).toThrow(TypeError);
    expect(() => untyped.matmul(null)).toThrow(TypeError);
    expect(() => untyped.lmHead()).toThrow(TypeError);
  });

  it("leaves `out` untouched when an argument is rejected", () => {
    const out = new Float32Array(rows * n).fill(5);
    expect(matmulWith({ out, epilogue: "nope" })).toThrow();
    expect(matmulWith({ out, bias: new Float32Array(n + 1) })).toThrow();
    expect(Array.from(out)).toEqual(new Array(rows * n).fill(5));
  });
});
