// generate() and stream(): sampling, stop strings, EOS, abort and streaming text.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { cudaSelfCheck } from "../lib/cuda-self-check.js";
import { Gpt } from "../lib/index.js";
import { fixtureDir, reference } from "./helpers/fixtures.js";
import { eosModel } from "./helpers/model-edits.js";
import { writeRandomCheckpoint } from "./helpers/random-checkpoint.js";

let gpt: Gpt;
beforeAll(async () => {
  // The CPU, pinned: these tests compare tokens with Hugging Face's, which a GPU's rounding can flip.
  gpt = await Gpt.load(fixtureDir("tiny-f16-sharded"), { device: "cpu" });
});
afterAll(() => gpt.dispose());

describe("generate: sampling", () => {
  it("device auto: the GPU when one passes the self-check, else the CPU", async () => {
    const gpuUsable = Gpt.buildInfo().cuda && Gpt.devices().length > 0 && (await cudaSelfCheck(0)) === null;
    const auto = await Gpt.load(fixtureDir("tiny-f16-sharded"), { device: "auto" });
    expect(auto.device).toBe(gpuUsable ? "cuda" : "cpu");
    auto.dispose();
    expect(gpt.device).toBe("cpu");
    expect(gpt.config).toEqual({ nLayer: 3, nHead: 2, nEmbd: 128, nCtx: 96, vocabSize: 1024 });
  });

  it("gives the same tokens for the same seed and options", async () => {
    const opts = { maxTokens: 20, temperature: 1.2, topK: 50, topP: 0.95, seed: 7 };
    const a = await gpt.generate("Hello there", opts);
    const b = await gpt.generate("Hello there", opts);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.text).toBe(b.text);
  });

  it("gives different tokens for different seeds at a high temperature", async () => {
    const runs = await Promise.all(
      [1, 2, 3].map((seed) => gpt.generate("Hello there", { maxTokens: 20, temperature: 2, seed })),
    );
    expect(new Set(runs.map((r) => r.tokens.join(","))).size).toBeGreaterThan(1);
  });

  it("topK 1 is greedy whatever the seed and temperature", async () => {
    const ref = reference("tiny-f16-sharded");
    const out = await gpt.generate(ref.greedy.prompt_ids, { maxTokens: 24, temperature: 3, topK: 1, seed: 99 });
    expect(out.tokens).toEqual(ref.greedy.tokens);
  });

  it("reports usage and timings", async () => {
    const ref = reference("tiny-f16-sharded");
    const out = await gpt.generate(ref.prompt_text, { maxTokens: 5, temperature: 0 });
    expect(Object.keys(out.usage).sort()).toEqual(["cachedTokens", "completionTokens", "promptTokens"]);
    expect(out.usage).toMatchObject({ promptTokens: ref.prompt_ids.length, completionTokens: 5 });
    // Whole blocks of an earlier test's prompt at most, and never the last prompt token.
    expect(out.usage.cachedTokens % 16).toBe(0);
    expect(out.usage.cachedTokens).toBeLessThan(ref.prompt_ids.length);
    expect(Object.keys(out.timings).sort()).toEqual(["decodeMs", "prefillMs", "queueMs"]);
    expect(out.timings.queueMs).toBeGreaterThanOrEqual(0);
    expect(out.timings.prefillMs).toBeGreaterThan(0);
    expect(out.timings.decodeMs).toBeGreaterThan(0);
  });

  it("starts an empty prompt from <|endoftext|>", async () => {
    const out = await gpt.generate("", { maxTokens: 3, temperature: 0 });
    expect(out.usage.promptTokens).toBe(1);
    expect(out.tokens).toHaveLength(3);
  });
});

