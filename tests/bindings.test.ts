/**
 * The addon's runtime surface against bindings.d.ts: what native/addon.cpp exports, the JS
 * types buildInfo() returns, and NativeModel's step() and its errors (disposed, bad arguments, a
 * step already in flight, positions, token ids and block tables out of range). The type-level assertions here are
 * checked by `tsc -p tsconfig.json --noEmit` (npm test's typecheck), not at run time.
 */
import { spawnSync } from "node:child_process";
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
  NativeSampling,
  NativeSegment,
  NativeStep,
  NativeStepResult,
} from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { native } from "../lib/native.js";
import { nativeModelSpec } from "../lib/native-spec.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/models/tiny-f32", import.meta.url));
const VOCAB = 1024;
const KV_BLOCKS = 8;

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
expectTypeOf<NativeModel["step"]>().toEqualTypeOf<(plan: NativeStep) => Promise<NativeStepResult>>();
expectTypeOf<NativeOps["sample"]>().toEqualTypeOf<(args: NativeSampling & { logits: Float32Array }) => NativeSampled>();
expectTypeOf<NativeStep>().toEqualTypeOf<{ tokens: Int32Array; segments: NativeSegment[] }>();
expectTypeOf<NativeSegment>().toEqualTypeOf<{
  rows: number;
  start: number;
  blocks: Int32Array;
  logits: NativeLogitsMode;
  sample?: NativeSampling | null;
}>();
expectTypeOf<NativeStepResult>().toEqualTypeOf<{
  tokens: Int32Array;
  logprobs: Float32Array;
  topCounts: Int32Array;
  topIds: Int32Array;
  topLogprobs: Float32Array;
  logits: Float32Array;
}>();
expectTypeOf<NativeModel["graphReplays"]>().toEqualTypeOf<number>();
expectTypeOf<NativeModel["kvBlocks"]>().toEqualTypeOf<number>();
expectTypeOf<NativeSampled>().toEqualTypeOf<{ token: number; logprob: number; top: { token: number; logprob: number }[] }>();
expectTypeOf<NativeLogitsMode>().toEqualTypeOf<"all" | "last" | "none">();
expectTypeOf<NativeBinding["kvBlockSize"]>().toEqualTypeOf<number>();

// ---------------------------------------------------------------------------------------------

/** The binding as plain JS sees it, for what the declarations do not (or must not) allow. */
const untyped = binding as unknown as Record<string, unknown>;

async function loadTiny(threads = 1): Promise<NativeModel> {
  const checkpoint = await loadCheckpoint(FIXTURE);
  return binding.loadModel(nativeModelSpec(checkpoint, { convertTo: null, mmap: true, threads, cudaDevice: null, kvBlocks: KV_BLOCKS }));
}

/** Blocks 0, 1, 2, …: one sequence owning the pool from its start. */
const TABLE = Int32Array.from({ length: KV_BLOCKS }, (_, i) => i);

/** One segment of `tokens` at `start` in TABLE's blocks. */
function solo(tokens: number[], start: number, logits: NativeLogitsMode, sample?: NativeSampling): NativeStep {
  return { tokens: Int32Array.from(tokens), segments: [{ rows: tokens.length, start, blocks: TABLE, logits, sample }] };
}

