/**
 * Every CUDA kernel (native/cuda/) against its CPU twin, on fresh seeded random inputs (never
 * zeros) at awkward shapes, with every output poisoned with NaN first so that an element the
 * kernel forgot to write fails. Gates: ‖out − ref‖ / ‖ref‖ ≤ 1e-5 for fp32 paths, ≤ 1e-2 where
 * the tensor cores round the input to F16 / BF16; attention over an F16 / BF16 pool is held to
 * 1e-4 against a reference that rounds the pool as the kernels store it. Path auto, which the
 * model runs, must also be batch-invariant: a row's result bit-identical whatever the other rows
 * of the call. The matmul and LM-head references are the CPU
 * reference kernels (ops.* with impl "reference"); LayerNorm, embedding, attention and sampling
 * are checked against double-precision JS written from the CPU twins' definitions.
 *
 * Needs a CUDA device: without one the whole file is skipped, and the describe name says why.
 * Rerun a failure with GPT_TEST_SEED=<seed> npx vitest run tests/cuda-kernels.test.ts.
 */
import { describe, expect, it } from "vitest";

import type {
  NativeDtype,
  NativeEpilogue,
  NativeMatmulPath,
  NativeSampled,
} from "../bindings.js";
import { native } from "../lib/native.js";
import { bf16BitsToF32, f16BitsToF32, toBf16, toF16 } from "./helpers/half.js";
import { adjustLogits, samplingReference, topAlternatives } from "./helpers/sampling-reference.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const binding = native();
const devices = binding.devices();
const SKIP = !binding.buildInfo().cuda
  ? " — skipped: this binary was built without CUDA"
  : devices.length === 0
    ? " — skipped: no CUDA device visible (devices() is [])"
    : "";
const cuda = binding.cudaOps;
const ops = binding.ops;

const FP32 = 1e-5;
const HALF = 1e-2;

function random(prng: Prng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x = prng.uniform(lo, hi);
    if (x === 0) x = 0.5; // never zeros
    a[i] = x;
  }
  return a;
}

const poisoned = (n: number) => new Float32Array(n).fill(NaN);

function encode(values: Float32Array, dtype: NativeDtype): Float32Array | Uint16Array {
  return dtype === "F32" ? values : dtype === "F16" ? toF16(values) : toBf16(values);
}

function decode(bits: Float32Array | Uint16Array, dtype: NativeDtype): Float64Array {
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++)
    out[i] = dtype === "F32" ? bits[i]! : dtype === "F16" ? f16BitsToF32(bits[i]!) : bf16BitsToF32(bits[i]!);
  return out;
}

function expectClose(out: ArrayLike<number>, ref: ArrayLike<number>, tolerance: number, what: string): void {
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < ref.length; i++) {
    const x = out[i]!;
    if (!Number.isFinite(x)) expect.fail(`${what}: element ${i} is ${x} (not written?)`);
    diff2 += (x - ref[i]!) ** 2;
    ref2 += ref[i]! ** 2;
  }
  const rel = Math.sqrt(diff2 / ref2);
  expect(rel, `${what}: ‖out − ref‖ / ‖ref‖`).toBeLessThanOrEqual(tolerance);
}

