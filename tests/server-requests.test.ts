/**
 * The server's answers to bad requests — each a 4xx in OpenAI's error shape naming what is
 * wrong — and what it exposes: /health, /metrics, a client that disconnects.
 */
import { rm } from "node:fs/promises";
import { request } from "node:http";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { serve } from "../lib/server/index.js";
import { chatModel, slowChatModel } from "./helpers/model-edits.js";
import { eventually, metricValue, startTestServer, type TestServer } from "./helpers/test-server.js";

const TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:";
const dirs: string[] = [];
let t: TestServer;
beforeAll(async () => {
  const dir = await chatModel({ jinja: TEMPLATE });
  dirs.push(dir);
  t = await startTestServer(dir);
});
afterAll(async () => {
  await t.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A 4xx in OpenAI's shape: { error: { message, type, param, code } }. */
function expectError(res: { status: number; json: any }, status: number, message: RegExp | string, param: string | null = null) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.json)).toEqual(["error"]);
  expect(Object.keys(res.json.error).sort()).toEqual(["code", "message", "param", "type"]);
  if (typeof message === "string") expect(res.json.error.message).toContain(message);
  else expect(res.json.error.message).toMatch(message);
  expect(res.json.error.param).toBe(param);
}

describe("bad requests", () => {
  it("malformed JSON, a body that is not an object, a missing or wrongly typed field: 400", async () => {
    expectError(await t.post("/v1/completions", "{\"prompt\": "), 400, "not valid JSON");
    expectError(await t.post("/v1/completions", "[1, 2]"), 400, "must be a JSON object, got an array");
    expectError(await t.post("/v1/completions", {}), 400, "prompt is required", "prompt");
    expectError(await t.post("/v1/completions", { prompt: 5 }), 400, /^prompt must be a string/, "prompt");
    expectError(await t.post("/v1/completions", { prompt: [1, "a"] }), 400, "not a mix", "prompt");
    expectError(await t.post("/v1/completions", { prompt: [99999] }), 400, "holds 99999, not a token id (0–1023)", "prompt");
    expectError(await t.post("/v1/completions", { prompt: "x", temperature: "hot" }), 400, 'temperature must be a number in [0, 2], got "hot"', "temperature");
    expectError(await t.post("/v1/completions", { prompt: "x", max_tokens: 1.5 }), 400, "max_tokens must be an integer", "max_tokens");
    expectError(await t.post("/v1/completions", { prompt: "x", n: 0 }), 400, "n must be an integer in [1, 128], got 0", "n");
    expectError(await t.post("/v1/completions", { prompt: "x", logprobs: 6 }), 400, "logprobs must be an integer in [0, 5]", "logprobs");
    expectError(await t.post("/v1/completions", { prompt: "x", stop: [""] }), 400, "stop must be", "stop");
    expectError(await t.post("/v1/completions", { prompt: "x", logit_bias: { abc: 1 } }), 400, '"abc" is not a token id', "logit_bias");
    expectError(await t.post("/v1/completions", { prompt: "x", stream_options: { include_usage: true } }), 400, "only allowed with stream: true", "stream_options");
    expectError(await t.post("/v1/chat/completions", { messages: [] }), 400, "messages must be a non-empty array", "messages");
    expectError(await t.post("/v1/chat/completions", { messages: [{ role: "tool", content: "x" }] }), 400, "messages[0].role must be", "messages[0].role");
    expectError(await t.post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], top_logprobs: 2 }), 400, "top_logprobs needs logprobs: true", "top_logprobs");
    // Null is "left out", as OpenAI takes it.
    const nulls = await t.post("/v1/completions", { prompt: "x", max_tokens: 2, temperature: null, stop: null });
    expect(nulls.status).toBe(200);
  });

  it("a field the server does not implement is a 400 naming it, never ignored", async () => {
    const chat = { messages: [{ role: "user", content: "x" }] };
    for (const [path, body, param] of [
      ["/v1/chat/completions", { ...chat, tools: [] }, "tools"],
      ["/v1/chat/completions", { ...chat, response_format: { type: "json_object" } }, "response_format"],
      ["/v1/chat/completions", { messages: [{ role: "user", content: "x", name: "bob" }] }, "messages[0].name"],
      ["/v1/chat/completions", { messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] }, "messages[0].content"],
      ["/v1/completions", { prompt: "x", suffix: "y" }, "suffix"],
      ["/v1/completions", { prompt: "x", best_of: 3 }, "best_of"],
    ] as const) {
      const res = await t.post(path, body);
      expectError(res, 400, /not supported/, param);
    }
    // What is implemented of them passes: best_of = n, response_format text, text parts.
    expect((await t.post("/v1/completions", { prompt: "x", best_of: 2, n: 2, max_tokens: 1 })).status).toBe(200);
    const parts = await t.post("/v1/chat/completions", {
      messages: [{ role: "developer", content: [{ type: "text", text: "Be " }, { type: "text", text: "brief." }] }, { role: "user", content: "Hi" }],
      response_format: { type: "text" },
      max_tokens: 2,
    });
    expect(parts.status).toBe(200);
  });

  it("an unknown model or route: 404", async () => {
    expectError(await t.post("/v1/completions", { model: "gpt-4", prompt: "x" }), 404, 'the model "gpt-4" does not exist here', "model");
    expectError(await t.post("/v1/embeddings", { input: "x" }), 404, "no route POST /v1/embeddings");
    const res = await fetch(`${t.url}/v1/models/gpt-4`);
    expect(res.status).toBe(404);
  });

  it("a prompt over the context: 400 naming the context length and both counts", async () => {
    const ids = Array.from({ length: 60 }, (_, i) => i);
    const res = await t.post("/v1/completions", { prompt: ids, max_tokens: 10 });
    expectError(res, 400, "this model's maximum context length is 64 tokens; this request asks for 70 (60 in the prompt, 10 for the completion)", "prompt");
    expect(res.json.error.code).toBe("context_length_exceeded");
    const chat = await t.post("/v1/chat/completions", { messages: [{ role: "user", content: "word ".repeat(80) }] });
    expectError(chat, 400, /maximum context length is 64 tokens/, "messages");
  });

  it("a body over the limit: 413", async () => {
    const res = await t.post("/v1/completions", { prompt: "x".repeat(1_100_000) });
    expectError(res, 413, "over the server's limit of 1048576 bytes");
  });
});

