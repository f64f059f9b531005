/**
 * The generation controls through Gpt.generate and Gpt.stream: min-p, the penalties and logit
 * bias (held to Hugging Face's generate, tests/fixtures/sampling/hf-generate.json, and to a plain
 * loop over gpt.logits), stopTokens, logprobs, n-way sampling over a shared prompt, and the
 * checks on every option.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt, GptInputError, type GenerateOptions } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { topAlternatives } from "./helpers/sampling-reference.js";

interface HfGenerateCase {
  name: string;
  promptIds: number[];
  repetitionPenalty: number;
  logitBias: Record<string, number>;
  tokens: number[];
}

const HF = JSON.parse(
  readFileSync(fileURLToPath(new URL("./fixtures/sampling/hf-generate.json", import.meta.url)), "utf8"),
) as { cases: HfGenerateCase[] };
const VOCAB = 1024;

let gpt: Gpt;
beforeAll(async () => {
  // The CPU, pinned: greedy tokens are compared with Hugging Face's, which a GPU's rounding can flip.
  gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
});
afterAll(() => gpt.dispose());

/** The next-token logits after `ids`. */
async function lastLogits(ids: number[]): Promise<Float32Array> {
  const all = await gpt.logits(ids);
  return all.slice((ids.length - 1) * VOCAB);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe("penalties and logit bias against Hugging Face's generate (greedy, tiny-f32)", () => {
  it.each(HF.cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const out = await gpt.generate(c.promptIds, {
      temperature: 0,
      maxTokens: c.tokens.length,
      ignoreEos: true,
      repetitionPenalty: c.repetitionPenalty,
      logitBias: c.logitBias,
    });
    expect(out.tokens).toEqual(c.tokens);
  });
});

describe("presence and frequency penalties against a plain loop over gpt.logits", () => {
  it("greedy picks equal argmax(logits − frequency × count − presence × [count > 0])", async () => {
    const prompt = [49, 78, 296, 352, 486, 373];
    const presencePenalty = 0.7;
    const frequencyPenalty = 0.4;
    const expected: number[] = [];
    const counts = new Map<number, number>();
    for (let step = 0; step < 16; step++) {
      const row = await lastLogits([...prompt, ...expected]);
      for (const [id, count] of counts) row[id] = Math.fround(row[id]! - Math.fround(frequencyPenalty * count + presencePenalty));
      const next = argmax(row);
      expected.push(next);
      counts.set(next, (counts.get(next) ?? 0) + 1);
    }
    const out = await gpt.generate(prompt, { temperature: 0, maxTokens: 16, ignoreEos: true, presencePenalty, frequencyPenalty });
    expect(out.tokens).toEqual(expected);
    const plain = await gpt.generate(prompt, { temperature: 0, maxTokens: 16, ignoreEos: true });
    expect(plain.tokens, "the penalties change this continuation").not.toEqual(expected);
  });
});

describe("min-p", () => {
  it("minP 1 keeps only the likeliest token: greedy whatever the temperature and seed", async () => {
    const prompt = [49, 78, 296, 352];
    const greedy = await gpt.generate(prompt, { temperature: 0, maxTokens: 12, ignoreEos: true });
    for (const seed of [1, 2, 3]) {
      const out = await gpt.generate(prompt, { temperature: 1.5, minP: 1, maxTokens: 12, ignoreEos: true, seed });
      expect(out.tokens).toEqual(greedy.tokens);
    }
  });
});

