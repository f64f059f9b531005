/**
 * `using gpt = await Gpt.load(…)`: the model is disposed when the scope ends (TypeScript 5.2's
 * explicit resource management; this file is type-checked by tsc in `npm test` and run here).
 * And the config a model reports cannot be changed under it.
 */
import { describe, expect, it } from "vitest";

import { Gpt, GptError } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";

describe("Gpt and `using`", () => {
  it("disposes the model when the block ends, even when it throws", async () => {
    let kept: Gpt | undefined;
    {
      using gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
      kept = gpt;
      expect((await gpt.generate("Hi", { maxTokens: 2 })).tokens).toHaveLength(2);
    }
    await expect(kept.generate("Hi")).rejects.toMatchObject({ code: "E_DISPOSED" });

    let thrown: Gpt | undefined;
    await expect(
      (async () => {
        using gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
        thrown = gpt;
        throw new Error("boom");
      })(),
    ).rejects.toThrow("boom");
    expect(() => thrown!.kvCacheUsage).toThrow(GptError);
    expect(typeof Gpt.prototype[Symbol.dispose]).toBe("function");
  });

  it("config is frozen: writing to it fails instead of loosening the checks", async () => {
    using gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
    expect(Object.isFrozen(gpt.config)).toBe(true);
    expect(() => {
      (gpt.config as { nCtx: number }).nCtx = 4096;
    }).toThrow(TypeError);
    await expect(gpt.generate(Array(60).fill(1), { maxTokens: 10 })).rejects.toMatchObject({ code: "E_CONTEXT_OVERFLOW" });
  });
});

describe("threads over the cores", () => {
  it("emits one GPT_CUDA_THREADS warning per process, and the load goes on", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const cores = (await import("node:os")).availableParallelism();
      for (let i = 0; i < 2; i++) {
        using gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu", threads: cores + 3 });
        expect((await gpt.generate("Hi", { maxTokens: 1 })).tokens).toHaveLength(1);
      }
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      const ours = warnings.filter((w) => (w as Error & { code?: string }).code === "GPT_CUDA_THREADS");
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toContain(`threads ${cores + 3} is more than the ${cores} cores`);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
