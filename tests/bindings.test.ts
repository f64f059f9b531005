/**
 * The addon's runtime surface against bindings.d.ts: what native/addon.cpp exports, the JS
 * types buildInfo() returns, and NativeModel's errors (disposed, bad arguments, a forward pass
 * already in flight, positions and token ids out of range). The type-level assertions here are
 * checked by `tsc -p tsconfig.json --noEmit` (npm test's typecheck), not at run time.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";

import type {
  NativeBench,
  NativeBinding,
  NativeBuildInfo,
  NativeLogitsMode,
  NativeModel,
  NativeModelSpec,
  NativeOps,
  NativeSampled,
} from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { native } from "../lib/native.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/models/tiny-f32", import.meta.url));
const VOCAB = 1024;

// ---------------------------------------------------------------------------------------------
// Type level: lib/native.ts hands out exactly the declared binding, and the declarations say
// what the tests below check at run time.

const binding: NativeBinding = native();
expectTypeOf(native).returns.toEqualTypeOf<NativeBinding>();
expectTypeOf(binding.loadModel).parameter(0).toEqualTypeOf<NativeModelSpec>();
expectTypeOf(binding.loadModel).returns.toEqualTypeOf<Promise<NativeModel>>();
expectTypeOf(binding.buildInfo).returns.toEqualTypeOf<NativeBuildInfo>();
expectTypeOf(binding.ops).toEqualTypeOf<NativeOps>();
expectTypeOf(binding.bench).toEqualTypeOf<NativeBench>();
expectTypeOf<NativeBuildInfo>().toEqualTypeOf<{
  cuda: boolean;
  cpuIsa: string;
  hardwareThreads: number;
  compiler: string;
  cudaVersion: string | null;
  archs: string[];
}>();
expectTypeOf<NativeModel["forward"]>().toEqualTypeOf<
  (tokens: Int32Array, start: number, logits: NativeLogitsMode) => Promise<Float32Array>
>();
expectTypeOf<NativeModel["sample"]>().toEqualTypeOf<
  (logits: Float32Array, row: number, temperature: number, topK: number, topP: number, u: number) => NativeSampled
>();
expectTypeOf<NativeModel["forwardSample"]>().toEqualTypeOf<
  (
    tokens: Int32Array,
    start: number,
    temperature: number,
    topK: number,
    topP: number,
    u: number,
    uNext?: number,
  ) => Promise<NativeSampled>
>();
expectTypeOf<NativeModel["graphReplays"]>().toEqualTypeOf<number>();
expectTypeOf<NativeSampled>().toEqualTypeOf<{ token: number; logprob: number }>();
expectTypeOf<NativeModel["cachedLength"]>().toEqualTypeOf<number>();
expectTypeOf<NativeLogitsMode>().toEqualTypeOf<"all" | "last" | "none">();

// ---------------------------------------------------------------------------------------------

/** The binding as plain JS sees it, for what the declarations do not (or must not) allow. */
const untyped = binding as unknown as Record<string, unknown>;

async function loadTiny(threads = 1): Promise<NativeModel> {
  const checkpoint = await loadCheckpoint(FIXTURE);
  const { files } = checkpoint;
  return binding.loadModel({
    ...checkpoint.config,
    files,
    tensors: [...checkpoint.tensors.values()].map((t) => ({ ...t, file: files.indexOf(t.file) })),
    convertTo: null,
    threads,
  });
}

describe("addon exports", () => {
  it("exports loadModel, buildInfo, devices, ops, cudaOps, bench, cudaBench and NativeModel, and nothing else", () => {
    expect(Object.keys(untyped).sort()).toEqual(["NativeModel", "bench", "buildInfo", "cudaBench", "cudaOps", "devices", "loadModel", "ops"]);
    expect(typeof binding.loadModel).toBe("function");
    expect(typeof binding.buildInfo).toBe("function");
    expect(typeof binding.ops).toBe("object");
    expect(Object.keys(binding.ops).sort()).toEqual(["attention", "gelu", "lmHead", "matmul"]);
    expect(typeof binding.ops.matmul).toBe("function");
    expect(typeof binding.ops.lmHead).toBe("function");
    expect(typeof binding.ops.attention).toBe("function");
    expect(typeof binding.ops.gelu).toBe("function");
    expect(Object.keys(binding.bench).sort()).toEqual(["attention", "lmHead", "matmul", "memoryRead"]);
    for (const fn of Object.values(binding.bench)) expect(typeof fn).toBe("function");
  });

  it("NativeModel is a class with the declared methods and read-only accessors", () => {
    const ctor = untyped.NativeModel;
    expect(typeof ctor).toBe("function");
    const proto = (ctor as { prototype: object }).prototype;
    for (const method of ["forward", "forwardSample", "sample", "dispose"]) {
      const d = Object.getOwnPropertyDescriptor(proto, method);
      expect(typeof d?.value, method).toBe("function");
    }
    for (const accessor of ["cachedLength", "residentBytes", "kvCacheBytes", "threads", "graphReplays"]) {
      const d = Object.getOwnPropertyDescriptor(proto, accessor);
      expect(typeof d?.get, accessor).toBe("function");
      expect(d?.set, `${accessor} has no setter`).toBeUndefined();
    }
    expect(Object.getOwnPropertyNames(proto).sort()).toEqual(
      [
        "cachedLength",
        "constructor",
        "dispose",
        "forward",
        "forwardSample",
        "graphReplays",
        "kvCacheBytes",
        "residentBytes",
        "sample",
        "threads",
      ].sort(),
    );
  });

  it("buildInfo() returns the declared fields with their JS types", () => {
    const info = binding.buildInfo();
    expect(Object.keys(info).sort()).toEqual([
      "archs",
      "compiler",
      "cpuIsa",
      "cuda",
      "cudaVersion",
      "hardwareThreads",
    ]);
    expect(typeof info.cuda).toBe("boolean");
    expect(["avx512f", "avx2+f16c", "generic"]).toContain(info.cpuIsa);
    expect(Number.isInteger(info.hardwareThreads)).toBe(true);
    expect(info.hardwareThreads).toBeGreaterThanOrEqual(0); // std::thread::hardware_concurrency may say 0
    expect(typeof info.compiler).toBe("string");
    expect(info.compiler.length).toBeGreaterThan(0);
    expect(binding.buildInfo()).toEqual(info); // stable between calls
  });
});

