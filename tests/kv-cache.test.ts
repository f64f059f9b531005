// Decoding through the KV cache must give the logits of a full recompute, at every step.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { FIXTURE_NAMES, fixtureDir, reference, relativeMaxError } from "./helpers/fixtures.js";
import { loadNativeModel } from "./helpers/native-model.js";
import { writeRandomCheckpoint } from "./helpers/random-checkpoint.js";

function row(logits: Float32Array, r: number, vocab: number): Float32Array {
  return logits.subarray(r * vocab, (r + 1) * vocab);
}

for (const name of FIXTURE_NAMES) {
  describe(`KV cache: ${name}`, () => {
    it("one token at a time gives the full recompute's logits at every position", async () => {
      const ref = reference(name);
      const model = await loadNativeModel(fixtureDir(name));
      const vocab = ref.logits.length / ref.prompt_ids.length;
      const ids = [...ref.greedy.prompt_ids, ...ref.greedy.tokens];
      const full = await model.forward(Int32Array.from(ids), 0, "all");

      const prefix = 5;
      const first = await model.forward(Int32Array.from(ids.slice(0, prefix)), 0, "last");
      expect(relativeMaxError(first, row(full, prefix - 1, vocab))).toBeLessThan(1e-5);
      for (let pos = prefix; pos < ids.length; pos++) {
        const step = await model.forward(Int32Array.of(ids[pos]!), pos, "last");
        expect(relativeMaxError(step, row(full, pos, vocab)), `position ${pos}`).toBeLessThan(1e-5);
      }
      expect(model.cachedLength).toBe(ids.length);
      model.dispose();
    });
  });
}

describe("KV cache: rewinding and reuse", () => {
  it("rewinds to an earlier position and overwrites what followed", async () => {
    const ref = reference("tiny-f16-sharded");
    const model = await loadNativeModel(fixtureDir("tiny-f16-sharded"));
    const vocab = ref.logits.length / ref.prompt_ids.length;
    const ids = ref.prompt_ids;
    await model.forward(Int32Array.from([7, 8, 9, 10, 11, 12, 13, 14]), 0, "none");
    // Keep nothing of that, then a prefix of it, and continue with the real prompt.
    await model.forward(Int32Array.from(ids.slice(0, 4)), 0, "none");
    const rest = await model.forward(Int32Array.from(ids.slice(4)), 4, "all");
    expect(relativeMaxError(rest, ref.logits.subarray(4 * vocab))).toBeLessThan(1e-4);
    model.dispose();
  });

  it("refuses to start past the cached positions, naming both numbers", async () => {
    const model = await loadNativeModel(fixtureDir("tiny-f32"));
    await model.forward(Int32Array.from([1, 2, 3]), 0, "none");
    await expect(model.forward(Int32Array.of(4), 5, "last")).rejects.toThrow(/start position 5 .*3 cached/);
    model.dispose();
  });

  it("a prompt that shares a prefix with the cache continues as a fresh model would", async () => {
    const ref = reference("tiny-bf16");
    const warm = await Gpt.load(fixtureDir("tiny-bf16"));
    const cold = await Gpt.load(fixtureDir("tiny-bf16"));
    const opts = { maxTokens: 12, temperature: 0, ignoreEos: true };
    await warm.generate(ref.prompt_ids, opts);
    const shared = [...ref.prompt_ids.slice(0, 10), 5, 6, 7];
    expect((await warm.generate(shared, opts)).tokens).toEqual((await cold.generate(shared, opts)).tokens);
    // And the full prompt again, now mostly cached.
    expect((await warm.generate(ref.prompt_ids, opts)).tokens).toEqual(
      (await cold.generate(ref.prompt_ids, opts)).tokens,
    );
    warm.dispose();
    cold.dispose();
  });
});

describe("KV cache: long prompts", () => {
  it("a 200-token prefill agrees with a 100-token prefill followed by single steps", async () => {
    // Long enough that the prefill GEMM splits its rows into several chunks.
    const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-long-"));
    try {
      await writeRandomCheckpoint(dir, { nLayer: 2, nHead: 4, nEmbd: 128, nCtx: 256, vocabSize: 1000 }, "F16");
      const model = await loadNativeModel(dir);
      const ids = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
      const full = await model.forward(Int32Array.from(ids), 0, "all");
      const prefix = await model.forward(Int32Array.from(ids.slice(0, 100)), 0, "last");
      expect(relativeMaxError(prefix, row(full, 99, 1000))).toBeLessThan(1e-5);
      for (let pos = 100; pos < 110; pos++) {
        const step = await model.forward(Int32Array.of(ids[pos]!), pos, "last");
        expect(relativeMaxError(step, row(full, pos, 1000)), `position ${pos}`).toBeLessThan(1e-5);
      }
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
