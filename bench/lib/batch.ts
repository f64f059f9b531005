// The batched engine under load, through the public API: aggregate decode speed with N greedy
// sequences at once, time to first token for a long prompt cold and with a prefix-cache hit, the
// KV bytes in use, and how fast an abort during a long prefill settles.
import type { Gpt } from "../../lib/index.js";
import type { IdSource } from "./end-to-end.js";
import type { Progress } from "./progress.js";
import { median } from "./stats.js";

export interface BatchPlan {
  /** Concurrent sequences per decode measurement. */
  sequences: number[];
  promptTokens: number;
  newTokens: number;
  runs: number;
  /** The long prompt of the time-to-first-token rows, and how much of it the hit finds cached. */
  ttftPromptTokens: number;
  ttftCachedTokens: number;
  ttftRuns: number;
  /** The prompt an abort interrupts during its prefill, and how many aborts are timed. */
  abortPromptTokens: number;
  abortRuns: number;
}

export interface BatchDecodeResult {
  sequences: number;
  /** Generated tokens of all sequences per second of the decode phase, median of the runs. */
  tokensPerSecond: number;
  runsTokensPerSecond: number[];
  /** Over the same figure for one sequence, measured in this run. */
  speedup: number;
  /** The most KV-cache bytes the sequences held at once. */
  peakKvBytes: number;
}

export interface BatchResult {
  /** Each decode sequence's prompt and generated tokens. */
  promptTokens: number;
  newTokens: number;
  decode: BatchDecodeResult[];
  ttft: {
    promptTokens: number;
    cachedTokens: number;
    /** Medians: from the call to the first chunk. */
    coldMs: number;
    hitMs: number;
    /** hitMs / coldMs. */
    ratio: number;
    /** usage.cachedTokens of the hits (the prefix cache did serve them). */
    hitCachedTokens: number;
  } | null;
  /**
   * From abort() to the call resolving ("abort"), and to the engine letting go of the sequence's
   * blocks (the step that was running when the abort came ends first): medians of the runs.
   */
  abort: { promptTokens: number; settleMs: number[]; freedMs: number[]; medianSettleMs: number; medianFreedMs: number } | null;
}

/** maxTokens of the generation an abort interrupts. */
const ABORT_MAX_TOKENS = 4;

/** Slots the bench loads a model with: room for the GPU's 32-sequence row. */
export const BENCH_MAX_SEQUENCES = 32;

/**
 * The plan for a model of nCtx positions and maxSequences slots on `device`; lengths that do not
 * fit are left out. A GPU also runs 32 sequences at once.
 */
export function batchPlan(nCtx: number, maxSequences: number, device: "cpu" | "cuda", quick: boolean): BatchPlan {
  const ttft = Math.min(512, Math.floor(nCtx / 2));
  const sequences = quick ? [1, 4] : device === "cuda" ? [1, 2, 4, 8, 16, 32] : [1, 2, 4, 8, 16];
  return {
    sequences: sequences.filter((n) => n <= maxSequences),
    promptTokens: 8,
    newTokens: Math.min(quick ? 16 : 128, nCtx - 8),
    runs: quick ? 1 : 3,
    ttftPromptTokens: ttft,
    ttftCachedTokens: Math.floor((ttft - 16) / 16) * 16,
    ttftRuns: quick ? 1 : 3,
    abortPromptTokens: Math.min(1000, nCtx - ABORT_MAX_TOKENS),
    abortRuns: quick ? 1 : 3,
  };
}

/** N greedy sequences at once; aggregate tokens/s of their decode phase and the peak KV bytes. */
async function decodeRun(gpt: Gpt, plan: BatchPlan, ids: IdSource, n: number): Promise<{ tokS: number; peakKv: number }> {
  let peakKv = 0;
  const spans = await Promise.all(
    Array.from({ length: n }, async () => {
      const times: number[] = [];
      const stream = gpt.stream(ids.fresh(plan.promptTokens), { maxTokens: plan.newTokens, temperature: 0, ignoreEos: true });
      for await (const _ of stream) {
        times.push(performance.now());
        peakKv = Math.max(peakKv, gpt.kvCacheUsage.usedBytes);
      }
      return { first: times[0]!, last: times.at(-1)!, tokens: times.length - 1 };
    }),
  );
  const start = Math.min(...spans.map((s) => s.first));
  const end = Math.max(...spans.map((s) => s.last));
  const tokens = spans.reduce((t, s) => t + s.tokens, 0);
  return { tokS: (tokens / (end - start)) * 1000, peakKv };
}

