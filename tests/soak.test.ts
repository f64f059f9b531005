/**
 * Soak (issue 15): after a warm-up of 400 load → generate → dispose cycles (the allocators' steady
 * state: tests/helpers/soak.ts), 200 more cycles and then 2,000 generate calls on one model leave
 * RSS within 10 MB of that baseline, after a GC; and the same check sees a leak when the models
 * are kept instead of disposed (so it can fail). Each run is a child process with --expose-gc;
 * `node --expose-gc --import tsx tests/helpers/soak.ts <model> <warmup> <cycles> <calls>` runs
 * longer ones.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { describe, expect, it } from "vitest";

import { fixtureDir } from "./helpers/fixtures.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("./helpers/soak.ts", import.meta.url));
const MB = 2 ** 20;

interface Soak {
  baseline: number;
  afterCycles: number;
  beforeCalls: number;
  afterCalls: number;
  same: boolean;
  kept: number;
}

async function soak(warmup: number, cycles: number, calls: number, leak = false): Promise<Soak> {
  const args = ["--expose-gc", "--import", "tsx", SCRIPT, fixtureDir("tiny-f32"), String(warmup), String(cycles), String(calls)];
  const { stdout } = await run(process.execPath, leak ? [...args, "leak"] : args, { timeout: 240_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Soak;
}

describe("soak", () => {
  it("after 400 warm-up cycles, 200 load/dispose cycles and 2,000 generate calls: RSS within 10 MB, results unchanged", async () => {
    const r = await soak(400, 200, 2000);
    expect((r.afterCycles - r.baseline) / MB, "after the cycles, MB over the baseline").toBeLessThan(10);
    expect((r.afterCalls - r.beforeCalls) / MB, "after the calls, MB over the baseline").toBeLessThan(10);
    expect(r.same).toBe(true);
  }, 300_000);

  it("sees the growth when the same models are kept instead of disposed", async () => {
    const r = await soak(1, 60, 0, true);
    expect(r.kept).toBe(61);
    expect((r.afterCycles - r.baseline) / MB).toBeGreaterThan(10);
  }, 300_000);
});
