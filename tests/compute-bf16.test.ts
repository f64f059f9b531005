/**
 * compute "bfloat16" at the op level: the AMX tile matmul (native/cpu/matmul_amx.cpp) against its
 * reference twin, which rounds the weight and the input to bf16 the same way (nearest even,
 * subnormals flushed) and sums in double. Only the tiles' fp32 accumulation differs, so the bound
 * is fp32's 1e-5. Skipped, by name, where the CPU has no AMX (or GPT_CPU_ISA caps it).
 */
import { describe, expect, it } from "vitest";
import type { NativeDtype, NativeEpilogue, NativeImpl, NativeOps } from "../bindings.js";
import { Gpt } from "../lib/index.js";
import { native } from "../lib/native.js";
import { errors } from "./helpers/errors.js";
import { bf16BitsToF32, f32Bits, f32ToBf16Bits, toBf16, toF16 } from "./helpers/half.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const ops: NativeOps = native().ops;
const ISA = Gpt.buildInfo().cpuIsa;
const AMX = ISA.includes("amx");
const EPILOGUES: NativeEpilogue[] = ["store", "gelu-tanh", "gelu-erf", "relu", "residual", "swiglu"];
const DTYPES: NativeDtype[] = ["F32", "F16", "BF16"];

/** bf16 as compute "bfloat16" rounds (native/cpu/tiles.h): nearest even, subnormals to signed zero. */
function bf16Flushed(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0) return bf16BitsToF32((bits >>> 16) & 0x8000);
  return bf16BitsToF32(f32ToBf16Bits(x));
}

function encode(values: Float32Array, dtype: NativeDtype): Float32Array | Uint16Array {
  return dtype === "F32" ? values : dtype === "F16" ? toF16(values) : toBf16(values);
}

// Awkward shapes: k and n off the tiles' 32, rows off their 16, past a task's 64 rows.
const SHAPES = [
  { rows: 1, k: 1, n: 1, threads: 1 },
  { rows: 1, k: 48, n: 257, threads: 3 },
  { rows: 2, k: 77, n: 64, threads: 1 },
  { rows: 3, k: 128, n: 100, threads: 2 },
  { rows: 15, k: 33, n: 31, threads: 2 },
  { rows: 16, k: 32, n: 32, threads: 1 },
  { rows: 17, k: 77, n: 5, threads: 3 },
  { rows: 33, k: 200, n: 48, threads: 2 },
  { rows: 65, k: 96, n: 130, threads: 3 },
  { rows: 130, k: 77, n: 64, threads: 2 },
];

