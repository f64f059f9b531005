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
    // Pythia-160m as transformers counts it (every bias stored). SmolLM2-135M's 134,515,008 plus
    // zeros for its absent biases: per layer q|k|v 960, o 576, gate|up 2 × 1,536, down 576.
    ["pythia-160m", { nLayer: 12, nHead: 12, nEmbd: 768, nCtx: 2048, vocabSize: 50304 }, 162_322_944],
    ["smollm2-135m", { nLayer: 30, nHead: 9, nEmbd: 576, nCtx: 8192, vocabSize: 49152 }, 134_515_008 + 30 * (960 + 576 + 3072 + 576)],
  ] as const)("builds %s as its family's description reads it, and generates only ids its tokenizer has", async (preset, config, parameters) => {
    using gpt = await Gpt.random(preset, { dtype: "bfloat16", threads: 2, seed: 5 });
    expect(gpt.config).toEqual(config);
    expect(gpt.weightBytes).toBe(parameters * 2);
    const out = await gpt.generate([1, 2, 3], { maxTokens: 4, ignoreEos: true, seed: 1 });
    expect(out.tokens.every((id) => id < gpt.tokenizer.vocabSize)).toBe(true);
  });

  it("refuses a text whose GPT-2 ids the preset's smaller vocabulary lacks, naming the id and the vocabulary", async () => {
    using gpt = await Gpt.random("smollm2-135m", { dtype: "bfloat16", threads: 2, seed: 5 });
    // " grids" is GPT-2's id 50000; " Mercury" (21673) is within the preset's vocabulary.
    expect(gpt.tokenizer.encode(" grids")).toEqual([50000]);
    await expect(gpt.generate(" Mercury grids", { maxTokens: 2 })).rejects.toThrow("the prompt's text encodes to token id 50000, past the model's vocabulary of 49152");
    expect((await gpt.generate(" Mercury", { maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
  });

  it("names the presets when given an unknown one", async () => {
    await expect(Gpt.random("gpt5" as never)).rejects.toThrow(/unknown preset "gpt5": one of gpt2, gpt2-medium/);
  });
});
