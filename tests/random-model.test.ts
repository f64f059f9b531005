// Gpt.random: real GPT-2 shapes with random weights, for benchmarks without a download.
import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";

describe("Gpt.random", () => {
  it("builds the GPT-2 124M shape in the asked dtype and generates from it", async () => {
    const gpt = await Gpt.random("gpt2", { dtype: "bfloat16", threads: 2, seed: 5 });
    expect(gpt.config).toEqual({ nLayer: 12, nHead: 12, nEmbd: 768, nCtx: 1024, vocabSize: 50257 });
    // 124,439,808 parameters (tied LM head) at 2 bytes each.
    expect(gpt.weightBytes).toBe(124_439_808 * 2);
    const out = await gpt.generate("Hello", { maxTokens: 3, temperature: 0, ignoreEos: true });
    expect(out.tokens).toHaveLength(3);
    gpt.dispose();
  });

  it("names the presets when given an unknown one", async () => {
    await expect(Gpt.random("gpt5" as never)).rejects.toThrow(/unknown preset "gpt5": one of gpt2, gpt2-medium/);
  });
});