describe.skipIf(!AMX)(`compute bfloat16 on the AMX tiles (seed ${SEED}; CPU level ${ISA}${AMX ? "" : ": no AMX, so skipped"})`, () => {
  let caseIndex = 0;
  for (const dtype of DTYPES)
    for (const epilogue of EPILOGUES)
      for (const c of SHAPES) {
        const n = epilogue === "swiglu" ? c.n + (c.n % 2) : c.n;
        const seed = deriveSeed(SEED, 40_000 + caseIndex++);
        it(`fast vs reference: ${dtype} ${epilogue} rows ${c.rows} k ${c.k} n ${n} threads ${c.threads} (case seed ${seed})`, () => {
          const rng = new Prng(seed);
          const input = rng.floats(c.rows * c.k);
          const weight = encode(rng.normals(c.k * n, 0.5), dtype);
          const bias = rng.floats(n, -0.5, 0.5);
          const width = epilogue === "swiglu" ? n / 2 : n;
          const start = epilogue === "residual" ? rng.floats(c.rows * width, -2, 2) : new Float32Array(c.rows * width).fill(NaN);
          const run = (impl: NativeImpl) => {
            const out = Float32Array.from(start);
            ops.matmul({ impl, input, rows: c.rows, weight, dtype, k: c.k, n, bias, epilogue, out, threads: c.threads, compute: "bfloat16" });
            return out;
          };
          const e = errors(run("fast"), run("reference"));
          expect(e.rel, "relative L2 error").toBeLessThanOrEqual(1e-5);
          expect(e.maxRel, "max error / max |reference|").toBeLessThanOrEqual(1e-5);
        });
      }

  it("the reference is Σ bf16(x) · bf16(w) + bias in double, rounded once (the twin pinned)", () => {
    const rng = new Prng(deriveSeed(SEED, 41_000));
    const [rows, k, n] = [3, 37, 5];
    const input = rng.floats(rows * k);
    const values = rng.normals(k * n, 0.5);
    const bias = rng.floats(n);
    const out = new Float32Array(rows * n);
    ops.matmul({ impl: "reference", input, rows, weight: values, dtype: "F32", k, n, bias, epilogue: "store", out, threads: 1, compute: "bfloat16" });
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += bf16Flushed(input[r * k + i]!) * bf16Flushed(values[i * n + j]!);
        expect(out[r * n + j]).toBe(Math.fround(Math.fround(acc) + bias[j]!));
      }
  });

  it("inputs are rounded on the tiles as the twin rounds them: ties to even, subnormals flushed, NaN kept", () => {
    const specials = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 2 ** -130, -(2 ** -127), 1e-38, 3.4e38, -0, 0.1, Math.PI];
    const rng = new Prng(deriveSeed(SEED, 42_000));
    const input = Float32Array.from([...specials, ...rng.normals(500, 3)]);
    const out = new Float32Array(input.length);
    // k = 1, a weight of 1, no bias: each output is its input as the tiles rounded it.
    ops.matmul({ impl: "fast", input, rows: input.length, weight: Float32Array.of(1), dtype: "F32", k: 1, n: 1, bias: new Float32Array(1), epilogue: "store", out, threads: 2, compute: "bfloat16" });
    for (let i = 0; i < input.length; i++) expect(Object.is(out[i], bf16Flushed(input[i]!) + 0), `input ${input[i]}`).toBe(true);
    const nan = new Float32Array(1);
    ops.matmul({ impl: "fast", input: Float32Array.of(NaN), rows: 1, weight: Float32Array.of(1), dtype: "F32", k: 1, n: 1, bias: new Float32Array(1), epilogue: "store", out: nan, threads: 1, compute: "bfloat16" });
    expect(nan[0]).toBeNaN();
  });

  it("a row's result is bit-identical alone, at any place among 1 to 130 rows, and at 1, 2 or 3 threads", () => {
    const rng = new Prng(deriveSeed(SEED, 43_000));
    const [k, n, rows] = [100, 300, 130];
    const input = rng.floats(rows * k);
    const weight = toF16(rng.normals(k * n, 0.5));
    const bias = rng.floats(n, -0.5, 0.5);
    const start = rng.floats(rows * n, -2, 2);
    for (const epilogue of EPILOGUES) {
      const width = epilogue === "swiglu" ? n / 2 : n;
      const run = (r0: number, count: number, threads: number) => {
        const out = Float32Array.from(start.subarray(r0 * width, (r0 + count) * width));
        ops.matmul({ impl: "fast", input: input.subarray(r0 * k, (r0 + count) * k), rows: count, weight, dtype: "F16", k, n, bias, epilogue, out, threads, compute: "bfloat16" });
        return out;
      };
      const all = run(0, rows, 2);
      for (const [r0, count, threads] of [[0, 1, 1], [5, 1, 3], [129, 1, 2], [3, 2, 1], [10, 13, 3], [15, 17, 2], [100, 30, 1], [0, 97, 3]] as const)
        expect(Array.from(run(r0, count, threads)), `${epilogue}: rows ${r0}…${r0 + count - 1} at ${threads} threads`).toEqual(
          Array.from(all.subarray(r0 * width, (r0 + count) * width)),
        );
    }
  });

  it("bf16 compute stays near fp32 compute: the rounding error is what bf16 inputs give", () => {
    const rng = new Prng(deriveSeed(SEED, 44_000));
    const [rows, k, n] = [20, 768, 96];
    const input = rng.normals(rows * k);
    const weight = rng.normals(k * n, 0.05);
    const bias = new Float32Array(n);
    const run = (compute: "float32" | "bfloat16") => {
      const out = new Float32Array(rows * n);
      ops.matmul({ impl: "fast", input, rows, weight, dtype: "F32", k, n, bias, epilogue: "store", out, threads: 2, compute });
      return out;
    };
    const e = errors(run("bfloat16"), run("float32"));
    // Two bf16 roundings (8-bit mantissas, 2^-9 relative each) of independent terms: about 2^-9.
    expect(e.rel).toBeGreaterThan(1e-4);
    expect(e.rel).toBeLessThan(1e-2);
  });
});

describe("compute argument checks", () => {
  const base = { impl: "fast" as const, input: new Float32Array(2), rows: 1, k: 2, n: 1, bias: new Float32Array(1), epilogue: "store" as const, out: new Float32Array(1), threads: 1 };
  it("rejects an unknown compute and an I8 weight under bfloat16 with a TypeError", () => {
    expect(() => ops.matmul({ ...base, weight: new Float32Array(2), dtype: "F32", compute: "float64" as "float32" })).toThrow(TypeError);
    expect(() => ops.matmul({ ...base, weight: new Int8Array(2), scales: new Float32Array(1), dtype: "I8", compute: "bfloat16" })).toThrow(/not I8/);
  });
  it.skipIf(AMX)(`without AMX, compute bfloat16 is an error naming the CPU level (${ISA})`, () => {
    expect(() => ops.matmul({ ...base, weight: new Float32Array(2), dtype: "F32", compute: "bfloat16" })).toThrow(/needs AMX tiles.*level is/);
  });
});
