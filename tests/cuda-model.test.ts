/**
 * The CUDA backend end to end, against the CPU engine (which golden.test.ts holds to Hugging Face):
 * logits at every position, greedy decoding step by step wherever the CPU's choice is clear, the
 * decode step's CUDA graph against eager steps, and GPU memory returning to its baseline after
 * loads and disposes. Gates by ‖gpu − cpu‖ / ‖cpu‖: 1e-4 with fp32 weights, 2e-2 with F16/BF16
 * (tensor cores round activations to the weight dtype, and the KV cache is kept in it).
 *
 * Needs a CUDA device: without one the whole file is skipped, and the describe name says why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { NativeModel } from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { cudaSelfCheck } from "../lib/cuda-self-check.js";
import { decodeTokens, type StreamChunk } from "../lib/generation.js";
import { Gpt } from "../lib/index.js";
import { native } from "../lib/native.js";
import { resolveGenerateOptions } from "../lib/options.js";
import { randomModelSpec } from "../lib/random-spec.js";
import { Tokenizer } from "../lib/tokenizer/index.js";
import { FIXTURE_NAMES, fixtureDir, reference } from "./helpers/fixtures.js";
import { loadNativeModel } from "./helpers/native-model.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const binding = native();
const SKIP = !binding.buildInfo().cuda
  ? " — skipped: this binary was built without CUDA"
  : binding.devices().length === 0
    ? " — skipped: no CUDA device visible (devices() is [])"
    : "";

function relativeNormError(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i]!)) expect.fail(`element ${i} is ${got[i]}`);
    diff2 += (got[i]! - want[i]!) ** 2;
    ref2 += want[i]! ** 2;
  }
  return Math.sqrt(diff2 / ref2);
}

/** Best id, and its lead over the runner-up, in one row of logits. */
function top2(row: Float32Array): { best: number; margin: number } {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  let second = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== best) second = Math.max(second, row[i]!);
  return { best, margin: row[best]! - second };
}

/** Loads with GPT_CUDA_GRAPH set as given (the backend reads it when it is created). */
async function withGraphSetting<T>(value: string | undefined, load: () => Promise<T>): Promise<T> {
  const saved = process.env.GPT_CUDA_GRAPH;
  if (value === undefined) delete process.env.GPT_CUDA_GRAPH;
  else process.env.GPT_CUDA_GRAPH = value;
  try {
    return await load();
  } finally {
    if (saved === undefined) delete process.env.GPT_CUDA_GRAPH;
    else process.env.GPT_CUDA_GRAPH = saved;
  }
}