describe("NativeModel", () => {
  let model: NativeModel;

  beforeAll(async () => {
    model = await loadTiny(2);
  });
  afterAll(() => model?.dispose());

  it("is an instance of the exported class with the declared accessors", async () => {
    expect(model).toBeInstanceOf(untyped.NativeModel as new () => unknown);
    expect(model.threads).toBe(2);
    expect(model.residentBytes).toBeGreaterThan(0);
    expect(model.kvCacheBytes).toBeGreaterThan(0);
    expect(model.cachedLength).toBe(0);
  });

  it("forward returns rows × vocab logits by mode and advances cachedLength", async () => {
    const all = await model.forward(new Int32Array([1, 2, 3]), 0, "all");
    expect(all).toBeInstanceOf(Float32Array);
    expect(all.length).toBe(3 * VOCAB);
    expect(model.cachedLength).toBe(3);
    const last = await model.forward(new Int32Array([4]), 3, "last");
    expect(last.length).toBe(VOCAB);
    expect(model.cachedLength).toBe(4);
    const none = await model.forward(new Int32Array([5, 6]), 2, "none");
    expect(none.length).toBe(0);
    expect(model.cachedLength).toBe(4);
    expect(all.every(Number.isFinite) && last.every(Number.isFinite)).toBe(true);
  });

  it("forward with tokens that are not an Int32Array throws a TypeError", () => {
    const f = model.forward as unknown as (...a: unknown[]) => unknown;
    const call = (...a: unknown[]) => () => f.apply(model, a);
    expect(call([1, 2], 0, "last")).toThrow(TypeError);
    expect(call(new Uint32Array([1, 2]), 0, "last")).toThrow(TypeError);
    expect(call(new Float32Array([1, 2]), 0, "last")).toThrow(/Int32Array/);
    expect(call(new Int32Array([1]), "0", "last")).toThrow(TypeError);
    expect(call(new Int32Array([1]), 0, "first")).toThrow(TypeError);
    expect(call(new Int32Array([1]), 0)).toThrow(TypeError);
  });

  it("forward with start > cachedLength rejects naming both numbers", async () => {
    const cached = model.cachedLength;
    const start = cached + 3;
    await expect(model.forward(new Int32Array([1]), start, "last")).rejects.toThrow(
      new RegExp(`\\b${start}\\b.*\\b${cached}\\b`),
    );
    await expect(model.forward(new Int32Array([1]), -1, "last")).rejects.toThrow(/-1/);
    expect(model.cachedLength).toBe(cached); // a rejected call leaves the cache alone
  });

  it("forward with a token id outside the vocabulary rejects naming the id", async () => {
    const cached = model.cachedLength;
    await expect(model.forward(new Int32Array([1, VOCAB, 2]), 0, "last")).rejects.toThrow(/token id 1024\b/);
    await expect(model.forward(new Int32Array([70_000]), 0, "last")).rejects.toThrow(/70000/);
    await expect(model.forward(new Int32Array([-5]), 0, "last")).rejects.toThrow(/-5/);
    expect(model.cachedLength).toBe(cached);
    // The model still works after the rejections.
    expect((await model.forward(new Int32Array([VOCAB - 1]), 0, "last")).length).toBe(VOCAB);
  });

  it("forward past n_positions or with no tokens rejects", async () => {
    await expect(model.forward(new Int32Array(65), 0, "none")).rejects.toThrow(/n_positions 64/);
    await expect(model.forward(new Int32Array(0), 0, "none")).rejects.toThrow(/at least one token/);
  });

  it("forward while another forward is in flight rejects with 'already running'", async () => {
    const first = model.forward(new Int32Array(32).fill(7), 0, "all");
    const second = model.forward(new Int32Array([1]), 0, "last");
    await expect(second).rejects.toThrow(/already running/);
    expect((await first).length).toBe(32 * VOCAB);
    // Once the first has finished, the next one runs.
    expect((await model.forward(new Int32Array([1]), 0, "last")).length).toBe(VOCAB);
  });

  it("a rejected forward pass frees the model for the next one", async () => {
    await expect(model.forward(new Int32Array([VOCAB]), 0, "last")).rejects.toThrow();
    expect((await model.forward(new Int32Array([3]), 0, "last")).length).toBe(VOCAB);
  });

  it("forwardSample picks what sample() picks from forward()'s last row, for prompts and single steps", async () => {
    const prompt = new Int32Array([11, 500, 3, 977, 42]);
    const settings: [number, number, number][] = [
      [0, 0, 1],
      [0.8, 0, 1],
      [1.3, 40, 0.9],
    ];
    for (const [temperature, topK, topP] of settings)
      for (const u of [0.03, 0.51, 0.97]) {
        const logits = await model.forward(prompt, 0, "last");
        const expected = model.sample(logits, 0, temperature, topK, topP, u);
        const got = await model.forwardSample(prompt, 0, temperature, topK, topP, u);
        expect(got).toEqual(expected);
        expect(model.cachedLength).toBe(prompt.length);
        // One more token: a decode step.
        const stepLogits = await model.forward(Int32Array.of(got.token), prompt.length, "last");
        const stepExpected = model.sample(stepLogits, 0, temperature, topK, topP, u);
        expect(await model.forwardSample(Int32Array.of(got.token), prompt.length, temperature, topK, topP, u)).toEqual(
          stepExpected,
        );
        expect(model.cachedLength).toBe(prompt.length + 1);
      }
    expect(model.graphReplays).toBe(0); // the CPU records nothing
  });

  it("forwardSample checks its arguments and its tokens as forward does", async () => {
    const f = model.forwardSample as unknown as (...a: unknown[]) => unknown;
    const call = (...a: unknown[]) => () => f.apply(model, a);
    expect(call([1], 0, 0, 0, 1, 0.5)).toThrow(TypeError);
    expect(call(new Int32Array([1]), 0, 0, 0, 1)).toThrow(TypeError);
    expect(call(new Int32Array([1]), 0, "0", 0, 1, 0.5)).toThrow(/temperature, topK, topP and u must be numbers/);
    expect(call(new Int32Array([1]), 0, 0, 0, NaN, 0.5)).toThrow(RangeError);
    const cached = model.cachedLength;
    await expect(model.forwardSample(new Int32Array([VOCAB]), 0, 0, 0, 1, 0.5)).rejects.toThrow(/token id 1024\b/);
    await expect(model.forwardSample(new Int32Array([1]), cached + 2, 0, 0, 1, 0.5)).rejects.toThrow(
      new RegExp(`\\b${cached + 2}\\b.*\\b${cached}\\b`),
    );
    expect(call(new Int32Array([1]), 0, -1, 0, 1, 0.5)).toThrow(/temperature -1/);
    expect(call(new Int32Array([1]), 0, 1, 2.5, 1, 0.5)).toThrow(/topK 2.5/);
    expect(call(new Int32Array([1]), 0, 1, 0, -0.5, 0.5)).toThrow(/topP -0.5/);
    expect(call(new Int32Array([1]), 0, 1, 0, 1, 1)).toThrow(/u 1/);
    expect(() => model.sample(new Float32Array(VOCAB), 0, 1, 0, 1.5, 0.5)).toThrow(/sample: topP 1.5/);
    expect(model.cachedLength).toBe(cached);
  });
});

