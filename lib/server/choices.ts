/**
 * One request's choices, run: every stream read concurrently (so each choice's tokens go out as
 * they come), with its time to first token and inter-token latencies observed, and the
 * request's tokens counted once it ends. The streams were all created with the request's
 * AbortSignal, so a client that disconnects ends every one within a step.
 */
import type { GenerationStream, GenerateResult, StreamChunk } from "../gpt.js";
import type { CallState } from "./context.js";
import type { ServerMetrics } from "./metrics.js";
import { runStreamed, type SseWriter } from "./sse.js";

/**
 * The groups of a request, one per item (a prompt), n streams each; if opening one throws, the
 * streams already open are ended, so that none runs on without a reader.
 */
export function openGroups<T>(items: readonly T[], n: number, open: (item: T) => GenerationStream[]): ChoiceGroup[] {
  const groups: ChoiceGroup[] = [];
  try {
    for (const [i, item] of items.entries()) groups.push({ first: i * n, streams: open(item) });
  } catch (e) {
    for (const g of groups) for (const s of g.streams) void s.return();
    throw e;
  }
  return groups;
}

/** Called with each chunk of choice `index`; a returned promise holds that choice's reading (backpressure). */
export type ChunkSink = (index: number, chunk: StreamChunk) => void | Promise<void>;

export interface ChoiceGroup {
  /** The streams of one prompt (n of them), choice indices first + 0 … first + n − 1. */
  streams: GenerationStream[];
  first: number;
}

/** Called once a choice has ended, with its result (before the other choices may have). */
export type ChoiceEnd = (index: number, result: GenerateResult) => void | Promise<void>;

export async function runChoices(
  groups: ChoiceGroup[],
  metrics: ServerMetrics,
  arrivedAt: number,
  sink: ChunkSink,
  ended: ChoiceEnd = () => {},
): Promise<GenerateResult[]> {
  let waiting = true;
  metrics.waiting.inc();
  let started = () => {
    if (!waiting) return;
    waiting = false;
    metrics.waiting.dec();
    metrics.running.inc();
  };
  const readOne = async (stream: GenerationStream, index: number): Promise<GenerateResult> => {
    let last = 0;
    for await (const chunk of stream) {
      const now = performance.now();
      if (last === 0) {
        started();
        metrics.timeToFirstToken.observe((now - arrivedAt) / 1000);
      } else metrics.interTokenLatency.observe((now - last) / 1000);
      last = now;
      await sink(index, chunk);
    }
    const result = await stream.result;
    await ended(index, result);
    return result;
  };
  try {
    const reads = groups.flatMap((g) => g.streams.map((s, i) => readOne(s, g.first + i)));
    const results = await Promise.all(reads);
    count(groups, results, metrics);
    return results;
  } finally {
    // A choice that failed leaves its siblings running: end them too.
    for (const g of groups) for (const s of g.streams) void s.return();
    if (waiting) metrics.waiting.dec();
    else metrics.running.dec();
    waiting = false;
    started = () => {}; // a sibling still reading a leftover chunk must not count the request again
  }
}

/** A prompt's tokens count once per prompt (its n choices share them), as OpenAI's usage does. */
function count(groups: ChoiceGroup[], results: GenerateResult[], metrics: ServerMetrics): void {
  for (const g of groups) {
    const lead = results[g.first]!;
    metrics.promptTokens.inc(lead.usage.promptTokens);
    metrics.prefixHitTokens.inc(lead.usage.cachedTokens);
  }
  for (const r of results) metrics.generationTokens.inc(r.usage.completionTokens);
}

/** OpenAI's usage for a request's results. */
export function usageOf(groups: ChoiceGroup[], results: GenerateResult[]) {
  let prompt = 0;
  let cached = 0;
  for (const g of groups) {
    prompt += results[g.first]!.usage.promptTokens;
    cached += results[g.first]!.usage.cachedTokens;
  }
  const completion = results.reduce((sum, r) => sum + r.usage.completionTokens, 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

/** OpenAI's finish_reason: an end-of-text or stop token, or a stop string, is "stop". */
export function finishReason(result: GenerateResult): "stop" | "length" {
  return result.finishReason === "length" ? "length" : "stop";
}

/** The events of a streamed request, in the endpoint's shape: a chunk's (null: nothing to send) and a choice's last. */
export interface ChoiceEvents {
  chunk(index: number, chunk: StreamChunk): unknown;
  end(index: number, result: GenerateResult): unknown;
}

/**
 * runChoices for a streamed request: each chunk's event as it comes, each choice's last event as
 * soon as it ends (as OpenAI sends them); null once the stream was ended with an error event.
 */
export function streamChoices(
  sse: SseWriter,
  call: CallState,
  groups: ChoiceGroup[],
  metrics: ServerMetrics,
  events: ChoiceEvents,
): Promise<GenerateResult[] | null> {
  return runStreamed(sse, call.signal, () =>
    runChoices(
      groups,
      metrics,
      call.arrivedAt,
      async (index, chunk) => {
        const event = events.chunk(index, chunk);
        if (event !== null) await sse.send(event);
      },
      async (index, result) => {
        if (!call.signal.aborted) await sse.send(events.end(index, result));
      },
    ),
  );
}

/** The request's token counts, for its log line. */
export function noteTokens(call: CallState, usage: { prompt_tokens: number; completion_tokens: number }): void {
  call.tokens.prompt = usage.prompt_tokens;
  call.tokens.completion = usage.completion_tokens;
}
