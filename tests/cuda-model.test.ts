/**
 * The CUDA backend end to end, against the CPU engine (which golden.test.ts holds to Hugging Face):
 * logits at every position, greedy decoding step by step wherever the CPU's choice is clear, the
 * decode steps' CUDA graphs against eager steps, batch invariance (a sequence's picks bit-identical
 * alone and in a batch), and GPU memory returning to its baseline after loads and disposes. Gates
 * by ‖gpu − cpu‖ / ‖cpu‖: 1e-4 with fp32 weights, 2e-2 with F16/BF16 (the KV cache is kept in
 * the weight dtype).
 *
 * Needs a CUDA device: without one the whole file is skipped, and the describe name says why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { NativeModel, NativeSampling } from "../bindings.js";
import { cudaSelfCheck } from "../lib/cuda-self-check.js";
import { Gpt } from "../lib/index.js";
import { native } from "../lib/native.js";
import { randomModelSpec } from "../lib/random-spec.js";
import { FAMILY_FIXTURES, FIXTURE_NAMES, fixtureDir, reference } from "./helpers/fixtures.js";
import { blockRange, loadNativeModel, runSequence } from "./helpers/native-model.js";
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

const GREEDY: NativeSampling = { temperature: 0, topK: 0, topP: 1, u: 0.5 };

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

describe.skipIf(SKIP !== "")(`CUDA model vs the CPU engine, the other families${SKIP}`, () => {
  // OPT's ReLU and post-LayerNorm blocks, BLOOM's ALiBi, GPT-Neo's unscaled, windowed attention.
  for (const name of FAMILY_FIXTURES)
    it(`${name}: the CPU's logits at every position`, async () => {
      const ref = reference(name);
      const tolerance = ref.dtype === "F32" ? 1e-4 : 2e-2;
      const cpu = await loadNativeModel(fixtureDir(name), 2);
      const gpu = await loadNativeModel(fixtureDir(name), 2, 0);
      try {
        const want = (await runSequence(cpu, ref.prompt_ids, 0, blockRange(16), "all")).logits;
        const got = (await runSequence(gpu, ref.prompt_ids, 0, blockRange(16), "all")).logits;
        expect(relativeNormError(got, want)).toBeLessThanOrEqual(tolerance);
      } finally {
        cpu.dispose();
        gpu.dispose();
      }
    });
});

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
        const ids = ref.prompt_ids;
        const want = (await runSequence(cpu, ids, 0, blockRange(16), "all")).logits;
        const got = (await runSequence(gpu, ids, 0, blockRange(16), "all")).logits;
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
        const blocks = blockRange(16);
        const cpuLogits = (await runSequence(cpu, sequence, 0, blocks, "all")).logits;
        const vocab = cpuLogits.length / sequence.length;
        const scale = cpuLogits.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const clear = (ref.dtype === "F32" ? 1e-3 : 3e-2) * scale;
        const replaysBefore = gpu.graphReplays;
        let compared = 0;
        // Teacher-forced: the GPU sees the CPU's tokens, so one disagreement cannot derail the rest.
        let next = (await runSequence(gpu, prompt, 0, blocks, "none", GREEDY)).tokens[0]!;
        for (let i = 0; i < cpuRun.tokens.length; i++) {
          const at = prompt.length - 1 + i;
          const { best, margin } = top2(cpuLogits.subarray(at * vocab, (at + 1) * vocab));
          if (margin > clear) {
            expect(next, `position ${at}`).toBe(best);
            compared++;
          }
          if (i + 1 < cpuRun.tokens.length)
            next = (await runSequence(gpu, [cpuRun.tokens[i]!], prompt.length + i, blocks, "none", GREEDY)).tokens[0]!;
        }
        // Not vacuous: the smallest fixture (16 wide, one layer) leaves about 40 % of its choices clear.
        expect(compared, "positions with a clear CPU choice").toBeGreaterThanOrEqual(cpuRun.tokens.length / 4);
        // The first step runs eagerly, the second is captured (and launched), the rest replay.
        expect(gpu.graphReplays - replaysBefore).toBeGreaterThanOrEqual(cpuRun.tokens.length - 2);
      });
    });
  }

  it("replayed decode steps give bit for bit what eager ones give, alone and four sequences at once", async () => {
    const dir = fixtureDir("tiny-f16-sharded");
    const graphed = await withGraphSetting(undefined, () => loadNativeModel(dir, 2, 0));
    const eager = await withGraphSetting("0", () => loadNativeModel(dir, 2, 0));
    try {
      const prng = new Prng(deriveSeed(SEED, 77));
      // Four sequences with prompts of different lengths, each in its own blocks.
      const prompts = [9, 3, 17, 1].map((n) => Array.from({ length: n }, () => Math.floor(prng.uniform(0, 1000))));
      const tables = prompts.map((_, i) => blockRange(4, 4 * i));
      const run = async (model: NativeModel, together: boolean) => {
        const rng = new Prng(deriveSeed(SEED, 78));
        const sampling = (): NativeSampling => ({ temperature: 0.9, topK: 50, topP: 0.95, u: rng.uniform(0, 1) });
        const picks: number[][] = prompts.map(() => []);
        for (let i = 0; i < prompts.length; i++)
          picks[i]!.push((await runSequence(model, prompts[i]!, 0, tables[i]!, "none", sampling())).tokens[0]!);
        for (let step = 0; step < 25; step++) {
          const segments = prompts.map((p, i) => ({
            rows: 1,
            start: p.length + step,
            blocks: tables[i]!,
            logits: "none" as const,
            sample: sampling(),
          }));
          if (together) {
            const r = await model.step({ tokens: Int32Array.from(picks.map((p) => p.at(-1)!)), segments });
            picks.forEach((p, i) => p.push(r.tokens[i]!));
          } else {
            for (let i = 0; i < prompts.length; i++) {
              const r = await model.step({ tokens: Int32Array.of(picks[i]!.at(-1)!), segments: [segments[i]!] });
              picks[i]!.push(r.tokens[0]!);
            }
          }
        }
        return picks;
      };
      const alone = await run(eager, false);
      expect(await run(graphed, false)).toEqual(alone);
      expect(await run(graphed, true)).toEqual(alone); // four rows: one recording of four
      expect(await run(eager, true)).toEqual(alone);
      expect(eager.graphReplays).toBe(0);
      // 100 one-row steps and 25 four-row steps: each size runs eagerly once, is captured, then replays.
      expect(graphed.graphReplays).toBeGreaterThanOrEqual(4 * 25 + 25 - 4);
    } finally {
      graphed.dispose();
      eager.dispose();
    }
  });

  it("generate() on the GPU gives each prompt of a batch exactly what it gives alone", async () => {
    const gpt = await Gpt.load(fixtureDir("tiny-f16-sharded"), { device: "cuda" });
    try {
      const prompts = [[5, 80, 400], [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 9], [300]];
      const options = { maxTokens: 20, temperature: 1.1, topK: 40, seed: 9, ignoreEos: true };
      const together = await gpt.generate(prompts, options);
      for (let i = 0; i < prompts.length; i++) {
        const alone = await gpt.generate(prompts[i]!, options);
        expect(together[i]!.tokens, `prompt ${i}`).toEqual(alone.tokens);
      }
    } finally {
      gpt.dispose();
    }
  });

  it("generation controls on the GPU: penalties and bias as a loop over its own logits, raw logprobs, n sequences", async () => {
    const gpt = await Gpt.load(fixtureDir("tiny-f32"), { device: "cuda" });
    try {
      const prompt = [49, 78, 296, 352, 486, 373];
      const controls = { repetitionPenalty: 1.4, presencePenalty: 0.3, frequencyPenalty: 0.2, logitBias: { 717: -100, 607: 1.5 } };
      const out = await gpt.generate(prompt, { temperature: 0, maxTokens: 12, ignoreEos: true, logprobs: 4, ...controls });
      // The same picks from the GPU's own logits, adjusted here in double (margins checked).
      const ids = [...prompt];
      const counts = new Map<number, number>();
      for (const [step, token] of out.tokens.entries()) {
        const all = await gpt.logits(ids);
        const row = all.slice((ids.length - 1) * 1024);
        const raw = Float32Array.from(row);
        for (let id = 0; id < row.length; id++) {
          let v = row[id]! + (id === 607 ? 1.5 : 0);
          if (id === 717) v = -Infinity;
          const c = counts.get(id) ?? 0;
          if (c > 0 || prompt.includes(id)) v = v > 0 ? v / 1.4 : v * 1.4;
          if (c > 0) v -= 0.2 * c + 0.3;
          row[id] = v;
        }
        const { best, margin } = top2(row);
        if (margin > 1e-3) expect(token, `step ${step}`).toBe(best);
        const sorted = [...raw.keys()].sort((a, b) => raw[b]! - raw[a]! || a - b).slice(0, 4);
        expect(out.logprobs![step]!.topLogprobs.map((a) => a.token)).toEqual(sorted);
        ids.push(token);
        counts.set(token, (counts.get(token) ?? 0) + 1);
      }
      const many = await gpt.generate(prompt, { maxTokens: 6, seed: 3, n: 3, minP: 0.05 });
      for (const [i, r] of many.entries())
        expect(r.tokens).toEqual((await gpt.generate(prompt, { maxTokens: 6, seed: 3 + i, minP: 0.05 })).tokens);
    } finally {
      gpt.dispose();
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
    const nLayer = 40, nEmbd = 64;
    const kvBlocks = Math.ceil((free + 2 ** 30) / (nLayer * 2 * 16 * nEmbd * 4));
    const config = { nLayer, nHead: 1, nEmbd, nInner: 256, nCtx: 64, vocabSize: 500, layerNormEpsilon: 1e-5 };
    await expect(binding.loadModel(randomModelSpec(config, "F32", 1, 1, 0, kvBlocks))).rejects.toThrow(
      /the model needs \d+ MiB of GPU memory \(weights \d+ MiB \+ KV cache \d+ MiB for \d+ tokens in F32\), but CUDA device 0 has only \d+ MiB free/,
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
      await runSequence(m, [1, 2, 3], 0, blockRange(1), "none", GREEDY);
      await runSequence(m, [4], 3, blockRange(1), "none", GREEDY);
      await runSequence(m, [5], 4, blockRange(1), "none", GREEDY);
      m.dispose();
    }
    const after = binding.cudaOps.memInfo({ device: 0 }).free;
    // cudaMemGetInfo moves in 2 MiB pages; a leaked model would be many of them per load.
    expect(baseline - after).toBeLessThanOrEqual(4 << 20);
  });
});
