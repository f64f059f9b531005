// Gpt.random: real shapes of each family with random weights, for benchmarks without a download.
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

  it.each([
    // The engine's weights against transformers' parameter counts: OPT-350m's 331,196,416 less the
    // two padding rows of its positions, plus zeros for project_in's and project_out's absent
    // biases (1,024 + 512); GPT-Neo 125M's 125,198,592 plus zeros for its q/k/v biases (12 × 3 × 768).
    ["opt-350m", { nLayer: 24, nHead: 16, nEmbd: 1024, nCtx: 2048, vocabSize: 50272 }, 331_196_416 - 2 * 1024 + 1024 + 512],
    ["gpt-neo-125m", { nLayer: 12, nHead: 12, nEmbd: 768, nCtx: 2048, vocabSize: 50257 }, 125_198_592 + 12 * 3 * 768],
  ] as const)("builds %s as its family's description reads it, and generates only ids its tokenizer has", async (preset, config, parameters) => {
    using gpt = await Gpt.random(preset, { dtype: "bfloat16", threads: 2, seed: 5 });
    expect(gpt.config).toEqual(config);
    expect(gpt.weightBytes).toBe(parameters * 2);
    const out = await gpt.generate([1, 2, 3], { maxTokens: 4, ignoreEos: true, seed: 1 });
    expect(out.tokens.every((id) => id < gpt.tokenizer.vocabSize)).toBe(true);
  });

  it("names the presets when given an unknown one", async () => {
    await expect(Gpt.random("gpt5" as never)).rejects.toThrow(/unknown preset "gpt5": one of gpt2, gpt2-medium/);
  });
});