describe.skipIf(SKIP !== "")(`CUDA model vs the CPU engine (seed ${SEED})${SKIP}`, () => {
  for (const name of FIXTURE_NAMES) {
    describe(name, () => {
      const ref = reference(name);
      const tolerance = ref.dtype === "F32" ? 1e-4 : 2e-2;
      let cpu: NativeModel;
      let gpu: NativeModel;
      beforeAll(async () => {
        cpu = await loadNativeModel(fixtureDir(name), 2);
        gpu = await withGraphSetting(undefined, () => loadNativeModel(fixtureDir(name), 2, 0));
      });
      afterAll(() => {
        cpu?.dispose();
        gpu?.dispose();
      });

      it(`gives the CPU's logits at every position (‖Δ‖/‖cpu‖ ≤ ${tolerance})`, async () => {
        const ids = Int32Array.from(ref.prompt_ids);
        const want = await cpu.forward(ids, 0, "all");
        const got = await gpu.forward(ids, 0, "all");
        expect(relativeNormError(got, want)).toBeLessThanOrEqual(tolerance);
        expect(gpu.kvCacheBytes).toBeGreaterThan(0);
      });

      it("decodes greedily as the CPU does wherever the CPU's top-2 margin is clear, through the CUDA graph", async () => {
        const prompt = ref.greedy.prompt_ids;
        const cpuRun = await Gpt.load(fixtureDir(name), { device: "cpu", threads: 2 }).then(async (g) => {
          try {
            // As many tokens as the context holds, up to 40 (the fixtures have 32 to 96 positions).
            const maxTokens = Math.min(40, g.config.nCtx - prompt.length);
            return await g.generate(prompt, { maxTokens, temperature: 0, ignoreEos: true });
          } finally {
            g.dispose();
          }
        });
        const sequence = [...prompt, ...cpuRun.tokens];
        const cpuLogits = await cpu.forward(Int32Array.from(sequence), 0, "all");
        const vocab = cpuLogits.length / sequence.length;
        const scale = cpuLogits.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const clear = (ref.dtype === "F32" ? 1e-3 : 3e-2) * scale;
        const replaysBefore = gpu.graphReplays;
        let compared = 0;
        // Teacher-forced: the GPU sees the CPU's tokens, so one disagreement cannot derail the rest.
        let next = await gpu.forwardSample(Int32Array.from(prompt), 0, 0, 0, 1, 0.5);
        for (let i = 0; i < cpuRun.tokens.length; i++) {
          const at = prompt.length - 1 + i;
          const { best, margin } = top2(cpuLogits.subarray(at * vocab, (at + 1) * vocab));
          if (margin > clear) {
            expect(next.token, `position ${at}`).toBe(best);
            compared++;
          }
          if (i + 1 < cpuRun.tokens.length)
            next = await gpu.forwardSample(Int32Array.of(cpuRun.tokens[i]!), prompt.length + i, 0, 0, 1, 0.5);
        }
        // Not vacuous: the smallest fixture (16 wide, one layer) leaves about 40 % of its choices clear.
        expect(compared, "positions with a clear CPU choice").toBeGreaterThanOrEqual(cpuRun.tokens.length / 4);
        // The first step runs eagerly, the second is captured (and launched), the rest replay.
        expect(gpu.graphReplays - replaysBefore).toBeGreaterThanOrEqual(cpuRun.tokens.length - 2);
      });
    });
  }

  it("a replayed decode step gives bit for bit what an eager one gives (sampling with temperature)", async () => {
    const dir = fixtureDir("tiny-f16-sharded");
    const graphed = await withGraphSetting(undefined, () => loadNativeModel(dir, 2, 0));
    const eager = await withGraphSetting("0", () => loadNativeModel(dir, 2, 0));
    try {
      const prng = new Prng(deriveSeed(SEED, 77));
      const prompt = Int32Array.from({ length: 9 }, () => Math.floor(prng.uniform(0, 1000)));
      const run = async (model: NativeModel) => {
        const picks = [];
        const rng = new Prng(deriveSeed(SEED, 78));
        let next = await model.forwardSample(prompt, 0, 0.9, 50, 0.95, rng.uniform(0, 1));
        picks.push(next);
        for (let pos = prompt.length; pos < prompt.length + 30; pos++) {
          next = await model.forwardSample(Int32Array.of(next.token), pos, 0.9, 50, 0.95, rng.uniform(0, 1));
          picks.push(next);
        }
        return picks;
      };
      const a = await run(graphed);
      const b = await run(eager);
      expect(a).toEqual(b);
      expect(eager.graphReplays).toBe(0);
      expect(graphed.graphReplays).toBeGreaterThanOrEqual(29);
      // Rewinding into the cache and decoding again replays the same graph at other positions.
      const again = await graphed.forwardSample(Int32Array.of(a[3]!.token), prompt.length + 3, 0, 0, 1, 0.5);
      const eagerAgain = await eager.forwardSample(Int32Array.of(a[3]!.token), prompt.length + 3, 0, 0, 1, 0.5);
      expect(again).toEqual(eagerAgain);
    } finally {
      graphed.dispose();
      eager.dispose();
    }
  });

  it("starting the next step early (on by default here) changes no token or logprob", async () => {
    const dir = fixtureDir("tiny-f16-sharded");
    const early = await loadNativeModel(dir, 2, 0);
    const late = await loadNativeModel(dir, 2, 0, false);
    try {
      const tokenizer = await Tokenizer.load((await loadCheckpoint(dir)).tokenizer);
      const options = resolveGenerateOptions({ maxTokens: 40, temperature: 0.9, topK: 50, seed: 5, ignoreEos: true });
      const run = async (model: NativeModel) => {
        const chunks: StreamChunk[] = [];
        for await (const c of decodeTokens({ model, tokenizer, cachedTokens: [] }, [5, 80, 400, 7], options)) chunks.push(c);
        return chunks;
      };
      expect(await run(early)).toEqual(await run(late));
      expect(early.cachedLength).toBe(late.cachedLength);
    } finally {
      early.dispose();
      late.dispose();
    }
  });

  it("a random GPT-2 124M in float16 gives the CPU's logits and greedy text", async () => {
    const cpu = await Gpt.random("gpt2", { dtype: "float16", device: "cpu", seed: 5 });
    const gpu = await Gpt.random("gpt2", { dtype: "float16", device: "cuda", seed: 5 });
    try {
      const prng = new Prng(deriveSeed(SEED, 91));
      const ids = Array.from({ length: 150 }, () => Math.floor(prng.uniform(0, 50257)));
      expect(relativeNormError(await gpu.logits(ids), await cpu.logits(ids))).toBeLessThanOrEqual(2e-2);
      expect(gpu.device).toBe("cuda");
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });

  it('passes the self-check, so device "auto" picks the GPU', async () => {
    expect(await cudaSelfCheck(0)).toBeNull();
    const gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "auto" });
    try {
      expect(gpt.device).toBe("cuda");
    } finally {
      gpt.dispose();
    }
  });

  it("refuses a model that does not fit in free GPU memory, naming both figures", async () => {
    // Many thin layers and a context so long that the float32 KV cache alone outgrows the free
    // memory by 1 GiB, while the host-side weights (mostly wpe) stay a few hundred MB.
    const free = binding.cudaOps.memInfo({ device: 0 }).free;
    const nLayer = 400, nEmbd = 64;
    const nCtx = Math.ceil((free + 2 ** 30) / (nLayer * 2 * nEmbd * 4));
    const config = { nLayer, nHead: 1, nEmbd, nInner: 256, nCtx, vocabSize: 500, layerNormEpsilon: 1e-5 };
    await expect(binding.loadModel(randomModelSpec(config, "F32", 1, 1, 0))).rejects.toThrow(
      /the model needs \d+ MiB of GPU memory \(weights \d+ MiB \+ KV cache \d+ MiB for \d+ positions in F32\), but CUDA device 0 has only \d+ MiB free/,
    );
    expect(binding.cudaOps.memInfo({ device: 0 }).free).toBeGreaterThan(free - (64 << 20)); // nothing was left allocated
  });

  it("load and dispose 20 times: GPU memory returns to its baseline", async () => {
    const dir = fixtureDir("tiny-f32");
    const warm = await loadNativeModel(dir, 1, 0); // the CUDA context itself is not a leak
    warm.dispose();
    const baseline = binding.cudaOps.memInfo({ device: 0 }).free;
    for (let i = 0; i < 20; i++) {
      const m = await loadNativeModel(dir, 1, 0);
      await m.forwardSample(Int32Array.of(1, 2, 3), 0, 0, 0, 1, 0.5);
      await m.forwardSample(Int32Array.of(4), 3, 0, 0, 1, 0.5);
      await m.forwardSample(Int32Array.of(5), 4, 0, 0, 1, 0.5);
      m.dispose();
    }
    const after = binding.cudaOps.memInfo({ device: 0 }).free;
    // cudaMemGetInfo moves in 2 MiB pages; a leaked model would be many of them per load.
    expect(baseline - after).toBeLessThanOrEqual(4 << 20);
  });
});
