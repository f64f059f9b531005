// The comparison behind device "auto"'s CUDA self-check (lib/cuda-self-check.ts), exercised on
// the CPU: it must accept the same weights and reject different weights or wrong decode picks.
// On a GPU machine, tests/cuda-model.test.ts runs the check itself.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { NativeModel, NativeStepResult } from "../bindings.js";
import { compareBackends, selfCheckModel } from "../lib/cuda-self-check.js";

describe("CUDA self-check comparison (CPU against CPU)", () => {
  let reference: NativeModel;
  let same: NativeModel;
  let other: NativeModel;
  beforeAll(async () => {
    [reference, same, other] = await Promise.all([
      selfCheckModel(7, null),
      selfCheckModel(7, null),
      selfCheckModel(8, null),
    ]);
  });
  afterAll(() => {
    for (const m of [reference, same, other]) m?.dispose();
  });

  it("accepts a candidate with the same weights", async () => {
    expect(await compareBackends(reference, same)).toBeNull();
  });

  it("rejects a candidate whose prompt logits differ, saying by how much", async () => {
    expect(await compareBackends(reference, other)).toMatch(/^prompt logits differ from the CPU's by \d/);
  });

  it("rejects a candidate whose decode steps pick the wrong tokens or logprobs", async () => {
    /** `same`, except that each step's picked token and logprob go through `edit`. */
    const tampered = (edit: (r: NativeStepResult) => void) =>
      ({
        step: async (...args: Parameters<NativeModel["step"]>) => {
          const r = await same.step(...args);
          edit(r);
          return r;
        },
      }) as unknown as NativeModel;
    // A neighbouring id is as good as any other: random weights leave no near-tie to hide in.
    expect(await compareBackends(reference, tampered((r) => void (r.tokens[0] = (r.tokens[0]! + 1) % 1000)))).toMatch(
      /^decode step 0 picked token \d+/,
    );
    expect(await compareBackends(reference, tampered((r) => void (r.logprobs[0] = r.logprobs[0]! - 0.2)))).toMatch(
      /^decode step 0: logprob/,
    );
  });
});