describe.skipIf(SKIP !== "")(`CUDA kernels vs their CPU twins (seed ${SEED})${SKIP}`, () => {
  const DTYPES: NativeDtype[] = ["F32", "F16", "BF16"];
  const EPILOGUES: NativeEpilogue[] = ["store", "gelu-tanh", "gelu-erf", "relu", "residual"];

  describe("matmul", () => {
    // [rows, k, n]: odd sizes that cross every tile edge, and decode-sized row counts.
    const TILED: [number, number, number][] = [
      [1, 37, 24],
      [3, 64, 65],
      [17, 200, 130],
      [70, 96, 64],
    ];
    const DECODE: [number, number, number][] = [
      [1, 40, 8],
      [2, 1000, 136],
      [5, 768, 64],
      [9, 300, 24],
      [16, 2048, 200],
      [17, 256, 64], // past one chunk of 16 rows
      [70, 768, 2304],
    ];
    const cases: { path: NativeMatmulPath; dtype: NativeDtype; shape: [number, number, number] }[] = [];
    for (const dtype of DTYPES) {
      for (const shape of TILED) cases.push({ path: "fp32", dtype, shape });
      if (dtype !== "F32") for (const shape of TILED) cases.push({ path: "tensorcore", dtype, shape });
      for (const shape of DECODE) if (shape[2] % (dtype === "F32" ? 4 : 8) === 0) cases.push({ path: "decode", dtype, shape });
      cases.push({ path: "auto", dtype, shape: [33, 100, 72] });
    }
    cases.forEach(({ path, dtype, shape: [rows, k, n] }, index) => {
      it.each(EPILOGUES)(`${path} ${dtype} ${rows}×${k}·${k}×${n} %s`, (epilogue) => {
        const prng = new Prng(deriveSeed(SEED, index * 3 + EPILOGUES.indexOf(epilogue)));
        const input = random(prng, rows * k);
        const weight = encode(random(prng, k * n, -0.5, 0.5), dtype);
        const bias = random(prng, n);
        const start = epilogue === "residual" ? random(prng, rows * n) : poisoned(rows * n);
        const ref = start.slice();
        ops.matmul({ impl: "reference", input, rows, weight, dtype, k, n, bias, epilogue, out: ref, threads: 1 });
        const out = start.slice();
        cuda.matmul({ path, input, rows, weight, dtype, k, n, bias, epilogue, out });
        expectClose(out, ref, path === "tensorcore" ? HALF : FP32, path);
      });
    });

    it.each(DTYPES)("auto %s is batch-invariant: a row's result is bit-identical alone and among 1 to 40 rows", (dtype) => {
      const prng = new Prng(deriveSeed(SEED, 900 + DTYPES.indexOf(dtype)));
      const [rows, k, n] = [40, 768, 320];
      const input = random(prng, rows * k);
      const weight = encode(random(prng, k * n, -0.5, 0.5), dtype);
      const bias = random(prng, n);
      const run = (r0: number, count: number) => {
        const out = poisoned(count * n);
        cuda.matmul({ path: "auto", input: input.subarray(r0 * k, (r0 + count) * k), rows: count, weight, dtype, k, n, bias, epilogue: "gelu-tanh", out });
        return out;
      };
      const all = run(0, rows);
      for (const [r0, count] of [[0, 1], [7, 1], [39, 1], [3, 5], [16, 17]] as const)
        expect(Array.from(run(r0, count)), `rows ${r0}…${r0 + count - 1}`).toEqual(Array.from(all.subarray(r0 * n, (r0 + count) * n)));
    });

    it("refuses a forced path that cannot run, naming the constraint", () => {
      const args = { input: new Float32Array(3 * 5).fill(1), rows: 3, k: 5, n: 6, bias: new Float32Array(6) };
      const base = { ...args, epilogue: "store" as const, out: new Float32Array(18) };
      expect(() => cuda.matmul({ ...base, path: "tensorcore", weight: new Float32Array(30), dtype: "F32" })).toThrow(
        /F16 or BF16/,
      );
      expect(() => cuda.matmul({ ...base, path: "decode", weight: new Uint16Array(30), dtype: "F16" })).toThrow(
        /multiple of 8/,
      );
    });
  });

  describe("matmul with the swiglu epilogue (out rows × n/2: silu(y[2j]) · y[2j + 1])", () => {
    // [rows, k, n]: odd K, n even but not a multiple of 32, rows 1 … 70; these n are multiples of
    // 8, so the decode path takes them too, K = 1001 and 2049 split it (matmul_splitk_finish).
    const SHAPES: [number, number, number][] = [
      [1, 37, 24],
      [3, 201, 40],
      [17, 1001, 136],
      [70, 299, 200],
      [5, 2049, 24],
    ];
    // n ≡ 2 (mod 4): the tiled paths only (auto takes the fp32 tiles), pairs straddling no tile edge
    // but ending mid-warp.
    const TILED_ONLY: [number, number, number][] = [
      [3, 65, 66],
      [17, 33, 130],
    ];
    const cases: { path: NativeMatmulPath; dtype: NativeDtype; shape: [number, number, number] }[] = [];
    for (const dtype of DTYPES) {
      for (const shape of [...SHAPES, ...TILED_ONLY]) {
        cases.push({ path: "fp32", dtype, shape });
        if (dtype !== "F32") cases.push({ path: "tensorcore", dtype, shape });
        cases.push({ path: "auto", dtype, shape });
      }
      for (const shape of SHAPES) cases.push({ path: "decode", dtype, shape });
    }
    const silu = (g: number) => g / (1 + Math.exp(-g));
    cases.forEach(({ path, dtype, shape: [rows, k, n] }, index) =>
      it(`${path} ${dtype} ${rows}×${k}·${k}×${n} → ${rows}×${n / 2}`, () => {
        const prng = new Prng(deriveSeed(SEED, 1500 + index));
        const input = random(prng, rows * k);
        const weight = encode(random(prng, k * n, -0.5, 0.5), dtype);
        const bias = random(prng, n);
        const args = { input, rows, weight, dtype, k, n, bias };
        // The CPU twin's swiglu, and the same from its plain product (double-precision silu).
        const ref = poisoned(rows * (n / 2));
        ops.matmul({ impl: "reference", ...args, epilogue: "swiglu", out: ref, threads: 1 });
        const y = poisoned(rows * n);
        ops.matmul({ impl: "reference", ...args, epilogue: "store", out: y, threads: 1 });
        const fromStore = Float64Array.from({ length: rows * (n / 2) }, (_, i) => silu(y[2 * i]!) * y[2 * i + 1]!);
        expectClose(ref, fromStore, FP32, "the CPU's swiglu against its store");
        const out = poisoned(rows * (n / 2));
        cuda.matmul({ path, ...args, epilogue: "swiglu", out });
        const tolerance = path === "tensorcore" ? HALF : FP32;
        expectClose(out, ref, tolerance, `${path} against the CPU's swiglu`);
        expectClose(out, fromStore, tolerance, `${path} against silu(store)`);
      }),
    );

    it.each(DTYPES)("auto %s swiglu is batch-invariant, and is silu(gate) · up of what auto's store writes", (dtype) => {
      const prng = new Prng(deriveSeed(SEED, 1700 + DTYPES.indexOf(dtype)));
      const [rows, k, n] = [40, 768, 328];
      const input = random(prng, rows * k);
      const weight = encode(random(prng, k * n, -0.5, 0.5), dtype);
      const bias = random(prng, n);
      const run = (r0: number, count: number) => {
        const out = poisoned(count * (n / 2));
        cuda.matmul({ path: "auto", input: input.subarray(r0 * k, (r0 + count) * k), rows: count, weight, dtype, k, n, bias, epilogue: "swiglu", out });
        return out;
      };
      const all = run(0, rows);
      for (const [r0, count] of [[0, 1], [7, 1], [39, 1], [3, 5], [16, 17]] as const)
        expect(Array.from(run(r0, count)), `rows ${r0}…${r0 + count - 1}`).toEqual(
          Array.from(all.subarray(r0 * (n / 2), (r0 + count) * (n / 2))),
        );
      // The same sums as the store epilogue: silu in fp32 of the very values store writes.
      const y = poisoned(rows * n);
      cuda.matmul({ path: "auto", input, rows, weight, dtype, k, n, bias, epilogue: "store", out: y });
      expectClose(all, Float64Array.from(all, (_, i) => silu(y[2 * i]!) * y[2 * i + 1]!), FP32, "swiglu against silu(store)");
    });

    it("refuses an odd n", () => {
      const [rows, k, n] = [2, 8, 5];
      expect(() =>
        cuda.matmul({
          path: "fp32",
          input: new Float32Array(rows * k).fill(1),
          rows,
          weight: new Float32Array(k * n).fill(1),
          dtype: "F32",
          k,
          n,
          bias: new Float32Array(n),
          epilogue: "swiglu",
          out: new Float32Array(rows * 3),
        }),
      ).toThrow(/even n/);
    });
  });

  describe("lmHead", () => {
    const SHAPES: [number, number, number][] = [
      [1, 64, 1000],
      [4, 96, 517],
      [16, 40, 333],
      [37, 72, 301],
    ];
    const cases: { path: NativeMatmulPath; dtype: NativeDtype; shape: [number, number, number] }[] = [];
    for (const dtype of DTYPES)
      for (const shape of SHAPES) {
        cases.push({ path: "fp32", dtype, shape });
        if (dtype !== "F32") cases.push({ path: "tensorcore", dtype, shape });
        if (shape[1] % 8 === 0) cases.push({ path: "decode", dtype, shape });
        cases.push({ path: "auto", dtype, shape }); // what the model runs
      }
    cases.forEach(({ path, dtype, shape: [rows, c, vocab] }, index) =>
      it(`${path} ${dtype} ${rows}×${c} · (${vocab}×${c})ᵀ`, () => {
      const prng = new Prng(deriveSeed(SEED, 1000 + index));
      const input = random(prng, rows * c);
      const weight = encode(random(prng, vocab * c), dtype);
      const ref = poisoned(rows * vocab);
      ops.lmHead({ impl: "reference", input, rows, weight, dtype, vocab, c, out: ref, threads: 1 });
      const out = poisoned(rows * vocab);
      cuda.lmHead({ path, input, rows, weight, dtype, vocab, c, out });
      expectClose(out, ref, path === "tensorcore" ? HALF : FP32, `${path} ${dtype}`);
      }),
    );

    it("auto is batch-invariant: a row's logits are bit-identical alone and among 1 to 37 rows", () => {
      const prng = new Prng(deriveSeed(SEED, 1900));
      const [rows, c, vocab] = [37, 72, 301];
      const input = random(prng, rows * c);
      const weight = encode(random(prng, vocab * c), "F16");
      const run = (r0: number, count: number) => {
        const out = poisoned(count * vocab);
        cuda.lmHead({ path: "auto", input: input.subarray(r0 * c, (r0 + count) * c), rows: count, weight, dtype: "F16", vocab, c, out });
        return out;
      };
      const all = run(0, rows);
      for (const [r0, count] of [[0, 1], [36, 1], [2, 20]] as const)
        expect(Array.from(run(r0, count)), `rows ${r0}…${r0 + count - 1}`).toEqual(Array.from(all.subarray(r0 * vocab, (r0 + count) * vocab)));
    });

    // GPT-J's head: bias [vocab] added to every row, on every path.
    const BIASED: { path: NativeMatmulPath; dtype: NativeDtype; shape: [number, number, number] }[] = [];
    for (const dtype of DTYPES)
      for (const shape of [[1, 64, 1000], [9, 96, 517]] as [number, number, number][]) {
        for (const path of ["fp32", "decode", "auto"] as NativeMatmulPath[]) BIASED.push({ path, dtype, shape });
        if (dtype !== "F32") BIASED.push({ path: "tensorcore", dtype, shape });
      }
    BIASED.forEach(({ path, dtype, shape: [rows, c, vocab] }, index) =>
      it(`${path} ${dtype} ${rows}×${c} · (${vocab}×${c})ᵀ + bias`, () => {
        const prng = new Prng(deriveSeed(SEED, 1950 + index));
        const input = random(prng, rows * c);
        const weight = encode(random(prng, vocab * c), dtype);
        const bias = random(prng, vocab, -3, 3);
        const plain = poisoned(rows * vocab);
        ops.lmHead({ impl: "reference", input, rows, weight, dtype, vocab, c, out: plain, threads: 1 });
        const ref = Float64Array.from(plain, (x, i) => x + bias[i % vocab]!);
        const out = poisoned(rows * vocab);
        cuda.lmHead({ path, input, rows, weight, dtype, vocab, c, bias, out });
        expectClose(out, ref, path === "tensorcore" ? HALF : FP32, `${path} ${dtype} with bias`);
      }),
    );
  });

  describe("layernorm (and the fused residual add)", () => {
    it.each([
      [1, 8],
      [3, 768],
      [5, 1600],
      [2, 333],
      [7, 4097],
      [2, 12256], // the largest C the kernel holds in shared memory
    ])("%i rows × C = %i", (rows, c) => {
      const prng = new Prng(deriveSeed(SEED, 2000 + c));
      const x = random(prng, rows * c, -3, 5);
      const add = random(prng, rows * c);
      const gamma = random(prng, c, 0.5, 1.5);
      const beta = random(prng, c);
      const eps = 1e-5;
      for (const withAdd of [false, true]) {
        const summed = Float64Array.from(x, (v, i) => (withAdd ? Math.fround(v + add[i]!) : v));
        const ref = new Float64Array(rows * c);
        for (let t = 0; t < rows; t++) {
          const row = summed.subarray(t * c, (t + 1) * c);
          const mean = row.reduce((s, v) => s + v, 0) / c;
          const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / c;
          for (let j = 0; j < c; j++)
            ref[t * c + j] = ((row[j]! - mean) / Math.sqrt(variance + eps)) * gamma[j]! + beta[j]!;
        }
        const xs = x.slice();
        const out = poisoned(rows * c);
        cuda.layernorm({ x: xs, add: withAdd ? add : null, rows, c, gamma, beta, eps, out });
        expectClose(out, ref, FP32, withAdd ? "add + layernorm" : "layernorm");
        if (withAdd) expectClose(xs, summed, FP32, "residual written back");
        else expect(xs).toEqual(x);
      }
    });

    it("refuses a C past what it holds in shared memory, naming the limit", () => {
      const c = 12257;
      const row = () => new Float32Array(c).fill(0.5);
      const args = { x: row(), add: null, rows: 1, c, gamma: row(), beta: row(), eps: 1e-5, out: row() };
      expect(() => cuda.layernorm(args)).toThrow(/C = 12257 exceeds the 12256/);
    });
  });

  describe("rmsnorm (and the fused residual add)", () => {
    it.each([
      [1, 8],
      [3, 576], // SmolLM2-135M's width
      [2, 333],
      [4, 2048],
    ])("%i rows × C = %i, against the CPU's", (rows, c) => {
      const prng = new Prng(deriveSeed(SEED, 2100 + c));
      const x = random(prng, rows * c, -3, 5);
      const add = random(prng, rows * c);
      const gamma = random(prng, c, 0.5, 1.5);
      const eps = 1e-6;
      for (const withAdd of [false, true]) {
        const summed = Float32Array.from(x, (v, i) => (withAdd ? v + add[i]! : v));
        const ref = poisoned(rows * c);
        ops.rmsnorm({ x: summed, rows, gamma, eps, out: ref, threads: 1 });
        const xs = x.slice();
        const out = poisoned(rows * c);
        cuda.rmsnorm({ x: xs, add: withAdd ? add : null, rows, c, gamma, eps, out });
        expectClose(out, ref, FP32, withAdd ? "add + rmsnorm" : "rmsnorm");
        if (withAdd) expectClose(xs, summed, FP32, "residual written back");
        else expect(xs).toEqual(x);
      }
    });
  });

  describe("rotary", () => {
    it.each([
      [9, 3, 80, 80, false],
      [2, 2, 80, 20, false],
      [3, 1, 256, 64, true],
    ] as const)("%i q / %i kv heads of %i, %i rotated, interleaved %s: the CPU's result", (qHeads, kvHeads, D, dims, interleaved) => {
      const prng = new Prng(deriveSeed(SEED, 2200 + D + dims));
      const rows = 4;
      const positions = Int32Array.of(0, 5, 300, 4095);
      const qkv = random(prng, rows * (qHeads + 2 * kvHeads) * D, -2, 2);
      const invFreq = Float32Array.from({ length: dims / 2 }, (_, i) => 1 / 10000 ** Math.fround((2 * i) / dims));
      const args = { rows, positions, qHeads, kvHeads, headDim: D, dims, interleaved, invFreq };
      const cpu = qkv.slice();
      ops.rotary({ ...args, qkv: cpu, threads: 1 });
      const gpu = qkv.slice();
      cuda.rotary({ ...args, qkv: gpu });
      expectClose(gpu, cpu, FP32, "rotary");
    });
  });

  describe("embed", () => {
    it.each(DTYPES)("%s, odd C, start > 0", (dtype) => {
      const prng = new Prng(deriveSeed(SEED, 3000 + DTYPES.indexOf(dtype)));
      const vocab = 97, positions = 64, c = 77, start = 13;
      const wte = encode(random(prng, vocab * c), dtype);
      const wpe = encode(random(prng, positions * c), "F32");
      const tokens = Int32Array.from({ length: 9 }, () => prng.int(vocab));
      const out = poisoned(tokens.length * c);
      cuda.embed({ tokens, start, wte, wteDtype: dtype, wpe, wpeDtype: "F32", vocab, positions, c, out });
      const te = decode(wte, dtype), pe = decode(wpe, "F32");
      const ref = new Float64Array(out.length);
      tokens.forEach((tok, t) => {
        for (let j = 0; j < c; j++) ref[t * c + j] = te[tok * c + j]! + pe[(start + t) * c + j]!;
      });
      expectClose(out, ref, FP32, "embed");
    });
  });

  describe("attention (paged: each row's key and value appended, then causal attention over its block table)", () => {
    const BLOCK = 16;
    /** Sequences as [start, rows]: several per call, their blocks scattered over the pool. */
    const MIXES: [number, number][][] = [
      [[0, 1]],
      [[0, 33]],
      [[5, 3], [700, 1]],
      [[37, 20], [300, 4], [63, 1]],
      [[16, 16], [15, 1], [0, 2]],
    ];
    type Case = [number, number, number, NativeDtype];
    const CASES: Case[] = [];
    for (const d of [64, 80, 128, 16, 48, 256])
      MIXES.forEach((_, mix) => {
        for (const dtype of DTYPES) CASES.push([3, d, mix, dtype]);
      });

    function layoutOf(mix: [number, number][], prng: Prng) {
      const need = mix.reduce((n, [start, rows]) => n + Math.ceil((start + rows) / BLOCK), 0);
      const blocks = need + 3;
      const order = Array.from({ length: blocks }, (_, i) => i);
      for (let i = blocks - 1; i > 0; i--) {
        const j = prng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const positions: number[] = [];
      const tableStarts: number[] = [];
      const tables: number[] = [];
      for (const [start, rows] of mix) {
        const first = tables.length;
        tables.push(...order.splice(0, Math.ceil((start + rows) / BLOCK)));
        for (let t = 0; t < rows; t++) {
          positions.push(start + t);
          tableStarts.push(first);
        }
      }
      return {
        rows: positions.length,
        blocks,
        positions: Int32Array.from(positions),
        tableStarts: Int32Array.from(tableStarts),
        tables: Int32Array.from(tables),
      };
    }

    it.each(CASES)("heads %i, D %i, mix %i, %s pool", (heads, d, mix, dtype) => {
      const prng = new Prng(deriveSeed(SEED, 4000 + d * 7 + mix * 13 + DTYPES.indexOf(dtype)));
      const layout = layoutOf(MIXES[mix]!, prng);
      const { rows, blocks, positions, tableStarts, tables } = layout;
      const c = heads * d;
      const half = blocks * heads * BLOCK * d;
      const qkv = random(prng, rows * 3 * c);
      const pool = random(prng, 2 * half);
      // The kernels append first, then read everything from the pool: the reference sees the
      // pool rounded to its dtype, the rows' own keys and values rounded with it.
      const at = (p: number, r: number, h: number, j: number) =>
        ((tables[tableStarts[r]! + Math.floor(p / BLOCK)]! * heads + h) * BLOCK + (p % BLOCK)) * d + j;
      const qkvRounded = decode(encode(qkv, dtype), dtype);
      const seen = decode(encode(pool, dtype), dtype);
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < heads; h++)
          for (let j = 0; j < d; j++) {
            const key = r * 3 * c + c + h * d + j; // and its value c further
            seen[at(positions[r]!, r, h, j)] = qkvRounded[key]!;
            seen[half + at(positions[r]!, r, h, j)] = qkvRounded[key + c]!;
          }
      const ref = new Float64Array(rows * c);
      const scale = 1 / Math.sqrt(d);
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < heads; h++) {
          const n = positions[r]! + 1;
          const s = new Float64Array(n);
          for (let p = 0; p < n; p++) {
            let dot = 0;
            for (let j = 0; j < d; j++) dot += qkv[r * 3 * c + h * d + j]! * seen[at(p, r, h, j)]!;
            s[p] = dot * scale;
          }
          const max = Math.max(...s);
          let sum = 0;
          for (let p = 0; p < n; p++) sum += s[p] = Math.exp(s[p]! - max);
          for (let j = 0; j < d; j++) {
            let acc = 0;
            for (let p = 0; p < n; p++) acc += s[p]! * seen[half + at(p, r, h, j)]!;
            ref[r * c + h * d + j] = acc / sum;
          }
        }
      const out = poisoned(rows * c);
      const gpuPool = pool.slice();
      cuda.attention({ qkv, heads, headDim: d, ...layout, pool: gpuPool, out, cacheDtype: dtype });
      expectClose(gpuPool, seen, 0, "pool after append");
      expectClose(out, ref, dtype === "F32" ? FP32 : 1e-4, "output");
      // Batch invariance: each sequence alone gives its rows' outputs bit for bit.
      let row = 0;
      for (const [, count] of MIXES[mix]!) {
        const alone = poisoned(count * c);
        cuda.attention({
          qkv: qkv.subarray(row * 3 * c, (row + count) * 3 * c),
          rows: count,
          heads,
          headDim: d,
          positions: positions.subarray(row, row + count),
          tableStarts: tableStarts.subarray(row, row + count),
          tables,
          blocks,
          pool: pool.slice(),
          out: alone,
          cacheDtype: dtype,
        });
        expect(Array.from(alone), `rows ${row}…${row + count - 1} alone`).toEqual(Array.from(out.subarray(row * c, (row + count) * c)));
        row += count;
      }
    });

    // The variants of other families against the CPU reference with the same variant (F32 pool):
    // windows shorter and longer than a 64-key split, no scale, ALiBi at 3 and 6 heads.
    const VARIANTS: [string, number, (heads: number) => { scale?: number; window?: number; slopes?: Float32Array }][] = [
      ["window 5", 3, () => ({ window: 5 })],
      ["window 100, scale 1", 3, () => ({ window: 100, scale: 1 })],
      ["ALiBi", 3, (heads) => ({ slopes: ops.alibiSlopes(heads) })],
      ["ALiBi, window 70", 6, (heads) => ({ slopes: ops.alibiSlopes(heads), window: 70 })],
    ];
    it.each(VARIANTS)("%s (heads %i) gives the CPU reference's result", (name, heads, variant) => {
      const prng = new Prng(deriveSeed(SEED, 4500 + VARIANTS.findIndex((v) => v[0] === name)));
      const d = 64;
      const layout = layoutOf([[37, 20], [300, 4], [700, 1], [0, 3]], prng);
      const c = heads * d;
      const qkv = random(prng, layout.rows * 3 * c);
      const pool = random(prng, 2 * layout.blocks * heads * BLOCK * d);
      const args = { qkv, heads, headDim: d, ...layout, ...variant(heads) };
      const ref = poisoned(layout.rows * c);
      ops.attention({ impl: "reference", ...args, pool: pool.slice(), out: ref, threads: 1 });
      const out = poisoned(layout.rows * c);
      cuda.attention({ ...args, pool: pool.slice(), out });
      expectClose(out, ref, FP32, name);
    });

    // Grouped-query attention: qHeads query heads over kvHeads KV heads, query head h reading KV
    // head h / (qHeads / kvHeads); qkv rows [q: qHeads·D | k: kvHeads·D | v: kvHeads·D], the pool
    // k[blocks][kvHeads][16][D] then v. Against a double reference that sees the pool rounded as
    // the kernels store it, and (F32 pool) the CPU reference with the same kvHeads.
    const GQA: [number, number, number][] = [
      [9, 3, 16],
      [2, 1, 80],
      [4, 4, 64],
      [8, 1, 48], // one KV head: a group of 8, one block at D ≤ 64
      [6, 2, 256], // a group of 3 past the 2 query heads a block holds at D > 128
      [10, 2, 128], // a group of 5 past the 4 at D ≤ 128
    ];
    const GQA_MIXES: [number, number][][] = [
      [[37, 20], [300, 4], [700, 1], [0, 3]],
      [[16, 16], [15, 1], [0, 2], [64, 1]],
    ];
    type GqaCase = [number, number, number, boolean, number, NativeDtype];
    const GQA_CASES: GqaCase[] = [];
    for (const [qHeads, kvHeads, d] of GQA)
      for (const alibi of [false, true])
        GQA_MIXES.forEach((_, mix) => {
          for (const dtype of DTYPES) GQA_CASES.push([qHeads, kvHeads, d, alibi, mix, dtype]);
        });
    it.each(GQA_CASES)("GQA %i query / %i KV heads, D %i, ALiBi %s, mix %i, %s pool", (qHeads, kvHeads, d, alibi, mix, dtype) => {
      const prng = new Prng(deriveSeed(SEED, 4700 + GQA_CASES.findIndex((c) => c.join() === [qHeads, kvHeads, d, alibi, mix, dtype].join())));
      const layout = layoutOf(GQA_MIXES[mix]!, prng);
      const { rows, blocks, positions, tableStarts, tables } = layout;
      const group = qHeads / kvHeads;
      const width = (qHeads + 2 * kvHeads) * d;
      const c = qHeads * d;
      const half = blocks * kvHeads * BLOCK * d;
      const qkv = random(prng, rows * width);
      const pool = random(prng, 2 * half);
      const slopes = alibi ? ops.alibiSlopes(qHeads) : undefined;
      const at = (p: number, r: number, g: number, j: number) =>
        ((tables[tableStarts[r]! + Math.floor(p / BLOCK)]! * kvHeads + g) * BLOCK + (p % BLOCK)) * d + j;
      const qkvRounded = decode(encode(qkv, dtype), dtype);
      const seen = decode(encode(pool, dtype), dtype);
      for (let r = 0; r < rows; r++)
        for (let g = 0; g < kvHeads; g++)
          for (let j = 0; j < d; j++) {
            const key = r * width + c + g * d + j; // and its value kvHeads · d further
            seen[at(positions[r]!, r, g, j)] = qkvRounded[key]!;
            seen[half + at(positions[r]!, r, g, j)] = qkvRounded[key + kvHeads * d]!;
          }
      const ref = new Float64Array(rows * c);
      const scale = 1 / Math.sqrt(d);
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < qHeads; h++) {
          const g = Math.floor(h / group);
          const n = positions[r]! + 1;
          const s = new Float64Array(n);
          for (let p = 0; p < n; p++) {
            let dot = 0;
            for (let j = 0; j < d; j++) dot += qkv[r * width + h * d + j]! * seen[at(p, r, g, j)]!;
            s[p] = dot * scale + (slopes ? slopes[h]! * (p - positions[r]!) : 0);
          }
          const max = Math.max(...s);
          let sum = 0;
          for (let p = 0; p < n; p++) sum += s[p] = Math.exp(s[p]! - max);
          for (let j = 0; j < d; j++) {
            let acc = 0;
            for (let p = 0; p < n; p++) acc += s[p]! * seen[half + at(p, r, g, j)]!;
            ref[r * c + h * d + j] = acc / sum;
          }
        }
      const args = { qkv, heads: qHeads, kvHeads, headDim: d, ...layout, ...(slopes ? { slopes } : {}) };
      const out = poisoned(rows * c);
      const gpuPool = pool.slice();
      cuda.attention({ ...args, pool: gpuPool, out, cacheDtype: dtype });
      expectClose(gpuPool, seen, 0, "pool after append");
      expectClose(out, ref, dtype === "F32" ? FP32 : 1e-4, "output");
      if (dtype === "F32") {
        const cpu = poisoned(rows * c);
        ops.attention({ impl: "reference", ...args, pool: pool.slice(), out: cpu, threads: 1 });
        expectClose(out, cpu, FP32, "against the CPU reference");
      }
      // Batch invariance: each sequence alone gives its rows' outputs bit for bit.
      let row = 0;
      for (const [, count] of GQA_MIXES[mix]!) {
        const alone = poisoned(count * c);
        cuda.attention({
          ...args,
          qkv: qkv.subarray(row * width, (row + count) * width),
          rows: count,
          positions: positions.subarray(row, row + count),
          tableStarts: tableStarts.subarray(row, row + count),
          pool: pool.slice(),
          out: alone,
          cacheDtype: dtype,
        });
        expect(Array.from(alone), `rows ${row}…${row + count - 1} alone`).toEqual(Array.from(out.subarray(row * c, (row + count) * c)));
        row += count;
      }
    });

    it("GQA equals multi-head attention over KV heads repeated for each query head", () => {
      // Independent of any reference: 6 query heads over 2 KV heads give what 6 heads give when
      // each query head's keys and values are copies of its group's KV head.
      const prng = new Prng(deriveSeed(SEED, 4690));
      const [qHeads, kvHeads, d] = [6, 2, 32];
      const group = qHeads / kvHeads;
      const layout = layoutOf([[40, 3], [5, 2]], prng);
      const { rows, blocks } = layout;
      const gqa = random(prng, rows * (qHeads + 2 * kvHeads) * d);
      const mha = new Float32Array(rows * 3 * qHeads * d);
      for (let r = 0; r < rows; r++) {
        const src = gqa.subarray(r * (qHeads + 2 * kvHeads) * d);
        const dst = mha.subarray(r * 3 * qHeads * d);
        dst.set(src.subarray(0, qHeads * d));
        for (let h = 0; h < qHeads; h++) {
          const g = Math.floor(h / group);
          dst.set(src.subarray((qHeads + g) * d, (qHeads + g + 1) * d), (qHeads + h) * d);
          dst.set(src.subarray((qHeads + kvHeads + g) * d, (qHeads + kvHeads + g + 1) * d), (2 * qHeads + h) * d);
        }
      }
      // Every position the rows attend to is appended by them or sits in a pool both read alike:
      // fill the MHA pool with each KV head's pool copied per query head.
      const gqaPool = random(prng, 2 * blocks * kvHeads * BLOCK * d);
      const mhaPool = new Float32Array(2 * blocks * qHeads * BLOCK * d);
      for (let kv = 0; kv < 2; kv++)
        for (let b = 0; b < blocks; b++)
          for (let h = 0; h < qHeads; h++) {
            const from = ((kv * blocks + b) * kvHeads + Math.floor(h / group)) * BLOCK * d;
            mhaPool.set(gqaPool.subarray(from, from + BLOCK * d), ((kv * blocks + b) * qHeads + h) * BLOCK * d);
          }
      const slopes = ops.alibiSlopes(qHeads);
      const outGqa = poisoned(rows * qHeads * d);
      cuda.attention({ qkv: gqa, heads: qHeads, kvHeads, headDim: d, ...layout, pool: gqaPool, out: outGqa, slopes });
      const outMha = poisoned(rows * qHeads * d);
      cuda.attention({ qkv: mha, heads: qHeads, headDim: d, ...layout, pool: mhaPool, out: outMha, slopes });
      // The same arithmetic per query head either way; held to fp32 rounding rather than bits, as
      // the two launches compile a query head's score in different unrolled copies.
      expectClose(outGqa, outMha, 1e-6, "GQA against repeated KV heads");
    });

    it("refuses query heads that are not a multiple of the KV heads", () => {
      const d = 16;
      const args = { rows: 1, heads: 3, kvHeads: 2, headDim: d, positions: Int32Array.of(0), tableStarts: Int32Array.of(0), tables: Int32Array.of(0), blocks: 1 };
      expect(() =>
        cuda.attention({ ...args, qkv: new Float32Array(7 * d), pool: new Float32Array(2 * 2 * 16 * d), out: new Float32Array(3 * d) }),
      ).toThrow(/kvHeads/);
    });

    it("refuses head dims that are not a multiple of 16 up to 256", () => {
      for (const d of [40, 272]) {
        const args = { rows: 1, heads: 1, headDim: d, positions: Int32Array.of(0), tableStarts: Int32Array.of(0), tables: Int32Array.of(0), blocks: 1 };
        expect(() =>
          cuda.attention({ ...args, qkv: new Float32Array(3 * d), pool: new Float32Array(32 * d), out: new Float32Array(d) }),
        ).toThrow(/multiple of 16/);
      }
    });

    it("refuses an unknown cacheDtype, and positions its block table does not cover", () => {
      const d = 16;
      const args = { rows: 1, heads: 1, headDim: d, tableStarts: Int32Array.of(0), tables: Int32Array.of(0), blocks: 1 };
      const arrays = () => ({ qkv: new Float32Array(3 * d), pool: new Float32Array(32 * d), out: new Float32Array(d) });
      expect(() => cuda.attention({ ...args, ...arrays(), positions: Int32Array.of(0), cacheDtype: "F8" as NativeDtype })).toThrow(/cacheDtype/);
      expect(() => cuda.attention({ ...args, ...arrays(), positions: Int32Array.of(16) })).toThrow(/not covered by its block table/);
    });
  });

  describe("sample", () => {
    const reference = (logits: Float32Array, temperature: number, topK: number, topP: number, minP = 0) =>
      samplingReference(logits, { temperature, topK, topP, minP });

    it("greedy: the argmax (lowest id on ties) and its log-softmax", () => {
      const prng = new Prng(deriveSeed(SEED, 5000));
      const logits = random(prng, 50257, -10, 10);
      logits[777] = 12;
      logits[31337] = 12; // tie: the lower id wins
      const r: NativeSampled = cuda.sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0.5 });
      const ref = reference(logits, 1, 0, 1);
      expect(r.token).toBe(777);
      expect(ref.best).toBe(777);
      expect(r.logprob).toBeCloseTo(12 - ref.logZ, 4);
    });

    it.each([
      [1, 0, 1],
      [0.7, 50, 1],
      [1.3, 0, 0.9],
      [0.8, 40, 0.5],
      [1, 1, 1],
    ])("temperature %f, top-k %i, top-p %f: the token whose CPU interval holds u", (temperature, topK, topP) => {
      const prng = new Prng(deriveSeed(SEED, 5100 + topK));
      const logits = random(prng, 5003, -4, 4);
      const ref = reference(logits, temperature, topK, topP);
      for (let trial = 0; trial < 20; trial++) {
        const u = prng.next();
        const r = cuda.sample({ logits, temperature, topK, topP, u });
        const interval = ref.intervals.get(r.token);
        expect(interval, `token ${r.token} is not a candidate (u = ${u})`).toBeDefined();
        expect(u).toBeGreaterThanOrEqual(interval![0] - 1e-6);
        expect(u).toBeLessThan(interval![1] + 1e-6);
        expect(r.logprob).toBeCloseTo(logits[r.token]! - ref.logZ, 4);
      }
    });

    it("picks what the CPU sampler picks for the same u (the twin itself, 1024 ids)", () => {
      const prng = new Prng(deriveSeed(SEED, 5200));
      const settings: [number, number, number, number][] = [
        [1, 0, 1, 0],
        [0.6, 0, 1, 0],
        [1, 30, 1, 0],
        [1.5, 0, 0.8, 0],
        [0.9, 100, 0.95, 0],
        [0.8, 0, 1, 0.05],
        [1.2, 50, 0.9, 0.02],
      ];
      let compared = 0;
      for (const [temperature, topK, topP, minP] of settings) {
        const logits = random(prng, 1024, -3, 3);
        const ref = reference(logits, temperature, topK, topP, minP);
        for (let trial = 0; trial < 40; trial++) {
          const u = prng.next();
          const args = { logits, temperature, topK, topP, u, minP };
          const cpu = native().ops.sample(args);
          const [lo, hi] = ref.intervals.get(cpu.token)!; // the reference mirrors the CPU sampler
          expect(u).toBeGreaterThanOrEqual(lo - 1e-6);
          expect(u).toBeLessThan(hi + 1e-6);
          if (u - lo < 1e-6 || hi - u < 1e-6) continue; // a boundary the fixed-point sums may round across
          const gpu = cuda.sample(args);
          expect(gpu.token, `T ${temperature}, top-k ${topK}, top-p ${topP}, min-p ${minP}, u ${u}`).toBe(cpu.token);
          expect(gpu.logprob).toBeCloseTo(cpu.logprob, 4);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(200);
    });

    it("adjusts the logits to the bit as the CPU does, and reports the raw logits' best alternatives", () => {
      const prng = new Prng(deriveSeed(SEED, 5250));
      const V = 50257;
      for (let trial = 0; trial < 6; trial++) {
        const raw = random(prng, V, -8, 8);
        const count = 1 + prng.int(600);
        const ids = new Set<number>();
        while (ids.size < count) ids.add(prng.int(V));
        const adjust = {
          ids: Int32Array.from(ids),
          repeated: Uint8Array.from(ids, () => (prng.next() < 0.6 ? 1 : 0)),
          bias: Float32Array.from(ids, () => (prng.next() < 0.05 ? -Infinity : prng.uniform(-3, 3))),
          penalty: Float32Array.from(ids, () => prng.uniform(0, 2)),
        };
        const repetitionPenalty = prng.uniform(0.7, 1.8);
        const topLogprobs = [0, 1, 5, 20][trial % 4]!;
        const adjusted = adjustLogits(raw, adjust, repetitionPenalty);
        // Greedy on the adjusted row: exactly its argmax, so exactly the CPU's adjusted values.
        const greedy = { logits: raw, temperature: 0, topK: 0, topP: 1, u: 0.5, adjust, repetitionPenalty, topLogprobs };
        const gpu = cuda.sample(greedy);
        const cpu = native().ops.sample(greedy);
        expect(gpu.token).toBe(reference(adjusted, 1, 0, 1).best);
        expect(cpu.token).toBe(gpu.token);
        expect(gpu.logprob).toBeCloseTo(cpu.logprob, 4); // from the raw logits
        const want = topAlternatives(raw, topLogprobs);
        expect(gpu.top.map((a) => a.token)).toEqual(want.map((a) => a.token));
        expect(cpu.top.map((a) => a.token)).toEqual(want.map((a) => a.token));
        gpu.top.forEach((a, i) => expect(a.logprob).toBeCloseTo(want[i]!.logprob, 4));
        // Sampled: the pick of the adjusted row, whose interval holds u.
        const ref = reference(adjusted, 0.9, 0, 0.95, 0.01);
        const u = prng.next();
        const sampled = cuda.sample({ ...greedy, temperature: 0.9, topP: 0.95, minP: 0.01, u });
        const [lo, hi] = ref.intervals.get(sampled.token)!;
        expect(u).toBeGreaterThanOrEqual(lo - 1e-6);
        expect(u).toBeLessThan(hi + 1e-6);
      }
    });

    it("alternatives: ties go to the lower id, and a row shorter than topLogprobs reports every id", () => {
      const logits = Float32Array.of(1, 3, 3, -2, 3, 0.5, -Infinity);
      const r = cuda.sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0, topLogprobs: 20 });
      expect(r.top.map((a) => a.token)).toEqual([1, 2, 4, 0, 5, 3, 6]);
      expect(r.top[6]!.logprob).toBe(-Infinity);
      expect(native().ops.sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0, topLogprobs: 20 }).top.map((a) => a.token)).toEqual([
        1, 2, 4, 0, 5, 3, 6,
      ]);
    });

    it("is greedy for a temperature so small that 1 / T overflows, as the CPU sampler is", () => {
      const prng = new Prng(deriveSeed(SEED, 5300));
      const logits = random(prng, 5003, -4, 4);
      const best = reference(logits, 1, 0, 1).best;
      for (const [topK, topP] of [
        [0, 1],
        [0, 0.9],
        [20, 1],
      ] as const)
        expect(cuda.sample({ logits, temperature: 1e-40, topK, topP, u: 0.7 }).token).toBe(best);
    });

    it("counts −0 and +0 as equal logits (the lower id wins), as the CPU sampler does", () => {
      const logits = new Float32Array(64).fill(-5);
      logits[3] = -0;
      logits[7] = 0;
      expect(cuda.sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0.5 }).token).toBe(3);
    });

    it("rejects NaN and rows without a finite maximum, as the CPU sampler does", () => {
      const logits = new Float32Array(100).fill(1);
      logits[42] = NaN;
      expect(() => cuda.sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0 })).toThrow(/NaN at id 42/);
      expect(() =>
        cuda.sample({ logits: new Float32Array(10).fill(-Infinity), temperature: 1, topK: 0, topP: 1, u: 0 }),
      ).toThrow(/no finite maximum/);
      // Adjustments that ban every finite logit leave no distribution: named as the adjusted row.
      const banned = { ids: Int32Array.of(0, 1), repeated: Uint8Array.of(0, 0), bias: Float32Array.of(-Infinity, -Infinity), penalty: Float32Array.of(0, 0) };
      expect(() =>
        cuda.sample({ logits: Float32Array.of(2, 1), temperature: 1, topK: 0, topP: 1, u: 0, adjust: banned }),
      ).toThrow(/adjusted logits have no finite maximum/);
      expect(() =>
        cuda.sample({ logits: Float32Array.of(2, 1), temperature: 0, topK: 0, topP: 1, u: 0, adjust: { ...banned, ids: Int32Array.of(0, 2) } }),
      ).toThrow(/names id 2, outside the vocabulary of 2/);
    });
  });
});