describe("stopTokens", () => {
  it("ends at the first picked stop token, which closes the last chunk and counts as generated", async () => {
    const prompt = [49, 78, 296, 352, 486];
    const plain = await gpt.generate(prompt, { temperature: 0, maxTokens: 20, ignoreEos: true });
    const at = plain.tokens.findIndex((t, i) => i >= 3 && plain.tokens.indexOf(t) === i);
    const stop = plain.tokens[at]!;
    const chunks = [];
    const stream = gpt.stream(prompt, { temperature: 0, maxTokens: 20, ignoreEos: true, stopTokens: [stop, 1023] });
    for await (const chunk of stream) chunks.push(chunk);
    const result = await stream.result;
    expect(result.finishReason).toBe("stop");
    expect(result.tokens).toEqual(plain.tokens.slice(0, at));
    expect(result.usage.completionTokens).toBe(at + 1);
    expect(chunks.at(-1)!.token).toBe(stop);
    expect(result.text).toBe(gpt.tokenizer.decode(plain.tokens.slice(0, at)));
  });
});

describe("logprobs", () => {
  it("each chunk and the result carry the pick's logprob and the top n raw alternatives", async () => {
    const prompt = [49, 78, 296, 352];
    const opts = { temperature: 0.8, maxTokens: 6, ignoreEos: true, seed: 5, logprobs: 3, repetitionPenalty: 1.5 };
    const stream = gpt.stream(prompt, opts);
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const result = await stream.result;
    expect(result.logprobs).toHaveLength(chunks.length);
    const ids = [...prompt];
    for (const [i, chunk] of chunks.entries()) {
      const row = await lastLogits(ids);
      // From the raw logits: the repetition penalty changes the pick's odds, not what is reported.
      const want = topAlternatives(row, 3);
      expect(chunk.topLogprobs!.map((a) => a.token)).toEqual(want.map((a) => a.token));
      chunk.topLogprobs!.forEach((a, k) => {
        expect(a.logprob).toBeCloseTo(want[k]!.logprob, 4);
        expect(a.text).toBe(gpt.tokenizer.tokenText(a.token));
      });
      const logZ = want[0]!.logprob - row[want[0]!.token]!; // logprob = logit − log Σ exp
      expect(chunk.logprob).toBeCloseTo(row[chunk.token]! + logZ, 4);
      expect(result.logprobs![i]).toEqual({
        token: chunk.token,
        text: gpt.tokenizer.tokenText(chunk.token),
        logprob: chunk.logprob,
        topLogprobs: chunk.topLogprobs,
      });
      ids.push(chunk.token);
    }
  });

  it("logprobs 0 reports the picks alone; without the option nothing is reported", async () => {
    const zero = await gpt.generate([5, 6, 7], { maxTokens: 3, seed: 1, logprobs: 0 });
    expect(zero.logprobs).toHaveLength(3);
    for (const entry of zero.logprobs!) expect(entry.topLogprobs).toEqual([]);
    const none = await gpt.generate([5, 6, 7], { maxTokens: 3, seed: 1 });
    expect(none.logprobs).toBeUndefined();
    expect(none.tokens).toEqual(zero.tokens);
    for await (const chunk of gpt.stream([5, 6, 7], { maxTokens: 2, seed: 1 })) expect(chunk.topLogprobs).toBeUndefined();
  });
});

