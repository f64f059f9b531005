/**
 * The server's Prometheus metrics (prom-client), in a registry of its own so that two servers in
 * one process never mix their counts; the process's default metrics are registered there too.
 * Request counts are requests (a request with n: 2 counts once): waiting until its first token,
 * running from then until it ends.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

import type { Gpt } from "../gpt.js";

// As vLLM's buckets: seconds from milliseconds (a decode step) to minutes (a long queue).
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly running: Gauge;
  readonly waiting: Gauge;
  readonly prefixHitTokens: Counter;
  readonly promptTokens: Counter;
  readonly generationTokens: Counter;
  readonly timeToFirstToken: Histogram;
  readonly interTokenLatency: Histogram;
  readonly requests: Counter<"endpoint" | "status">;
  readonly connections: Gauge;

  /**
   * `model`: the KV cache's usage is read from it at each scrape (null until it has loaded);
   * `admitted`: the sequences admission control holds now.
   */
  constructor(model: () => Gpt | null, admitted: () => number) {
    const registers = [this.registry];
    this.running = new Gauge({ name: "gptcuda_requests_running", help: "Requests generating tokens", registers });
    this.waiting = new Gauge({ name: "gptcuda_requests_waiting", help: "Requests admitted and waiting for their first token", registers });
    new Gauge({
      name: "gptcuda_kv_cache_usage_ratio",
      help: "Share of the KV cache's blocks held by sequences (0-1); blocks kept only as prefix cache count as free",
      registers,
      collect() {
        const usage = model()?.kvCacheUsage;
        this.set(usage ? usage.usedBlocks / usage.totalBlocks : 0);
      },
    });
    new Gauge({
      name: "gptcuda_sequences_admitted",
      help: "Sequences taken by requests in flight, running or queued (429 beyond max-sequences + max-queue)",
      registers,
      collect() {
        this.set(admitted());
      },
    });
    this.prefixHitTokens = new Counter({
      name: "gptcuda_prefix_cache_hit_tokens_total",
      help: "Prompt tokens whose keys and values came from the prefix cache",
      registers,
    });
    this.promptTokens = new Counter({ name: "gptcuda_prompt_tokens_total", help: "Prompt tokens of finished requests", registers });
    this.generationTokens = new Counter({ name: "gptcuda_generation_tokens_total", help: "Tokens generated", registers });
    this.timeToFirstToken = new Histogram({
      name: "gptcuda_time_to_first_token_seconds",
      help: "From a request's arrival to each of its choices' first token",
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.interTokenLatency = new Histogram({
      name: "gptcuda_inter_token_latency_seconds",
      help: "Between successive tokens of one choice",
      buckets: ITL_BUCKETS,
      registers,
    });
    this.requests = new Counter({
      name: "gptcuda_requests_total",
      help: "Requests answered, by route (\"unmatched\" for an unknown one) and HTTP status",
      labelNames: ["endpoint", "status"],
      registers,
    });
    this.connections = new Gauge({ name: "gptcuda_http_connections", help: "Client connections open now", registers });
    collectDefaultMetrics({ register: this.registry });
  }
}
