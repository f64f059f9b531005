// The paged KV cache: a sequence whose keys and values were written by earlier steps, in blocks
// scattered anywhere in the pool, continues with exactly the logits of a full recompute.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { FIXTURE_NAMES, fixtureDir, reference } from "./helpers/fixtures.js";
import { blockRange, loadNativeModel, runSequence } from "./helpers/native-model.js";
import { writeRandomCheckpoint } from "./helpers/random-checkpoint.js";
import { Prng } from "./helpers/random.js";

function row(logits: Float32Array, r: number, vocab: number): Float32Array {
  return logits.subarray(r * vocab, (r + 1) * vocab);
}

/** `count` distinct blocks of a pool of `pool`, in a seeded random order. */
function scattered(count: number, pool: number, seed: number): Int32Array {
  const rng = new Prng(seed);
  const ids = Array.from({ length: pool }, (_, i) => i);
  for (let i = pool - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return Int32Array.from(ids.slice(0, count));
}

for (const name of FIXTURE_NAMES) {
  describe(`KV cache: ${name}`, () => {
    it("one token at a time, in scattered blocks, gives the full recompute's logits bit for bit", async () => {
      const ref = reference(name);
      const model = await loadNativeModel(fixtureDir(name), 2, null, 16);
      const vocab = ref.logits.length / ref.prompt_ids.length;
      const ids = [...ref.greedy.prompt_ids, ...ref.greedy.tokens];
      const full = (await runSequence(model, ids, 0, blockRange(4), "all")).logits;

      const blocks = scattered(4, 16, 11);
      const prefix = 5;
      const first = (await runSequence(model, ids.slice(0, prefix), 0, blocks, "all")).logits;
      expect(Array.from(first)).toEqual(Array.from(full.subarray(0, prefix * vocab)));
      for (let pos = prefix; pos < ids.length; pos++) {
        const step = (await runSequence(model, [ids[pos]!], pos, blocks, "last")).logits;
        expect(Array.from(step), `position ${pos}`).toEqual(Array.from(row(full, pos, vocab)));
      }
      model.dispose();
    });
  });
}

describe("KV cache: long prompts", () => {
  it("a 200-token prefill equals chunks of 37 and single steps, bit for bit", async () => {
    // Long enough that the prefill GEMM splits its rows into several chunks of its own.
    const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-long-"));
    try {
      await writeRandomCheckpoint(dir, { nLayer: 2, nHead: 4, nEmbd: 128, nCtx: 256, vocabSize: 1000 }, "F16");
      const model = await loadNativeModel(dir, 3, null, 40);
      const ids = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
      const full = (await runSequence(model, ids, 0, blockRange(13), "all")).logits;
      const blocks = scattered(13, 40, 5);
      for (let start = 0; start < 150; start += 37) {
        const chunk = ids.slice(start, Math.min(150, start + 37));
        const got = (await runSequence(model, chunk, start, blocks, "all")).logits;
        expect(Array.from(got), `chunk at ${start}`).toEqual(
          Array.from(full.subarray(start * 1000, (start + chunk.length) * 1000)),
        );
      }
      for (let pos = 150; pos < 160; pos++) {
        const step = (await runSequence(model, [ids[pos]!], pos, blocks, "last")).logits;
        expect(Array.from(step), `position ${pos}`).toEqual(Array.from(row(full, pos, 1000)));
      }
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("KV cache: the prefix cache through Gpt", () => {
  it("a prompt that shares a cached prefix continues as a fresh model would", async () => {
    const ref = reference("tiny-bf16");
    const warm = await Gpt.load(fixtureDir("tiny-bf16"));
    const cold = await Gpt.load(fixtureDir("tiny-bf16"));
    const opts = { maxTokens: 8, temperature: 0, ignoreEos: true };
    const long = [...ref.prompt_ids, ...ref.prompt_ids].slice(0, 34); // the model has 48 positions
    await warm.generate(long, opts);
    const shared = [...long.slice(0, 33), 5, 6, 7];
    const hit = await warm.generate(shared, opts);
    expect(hit.usage.cachedTokens).toBe(32); // two full blocks of 16
    const miss = await cold.generate(shared, opts);
    expect(miss.usage.cachedTokens).toBe(0);
    expect(hit.tokens).toEqual(miss.tokens);
    warm.dispose();
    cold.dispose();
  });
});
