/**
 * gpt.promptLogprobs against its simple twin: log-softmax of gpt.logits() rows (themselves held
 * to Hugging Face by the golden tests), on fresh random prompts longer than a step's chunk; its
 * top alternatives, cancellation and argument checks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt, GptInputError } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { deriveSeed, testSeed } from "./helpers/random.js";

let gpt: Gpt;
beforeAll(async () => {
  // Steps of 16 rows: a 61-token prompt is scored over four chunks, the last one partial.
  gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu", maxSequences: 4, maxBatchTokens: 16 });
});
afterAll(() => gpt.dispose());

function randomIds(seed: number, length: number, vocab: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % vocab;
  });
}

describe("gpt.promptLogprobs", () => {
  it("equals the log-softmax of logits() at the position before, with the likeliest tokens there", async () => {
    const V = gpt.config.vocabSize;
    for (const [k, length] of [61, 17, 2].entries()) {
      const ids = randomIds(deriveSeed(testSeed(), k), length, V);
      const [scored, logits] = await Promise.all([gpt.promptLogprobs(ids, { top: 3 }), gpt.logits(ids)]);
      expect(scored).toHaveLength(length);
      expect(scored[0]).toEqual({ token: ids[0], text: gpt.tokenizer.decode([ids[0]!]), logprob: null, topLogprobs: [] });
      for (let i = 1; i < length; i++) {
        const row = Array.from(logits.subarray((i - 1) * V, i * V));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        expect(scored[i]!.token).toBe(ids[i]);
        expect(scored[i]!.logprob).toBeCloseTo(row[ids[i]!]! - lse, 10);
        const best = row.map((v, id) => ({ id, v })).sort((a, b) => b.v - a.v || a.id - b.id).slice(0, 3);
        expect(scored[i]!.topLogprobs.map((t) => t.token)).toEqual(best.map((b) => b.id));
        expect(scored[i]!.topLogprobs.map((t) => t.logprob)).toEqual(best.map((b) => b.v - lse).map((x) => expect.closeTo(x, 10)));
      }
    }
  });

  it("an aborted call rejects with the signal's reason and frees its blocks", async () => {
    const ids = randomIds(deriveSeed(testSeed(), 9), 60, gpt.config.vocabSize);
    const controller = new AbortController();
    const call = gpt.promptLogprobs(ids, { signal: controller.signal });
    controller.abort(new Error("stop scoring"));
    await expect(call).rejects.toThrow("stop scoring");
    await expect(gpt.promptLogprobs(ids, { signal: controller.signal })).rejects.toThrow("stop scoring");
    for (let i = 0; i < 50 && gpt.sequences.running + gpt.sequences.waiting > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gpt.kvCacheUsage.usedBlocks).toBe(0);
  });

  it("checks its arguments: ids in the vocabulary, top 0–20, a fit in the context", async () => {
    await expect(gpt.promptLogprobs([1, 5000])).rejects.toThrow(GptInputError);
    await expect(gpt.promptLogprobs([1, 2], { top: 21 })).rejects.toThrow("top must be an integer in [0, 20], got 21");
    await expect(gpt.promptLogprobs(Array(65).fill(1))).rejects.toThrow(/exceed the model's 64 positions/);
  });
});