describe("n sequences from one prompt", () => {
  it("result i equals a lone call with seed + i, and the followers take the prompt's blocks from the cache", async () => {
    // 40 tokens: two full blocks of 16 the followers can share (the last one they compute themselves).
    const prompt = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 1000);
    const opts = { maxTokens: 8, temperature: 1.1, seed: 4_294_967_294, ignoreEos: true };
    const results = await gpt.generate(prompt, { ...opts, n: 3 });
    expect(results).toHaveLength(3);
    expect(results[0]!.usage.cachedTokens).toBe(0);
    for (const r of results.slice(1)) expect(r.usage.cachedTokens).toBe(32);
    for (const [i, r] of results.entries()) {
      const alone = await gpt.generate(prompt, { ...opts, seed: (opts.seed + i) >>> 0 }); // wraps past 2^32 − 1
      expect(r.tokens, `sequence ${i}`).toEqual(alone.tokens);
    }
    expect(new Set(results.map((r) => r.tokens.join())).size).toBeGreaterThan(1);
  });

  it("n: 1 still returns a list; a prompt list gets n results per prompt, in order", async () => {
    const one = await gpt.generate([1, 2, 3], { maxTokens: 2, seed: 3, n: 1 });
    expect(Array.isArray(one)).toBe(true);
    expect(one).toHaveLength(1);
    const many = await gpt.generate([[1, 2, 3], [4, 5]], { maxTokens: 2, seed: 3, n: 2 });
    expect(many).toHaveLength(4);
    expect(many[0]!.tokens).toEqual(one[0]!.tokens);
    expect(many[2]!.usage.promptTokens).toBe(2);
  });

  it("stream with n gives n streams that each equal a lone stream with seed + i", async () => {
    const prompt = [9, 8, 7, 6, 5];
    const streams = gpt.stream(prompt, { maxTokens: 5, seed: 11, n: 2, ignoreEos: true });
    expect(streams).toHaveLength(2);
    const texts = await Promise.all(
      streams.map(async (s) => {
        let text = "";
        for await (const chunk of s) text += chunk.text;
        return text;
      }),
    );
    for (const [i, text] of texts.entries())
      expect(text).toBe((await gpt.generate(prompt, { maxTokens: 5, seed: 11 + i, ignoreEos: true })).text);
  });

  it("a follower whose leader is cancelled before its prompt is computed still runs", async () => {
    const controller = new AbortController();
    const prompt = Array.from({ length: 50 }, (_, i) => (i * 13 + 5) % 1000);
    const streams = gpt.stream(prompt, { maxTokens: 4, seed: 2, n: 2, ignoreEos: true, signal: controller.signal });
    await streams[0]!.return();
    const follower = await streams[1]!.result;
    expect(follower.finishReason).toBe("length");
    expect(follower.tokens).toHaveLength(4);
    expect((await streams[0]!.result).finishReason).toBe("abort");
  });
});

describe("option checks", () => {
  const bad: [string, GenerateOptions, RegExp][] = [
    ["minP", { minP: 1.5 }, /minP must be a number in \[0, 1\], got 1.5/],
    ["repetitionPenalty", { repetitionPenalty: 0 }, /repetitionPenalty must be a number in \[5e-324, 100\], got 0/],
    ["presencePenalty", { presencePenalty: -2.5 }, /presencePenalty must be a number in \[-2, 2\], got -2.5/],
    ["frequencyPenalty", { frequencyPenalty: Number.NaN }, /frequencyPenalty must be a number in \[-2, 2\], got NaN/],
    ["logitBias value", { logitBias: { 5: 101 } }, /logitBias\[5\] must be a number in \[-100, 100\], got 101/],
    ["logitBias key", { logitBias: { 1024: 1 } }, /logitBias key "1024" must be an integer in \[0, 1023\]/],
    ["logitBias key text", { logitBias: { x: 1 } as unknown as Record<number, number> }, /logitBias key "x"/],
    ["logitBias shape", { logitBias: [1] as unknown as Record<number, number> }, /logitBias must be an object/],
    ["stopTokens", { stopTokens: [3, -1] }, /stopTokens\[1\] must be an integer in \[0, 1023\], got -1/],
    ["stopTokens shape", { stopTokens: 3 as unknown as number[] }, /stopTokens must be an array of token ids/],
    ["logprobs", { logprobs: 21 }, /logprobs must be an integer in \[0, 20\], got 21/],
    ["n", { n: 0 }, /n must be an integer in \[1, 128\], got 0/],
    ["n fraction", { n: 1.5 }, /n must be an integer in \[1, 128\], got 1.5/],
  ];
  it.each(bad)("%s", async (_what, options, message) => {
    const error = await gpt.generate([1, 2], options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GptInputError);
    expect((error as GptInputError).code).toBe("E_INVALID_ARGUMENT");
    expect((error as Error).message).toMatch(message);
    expect(() => gpt.stream([1, 2], options)).toThrow(message);
  });
});
