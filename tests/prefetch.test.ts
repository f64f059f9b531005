// forwardSample's early start of the next decode step (Gpt2Model::forward_sample with uNext),
// forced on for the CPU backend, where it is off by default: it must never change a token, a
// logprob, a logit or cachedLength — only when the work is done. The CUDA backend has it on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { NativeModel } from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { decodeTokens, type StreamChunk } from "../lib/generation.js";
import { resolveGenerateOptions, type GenerateOptions } from "../lib/options.js";
import { Tokenizer } from "../lib/tokenizer/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { loadNativeModel } from "./helpers/native-model.js";

const DIR = fixtureDir("tiny-f16-sharded");
let plain: NativeModel;
let eager: NativeModel; // prefetching
let tokenizer: Tokenizer;

beforeAll(async () => {
  [plain, eager] = await Promise.all([loadNativeModel(DIR, 1, null, false), loadNativeModel(DIR, 1, null, true)]);
  tokenizer = await Tokenizer.load((await loadCheckpoint(DIR)).tokenizer);
});
afterAll(() => {
  plain?.dispose();
  eager?.dispose();
});

async function generate(model: NativeModel, cached: number[], prompt: number[], options: GenerateOptions) {
  const chunks: StreamChunk[] = [];
  const ctx = { model, tokenizer, cachedTokens: cached };
  const run = decodeTokens(ctx, prompt, resolveGenerateOptions(options));
  for (;;) {
    const step = await run.next();
    if (step.done) return { chunks, summary: step.value };
    chunks.push(step.value);
  }
}

describe("starting the next decode step early", () => {
  it("generates the same tokens, logprobs and text, across calls that reuse the cached prefix", async () => {
    const cachedPlain: number[] = [];
    const cachedEager: number[] = [];
    const prompt = [5, 80, 400, 7, 12];
    const runs: GenerateOptions[] = [
      { maxTokens: 30, temperature: 0.9, topK: 40, seed: 3, ignoreEos: true },
      { maxTokens: 12, temperature: 0, ignoreEos: true },
      { maxTokens: 25, temperature: 1.3, topP: 0.9, seed: 11, ignoreEos: true },
    ];
    let ids = prompt;
    for (const options of runs) {
      const a = await generate(plain, cachedPlain, ids, options);
      const b = await generate(eager, cachedEager, ids, options);
      expect(b.chunks).toEqual(a.chunks);
      expect(b.summary.tokens).toEqual(a.summary.tokens);
      expect(cachedEager).toEqual(cachedPlain);
      expect(eager.cachedLength).toBe(plain.cachedLength); // the step started early is never counted
      ids = [...ids, ...a.summary.tokens.slice(0, 4), 9]; // the next prompt shares a prefix with the cache
    }
  });

  it("collects exactly the step it started, and recomputes any other", async () => {
    const prompt = Int32Array.of(3, 1, 4, 1, 5, 9);
    const first = await eager.forwardSample(prompt, 0, 1, 0, 1, 0.25, 0.75);
    expect(first).toEqual(await plain.forwardSample(prompt, 0, 1, 0, 1, 0.25));
    expect(eager.cachedLength).toBe(prompt.length);
    const pos = prompt.length;
    // The started step: same token, position, parameters and u.
    const next = await eager.forwardSample(Int32Array.of(first.token), pos, 1, 0, 1, 0.75, 0.5);
    expect(next).toEqual(await plain.forwardSample(Int32Array.of(first.token), pos, 1, 0, 1, 0.75));
    // Not the started step (another u, another token, another position): computed afresh.
    const otherToken = (next.token + 1) % 1024;
    for (const [token, start, u] of [
      [next.token, pos + 1, 0.1],
      [otherToken, pos + 1, 0.5],
      [next.token, pos, 0.5],
    ] as const) {
      const want = await plain.forwardSample(Int32Array.of(token), start, 0.8, 20, 1, u);
      expect(await eager.forwardSample(Int32Array.of(token), start, 0.8, 20, 1, u, 0.3)).toEqual(want);
      expect(eager.cachedLength).toBe(start + 1);
    }
    // forward() after a started step sees the cache as if it had never run.
    const ids = Int32Array.of(7, 7, 7);
    expect(await eager.forward(ids, 2, "all")).toEqual(await plain.forward(ids, 2, "all"));
  });

  it("rejects a uNext outside [0, 1)", () => {
    const f = eager.forwardSample as unknown as (...a: unknown[]) => unknown;
    for (const bad of [1, -0.1, NaN, "0.5"])
      expect(() => f.call(eager, Int32Array.of(1), 0, 0, 0, 1, 0.5, bad)).toThrow(/uNext must be a number in \[0, 1\)/);
  });
});
