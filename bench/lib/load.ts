/**
 * A bounded load on an OpenAI-compatible /v1/completions endpoint, as vLLM's benchmark_serving
 * makes one: `requests` streamed requests, at most `concurrency` in flight, each timed from its
 * send: time to first token (the first event with text), the gaps between later events
 * (inter-token latency), and its end. Any server that streams Server-Sent Events the OpenAI way
 * can be measured: gpt-cuda's, llama.cpp's llama-server, vLLM.
 */
import type { Gpt } from "../../lib/index.js";
import { quantile } from "./stats.js";

export interface LoadOptions {
  /** The server's base URL, up to and including /v1. */
  baseUrl: string;
  model: string;
  /** The prompt of request i, as token ids. */
  prompt: (i: number) => number[];
  maxTokens: number;
}

export interface LoadResult {
  concurrency: number;
  requests: number;
  failed: number;
  wallSeconds: number;
  requestsPerSecond: number;
  outputTokens: number;
  outputTokensPerSecond: number;
  /** Milliseconds. */
  ttft: { p50: number; p99: number };
  itl: { p50: number; p99: number };
  latency: { p50: number; p99: number };
}

export interface RequestTiming {
  ttftMs: number;
  gapsMs: number[];
  latencyMs: number;
  tokens: number;
}

/** How one request is sent and timed: over HTTP (timeOverHttp) or in-process (timeInProcess). */
export type TimeRequest = (i: number) => Promise<RequestTiming>;

export async function runLoad(concurrency: number, requests: number, timeOne: TimeRequest): Promise<LoadResult> {
  const timings: RequestTiming[] = [];
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      try {
        timings.push(await timeOne(i));
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallSeconds = (performance.now() - t0) / 1000;
  const outputTokens = timings.reduce((s, t) => s + t.tokens, 0);
  const pct = (xs: number[]) => (xs.length === 0 ? { p50: NaN, p99: NaN } : { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) });
  return {
    concurrency,
    requests,
    failed,
    wallSeconds,
    requestsPerSecond: timings.length / wallSeconds,
    outputTokens,
    outputTokensPerSecond: outputTokens / wallSeconds,
    ttft: pct(timings.map((t) => t.ttftMs)),
    itl: pct(timings.flatMap((t) => t.gapsMs)),
    latency: pct(timings.map((t) => t.latencyMs)),
  };
}

/** Times the arrivals of a request's pieces of text (an event with no text is not a token's arrival). */
class Clock {
  private readonly start = performance.now();
  private first = 0;
  private last = 0;
  readonly gapsMs: number[] = [];

  arrived(): void {
    const now = performance.now();
    if (this.first === 0) this.first = now;
    else this.gapsMs.push(now - this.last);
    this.last = now;
  }

  done(tokens: number): RequestTiming {
    return { ttftMs: this.first - this.start, gapsMs: this.gapsMs, latencyMs: performance.now() - this.start, tokens };
  }
}

/** The same request to gpt.stream() in this process: what the server costs on top is the difference. */
export function timeInProcess(gpt: Gpt, o: Omit<LoadOptions, "baseUrl" | "model">): TimeRequest {
  return async (i) => {
    const clock = new Clock();
    const stream = gpt.stream(o.prompt(i), { maxTokens: o.maxTokens, temperature: 0, ignoreEos: true });
    for await (const chunk of stream) if (chunk.text !== "") clock.arrived();
    return clock.done((await stream.result).usage.completionTokens);
  };
}

/** A streamed /v1/completions request. */
export function timeOverHttp(o: LoadOptions): TimeRequest {
  return (i) => timeOne(o, i);
}

async function timeOne(o: LoadOptions, i: number): Promise<RequestTiming> {
  const clock = new Clock();
  const res = await fetch(`${o.baseUrl}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: o.model,
      prompt: o.prompt(i),
      max_tokens: o.maxTokens,
      temperature: 0,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buffered = "";
  let events = 0;
  let usageTokens: number | null = null;
  for await (const bytes of res.body) {
    buffered += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const data = JSON.parse(event.slice(6));
      if (data.usage?.completion_tokens !== undefined) usageTokens = data.usage.completion_tokens;
      const text = data.choices?.[0]?.text;
      if (typeof text !== "string" || text === "") continue;
      clock.arrived();
      events++;
    }
  }
  return clock.done(usageTokens ?? events);
}
