/**
 * The generation controls in the CPU sampler (ops.sample, native/core/sampler.cpp) and in the
 * adjustments lib/ builds for it (lib/requests/logit-adjuster.ts): min-p, logit bias, the
 * repetition, presence and frequency penalties, and the alternatives a pick reports. Held to
 * Hugging Face's logits processors (tests/fixtures/sampling/hf-processors.json, made by
 * scripts/make-sampling-cases.py), to OpenAI's documented penalty formula, and to the JS twin
 * in tests/helpers/sampling-reference.ts on fresh random rows.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import type { NativeSampled, NativeSampling } from "../bindings.js";
import { LogitAdjuster, type PenaltySettings } from "../lib/requests/logit-adjuster.js";
import { native } from "../lib/native.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";
import { adjustLogits, bestFirst, samplingReference, topAlternatives } from "./helpers/sampling-reference.js";

const SEED = testSeed();

interface HfCase {
  name: string;
  logits: number[];
  repeated: number[];
  logitBias: Record<string, number>;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  probs?: number[];
  greedy?: number;
}

const HF = JSON.parse(
  readFileSync(fileURLToPath(new URL("./fixtures/sampling/hf-processors.json", import.meta.url)), "utf8"),
) as { vocab: number; cases: HfCase[] };

function sample(args: NativeSampling & { logits: Float32Array }): NativeSampled {
  return native().ops.sample(args);
}

function settings(over: Partial<PenaltySettings> = {}): PenaltySettings {
  return { repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map(), ...over };
}

describe("the CPU sampler against Hugging Face's logits processors", () => {
  it("holds a fixture of every case the script makes", () => {
    expect(HF.cases.length).toBe(12);
    for (const c of HF.cases) expect(c.logits.length).toBe(HF.vocab);
  });

  it.each(HF.cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const logits = Float32Array.from(c.logits);
    const adjuster = new LogitAdjuster(
      settings({
        repetitionPenalty: c.repetitionPenalty,
        logitBias: new Map(Object.entries(c.logitBias).map(([id, b]) => [Number(id), b])),
      }),
      c.repeated,
    );
    const base = { logits, temperature: c.temperature, topK: c.topK, topP: c.topP, minP: c.minP };
    const extra = { repetitionPenalty: c.repetitionPenalty, adjust: adjuster.adjustments() };
    if (c.greedy !== undefined) {
      expect(bestFirst(logits)[0], "the controls change the greedy pick").not.toBe(c.greedy);
      expect(sample({ ...base, ...extra, u: 0.5 }).token).toBe(c.greedy);
      return;
    }
    // u swept evenly over [0, 1) draws each token with its probability, to within 1/N.
    const N = 10_000;
    const counts = new Float64Array(HF.vocab);
    for (let k = 0; k < N; k++) counts[sample({ ...base, ...extra, u: (k + 0.5) / N }).token]! += 1;
    const probs = c.probs!;
    let worst = 0;
    for (let id = 0; id < HF.vocab; id++) {
      if (probs[id] === 0) expect(counts[id], `id ${id} is filtered out by HF`).toBe(0);
      worst = Math.max(worst, Math.abs(counts[id]! / N - probs[id]!));
    }
    expect(worst).toBeLessThanOrEqual(1 / N + 1e-6);
  });
});

describe(`the CPU sampler's controls against the JS twin (seed ${SEED})`, () => {
  it("min-p keeps the tokens at least minP × the best's probability, after temperature", () => {
    const prng = new Prng(deriveSeed(SEED, 1));
    for (const V of [7, 331, 5003]) {
      const logits = prng.normals(V, 2.5);
      for (const [temperature, minP] of [
        [1, 0.05],
        [0.5, 0.2],
        [2, 0.01],
        [1, 1],
      ] as const) {
        const ref = samplingReference(logits, { temperature, topK: 0, topP: 1, minP });
        if (minP === 1) expect([...ref.intervals.keys()]).toEqual([ref.best]);
        for (let trial = 0; trial < 30; trial++) {
          const u = prng.next();
          const { token } = sample({ logits, temperature, topK: 0, topP: 1, u, minP });
          const [lo, hi] = ref.intervals.get(token) ?? [NaN, NaN];
          expect(u, `V ${V}, T ${temperature}, min-p ${minP}: token ${token}`).toBeGreaterThanOrEqual(lo - 1e-9);
          expect(u).toBeLessThan(hi + 1e-9);
        }
      }
    }
  });

  it("adjusts each named logit with fp32 rounding per operation; the logprob stays the raw one", () => {
    const prng = new Prng(deriveSeed(SEED, 2));
    for (let trial = 0; trial < 40; trial++) {
      const V = 97 + prng.int(2000);
      const raw = prng.normals(V, 4);
      const n = 1 + prng.int(Math.min(V, 300));
      const chosen = new Set<number>();
      while (chosen.size < n) chosen.add(prng.int(V));
      const adjust = {
        ids: Int32Array.from(chosen),
        repeated: Uint8Array.from(chosen, () => (prng.next() < 0.5 ? 1 : 0)),
        bias: Float32Array.from(chosen, () => prng.uniform(-5, 5)),
        penalty: Float32Array.from(chosen, () => prng.uniform(0, 3)),
      };
      const repetitionPenalty = prng.uniform(0.5, 2);
      const adjusted = adjustLogits(raw, adjust, repetitionPenalty);
      const u = prng.next();
      const params = { temperature: prng.next() < 0.3 ? 0 : prng.uniform(0.3, 1.5), topK: prng.int(3) * 20, topP: 1, u };
      const got = sample({ logits: raw, ...params, repetitionPenalty, adjust });
      // Sampling the JS-adjusted row unadjusted picks the same token: the adjusted values agree to the bit.
      expect(got.token, `trial ${trial}`).toBe(sample({ logits: adjusted, ...params }).token);
      const logZ = samplingReference(raw, { temperature: 1, topK: 0, topP: 1 }).logZ;
      expect(got.logprob).toBeCloseTo(raw[got.token]! - logZ, 5);
    }
  });

  it("reports the top n raw logits, best first and ties to the lower id, for any filter", () => {
    const prng = new Prng(deriveSeed(SEED, 3));
    for (let trial = 0; trial < 30; trial++) {
      const V = 5 + prng.int(3000);
      const raw = prng.normals(V, 3);
      for (let t = 0; t < 4; t++) raw[prng.int(V)] = raw[prng.int(V)]!; // ties
      const n = prng.int(21);
      const got = sample({ logits: raw, temperature: 0.8, topK: 5, topP: 0.5, u: prng.next(), minP: 0.1, topLogprobs: n });
      const want = topAlternatives(raw, n);
      expect(got.top.map((a) => a.token)).toEqual(want.map((a) => a.token));
      got.top.forEach((a, i) => expect(a.logprob).toBeCloseTo(want[i]!.logprob, 5));
    }
    expect(sample({ logits: Float32Array.of(0, 1), temperature: 0, topK: 0, topP: 1, u: 0, topLogprobs: 20 }).top.length).toBe(2);
    expect(sample({ logits: Float32Array.of(0, 1), temperature: 0, topK: 0, topP: 1, u: 0 }).top).toEqual([]);
  });

  it("a bias of −Infinity bans a token; banning every token is an error naming the adjusted logits", () => {
    const logits = Float32Array.of(1, 9, 2, 8);
    const ban = (ids: number[]) => ({
      ids: Int32Array.from(ids),
      repeated: new Uint8Array(ids.length),
      bias: new Float32Array(ids.length).fill(-Infinity),
      penalty: new Float32Array(ids.length),
    });
    expect(sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0, adjust: ban([1]) }).token).toBe(3);
    for (let k = 0; k < 50; k++)
      expect(sample({ logits, temperature: 5, topK: 0, topP: 1, u: (k + 0.5) / 50, adjust: ban([1, 3]) }).token).not.toBeOneOf([1, 3]);
    expect(() => sample({ logits, temperature: 1, topK: 0, topP: 1, u: 0, adjust: ban([0, 1, 2, 3]) })).toThrow(
      /adjusted logits have no finite maximum/,
    );
  });
});

describe("LogitAdjuster: OpenAI's penalties and logit_bias, Hugging Face's repetition penalty", () => {
  it("is null when no control is set, and when a penalty has nothing generated to act on", () => {
    expect(new LogitAdjuster(settings(), [1, 2, 3]).adjustments()).toBeNull();
    const a = new LogitAdjuster(settings({ presencePenalty: 1 }), [1, 2, 3]);
    expect(a.adjustments()).toBeNull(); // presence counts generated ids only
    a.accept(2);
    expect(a.adjustments()).not.toBeNull();
  });

  it("subtracts frequency × count + presence for generated ids, as OpenAI documents it", () => {
    const a = new LogitAdjuster(settings({ presencePenalty: 0.5, frequencyPenalty: 0.25 }), [9, 9]);
    for (const t of [4, 7, 4, 4]) a.accept(t);
    const adj = a.adjustments()!;
    const byId = new Map([...adj.ids].map((id, k) => [id, { p: adj.penalty[k], r: adj.repeated[k], b: adj.bias[k] }]));
    expect(byId.get(4)).toEqual({ p: 0.25 * 3 + 0.5, r: 0, b: 0 });
    expect(byId.get(7)).toEqual({ p: 0.25 + 0.5, r: 0, b: 0 });
    expect(byId.has(9)).toBe(false); // the prompt is not generated text
    // Applied: logit − 0.25·count − 0.5·[count > 0], checked against the formula.
    const raw = Float32Array.from({ length: 10 }, (_, i) => i * 0.5 - 2);
    const adjusted = adjustLogits(raw, adj, 1);
    for (const [id, count] of [
      [4, 3],
      [7, 1],
    ] as const)
      expect(adjusted[id]).toBeCloseTo(raw[id]! - 0.25 * count - 0.5, 6);
  });

  it("marks prompt and generated ids as repeated for the repetition penalty", () => {
    const a = new LogitAdjuster(settings({ repetitionPenalty: 1.3 }), [5, 6, 5]);
    a.accept(8);
    const adj = a.adjustments()!;
    expect([...adj.ids].sort((x, y) => x - y)).toEqual([5, 6, 8]);
    expect([...adj.repeated]).toEqual([1, 1, 1]);
    expect([...adj.penalty]).toEqual([0, 0, 0]);
  });

  it("adds logit_bias, and −100 bans outright", () => {
    const a = new LogitAdjuster(settings({ logitBias: new Map([[3, 2.5], [4, -100], [5, -99.5]]) }), []);
    const adj = a.adjustments()!;
    const bias = new Map([...adj.ids].map((id, k) => [id, adj.bias[k]]));
    expect(bias).toEqual(new Map([[3, 2.5], [4, -Infinity], [5, -99.5]]));
    expect([...adj.repeated]).toEqual([0, 0, 0]);
    const logits = Float32Array.of(0, 0, 0, 0, 200, 0);
    expect(sample({ logits, temperature: 0, topK: 0, topP: 1, u: 0, adjust: adj }).token).toBe(3);
  });
});