describe("generate: stop strings", () => {
  const ref = reference("tiny-f16-sharded");
  const opts = { maxTokens: 24, temperature: 0, ignoreEos: true } as const;

  it("ends the text before a stop string that spans two tokens", async () => {
    const pieces = ref.greedy.tokens.map((t) => gpt.tokenizer.decode([t]));
    const full = pieces.join("");
    // A stop string made of the last character of one token and the first of the next.
    let stop = "";
    let boundary = 0;
    for (let i = 3; i < pieces.length - 1 && !stop; i++) {
      boundary += pieces[i - 1]!.length;
      const at = pieces.slice(0, i).join("").length;
      const candidate = full.slice(at - 1, at + 1);
      if (pieces[i - 1]!.length > 0 && pieces[i]!.length > 0 && full.indexOf(candidate) === at - 1) stop = candidate;
    }
    expect(stop).toHaveLength(2);
    const out = await gpt.generate(ref.greedy.prompt_ids, { ...opts, stop });
    expect(out.finishReason).toBe("stop");
    expect(out.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(out.text.includes(stop)).toBe(false);
  });

  it("picks the earliest of several stop strings", async () => {
    const full = gpt.tokenizer.decode(ref.greedy.tokens);
    const early = full.slice(6, 9);
    const late = full.slice(full.length - 4);
    const out = await gpt.generate(ref.greedy.prompt_ids, { ...opts, stop: [late, early] });
    expect(out.text).toBe(full.slice(0, full.indexOf(early)));
  });

  it("streams the same text as generate, never showing the stop string", async () => {
    const full = gpt.tokenizer.decode(ref.greedy.tokens);
    const stop = full.slice(10, 13);
    const chunks: string[] = [];
    for await (const { text } of gpt.stream(ref.greedy.prompt_ids, { ...opts, stop })) chunks.push(text);
    const generated = await gpt.generate(ref.greedy.prompt_ids, { ...opts, stop });
    expect(chunks.join("")).toBe(generated.text);
    expect(chunks.join("").includes(stop)).toBe(false);
  });
});

describe("generate: streaming", () => {
  it("yields one chunk per token whose texts concatenate to generate's text", async () => {
    const opts = { maxTokens: 16, temperature: 0.9, seed: 3 };
    const chunks = [];
    for await (const chunk of gpt.stream("The cat", opts)) chunks.push(chunk);
    const out = await gpt.generate("The cat", opts);
    expect(chunks.map((c) => c.token)).toEqual(out.tokens);
    expect(chunks.map((c) => c.text).join("")).toBe(out.text);
    for (const c of chunks) expect(c.logprob).toBeLessThanOrEqual(0);
  });

  it("streams valid text that joins to the decode of all tokens, even through split UTF-8", async () => {
    // The fallback-vocab model samples from the full GPT-2 vocabulary, whose byte tokens split
    // multi-byte characters; a hot temperature makes such splits common.
    const full = await Gpt.load(fixtureDir("fallback-vocab"));
    for (const seed of [1, 2, 3, 4]) {
      const chunks = [];
      for await (const c of full.stream("日本", { maxTokens: 28, temperature: 4, seed, ignoreEos: true })) chunks.push(c);
      const tokens = chunks.map((c) => c.token);
      expect(chunks.map((c) => c.text).join("")).toBe(full.tokenizer.decode(tokens));
    }
    full.dispose();
  });

  it("can be left early without leaving the model busy", async () => {
    for await (const _ of gpt.stream("Hello", { maxTokens: 20 })) break;
    const out = await gpt.generate("Hello", { maxTokens: 2, temperature: 0 });
    expect(out.tokens).toHaveLength(2);
  });

  it("serves concurrent calls together with the results of sequential ones", async () => {
    const opts = { maxTokens: 10, temperature: 0.7, seed: 11 };
    const [a, b] = await Promise.all([gpt.generate("One", opts), gpt.generate("Two", opts)]);
    expect(a.tokens).toEqual((await gpt.generate("One", opts)).tokens);
    expect(b.tokens).toEqual((await gpt.generate("Two", opts)).tokens);
  });
});

describe("generate: abort", () => {
  it("ends within one decode step with finishReason abort", async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const { token } of gpt.stream("Hello", { maxTokens: 50, signal: controller.signal, seed: 1 })) {
      seen.push(token);
      if (seen.length === 3) controller.abort();
    }
    expect(seen.length).toBeLessThanOrEqual(4);
    const c2 = new AbortController();
    const pending = gpt.generate("Hello", { maxTokens: 50, signal: c2.signal, seed: 1 });
    c2.abort();
    const out = await pending;
    expect(out.finishReason).toBe("abort");
    expect(out.tokens.length).toBeLessThanOrEqual(1);
  });

  it("does nothing for a signal aborted before the call", async () => {
    const out = await gpt.generate("Hello", { maxTokens: 5, signal: AbortSignal.abort() });
    expect(out).toMatchObject({ finishReason: "abort", tokens: [], text: "" });
  });
});

describe("generate: end of text", () => {
  let dir: string;
  let eos: Gpt;
  beforeAll(async () => {
    dir = await eosModel();
    eos = await Gpt.load(dir);
  });
  afterAll(async () => {
    eos.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("stops at <|endoftext|> and leaves it out of text and tokens", async () => {
    const out = await eos.generate("Hello", { maxTokens: 10, temperature: 0 });
    expect(out).toMatchObject({ finishReason: "eos", tokens: [], text: "" });
    expect(out.usage.completionTokens).toBe(1);
  });

  it("goes on past it with ignoreEos", async () => {
    const out = await eos.generate("Hello", { maxTokens: 4, temperature: 0, ignoreEos: true });
    expect(out.finishReason).toBe("length");
    expect(out.tokens).toEqual([1023, 1023, 1023, 1023]);
  });
});

describe("generate: a vocabulary padded past the tokenizer (OPT's 50272 for 50265 tokens)", () => {
  it("never picks an id the tokenizer has no token for, and its logits keep the full width", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-padded-"));
    try {
      await writeRandomCheckpoint(dir, { nLayer: 1, nHead: 2, nEmbd: 32, nCtx: 64, vocabSize: 1100 }, "F32");
      for (const file of ["tokenizer.json", "tokenizer_config.json"]) await cp(join(fixtureDir("tiny-f32"), file), join(dir, file));
      using gpt = await Gpt.load(dir, { device: "cpu" });
      expect([gpt.config.vocabSize, gpt.tokenizer.vocabSize]).toEqual([1100, 1024]);
      expect((await gpt.logits([5, 6])).length).toBe(2 * 1100);
      // A bias that would make padded ids the likeliest by far: still none is picked.
      const logitBias = Object.fromEntries(Array.from({ length: 76 }, (_, i) => [1024 + i, 100]));
      for (const temperature of [0, 1]) {
        const out = await gpt.generate([5, 6], { maxTokens: 12, temperature, logitBias, ignoreEos: true, seed: 3 });
        expect(out.tokens.length).toBe(12);
        expect(out.tokens.every((id) => id < 1024), `temperature ${temperature}: ${out.tokens}`).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
