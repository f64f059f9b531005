// Logits, greedy continuations and token ids against Hugging Face transformers, on every fixture.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { FIXTURE_NAMES, fixtureDir, reference, relativeMaxError, type Reference } from "./helpers/fixtures.js";

for (const name of FIXTURE_NAMES) {
  describe(`golden: ${name}`, () => {
    let gpt: Gpt;
    let ref: Reference;
    beforeAll(async () => {
      ref = reference(name);
      gpt = await Gpt.load(fixtureDir(name), { device: "cpu", threads: 2 });
    });
    afterAll(() => gpt.dispose());

    it("encodes the prompt and every tokenizer case to Hugging Face's ids", () => {
      expect(gpt.tokenizer.encode(ref.prompt_text)).toEqual(ref.prompt_ids);
      for (const c of ref.tokenizer_cases) {
        expect(gpt.tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
        expect(gpt.tokenizer.decode(c.ids)).toBe(c.text);
      }
    });

    it("gives Hugging Face's logits at every position (max error ≤ 1e-4 × max |logit|)", async () => {
      const logits = await gpt.logits(ref.prompt_ids);
      expect(logits.length).toBe(ref.prompt_ids.length * gpt.config.vocabSize);
      expect(relativeMaxError(logits, ref.logits)).toBeLessThanOrEqual(1e-4);
    });

    it("reproduces Hugging Face's greedy continuation token for token", async () => {
      const out = await gpt.generate(ref.greedy.prompt_ids, {
        maxTokens: ref.greedy.max_new_tokens,
        temperature: 0,
        ignoreEos: true,
      });
      expect(out.tokens).toEqual(ref.greedy.tokens);
      expect(out.finishReason).toBe("length");
      expect(out.text).toBe(gpt.tokenizer.decode(ref.greedy.tokens));
    });
  });
}

describe("golden: loading variants", () => {
  it("accepts the path of the .safetensors file instead of the directory", async () => {
    const ref = reference("tiny-f32");
    const gpt = await Gpt.load(`${fixtureDir("tiny-f32")}/model.safetensors`, { device: "cpu" });
    expect(relativeMaxError(await gpt.logits(ref.prompt_ids), ref.logits)).toBeLessThanOrEqual(1e-4);
    gpt.dispose();
  });

  it("widens F16 weights to float32 exactly when asked", async () => {
    const ref = reference("tiny-f16-sharded");
    const gpt = await Gpt.load(fixtureDir("tiny-f16-sharded"), { dtype: "float32" });
    expect(gpt.weightBytes).toBeGreaterThan(0);
    expect(relativeMaxError(await gpt.logits(ref.prompt_ids), ref.logits)).toBeLessThanOrEqual(1e-4);
    gpt.dispose();
  });

  for (const dtype of ["float16", "bfloat16"] as const) {
    it(`narrows F32 weights to ${dtype} with a half-precision-sized error`, async () => {
      const ref = reference("tiny-f32");
      const full = await Gpt.load(fixtureDir("tiny-f32"));
      const half = await Gpt.load(fixtureDir("tiny-f32"), { dtype });
      expect(half.weightBytes).toBe(full.weightBytes / 2);
      const err = relativeMaxError(await half.logits(ref.prompt_ids), ref.logits);
      // Rounded weights move the logits, but by about the dtype's precision, not more.
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(dtype === "float16" ? 5e-3 : 5e-2);
      full.dispose();
      half.dispose();
    });
  }

  it("gives the same logits with 1 and 3 threads", async () => {
    const ref = reference("tiny-bf16");
    const one = await Gpt.load(fixtureDir("tiny-bf16"), { threads: 1 });
    const three = await Gpt.load(fixtureDir("tiny-bf16"), { threads: 3 });
    expect(relativeMaxError(await three.logits(ref.prompt_ids), await one.logits(ref.prompt_ids))).toBeLessThan(1e-6);
    one.dispose();
    three.dispose();
  });
});
