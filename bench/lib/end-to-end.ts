// End-to-end timings through the public API: prefill through generate()'s timings, decode through
// the gaps between gpt.stream() chunks (each gap is one sample plus one single-token forward pass).
import type { Gpt, GptConfig } from "../../lib/index.js";
import type { Progress } from "./progress.js";
import type { DecodeResult, PrefillResult } from "./results.js";
import { mean, median, quantile } from "./stats.js";

export interface EndToEndPlan {
  prefillTokens: number[];
  prefillRuns: number;
  /** Decode speed is measured at each of these contexts (the chart), in ascending order... */
  decodeContexts: number[];
  /** ...and more thoroughly at these (the table). */
  headlineContexts: number[];
  tokensPerRun: number;
  headlineRuns: number;
  otherRuns: number;
  /**
   * Seconds after which repeat runs are skipped (every length still gets one): keeps the default
   * run near its budget when other processes slow a shared machine down.
   */
  repeatSeconds: number;
}

/** The plan for a model with nCtx positions: lengths that do not fit are left out. */
export function endToEndPlan(nCtx: number, quick: boolean): EndToEndPlan {
  const tokensPerRun = quick ? 4 : 16;
  const fitsDecode = (c: number) => c - tokensPerRun / 2 >= 1 && c + tokensPerRun / 2 <= nCtx;
  return {
    // A small test model gets one prompt of half its positions instead.
    prefillTokens: nCtx >= 128 ? [128, 512].filter((n) => n <= nCtx) : [Math.max(1, Math.floor(nCtx / 2))],
    prefillRuns: quick ? 1 : 3,
    decodeContexts: [16, 128, 256, 512, 900].filter(fitsDecode),
    headlineContexts: [128, 900].filter(fitsDecode),
    tokensPerRun,
    headlineRuns: quick ? 1 : 3,
    otherRuns: 1,
    repeatSeconds: quick ? 5 : 35,
  };
}

/** Seeded token ids (mulberry32), so every run of the bench feeds the same prompts. */
export class IdSource {
  private state: number;
  private first = 0;
  constructor(
    private readonly vocabSize: number,
    seed = 1,
  ) {
    this.state = seed >>> 0;
  }
  private next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /**
   * `length` random ids whose first differs from every earlier prompt's first, so the model's
   * cache has no prefix to reuse and the whole prompt is computed.
   */
  fresh(length: number): number[] {
    const ids = Array.from({ length }, () => Math.floor(this.next() * this.vocabSize));
    ids[0] = this.first++ % this.vocabSize;
    return ids;
  }
}

/** The engine tensors' parameter count, and the rows of the position table among them. */
export function tensorFacts(tensors: readonly { name: string; shape: number[] }[]): { parameters: number; positionRows: number } {
  const parameters = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const positions = tensors.find((t) => t.name === "wpe.weight" || t.name === "embed_positions.weight");
  return { parameters, positionRows: positions?.shape[0] ?? 0 };
}

/** Bytes of weights one decode step reads: all of them but the rows of wpe past the current position. */
export function weightBytesReadPerToken(weightBytes: number, parameters: number, positionRows: number, nEmbd: number): number {
  const bytesPerParameter = weightBytes / parameters;
  return weightBytes - Math.max(0, positionRows - 1) * nEmbd * bytesPerParameter;
}

/** KV-cache bytes one decode step reads at `context` positions, `bytesPerPosition` each. */
export function kvBytesReadPerToken(bytesPerPosition: number, context: number): number {
  return bytesPerPosition * context;
}

/** One short generation: the first forward pass after loading allocates and faults in its buffers. */
export async function warmUp(gpt: Gpt, ids: IdSource): Promise<void> {
  await gpt.generate(ids.fresh(8), { maxTokens: 2, temperature: 0, ignoreEos: true });
}

export async function measurePrefill(
  gpt: Gpt,
  plan: EndToEndPlan,
  ids: IdSource,
  progress: Progress,
  label: string,
  deadline: number,
): Promise<PrefillResult[]> {
  const results: PrefillResult[] = [];
  for (const promptTokens of plan.prefillTokens) {
    const runsMs: number[] = [];
    for (let run = 0; run < plan.prefillRuns && (run === 0 || performance.now() < deadline); run++) {
      progress.step(`${label}: prefill ${promptTokens} tokens (run ${run + 1}/${plan.prefillRuns})`);
      const r = await gpt.generate(ids.fresh(promptTokens), { maxTokens: 1, temperature: 0, ignoreEos: true });
      runsMs.push(r.timings.prefillMs);
    }
    const medianMs = median(runsMs);
    results.push({ promptTokens, runsMs, medianMs, tokensPerSecond: (promptTokens / medianMs) * 1000 });
  }
  return results;
}

export type DecodeTiming = Pick<DecodeResult, "context" | "promptTokens" | "tokensPerRun" | "runs" | "msPerToken" | "tokensPerSecond">;

/**
 * Decode speed at each planned context. The prompts are prefixes of one random sequence, taken
 * in ascending order, so each prefill only computes what the cache does not hold yet.
 */
export async function measureDecode(
  gpt: Gpt,
  plan: EndToEndPlan,
  ids: IdSource,
  progress: Progress,
  label: string,
  deadline: number,
): Promise<DecodeTiming[]> {
  const longest = Math.max(...plan.decodeContexts);
  const sequence = ids.fresh(longest);
  const results: DecodeTiming[] = [];
  for (const context of plan.decodeContexts) {
    const promptTokens = context - plan.tokensPerRun / 2;
    const prompt = sequence.slice(0, promptTokens);
    const planned = plan.headlineContexts.includes(context) ? plan.headlineRuns : plan.otherRuns;
    const gaps: number[] = [];
    let runs = 0;
    for (; runs < planned && (runs === 0 || performance.now() < deadline); runs++) {
      progress.step(`${label}: decode at context ${context} (run ${runs + 1}/${planned})`);
      const times: number[] = [];
      for await (const _ of gpt.stream(prompt, { maxTokens: plan.tokensPerRun, temperature: 0, ignoreEos: true }))
        times.push(performance.now());
      for (let i = 1; i < times.length; i++) gaps.push(times[i]! - times[i - 1]!);
    }
    const p50 = median(gaps);
    results.push({
      context,
      promptTokens,
      tokensPerRun: plan.tokensPerRun,
      runs,
      msPerToken: { p50, p99: quantile(gaps, 0.99), mean: mean(gaps), samples: gaps.length },
      tokensPerSecond: 1000 / p50,
    });
  }
  return results;
}
