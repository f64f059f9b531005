/**
 * A plain JS twin of the samplers (native/core/sampler.cpp and native/cuda/sampling.cu), in
 * double: which tokens survive the filters, and for which u each is picked. Slow and simple on
 * purpose; the tests hold both native samplers to it.
 */
import type { NativeAdjustments } from "../../bindings.js";

export interface ReferenceSettings {
  temperature: number;
  topK: number;
  topP: number;
  minP?: number;
}

export interface ReferencePick {
  /** The argmax, lowest id on ties. */
  best: number;
  /** log Σ exp(logits): logprob(i) = logits[i] − logZ. */
  logZ: number;
  /** Each candidate and the range [lo, hi) of u that picks it. */
  intervals: Map<number, [number, number]>;
}

/** Candidates best first (higher logit, then lower id): the samplers' order. */
export function bestFirst(logits: Float32Array): number[] {
  return [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
}

/** What the samplers do with `logits` (already adjusted) for settings with temperature > 0. */
export function samplingReference(logits: Float32Array, s: ReferenceSettings): ReferencePick {
  const ids = bestFirst(logits);
  const max = logits[ids[0]!]!;
  const logZ = max + Math.log(ids.reduce((sum, i) => sum + Math.exp(logits[i]! - max), 0));
  const t = Math.fround(s.temperature);
  const w = (i: number) => Math.exp((logits[i]! - max) / t);
  let kept = s.topK > 0 && s.topK < ids.length ? ids.slice(0, s.topK) : ids;
  if (s.topP < 1) {
    const need = Math.fround(s.topP) * kept.reduce((sum, i) => sum + w(i), 0);
    let cum = 0;
    let keep = 0;
    while (keep < kept.length) {
      cum += w(kept[keep++]!);
      if (cum >= need) break;
    }
    kept = kept.slice(0, keep);
  } else {
    kept = [...kept].sort((a, b) => a - b); // without a top-p sort the samplers walk ids upward
  }
  if (s.minP !== undefined && s.minP > 0) {
    const floor = max + t * Math.log(Math.fround(s.minP));
    kept = kept.filter((i) => logits[i]! >= floor);
  }
  const mass = kept.reduce((sum, i) => sum + w(i), 0);
  const intervals = new Map<number, [number, number]>();
  let cum = 0;
  for (const i of kept) {
    const lo = cum / mass;
    cum += w(i);
    intervals.set(i, [lo, cum / mass]);
  }
  return { best: ids[0]!, logZ, intervals };
}

/** The adjusted logits, each operation rounded to fp32 as the samplers round it (NativeAdjustments). */
export function adjustLogits(raw: Float32Array, adjust: NativeAdjustments, repetitionPenalty: number): Float32Array {
  const out = Float32Array.from(raw);
  const f = Math.fround;
  const rp = f(repetitionPenalty);
  adjust.ids.forEach((id, k) => {
    let v = f(raw[id]! + adjust.bias[k]!);
    if (adjust.repeated[k]) v = v > 0 ? f(v / rp) : f(v * rp);
    out[id] = f(v - adjust.penalty[k]!);
  });
  return out;
}

/** The n best raw logits (ties: lower id first) with their logprobs. */
export function topAlternatives(raw: Float32Array, n: number): { token: number; logprob: number }[] {
  const ids = bestFirst(raw);
  const max = raw[ids[0]!]!;
  const logZ = max + Math.log(ids.reduce((sum, i) => sum + Math.exp(raw[i]! - max), 0));
  return ids.slice(0, n).map((token) => ({ token, logprob: raw[token]! - logZ }));
}