async function firstTokenMs(gpt: Gpt, prompt: number[]): Promise<{ ms: number; cached: number }> {
  const t0 = performance.now();
  const r = await gpt.generate(prompt, { maxTokens: 1, temperature: 0, ignoreEos: true });
  return { ms: performance.now() - t0, cached: r.usage.cachedTokens };
}

/** Aborts a long prompt `after` ms into its prefill; ms from abort() to the result, and to its blocks being free. */
async function abortRun(gpt: Gpt, plan: BatchPlan, ids: IdSource, after: number): Promise<{ settle: number; freed: number }> {
  const controller = new AbortController();
  const pending = gpt.generate(ids.fresh(plan.abortPromptTokens), { maxTokens: ABORT_MAX_TOKENS, signal: controller.signal });
  await new Promise((r) => setTimeout(r, after));
  const t0 = performance.now();
  controller.abort();
  await pending;
  const settle = performance.now() - t0;
  while (gpt.kvCacheUsage.usedBlocks > 0) await new Promise((r) => setImmediate(r));
  return { settle, freed: performance.now() - t0 };
}

export async function measureBatch(gpt: Gpt, plan: BatchPlan, ids: IdSource, progress: Progress, label: string): Promise<BatchResult> {
  const decode: BatchDecodeResult[] = [];
  for (const n of plan.sequences) {
    const runs: number[] = [];
    let peakKvBytes = 0;
    for (let run = 0; run < plan.runs; run++) {
      progress.step(`${label}: batch decode, ${n} sequence${n === 1 ? "" : "s"} (run ${run + 1}/${plan.runs})`);
      const r = await decodeRun(gpt, plan, ids, n);
      runs.push(r.tokS);
      peakKvBytes = Math.max(peakKvBytes, r.peakKv);
    }
    const tokensPerSecond = median(runs);
    const single = decode[0]?.tokensPerSecond ?? tokensPerSecond;
    decode.push({ sequences: n, tokensPerSecond, runsTokensPerSecond: runs, speedup: tokensPerSecond / single, peakKvBytes });
  }

  let ttft: BatchResult["ttft"] = null;
  if (plan.ttftCachedTokens > 0) {
    const cold: number[] = [];
    const hit: number[] = [];
    let hitCachedTokens = Infinity;
    for (let run = 0; run < plan.ttftRuns; run++) {
      progress.step(`${label}: time to first token, ${plan.ttftPromptTokens} tokens cold and cached (run ${run + 1}/${plan.ttftRuns})`);
      const prompt = ids.fresh(plan.ttftPromptTokens);
      cold.push((await firstTokenMs(gpt, prompt)).ms);
      // The same first ttftCachedTokens tokens, a new tail: only the tail is computed.
      const other = [...prompt.slice(0, plan.ttftCachedTokens), ...ids.fresh(plan.ttftPromptTokens - plan.ttftCachedTokens)];
      const r = await firstTokenMs(gpt, other);
      hit.push(r.ms);
      hitCachedTokens = Math.min(hitCachedTokens, r.cached);
    }
    const coldMs = median(cold);
    const hitMs = median(hit);
    ttft = {
      promptTokens: plan.ttftPromptTokens,
      cachedTokens: plan.ttftCachedTokens,
      coldMs,
      hitMs,
      ratio: hitMs / coldMs,
      hitCachedTokens,
    };
  }

  let abort: BatchResult["abort"] = null;
  if (plan.abortRuns > 0 && ttft) {
    const settleMs: number[] = [];
    const freedMs: number[] = [];
    // Aborts at a quarter, half and three quarters of a cold prefill of this length.
    const prefillMs = (ttft.coldMs / ttft.promptTokens) * plan.abortPromptTokens;
    for (let run = 0; run < plan.abortRuns; run++) {
      progress.step(`${label}: abort during a ${plan.abortPromptTokens}-token prefill (run ${run + 1}/${plan.abortRuns})`);
      const r = await abortRun(gpt, plan, ids, (prefillMs * (run + 1)) / (plan.abortRuns + 1));
      settleMs.push(r.settle);
      freedMs.push(r.freed);
    }
    abort = {
      promptTokens: plan.abortPromptTokens,
      settleMs,
      freedMs,
      medianSettleMs: median(settleMs),
      medianFreedMs: median(freedMs),
    };
  }
  return { promptTokens: plan.promptTokens, newTokens: plan.newTokens, decode, ttft, abort };
}