describe("addon exports", () => {
  it("exports loadModel, buildInfo, devices, ops, cudaOps, bench, cudaBench and NativeModel, and nothing else", () => {
    expect(Object.keys(untyped).sort()).toEqual([
      "NativeModel",
      "bench",
      "buildInfo",
      "cudaBench",
      "cudaOps",
      "devices",
      "kvBlockSize",
      "loadModel",
      "ops",
    ]);
    expect(binding.kvBlockSize).toBe(16);
    expect(typeof binding.loadModel).toBe("function");
    expect(typeof binding.buildInfo).toBe("function");
    expect(typeof binding.ops).toBe("object");
    expect(Object.keys(binding.ops).sort()).toEqual(["activation", "alibiSlopes", "attention", "lmHead", "matmul", "quantizeInt8", "rmsnorm", "rotary", "sample"]);
    expect(typeof binding.ops.matmul).toBe("function");
    expect(typeof binding.ops.lmHead).toBe("function");
    expect(typeof binding.ops.attention).toBe("function");
    expect(typeof binding.ops.activation).toBe("function");
    expect(typeof binding.ops.sample).toBe("function");
    expect(Object.keys(binding.bench).sort()).toEqual(["attention", "lmHead", "matmul", "memoryRead"]);
    for (const fn of Object.values(binding.bench)) expect(typeof fn).toBe("function");
  });

  it("NativeModel is a class with the declared methods and read-only accessors", () => {
    const ctor = untyped.NativeModel;
    expect(typeof ctor).toBe("function");
    const proto = (ctor as { prototype: object }).prototype;
    for (const method of ["step", "dispose"]) {
      const d = Object.getOwnPropertyDescriptor(proto, method);
      expect(typeof d?.value, method).toBe("function");
    }
    for (const accessor of ["kvBlocks", "residentBytes", "kvCacheBytes", "threads", "graphReplays"]) {
      const d = Object.getOwnPropertyDescriptor(proto, accessor);
      expect(typeof d?.get, accessor).toBe("function");
      expect(d?.set, `${accessor} has no setter`).toBeUndefined();
    }
    expect(Object.getOwnPropertyNames(proto).sort()).toEqual(
      ["constructor", "dispose", "graphReplays", "kvBlocks", "kvCacheBytes", "residentBytes", "step", "threads"].sort(),
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
    expect(["avx512+amx", "avx512", "avx2", "generic"]).toContain(info.cpuIsa);
    expect(Number.isInteger(info.hardwareThreads)).toBe(true);
    expect(info.hardwareThreads).toBeGreaterThanOrEqual(0); // std::thread::hardware_concurrency may say 0
    expect(typeof info.compiler).toBe("string");
    expect(info.compiler.length).toBeGreaterThan(0);
    expect(binding.buildInfo()).toEqual(info); // stable between calls
  });

  it("GPT_CPU_ISA caps the level cpuIsa names; an unknown value is E_INVALID_ARGUMENT naming it", () => {
    // A fresh process each: the level is decided once per process.
    const run = (level: string) =>
      spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e",
        'import { native } from "./lib/native.js"; try { console.log(native().buildInfo().cpuIsa); } catch (e) { console.log(e.code, e.message); }'],
        { cwd: fileURLToPath(new URL("..", import.meta.url)), env: { ...process.env, GPT_CPU_ISA: level }, encoding: "utf8" }).stdout.trim();
    expect(run("generic")).toBe("generic");
    const levels = ["generic", "avx2", "avx512", "avx512+amx"];
    const best = levels.indexOf(binding.buildInfo().cpuIsa);
    for (const [i, cap] of ["generic", "avx2", "avx512", "amx"].entries()) expect(run(cap), cap).toBe(levels[Math.min(i, best)]);
    expect(run("avx3")).toBe('E_INVALID_ARGUMENT GPT_CPU_ISA must be one of generic, avx2, avx512, amx (a cap on the CPU kernels\' level), got "avx3"');
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
    expect(model.kvBlocks).toBe(KV_BLOCKS);
    // fp32 keys and values of 2 layers × 48 wide, for the pool's blocks and one scratch block.
    expect(model.kvCacheBytes).toBe((KV_BLOCKS + 1) * 16 * 2 * 2 * 48 * 4);
  });

  it("step returns each segment's logits by mode, in segment order", async () => {
    const all = await model.step(solo([1, 2, 3], 0, "all"));
    expect(all.logits).toBeInstanceOf(Float32Array);
    expect(all.logits.length).toBe(3 * VOCAB);
    expect(Array.from(all.tokens)).toEqual([-1]); // nothing sampled
    const last = await model.step(solo([4], 3, "last"));
    expect(last.logits.length).toBe(VOCAB);
    const none = await model.step(solo([5, 6], 2, "none"));
    expect(none.logits.length).toBe(0);
    expect(all.logits.every(Number.isFinite) && last.logits.every(Number.isFinite)).toBe(true);
    // Two sequences in one step: each block table its own, the logits back to back.
    const two = await model.step({
      tokens: Int32Array.from([9, 8, 7, 6, 5]),
      segments: [
        { rows: 2, start: 0, blocks: Int32Array.of(0), logits: "all" },
        { rows: 3, start: 0, blocks: Int32Array.of(5), logits: "last" },
      ],
    });
    expect(two.logits.length).toBe(3 * VOCAB);
    const alone = await model.step(solo([6, 5], 0, "all"));
    // The second segment's last row (ids 7, 6, 5) differs from a sequence of ids 6, 5.
    expect(Array.from(two.logits.subarray(2 * VOCAB))).not.toEqual(Array.from(alone.logits.subarray(VOCAB)));
  });

  it("step with a malformed plan throws a TypeError naming the field", () => {
    const f = model.step as unknown as (...a: unknown[]) => unknown;
    const call = (...a: unknown[]) => () => f.apply(model, a);
    const seg = { rows: 1, start: 0, blocks: TABLE, logits: "last" };
    expect(call()).toThrow(TypeError);
    expect(call({ tokens: [1], segments: [seg] })).toThrow(/step: tokens must be an Int32Array/);
    expect(call({ tokens: Int32Array.of(1), segments: seg })).toThrow(/segments must be an array/);
    expect(call({ tokens: Int32Array.of(1), segments: [{ ...seg, rows: "1" }] })).toThrow(/segments\[0\]\.rows must be an integer/);
    expect(call({ tokens: Int32Array.of(1), segments: [{ ...seg, blocks: [0] }] })).toThrow(/segments\[0\]\.blocks must be an Int32Array/);
    expect(call({ tokens: Int32Array.of(1), segments: [{ ...seg, logits: "first" }] })).toThrow(/logits mode/);
    expect(call({ tokens: Int32Array.of(1), segments: [{ ...seg, sample: 3 }] })).toThrow(/sample must be an object/);
    expect(call({ tokens: Int32Array.of(1), segments: [7] })).toThrow(/segments\[0\] must be an object/);
  });

  it("step rejects positions, ids and block tables out of range, naming the value", async () => {
    const reject = (plan: NativeStep, pattern: RegExp) => expect(model.step(plan)).rejects.toThrow(pattern);
    await reject(solo([1, VOCAB, 2], 0, "last"), /token id 1024\b/);
    await reject(solo([-5], 0, "last"), /token id -5\b/);
    await reject(solo([1], -1, "last"), /segment 0 starts at negative position -1/);
    await reject(solo(new Array(65).fill(1), 0, "none"), /positions up to 65 exceed n_positions 64/);
    await reject({ tokens: Int32Array.of(1), segments: [] }, /at least one segment/);
    await reject({ tokens: Int32Array.of(1), segments: [{ rows: 0, start: 0, blocks: TABLE, logits: "none" }] }, /no rows/);
    await reject({ tokens: Int32Array.of(1, 2), segments: [{ rows: 1, start: 0, blocks: TABLE, logits: "none" }] }, /cover 1 rows but the step has 2 tokens/);
    await reject(
      { tokens: Int32Array.of(1), segments: [{ rows: 1, start: 16, blocks: Int32Array.of(0), logits: "none" }] },
      /a block table of 1 blocks does not cover positions up to 17 \(needs 2\)/,
    );
    await reject(
      { tokens: Int32Array.of(1), segments: [{ rows: 1, start: 0, blocks: Int32Array.of(KV_BLOCKS), logits: "none" }] },
      /block 8 is outside the pool of 8 blocks/,
    );
    const two = (a: Int32Array, b: Int32Array): NativeStep => ({
      tokens: Int32Array.of(1, 2),
      segments: [
        { rows: 1, start: 20, blocks: a, logits: "none" },
        { rows: 1, start: 3, blocks: b, logits: "none" },
      ],
    });
    await reject(two(Int32Array.of(0, 1), Int32Array.of(1)), /block 1 is written by segments 0 and 1/);
    // Segment 1 writes block 3, which segment 0 reads as its first block; with another block, both run.
    expect((await model.step(two(Int32Array.of(3, 1), Int32Array.of(4)))).tokens.length).toBe(2);
    await reject(two(Int32Array.of(3, 1), Int32Array.of(3)), /block 3 is written by segment 1 and read by segment 0/);
    // The model still works after the rejections.
    expect((await model.step(solo([VOCAB - 1], 0, "last"))).logits.length).toBe(VOCAB);
  });

  it("step while another step is in flight rejects with 'already running'", async () => {
    const first = model.step(solo(new Array(32).fill(7), 0, "all"));
    const second = model.step(solo([1], 0, "last"));
    await expect(second).rejects.toThrow(/already running/);
    expect((await first).logits.length).toBe(32 * VOCAB);
    // Once the first has finished, the next one runs.
    expect((await model.step(solo([1], 0, "last"))).logits.length).toBe(VOCAB);
  });

  it("a rejected step frees the model for the next one", async () => {
    await expect(model.step(solo([VOCAB], 0, "last"))).rejects.toThrow();
    expect((await model.step(solo([3], 0, "last"))).logits.length).toBe(VOCAB);
  });

  it("a sampled segment picks what ops.sample picks from its last row, for prompts and single steps", async () => {
    const prompt = [11, 500, 3, 977, 42];
    const settings: [number, number, number][] = [
      [0, 0, 1],
      [0.8, 0, 1],
      [1.3, 40, 0.9],
    ];
    for (const [temperature, topK, topP] of settings)
      for (const u of [0.03, 0.51, 0.97]) {
        const sample = { temperature, topK, topP, u };
        const { logits } = await model.step(solo(prompt, 0, "last"));
        const expected = binding.ops.sample({ logits, ...sample });
        const got = await model.step(solo(prompt, 0, "last", sample));
        expect({ token: got.tokens[0], logprob: got.logprobs[0] }).toEqual({
          token: expected.token,
          logprob: Math.fround(expected.logprob),
        });
        expect(Array.from(got.logits)).toEqual(Array.from(logits));
        // One more token: a decode step.
        const step = await model.step(solo([got.tokens[0]!], prompt.length, "last"));
        const stepExpected = binding.ops.sample({ logits: step.logits, ...sample });
        const stepGot = await model.step(solo([got.tokens[0]!], prompt.length, "none", sample));
        expect(stepGot.tokens[0]).toBe(stepExpected.token);
      }
    expect(model.graphReplays).toBe(0); // the CPU records nothing
  });

  it("a sampled segment carries min-p, the adjustments and the alternatives through to ops.sample's pick", async () => {
    const prompt = [7, 300, 12, 999];
    const sample: NativeSampling = {
      temperature: 0.9,
      topK: 0,
      topP: 1,
      u: 0.37,
      minP: 0.05,
      repetitionPenalty: 1.3,
      adjust: {
        ids: Int32Array.of(7, 300, 512),
        repeated: Uint8Array.of(1, 1, 0),
        bias: Float32Array.of(-0.5, 0, 2.25),
        penalty: Float32Array.of(0, 0.75, 0.5),
      },
      topLogprobs: 5,
    };
    const { logits } = await model.step(solo(prompt, 0, "last"));
    const expected = binding.ops.sample({ logits, ...sample });
    const got = await model.step(solo(prompt, 0, "none", sample));
    expect(got.tokens[0]).toBe(expected.token);
    expect(got.logprobs[0]).toBe(Math.fround(expected.logprob));
    expect(got.topCounts[0]).toBe(5);
    expect(Array.from(got.topIds.subarray(0, 5))).toEqual(expected.top.map((a) => a.token));
    expect(Array.from(got.topLogprobs.subarray(0, 5))).toEqual(expected.top.map((a) => Math.fround(a.logprob)));
    expect(got.topIds.length).toBe(20); // 20 slots per segment
  });

  it("step checks its sampling parameters", async () => {
    const f = model.step as unknown as (...a: unknown[]) => unknown;
    const call = (sample: unknown) => () => f.call(model, solo([1], 0, "none", sample as NativeSampling));
    expect(call({ temperature: 0, topK: 0, topP: 1 })).toThrow(/expected a number in field u/);
    expect(call({ temperature: "0", topK: 0, topP: 1, u: 0.5 })).toThrow(TypeError);
    expect(call({ temperature: 0, topK: 0, topP: NaN, u: 0.5 })).toThrow(RangeError);
    expect(call({ temperature: -1, topK: 0, topP: 1, u: 0.5 })).toThrow(/temperature -1/);
    expect(call({ temperature: 1, topK: 2.5, topP: 1, u: 0.5 })).toThrow(/topK 2.5/);
    expect(call({ temperature: 1, topK: 0, topP: -0.5, u: 0.5 })).toThrow(/topP -0.5/);
    expect(call({ temperature: 1, topK: 0, topP: 1, u: 1 })).toThrow(/u 1/);
    const basic = { temperature: 1, topK: 0, topP: 1, u: 0.5 };
    expect(call({ ...basic, minP: 1.5 })).toThrow(/minP 1.5/);
    expect(call({ ...basic, repetitionPenalty: 0 })).toThrow(/repetitionPenalty 0/);
    expect(call({ ...basic, topLogprobs: 21 })).toThrow(/topLogprobs must be an integer in \[0, 20\]/);
    const adjust = { ids: Int32Array.of(1, 2), repeated: Uint8Array.of(0, 0), bias: Float32Array.of(1, 1), penalty: Float32Array.of(0, 0) };
    expect(call({ ...basic, adjust: { ...adjust, ids: [1, 2] } })).toThrow(/adjust.ids must be an Int32Array/);
    expect(call({ ...basic, adjust: { ...adjust, bias: Float32Array.of(1) } })).toThrow(/one length/);
    expect(call({ ...basic, adjust: { ...adjust, bias: Float32Array.of(1, Infinity) } })).toThrow(/bias\[1\] must be finite or -Infinity/);
    expect(call({ ...basic, adjust: { ...adjust, penalty: Float32Array.of(NaN, 0) } })).toThrow(/penalty\[0\] is not finite/);
    expect(call({ ...basic, adjust: { ...adjust, ids: Int32Array.of(4, 4) } })).toThrow(/names id 4 twice/);
    await expect(model.step(solo([1], 0, "none", { ...basic, adjust: { ...adjust, ids: Int32Array.of(1, VOCAB) } }))).rejects.toThrow(
      `a logit adjustment names id ${VOCAB}, outside the vocabulary of ${VOCAB}`,
    );
  });
});

describe("a disposed NativeModel", () => {
  it("throws 'the model was disposed' from step", async () => {
    const model = await loadTiny();
    model.dispose();
    expect(() => model.step(solo([1], 0, "last"))).toThrow("the model was disposed");
    expect(() => model.kvBlocks).toThrow("the model was disposed");
    model.dispose(); // a second dispose is harmless
  });

  it("dispose while a step runs lets that step finish, then refuses new ones", async () => {
    const model = await loadTiny();
    const running = model.step(solo(new Array(16).fill(2), 0, "last"));
    model.dispose();
    expect((await running).logits.length).toBe(VOCAB);
    expect(() => model.step(solo([1], 0, "last"))).toThrow("the model was disposed");
  });

  it("a NativeModel constructed from JS (no model behind it) acts as disposed", () => {
    const Ctor = untyped.NativeModel as new () => NativeModel;
    const bare = new Ctor();
    expect(() => bare.step(solo([1], 0, "last"))).toThrow("the model was disposed");
  });
});
