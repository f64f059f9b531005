/**
 * The checkpoint fuzzer's CI batch (issue 15): 2,000 seeded mutants of safetensors headers and
 * data, PyTorch .bin files, config.json, tokenizer.json, vocab.json / merges.txt,
 * tokenizer_config.json and a shard index (tests/fuzz/targets.ts), each loaded — and when it
 * loads, run for two tokens — in a child process with a time limit. Every one must load or give a
 * GptError: a crash, a hang or any other error fails the test, naming the target and seed
 * (`npm run fuzz -- --count N --seed S` runs more; GPT_CUDA_FUZZ_SEED picks this batch's seed).
 */
import { describe, expect, it } from "vitest";

import { SELF_TEST } from "./fuzz/child.js";
import { formatReport, fuzz, FuzzChild } from "./fuzz/run.js";

const SEED = Number(process.env.GPT_CUDA_FUZZ_SEED ?? 1);
const COUNT = 2000;

describe(`checkpoint fuzzing (seed ${SEED})`, () => {
  it("sees a child that crashes and one that hangs (the harness can fail)", async () => {
    const child = new FuzzChild(3000);
    try {
      expect(await child.run(1, SELF_TEST.crash)).toBe("crash SIGSEGV");
      expect(await child.run(2, SELF_TEST.hang)).toBe("hang");
    } finally {
      child.stop();
    }
  }, 30_000);

  it(`${COUNT} mutants each load or give a GptError`, async () => {
    const report = await fuzz({ count: COUNT, seed: SEED, jobs: 2, timeoutMs: 20_000 });
    console.log(formatReport(report));
    expect(report.failures).toEqual([]);
    // The mutants reach the parsers: some still load, and each kind of file gives its own errors.
    expect(report.outcomes.get("loaded")).toBeGreaterThan(0);
    expect(report.outcomes.get("error E_CHECKPOINT")).toBeGreaterThan(0);
    expect(report.outcomes.get("error E_TOKENIZER")).toBeGreaterThan(0);
    expect([...report.outcomes.values()].reduce((a, b) => a + b, 0)).toBe(COUNT);
  }, 240_000);
});
