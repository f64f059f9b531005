/**
 * The CPU sampler (native/core/sampler.cpp through ops.sample) on hand-made logits: greedy,
 * log-probabilities, the inverse-CDF mapping of u, top-k, top-p, temperature, and its errors.
 * tests/sampling-controls.test.ts covers min-p, the logit adjustments and the alternatives.
 */
import { describe, expect, it } from "vitest";

import type { NativeSampled } from "../bindings.js";
import { native } from "../lib/native.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const VOCAB = 1024;
const OFF = -1e9; // a logit whose probability is exactly 0 in double

function sample(logits: Float32Array, temperature: number, topK: number, topP: number, u: number): NativeSampled {
  return native().ops.sample({ logits, temperature, topK, topP, u });
}

// ---------------------------------------------------------------------------------------------
// JS references

/** log-softmax(logits / t)[id], in double. */
function logSoftmax(logits: Float32Array, id: number, t = 1): number {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x / t);
  let total = 0;
  for (const x of logits) total += Math.exp(x / t - max);
  return logits[id]! / t - max - Math.log(total);
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** Logits of OFF everywhere except `ids`, whose logits are log(probs) (+ a shift). */
function distribution(ids: number[], probs: number[], shift = 0): Float32Array {
  const logits = new Float32Array(VOCAB).fill(OFF);
  ids.forEach((id, i) => (logits[id] = Math.log(probs[i]!) + shift));
  return logits;
}

/**
 * The fraction of N evenly spaced u ∈ [0, 1) that pick each token. Since sampling maps u through
 * the inverse CDF, each fraction equals that token's probability up to 1/N (N = 4000: 2.5e-4).
 */
function frequencies(
  logits: Float32Array,
  opts: { temperature?: number; topK?: number; topP?: number },
  N = 4000,
): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    const u = (i + 0.5) / N;
    const { token } = sample(logits, opts.temperature ?? 1, opts.topK ?? 0, opts.topP ?? 1, u);
    counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  for (const [token, count] of counts) counts.set(token, count / N);
  return counts;
}

function expectFrequencies(got: Map<number, number>, want: Record<number, number>, what: string): void {
  const tokens = [...got.keys()].sort((a, b) => a - b);
  expect(tokens, `${what}: tokens drawn`).toEqual(
    Object.keys(want)
      .map(Number)
      .filter((id) => want[id]! > 0)
      .sort((a, b) => a - b),
  );
  for (const [id, p] of Object.entries(want))
    expect(Math.abs((got.get(Number(id)) ?? 0) - p), `${what}: frequency of ${id} (got ${got.get(Number(id))}, want ${p})`).toBeLessThanOrEqual(1e-3);
}

// ---------------------------------------------------------------------------------------------