describe("/health and /metrics", () => {
  it("/health is 200 when ready; /metrics has the named metrics and the process defaults", async () => {
    const health = await fetch(`${t.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    await t.post("/v1/completions", { prompt: "Counting tokens", max_tokens: 3 });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      "gptcuda_requests_running",
      "gptcuda_requests_waiting",
      "gptcuda_kv_cache_usage_ratio",
      "gptcuda_prefix_cache_hit_tokens_total",
      "gptcuda_prompt_tokens_total",
      "gptcuda_generation_tokens_total",
      "gptcuda_time_to_first_token_seconds_count",
      "gptcuda_inter_token_latency_seconds_count",
      "process_cpu_user_seconds_total",
      "nodejs_heap_size_used_bytes",
    ])
      expect(metricValue(text, name)).toBeGreaterThanOrEqual(0);
    expect(metricValue(text, "gptcuda_generation_tokens_total")).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, "gptcuda_time_to_first_token_seconds_count")).toBeGreaterThanOrEqual(1);
  });

  it("gptcuda_requests_total counts every answer once, by route and status", async () => {
    const count = async (labels: string) => {
      const text = await t.server.metrics();
      return text.includes(`gptcuda_requests_total{${labels}} `) ? metricValue(text, `gptcuda_requests_total{${labels}}`) : 0;
    };
    const ok = 'endpoint="/v1/completions",status="200"';
    const bad = 'endpoint="/v1/completions",status="400"';
    const lost = 'endpoint="unmatched",status="404"';
    const before = [await count(ok), await count(bad), await count(lost)];
    await t.post("/v1/completions", { prompt: "x", max_tokens: 1 });
    await t.post("/v1/completions", { prompt: "x", max_tokens: 1, stream: true });
    await t.post("/v1/completions", { prompt: "x", n: 0 });
    await t.post("/v1/completions", "{");
    await t.post("/v1/nothing", {});
    expect([await count(ok), await count(bad), await count(lost)]).toEqual([before[0]! + 2, before[1]! + 2, before[2]! + 1]);
  });

  it("/health is 503 while the model loads, and generation routes too; 200 once loaded", async () => {
    let resolve!: (gpt: Gpt) => void;
    const loading = new Promise<Gpt>((r) => (resolve = r));
    const server = await serve(loading, { port: 0, logLevel: false, modelId: "later" });
    const gpt = await Gpt.load(dirs[0]!, { device: "cpu" });
    try {
      const early = await fetch(`${server.url}/health`);
      expect(early.status).toBe(503);
      expect(await early.json()).toEqual({ status: "loading" });
      const gen = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"prompt":"x"}' });
      expect(gen.status).toBe(503);
      resolve(gpt);
      await eventually(async () => (await fetch(`${server.url}/health`)).status === 200, "the server to be ready");
    } finally {
      await server.close(0);
      gpt.dispose();
    }
  });
});

describe("a client that disconnects", () => {
  let slow: TestServer;
  beforeAll(async () => {
    const dir = await slowChatModel(TEMPLATE);
    dirs.push(dir);
    // Room for one request of n: 2 and no queue: a slot that did not come back shows as a 429.
    slow = await startTestServer(dir, { threads: 1, maxSequences: 2 }, { maxQueue: 0 });
  });
  afterAll(async () => {
    await slow.close();
  });

  /** Sends `body`, then destroys the connection after `after` (stream: once the first bytes arrive). */
  function abandon(body: object, stream: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(`${slow.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (e) => (req.destroyed ? resolve() : reject(e)));
      req.end(JSON.stringify({ ...body, stream }));
      if (!stream) {
        // Not streamed: nothing comes back until the end, so leave once the sequence runs.
        void eventually(() => slow.gpt.sequences.running > 0, "the sequence to run").then(() => {
          req.destroy();
          resolve();
        }, reject);
      }
    });
  }

  for (const stream of [true, false]) {
    it(`${stream ? "mid-stream" : "while a whole answer is made"}: its sequences end within a step, the metrics show them gone`, async () => {
      await abandon({ prompt: "Tell me a story", max_tokens: 900, ignore_eos: true, n: 2 }, stream);
      await eventually(() => slow.gpt.sequences.running === 0 && slow.gpt.kvCacheUsage.usedBlocks === 0, "the sequences to leave", 5000);
      const metrics = await slow.server.metrics();
      expect(metricValue(metrics, "gptcuda_requests_running")).toBe(0);
      expect(metricValue(metrics, "gptcuda_requests_waiting")).toBe(0);
      expect(metricValue(metrics, "gptcuda_kv_cache_usage_ratio")).toBe(0);
      // Far fewer than the 1800 tokens asked for were made.
      expect(metricValue(metrics, "gptcuda_generation_tokens_total")).toBeLessThan(900);
      // Its admission came back: a request as large is taken.
      const next = await slow.post("/v1/completions", { prompt: "x", max_tokens: 2, n: 2 });
      expect(next.status).toBe(200);
    });
  }
});