describe("a disposed NativeModel", () => {
  it("throws 'the model was disposed' from forward and sample", async () => {
    const model = await loadTiny();
    model.dispose();
    expect(() => model.forward(new Int32Array([1]), 0, "last")).toThrow("the model was disposed");
    expect(() => model.sample(new Float32Array(VOCAB), 0, 0, 0, 1, 0)).toThrow("the model was disposed");
    expect(() => model.cachedLength).toThrow("the model was disposed");
    model.dispose(); // a second dispose is harmless
  });

  it("dispose while a forward pass runs lets that pass finish, then refuses new ones", async () => {
    const model = await loadTiny();
    const running = model.forward(new Int32Array(16).fill(2), 0, "last");
    model.dispose();
    expect((await running).length).toBe(VOCAB);
    expect(() => model.forward(new Int32Array([1]), 0, "last")).toThrow("the model was disposed");
  });

  it("a NativeModel constructed from JS (no model behind it) acts as disposed", () => {
    const Ctor = untyped.NativeModel as new () => NativeModel;
    const bare = new Ctor();
    expect(() => bare.sample(new Float32Array(VOCAB), 0, 0, 0, 1, 0)).toThrow("the model was disposed");
    expect(() => bare.forward(new Int32Array([1]), 0, "last")).toThrow("the model was disposed");
  });
});
