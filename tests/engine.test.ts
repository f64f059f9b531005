// The engine loop against a fake native model: failures stay with the sequences they belong to,
// and the loop goes on serving the others.
import { describe, expect, it } from "vitest";

import type { NativeModel, NativeStep, NativeStepResult } from "../bindings.js";
import { Engine } from "../lib/engine/engine.js";
import { Sequence, type SequenceOwner } from "../lib/engine/sequence.js";

/** A model whose every pick is token 7 (or whose step fails when `fail` says so). */
function fakeModel(fail: (plan: NativeStep) => boolean = () => false): NativeModel {
  return {
    step: async (plan: NativeStep): Promise<NativeStepResult> => {
      await new Promise((r) => setTimeout(r, 1));
      if (fail(plan)) throw new Error("the step failed");
      const n = plan.segments.length;
      return {
        tokens: new Int32Array(n).fill(7),
        logprobs: new Float32Array(n),
        topCounts: new Int32Array(n),
        topIds: new Int32Array(20 * n),
        topLogprobs: new Float32Array(20 * n),
        logits: new Float32Array(0),
      };
    },
  } as unknown as NativeModel;
}

/** An owner that takes `tokens` picks and records how it ended. */
function owner(tokens: number, sampling?: () => never) {
  let settle!: (how: string) => void;
  const ended = new Promise<string>((r) => (settle = r));
  let picks = 0;
  const o: SequenceOwner = {
    output: "sample",
    sampling: sampling ?? (() => ({ temperature: 0, topK: 0, topP: 1, u: 0 })),
    started: () => {},
    token: () => (++picks === tokens ? (settle("done"), "finish") : "continue"),
    logits: () => {},
    done: () => {},
    failed: (e) => settle(`failed: ${(e as Error).message}`),
  };
  return { o, ended };
}

const make = (model: NativeModel) =>
  new Engine(model, { maxSequences: 4, maxBatchTokens: 16, kvBlocks: 32, blockSize: 16, vocabSize: 100, wrapError: (e) => e });

describe("engine loop", () => {
  it("an owner that throws while its step is planned fails only its own sequence", async () => {
    const engine = make(fakeModel());
    const bad = owner(3, () => {
      throw new Error("owner broke");
    });
    const good = owner(5);
    engine.submit(new Sequence([1, 2, 3], bad.o, true));
    engine.submit(new Sequence([4, 5, 6], good.o, true));
    expect(await bad.ended).toBe("failed: owner broke");
    // The other one, in the same step, runs to its end; so do later ones.
    expect(await good.ended).toBe("done");
    const later = owner(4);
    engine.submit(new Sequence([9, 9], later.o, true));
    expect(await later.ended).toBe("done");
    expect(engine.usage().usedBlocks).toBe(0);
  });

  it("a failing step fails the sequences in it, and the next steps run", async () => {
    let steps = 0;
    const engine = make(fakeModel(() => ++steps === 2));
    const a = owner(6);
    engine.submit(new Sequence([1, 2, 3], a.o, true));
    expect(await a.ended).toBe("failed: the step failed");
    const b = owner(3);
    engine.submit(new Sequence([1, 2, 3], b.o, true));
    expect(await b.ended).toBe("done");
    expect(engine.usage().usedBlocks).toBe(0);
  });
});
