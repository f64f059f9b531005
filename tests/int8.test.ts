/**
 * dtype "int8" (issue 16): the matmul weights quantized per column at load (native/cpu/quantize.h),
 * on fixture models of each graph kind. Logits stay near the unquantized model's; every sequence
 * is bit-identical batched and alone, at any thread count; the weights take about a byte per
 * matrix parameter; CUDA refuses it by name. The kernels against their twins: tests/ops.test.ts;
 * perplexity of the bundled model: tests/default-model.test.ts.
 */
import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { errors } from "./helpers/errors.js";
import { fixtureDir, type FixtureName } from "./helpers/fixtures.js";
import { Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
// Each graph kind: GPT-2, Llama and Qwen2 (GQA, SwiGLU, RoPE, RMSNorm), GPT-NeoX (parallel
// residual), BLOOM (ALiBi), OPT, GPT-Neo (local attention).
const FIXTURES: FixtureName[] = ["tiny-f32", "llama-gqa-f32", "qwen2-f32", "neox-parallel-f32", "bloom-f32", "opt-f32", "gpt-neo-f32"];

/** Positions whose likeliest token is the same in both rows of logits. */
function sameTop(a: Float32Array, b: Float32Array, vocab: number): number {
  let same = 0;
  for (let p = 0; p < a.length / vocab; p++) {
    let ia = 0;
    let ib = 0;
    for (let j = 1; j < vocab; j++) {
      if (a[p * vocab + j]! > a[p * vocab + ia]!) ia = j;
      if (b[p * vocab + j]! > b[p * vocab + ib]!) ib = j;
    }
    if (ia === ib) same++;
  }
  return same;
}

describe(`dtype int8 on the CPU (seed ${SEED})`, () => {
  for (const name of FIXTURES)
    it(`${name}: logits near float32's by a quantization's error, the likeliest token mostly the same`, async () => {
      using exact = await Gpt.load(fixtureDir(name), { device: "cpu", dtype: "float32" });
      using int8 = await Gpt.load(fixtureDir(name), { device: "cpu", dtype: "int8" });
      const rng = new Prng(SEED);
      const vocab = exact.config.vocabSize;
      const ids = Array.from({ length: 24 }, () => rng.int(vocab));
      const [want, got] = [await exact.logits(ids), await int8.logits(ids)];
      const e = errors(got, want);
      // Quantized for real (not a silent fallback to float32), and off only by what rounding each
      // weight to 1/127 of its column's range gives through a few random layers: relative L2
      // 1.4–4.7 % measured over 30 seeds on every fixture (the head quantized too), the worst
      // single logit up to 10 %.
      expect(e.rel, name).toBeGreaterThan(1e-3);
      expect(e.rel, name).toBeLessThan(0.07);
      expect(e.maxRel, name).toBeLessThan(0.2);
      // Random models' logits are nearly flat, so a near tie may flip: 20 of 24 was the fewest seen.
      expect(sameTop(got, want, vocab), `${name}: positions whose likeliest token agrees`).toBeGreaterThanOrEqual(17);
    });

  it("weightBytes: a byte per matrix weight and a scale per column; the tied table as stored, beside its int8 copy for the head", async () => {
    using exact = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu", dtype: "float32" });
    using int8 = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu", dtype: "int8" });
    const c = exact.config;
    // GPT-2's four matrices per layer: [C, 3C], [C, C], [C, 4C], [4C, C].
    const columns = c.nLayer * (3 * c.nEmbd + c.nEmbd + 4 * c.nEmbd + c.nEmbd);
    const parameters = c.nLayer * 12 * c.nEmbd * c.nEmbd;
    const head = c.vocabSize * c.nEmbd + c.vocabSize * 4;
    expect(exact.weightBytes - int8.weightBytes).toBe(parameters * 4 - (parameters + columns * 4) - head);
  });

  it("an untied head is quantized and its stored table let go; a tied one's embedding reads the stored rows", async () => {
    // llama-hd80-bf16's config has tie_word_embeddings false: its head table [V, C] counts one byte
    // per weight, its embedding stays bf16 and is read in place.
    using exact = await Gpt.load(fixtureDir("llama-hd80-bf16"), { device: "cpu" });
    using int8 = await Gpt.load(fixtureDir("llama-hd80-bf16"), { device: "cpu", dtype: "int8" });
    const rng = new Prng(SEED ^ 0x4ead);
    const ids = Array.from({ length: 12 }, () => rng.int(exact.config.vocabSize));
    const e = errors(await int8.logits(ids), await exact.logits(ids));
    expect(e.rel).toBeGreaterThan(1e-3);
    expect(e.rel).toBeLessThan(0.07);
    // At least the head's saving: bf16 → a byte and a scale per token (the matrices save more).
    const { vocabSize, nEmbd } = exact.config;
    expect(exact.weightBytes - int8.weightBytes).toBeGreaterThan(vocabSize * nEmbd - 4 * vocabSize);
  });

  it("every sequence is bit-identical batched and alone, at 1 and 2 threads", async () => {
    const rng = new Prng(SEED ^ 0x5eed);
    const prompts = Array.from({ length: 6 }, () => Array.from({ length: 1 + rng.int(40) }, () => rng.int(50257)));
    const opts = { maxTokens: 10, temperature: 0.8, seed: 3, ignoreEos: true } as const;
    using solo = await Gpt.load(undefined, { device: "cpu", dtype: "int8", threads: 1, maxSequences: 1 });
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await solo.generate(p, opts)).tokens);
    for (const threads of [1, 2]) {
      using batched = await Gpt.load(undefined, { device: "cpu", dtype: "int8", threads, maxSequences: 6, maxBatchTokens: 48 });
      const together = await Promise.all(prompts.map((p) => batched.generate(p, opts)));
      expect(together.map((r) => r.tokens), `${threads} threads`).toEqual(alone);
    }
  });

  it("Gpt.random quantizes its random weights too", async () => {
    using int8 = await Gpt.random("gpt2", { device: "cpu", dtype: "int8", threads: 2 });
    using exact = await Gpt.random("gpt2", { device: "cpu", dtype: "float32", threads: 2 });
    expect(int8.weightBytes).toBeLessThan(0.55 * exact.weightBytes);
    const ids = [1, 2, 3, 4, 5];
    const e = errors(await int8.logits(ids), await exact.logits(ids));
    expect(e.rel).toBeGreaterThan(1e-3);
    expect(e.rel).toBeLessThan(0.07);
  }, 60_000);

  it('device "cuda" refuses it by name; "auto" runs it on the CPU', async () => {
    await expect(Gpt.load(fixtureDir("tiny-f32"), { device: "cuda", dtype: "int8" })).rejects.toMatchObject({
      code: "E_UNSUPPORTED",
      message: expect.stringContaining('dtype "int8" runs on the CPU only'),
    });
    using auto = await Gpt.load(fixtureDir("tiny-f32"), { device: "auto", dtype: "int8" });
    expect(auto.device).toBe("cpu");
  });
});
