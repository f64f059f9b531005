/**
 * compute "bfloat16" (issue 16) on whole models: the matmul weights in bf16 AMX tiles, their
 * inputs rounded to bf16 (native/cpu/matmul_amx.cpp). Logits stay near float32 compute's by bf16's
 * rounding; every sequence is bit-identical batched and alone at any thread count; the weights of an
 * F32 checkpoint take half the bytes; where there is no AMX it computes in float32 and says so.
 * The kernel against its twin: tests/compute-bf16.test.ts; perplexity: tests/default-model.test.ts.
 */
import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { errors } from "./helpers/errors.js";
import { fixtureDir, type FixtureName } from "./helpers/fixtures.js";
import { Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const ISA = Gpt.buildInfo().cpuIsa;
const AMX = ISA.includes("amx");
// Each graph kind: GPT-2, Llama and Qwen2 (GQA, SwiGLU, RoPE, RMSNorm), GPT-NeoX (parallel
// residual), BLOOM (ALiBi), OPT, GPT-Neo (local attention).
const FIXTURES: FixtureName[] = ["tiny-f32", "llama-gqa-f32", "qwen2-f32", "neox-parallel-f32", "bloom-f32", "opt-f32", "gpt-neo-f32"];

describe.skipIf(!AMX)(`compute bfloat16 on the AMX tiles (seed ${SEED}; CPU level ${ISA}${AMX ? "" : ": no AMX, so skipped"})`, () => {
  for (const name of FIXTURES)
    it(`${name}: logits near float32 compute's by bf16's rounding, not equal to them`, async () => {
      using exact = await Gpt.load(fixtureDir(name), { device: "cpu" });
      using bf16 = await Gpt.load(fixtureDir(name), { device: "cpu", compute: "bfloat16" });
      expect(bf16.compute).toBe("bfloat16");
      const rng = new Prng(SEED);
      const ids = Array.from({ length: 40 }, () => rng.int(exact.config.vocabSize));
      const e = errors(await bf16.logits(ids), await exact.logits(ids)).rel;
      // Computed in bf16 for real (no silent float32), and off by what 8-bit mantissas give.
      expect(e, name).toBeGreaterThan(1e-4);
      expect(e, name).toBeLessThan(0.03);
    });

  it("every sequence is bit-identical batched and alone, at 1 and 2 threads", async () => {
    const rng = new Prng(SEED ^ 0xbf16);
    const prompts = Array.from({ length: 6 }, () => Array.from({ length: 1 + rng.int(40) }, () => rng.int(50257)));
    const opts = { maxTokens: 10, temperature: 0.8, seed: 3, ignoreEos: true } as const;
    using solo = await Gpt.load(undefined, { device: "cpu", compute: "bfloat16", threads: 1, maxSequences: 1 });
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await solo.generate(p, opts)).tokens);
    for (const threads of [1, 2]) {
      using batched = await Gpt.load(undefined, { device: "cpu", compute: "bfloat16", threads, maxSequences: 6, maxBatchTokens: 48 });
      const together = await Promise.all(prompts.map((p) => batched.generate(p, opts)));
      expect(together.map((r) => r.tokens), `${threads} threads`).toEqual(alone);
    }
  });

  it("a prompt's logits are the same bits prefilled at once and in chunks among other sequences", async () => {
    const rng = new Prng(SEED ^ 0xc4);
    const ids = Array.from({ length: 70 }, () => rng.int(50257));
    using whole = await Gpt.load(undefined, { device: "cpu", compute: "bfloat16", threads: 2 });
    using chunked = await Gpt.load(undefined, { device: "cpu", compute: "bfloat16", threads: 2, maxSequences: 2, maxBatchTokens: 16 });
    const other = chunked.generate(ids.slice(0, 30), { maxTokens: 20, ignoreEos: true });
    expect(Array.from(await chunked.logits(ids))).toEqual(Array.from(await whole.logits(ids)));
    await other;
  });

  it("weightBytes: an F32 checkpoint's matrices in half the bytes (bf16, padded to whole tiles)", async () => {
    using exact = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
    using bf16 = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu", compute: "bfloat16" });
    const c = exact.config;
    const pad = (n: number) => Math.ceil(n / 32) * 32;
    const [C, L] = [c.nEmbd, c.nLayer];
    // GPT-2's four matrices per layer: [C, 3C], [C, C], [C, 4C], [4C, C].
    const stored = L * 12 * C * C * 4;
    const tiled = L * 2 * (pad(C) * pad(3 * C) + pad(C) * pad(C) + pad(C) * pad(4 * C) + pad(4 * C) * pad(C));
    expect(exact.weightBytes - bf16.weightBytes).toBe(stored - tiled);
  });
});

describe("compute option checks", () => {
  it.skipIf(AMX)(`without AMX, compute "bfloat16" loads and computes in float32, as gpt.compute says (${ISA})`, async () => {
    using exact = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
    using asked = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu", compute: "bfloat16" });
    expect(asked.compute).toBe("float32");
    expect(Array.from(await asked.logits([1, 2, 3]))).toEqual(Array.from(await exact.logits([1, 2, 3])));
  });

  it("compute defaults to float32; a bad value is E_INVALID_ARGUMENT naming it", async () => {
    using gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
    expect(gpt.compute).toBe("float32");
    await expect(Gpt.load(fixtureDir("tiny-f32"), { compute: "fp8" as "float32" })).rejects.toMatchObject({
      code: "E_INVALID_ARGUMENT",
      message: expect.stringContaining('compute must be one of float32, bfloat16, got "fp8"'),
    });
  });

  it('device "cuda" and dtype "int8" refuse it by name; "auto" runs it on the CPU', async () => {
    await expect(Gpt.load(fixtureDir("tiny-f32"), { device: "cuda", compute: "bfloat16" })).rejects.toMatchObject({
      code: "E_UNSUPPORTED",
      message: expect.stringContaining('compute "bfloat16" runs on the CPU only'),
    });
    await expect(Gpt.load(fixtureDir("tiny-f32"), { dtype: "int8", compute: "bfloat16" })).rejects.toMatchObject({
      code: "E_UNSUPPORTED",
      message: expect.stringContaining('with dtype "int8" is not supported yet'),
    });
    using auto = await Gpt.load(fixtureDir("tiny-f32"), { device: "auto", compute: "bfloat16" });
    expect(auto.device).toBe("cpu");
  });
});