describe(`ops.sample, the CPU sampler (seed ${SEED})`, () => {
  it("temperature 0 picks the argmax, the first of ties", () => {
    const rng = new Prng(deriveSeed(SEED, 1));
    for (let trial = 0; trial < 20; trial++) {
      const logits = rng.normals(VOCAB, 3);
      const a = 100 + rng.int(400);
      const b = a + 1 + rng.int(500);
      logits[a] = 50;
      logits[b] = 50; // a tie after `a`
      for (const u of [0, 0.3, 0.999]) {
        const s = sample(logits, 0, 0, 1, u);
        expect(s.token, `trial ${trial}, u ${u}`).toBe(a);
      }
      // Without a tie it is the plain argmax.
      const plain = rng.normals(VOCAB, 3);
      expect(sample(plain, 0, 0, 1, 0.5).token).toBe(argmax(plain));
      // Top-k and top-p do not change a greedy pick.
      expect(sample(plain, 0, 5, 0.1, 0.9).token).toBe(argmax(plain));
    }
  });

  it("a temperature so small that 1 / T overflows is greedy (it crashed with top-p before)", () => {
    const rng = new Prng(deriveSeed(SEED, 9));
    const logits = rng.normals(VOCAB, 3);
    for (const temperature of [1e-40, 1e-45, 2.9e-39])
      for (const [topK, topP] of [
        [0, 1],
        [0, 0.9],
        [20, 1],
        [20, 0.5],
      ] as const)
        for (const u of [0, 0.5, 0.999])
          expect(sample(logits, temperature, topK, topP, u).token, `T ${temperature}`).toBe(argmax(logits));
    // Small but representable: still sampling, and the argmax is all but certain.
    expect(sample(logits, 1e-30, 0, 0.9, 0.5).token).toBe(argmax(logits));
  });

  it("returns the log-softmax of the raw logits at the chosen token", () => {
    const rng = new Prng(deriveSeed(SEED, 2));
    for (let trial = 0; trial < 20; trial++) {
      const logits = rng.normals(VOCAB, 1 + trial);
      for (const [temperature, topK, topP] of [
        [0, 0, 1],
        [1, 0, 1],
        [0.7, 50, 0.9],
        [2, 0, 1], // temperature does not enter the reported logprob
      ] as const) {
        const s = sample(logits, temperature, topK, topP, rng.next());
        expect(Number.isInteger(s.token) && s.token >= 0 && s.token < VOCAB).toBe(true);
        expect(s.logprob).toBeLessThanOrEqual(0);
        expect(Math.abs(s.logprob - logSoftmax(logits, s.token)), `T ${temperature}, token ${s.token}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it("top-k 1 picks the argmax (first of ties) for any u", () => {
    const rng = new Prng(deriveSeed(SEED, 3));
    for (let trial = 0; trial < 10; trial++) {
      const logits = rng.normals(VOCAB, 2);
      const best = argmax(logits);
      for (const u of [0, 0.25, 0.5, 0.75, 0.999999])
        for (const temperature of [0.5, 1, 3]) expect(sample(logits, temperature, 1, 1, u).token).toBe(best);
      logits[best + 1 < VOCAB ? best + 1 : best - 1] = logits[best]!; // tie on the other side
      const tieFirst = Math.min(best, best + 1 < VOCAB ? best + 1 : best - 1);
      for (const u of [0, 0.5, 0.999999]) expect(sample(logits, 1, 1, 1, u).token).toBe(tieFirst);
    }
  });

  it("a tiny top-p keeps only the argmax", () => {
    const rng = new Prng(deriveSeed(SEED, 4));
    for (let trial = 0; trial < 10; trial++) {
      const logits = rng.normals(VOCAB, 2);
      const best = argmax(logits);
      for (const u of [0, 0.5, 0.999999]) {
        expect(sample(logits, 1, 0, 1e-6, u).token).toBe(best);
        expect(sample(logits, 1, 0, 0, u).token).toBe(best);
      }
    }
  });

  it("u sweeping [0, 1) draws each token with its probability (inverse CDF)", () => {
    const ids = [17, 500, 1023];
    const probs = [0.5, 0.3, 0.2];
    const logits = distribution(ids, probs, 4.25);
    const got = frequencies(logits, {});
    expectFrequencies(got, { 17: 0.5, 500: 0.3, 1023: 0.2 }, "T 1");
    // The logprob reported for each is log p.
    for (const [i, id] of ids.entries()) {
      const u = probs.slice(0, i).reduce((a, b) => a + b, 0) + probs[i]! / 2; // mid-bucket in id order
      const s = sample(logits, 1, 0, 1, u);
      expect(s.token).toBe(id);
      expect(s.logprob).toBeCloseTo(Math.log(probs[i]!), 5);
    }
  });

  it(`u sweeping [0, 1) matches softmax on random dense logits (seed ${SEED})`, () => {
    const rng = new Prng(deriveSeed(SEED, 5));
    const logits = new Float32Array(VOCAB).fill(OFF);
    const ids = Array.from({ length: 8 }, (_, i) => i * 131 + rng.int(100));
    for (const id of ids) logits[id] = rng.uniform(-2, 2);
    const want: Record<number, number> = {};
    for (const id of ids) want[id] = Math.exp(logSoftmax(logits, id));
    expectFrequencies(frequencies(logits, {}), want, "dense");
  });

  it("top-k 2 removes the third token and renormalises the other two", () => {
    const logits = distribution([40, 41, 900], [0.2, 0.5, 0.3]);
    expectFrequencies(frequencies(logits, { topK: 2 }), { 41: 0.5 / 0.8, 900: 0.3 / 0.8 }, "top-k 2");
    expectFrequencies(frequencies(logits, { topK: 3 }), { 40: 0.2, 41: 0.5, 900: 0.3 }, "top-k 3");
    expectFrequencies(frequencies(logits, { topK: VOCAB + 5 }), { 40: 0.2, 41: 0.5, 900: 0.3 }, "top-k > vocab");
  });

  it("top-p keeps the smallest best-first prefix whose mass reaches p", () => {
    const logits = distribution([3, 600, 601], [0.1, 0.6, 0.3]);
    expectFrequencies(frequencies(logits, { topP: 0.5 }), { 600: 1 }, "top-p 0.5");
    expectFrequencies(frequencies(logits, { topP: 0.59 }), { 600: 1 }, "top-p 0.59");
    expectFrequencies(frequencies(logits, { topP: 0.7 }), { 600: 2 / 3, 601: 1 / 3 }, "top-p 0.7");
    expectFrequencies(frequencies(logits, { topP: 0.95 }), { 3: 0.1, 600: 0.6, 601: 0.3 }, "top-p 0.95");
    // top-k applies first, then top-p over what is left.
    expectFrequencies(frequencies(logits, { topK: 2, topP: 0.5 }), { 600: 1 }, "top-k 2 + top-p 0.5");
    expectFrequencies(frequencies(logits, { topK: 2, topP: 0.8 }), { 600: 2 / 3, 601: 1 / 3 }, "top-k 2 + top-p 0.8");
  });

  it("temperature T draws from softmax(logits / T)", () => {
    const ids = [10, 20, 30];
    const logits = distribution(ids, [0.5, 0.3, 0.2]);
    for (const t of [0.5, 2, 5]) {
      const want: Record<number, number> = {};
      for (const id of ids) want[id] = Math.exp(logSoftmax(logits, id, t));
      expectFrequencies(frequencies(logits, { temperature: t }), want, `T ${t}`);
    }
    // A very low temperature is nearly greedy.
    expectFrequencies(frequencies(logits, { temperature: 0.01 }), { 10: 1 }, "T 0.01");
    // Temperature before top-p: at T 0.5 the top token has 0.25/0.38 ≈ 0.658 ≥ 0.6 on its own.
    expectFrequencies(frequencies(logits, { temperature: 0.5, topP: 0.6 }), { 10: 1 }, "T 0.5 + top-p 0.6");
  });

  it("throws naming NaN when the logits hold one", () => {
    const logits = new Prng(deriveSeed(SEED, 6)).normals(VOCAB);
    logits[321] = NaN;
    for (const temperature of [0, 1]) {
      expect(() => sample(logits, temperature, 0, 1, 0.5)).toThrow(/NaN/);
      expect(() => sample(logits, temperature, 0, 1, 0.5)).toThrow(/321/);
    }
  });

  it("throws a TypeError for logits that are not a Float32Array or arguments that are not numbers", () => {
    const untyped = native().ops.sample as unknown as (a: unknown) => unknown;
    const args = { temperature: 0, topK: 0, topP: 1, u: 0 };
    expect(() => untyped({ ...args, logits: new Float64Array(VOCAB) })).toThrow(TypeError);
    expect(() => untyped({ ...args, logits: Array.from({ length: VOCAB }, () => 0) })).toThrow(TypeError);
    expect(() => untyped({ ...args, logits: new Float32Array(VOCAB), topK: "0" })).toThrow(TypeError);
    expect(() => untyped({ logits: new Float32Array(VOCAB), temperature: 0, topK: 0, topP: 1 })).toThrow(/field u/);
    expect(() => untyped(undefined)).toThrow(TypeError);
  });

  describe("top-p over a vocabulary larger than its 1024-candidate fast path", () => {
    const BIG = 50257;

    it("keeps the head when the best 1024 reach p", () => {
      const logits = new Float32Array(BIG).fill(OFF);
      const spikes = [100, 30_000, 50_256];
      const probs = [0.6, 0.3, 0.1];
      spikes.forEach((id, i) => (logits[id] = Math.log(probs[i]!)));
      const draw = (u: number, topP: number) => sample(logits, 1, 0, topP, u).token;
      for (const u of [0, 0.3, 0.7, 0.999]) expect(draw(u, 0.5)).toBe(100);
      // top-p 0.8: 100 and 30000, in proportion 2 : 1.
      const seen = new Map<number, number>();
      for (let i = 0; i < 150; i++) {
        const t = draw((i + 0.5) / 150, 0.8);
        seen.set(t, (seen.get(t) ?? 0) + 1);
      }
      expect([...seen.entries()].sort((a, b) => a[0] - b[0])).toEqual([
        [100, 100],
        [30_000, 50],
      ]);
    });

    it("falls back to the whole vocabulary when the best 1024 do not reach p", () => {
      // Uniform logits: top-p 0.5 keeps the first ⌈0.5 · 50257⌉ = 25129 ids (ties go to the lower
      // id), and u picks id ⌊u · 25129⌋ among them.
      const logits = new Float32Array(BIG);
      const keep = Math.ceil(0.5 * BIG);
      for (const u of [0, 0.1, 0.5, 0.9, 0.99999]) {
        const s = sample(logits, 1, 0, 0.5, u);
        expect(s.token, `u ${u}`).toBe(Math.floor(u * keep));
        expect(s.logprob).toBeCloseTo(-Math.log(BIG), 5);
      }
    });
  });

  it("refuses logits without a finite maximum (+Infinity, or every one -Infinity)", () => {
    const logits = distribution([7], [1]);
    logits[5] = Infinity;
    for (const t of [0, 1]) expect(() => sample(logits, t, 0, 1, 0.5)).toThrow(/no finite maximum/);
    const masked = new Float32Array(logits.length).fill(-Infinity);
    expect(() => sample(masked, 1, 0, 1, 0.5)).toThrow(/no finite maximum/);
  });

  it("refuses a NaN temperature, topP or u", () => {
    const logits = distribution([7], [1]);
    expect(() => sample(logits, Number.NaN, 0, 1, 0.5)).toThrow(/finite/);
    expect(() => sample(logits, 1, 0, Number.NaN, 0.5)).toThrow(/finite/);
    expect(() => sample(logits, 1, 0, 1, Number.NaN)).toThrow(/finite/);
  });
});
