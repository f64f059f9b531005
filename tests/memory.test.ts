// Loading never holds two copies of the weights: peak RSS grows by at most 1.3 × the checkpoint;
// generating adds no more than the KV cache and 64 MB of working memory.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { writeRandomCheckpoint } from "./helpers/random-checkpoint.js";

const measure = fileURLToPath(new URL("./helpers/measure-load.ts", import.meta.url));

interface Growth {
  grownBytes: number;
  generatingBytes: number;
  weightBytes: number;
  kvCacheBytes: number;
}

function peakGrowth(dir: string, dtype = "", compute = ""): Growth {
  const out = execFileSync(process.execPath, ["--import", "tsx", measure, dir, dtype, compute], { encoding: "utf8" });
  const r = JSON.parse(out.trim().split("\n").pop()!) as {
    before: number;
    peak: number;
    generatingPeak: number;
    weightBytes: number;
    kvCacheBytes: number;
  };
  return {
    grownBytes: (r.peak - r.before) * 1024,
    generatingBytes: (r.generatingPeak - r.before) * 1024,
    weightBytes: r.weightBytes,
    kvCacheBytes: r.kvCacheBytes,
  };
}

describe.skipIf(process.platform !== "linux")("memory while loading (Linux /proc)", () => {
  let dir: string;
  let size: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gpt-cuda-mem-"));
    // About 150 MB: large enough that allocator noise is small beside it.
    size = await writeRandomCheckpoint(dir, { nLayer: 4, nHead: 8, nEmbd: 512, nCtx: 64, vocabSize: 50257 }, "F32");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("holds one copy of the F32 weights (in place, or aligned copies of misaligned tensors): peak growth ≤ 1.3 × checkpoint size", () => {
    const r = peakGrowth(dir);
    expect(r.weightBytes).toBeGreaterThan(0.99 * size);
    expect(r.grownBytes).toBeLessThanOrEqual(1.3 * size);
    expect(r.generatingBytes).toBeLessThanOrEqual(size + r.kvCacheBytes + 64 * 2 ** 20);
  });

  it("converting to float16 drops each converted chunk: peak growth well under the checkpoint size", () => {
    const r = peakGrowth(dir, "float16");
    expect(r.weightBytes).toBeLessThan(0.51 * size);
    // The half-size copy plus a little: measured 0.68 × here. Holding the mapped F32 pages of
    // the 103 MB embedding while converting it would push this past 1.
    expect(r.grownBytes).toBeLessThanOrEqual(0.85 * size);
  });

  it("quantizing to int8 replaces each matrix as it goes: peak growth ≤ 1.3 × checkpoint, the weights smaller", () => {
    const r = peakGrowth(dir, "int8");
    // The 103 MB F32 embedding stays as stored (the embedding reads it), beside a 26 MB int8 copy
    // for the head; the 12.6 M matrix parameters become a byte each.
    expect(r.weightBytes).toBeLessThan(1.0 * size);
    expect(r.weightBytes).toBeGreaterThan(0.85 * size);
    expect(r.grownBytes).toBeLessThanOrEqual(1.3 * size);
  });

  it.skipIf(!Gpt.buildInfo().cpuIsa.includes("amx"))(
    `compute bfloat16 packs each matrix into bf16 tiles as it goes: peak growth ≤ 1.3 × checkpoint, the matrices in half (needs AMX: ${Gpt.buildInfo().cpuIsa})`,
    () => {
      const r = peakGrowth(dir, "", "bfloat16");
      // The 103 MB F32 table stays fp32 (embedding and head); the 12.6 M matrix parameters (50 MB
      // in F32) take 2 bytes each.
      expect(r.weightBytes).toBeLessThan(0.9 * size);
      expect(r.weightBytes).toBeGreaterThan(0.75 * size);
      expect(r.grownBytes).toBeLessThanOrEqual(1.3 * size);
    },
  );
});
