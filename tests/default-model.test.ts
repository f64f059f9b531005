// The model that ships in assets/default-model (trained by scripts/train-default.py on the Brown
// corpus): it is small, loads with the standard vocabulary, matches PyTorch's held-out perplexity
// and writes English words.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_MODEL_DIR } from "../lib/gpt.js";
import { Gpt } from "../lib/index.js";

const MODEL_DIR = fileURLToPath(new URL("../assets/default-model", import.meta.url));
const EVAL_FILE = fileURLToPath(new URL("./fixtures/default-model-eval.json", import.meta.url));

interface EvalFixture {
  window: number;
  tokens_predicted: number;
  mean_nll: number;
  /** PyTorch's perplexity (fp32, from the stored float16 weights) on `ids` with the window scheme. */
  perplexity: number;
  ids: number[];
}

/**
 * Negative log-likelihoods of ids[i + 1] given ids[..i] for one window scored from position 0,
 * summed, and the likeliest token at each position.
 */
async function windowNll(gpt: Gpt, ids: number[]): Promise<{ sum: number; count: number; argmax: number[] }> {
  const vocab = gpt.config.vocabSize;
  const logits = await gpt.logits(ids);
  let sum = 0;
  const argmax: number[] = [];
  for (let i = 0; i + 1 < ids.length; i++) {
    const row = logits.subarray(i * vocab, (i + 1) * vocab);
    let max = -Infinity;
    let best = 0;
    for (let j = 0; j < vocab; j++)
      if (row[j]! > max) {
        max = row[j]!;
        best = j;
      }
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    const target = row[ids[i + 1]!]!;
    sum -= target - max - Math.log(z);
    argmax.push(best);
  }
  return { sum, count: ids.length - 1, argmax };
}

/** The perplexity of the held-out ids with the fixture's window scheme, and every position's likeliest token. */
async function heldOut(gpt: Gpt, fixture: EvalFixture): Promise<{ perplexity: number; count: number; argmax: number[] }> {
  let sum = 0;
  let count = 0;
  const argmax: number[] = [];
  for (let s = 0; s < fixture.ids.length; s += fixture.window) {
    const window = fixture.ids.slice(s, s + fixture.window);
    if (window.length < 2) continue;
    const w = await windowNll(gpt, window);
    sum += w.sum;
    count += w.count;
    argmax.push(...w.argmax);
  }
  return { perplexity: Math.exp(sum / count), count, argmax };
}

describe("default model (assets/default-model)", () => {
  let gpt: Gpt;
  let fixture: EvalFixture;
  beforeAll(async () => {
    fixture = JSON.parse(readFileSync(EVAL_FILE, "utf8")) as EvalFixture;
    gpt = await Gpt.load(MODEL_DIR, { device: "cpu", threads: 2 });
  });
  afterAll(() => gpt.dispose());

  it("is a GPT-2 checkpoint of at most 20 MB with no tokenizer files (the standard vocabulary applies)", () => {
    const files = readdirSync(MODEL_DIR);
    expect(files).toContain("config.json");
    expect(files.filter((f) => /tokenizer|vocab|merges/.test(f))).toEqual([]);
    const bytes = files.reduce((n, f) => n + statSync(`${MODEL_DIR}/${f}`).size, 0);
    expect(bytes).toBeLessThanOrEqual(20 * 1024 * 1024);
    expect(gpt.config.vocabSize).toBe(50257);
    expect(gpt.config.nCtx).toBe(fixture.window);
    expect(gpt.tokenizer.encode("Hello world")).toEqual([15496, 995]);
  });

  it("matches PyTorch's held-out perplexity within 0.5%", async () => {
    const { perplexity, count } = await heldOut(gpt, fixture);
    expect(count).toBe(fixture.tokens_predicted);
    expect(Math.abs(perplexity / fixture.perplexity - 1)).toBeLessThanOrEqual(0.005);
  });

  it('dtype "int8": held-out perplexity within 1 % of float32\'s, the likeliest token the same at ≥ 98 % of positions', async () => {
    using exact = await Gpt.load(MODEL_DIR, { device: "cpu", threads: 2, dtype: "float32" });
    using int8 = await Gpt.load(MODEL_DIR, { device: "cpu", threads: 2, dtype: "int8" });
    const [a, b] = [await heldOut(exact, fixture), await heldOut(int8, fixture)];
    expect(Math.abs(b.perplexity / a.perplexity - 1)).toBeLessThanOrEqual(0.01);
    const agree = a.argmax.filter((t, i) => t === b.argmax[i]).length / a.argmax.length;
    expect(agree).toBeGreaterThanOrEqual(0.98);
    expect(int8.weightBytes).toBeLessThan(exact.weightBytes);
  });

  it.skipIf(!Gpt.buildInfo().cpuIsa.includes("amx"))(
    `compute "bfloat16": held-out perplexity within 0.5 % of float32's, the likeliest token the same at ≥ 98 % of positions (skipped without AMX: ${Gpt.buildInfo().cpuIsa})`,
    async () => {
      using exact = await Gpt.load(MODEL_DIR, { device: "cpu", threads: 2 });
      using bf16 = await Gpt.load(MODEL_DIR, { device: "cpu", threads: 2, compute: "bfloat16" });
      const [a, b] = [await heldOut(exact, fixture), await heldOut(bf16, fixture)];
      expect(Math.abs(b.perplexity / a.perplexity - 1)).toBeLessThanOrEqual(0.005);
      const agree = a.argmax.filter((t, i) => t === b.argmax[i]).length / a.argmax.length;
      expect(agree).toBeGreaterThanOrEqual(0.98);
    },
  );

  it("continues 'The old man said' greedily with mostly dictionary-like words", async () => {
    const result = await gpt.generate("The old man said", { maxTokens: 24, temperature: 0 });
    expect(result.tokens.length).toBeGreaterThanOrEqual(10);
    const words = result.text.split(/\s+/).filter((w) => w.length > 0);
    expect(words.length).toBeGreaterThanOrEqual(3);
    const wordLike = words.filter((w) => /^"?[A-Za-z][a-z']*[,.;:!?]?"?$/.test(w));
    expect(wordLike.length / words.length, JSON.stringify(result.text)).toBeGreaterThanOrEqual(0.7);
  });
});

describe("Gpt.load() without a path", () => {
  it("loads the bundled demo model", async () => {
    const gpt = await Gpt.load();
    expect(gpt.path).toBe(DEFAULT_MODEL_DIR);
    expect(gpt.config).toMatchObject({ nLayer: 4, nEmbd: 128, vocabSize: 50257 });
    gpt.dispose();
  });
});
