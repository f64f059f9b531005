/**
 * `gpt-cuda serve` as a process: it answers the OpenAI API, logs one JSON line per request, and
 * on SIGTERM stops taking requests, lets those in flight finish (or cuts them at
 * --drain-timeout) and exits 0.
 */
import { rm } from "node:fs/promises";
import { request } from "node:http";

import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { slowChatModel } from "./helpers/model-edits.js";
import { startServeProcess } from "./helpers/serve-process.js";
import { eventually, metricValue } from "./helpers/test-server.js";

const TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:";
let slow: string;
beforeAll(async () => {
  slow = await slowChatModel(TEMPLATE);
});
afterAll(async () => {
  await rm(slow, { recursive: true, force: true });
});

const client = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });

describe("gpt-cuda serve", () => {
  it("without --model serves the bundled demo model as \"default\", both endpoints", async () => {
    const p = await startServeProcess(["--port", "0"]);
    try {
      const c = client(p.url);
      expect((await c.models.list()).data.map((m) => m.id)).toEqual(["default"]);
      const completion = await c.completions.create({ model: "default", prompt: "The old man", max_tokens: 8 });
      expect(completion.usage!.completion_tokens).toBe(8);
      const chat = await c.chat.completions.create({ model: "default", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
      expect(chat.choices[0]!.message.role).toBe("assistant");
    } finally {
      p.child.kill("SIGTERM");
      expect((await p.exited).code).toBe(0);
    }
    // One JSON line per request on stdout: method, route, status, tokens, ms.
    const lines = p.stdout().trim().split("\n").map((l) => JSON.parse(l));
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests.map((l) => [l.method, l.route, l.status])).toEqual([
      ["GET", "/v1/models", 200],
      ["POST", "/v1/completions", 200],
      ["POST", "/v1/chat/completions", 200],
    ]);
    expect(requests[1]).toMatchObject({ promptTokens: 3, completionTokens: 8 });
    expect(typeof requests[1].ms).toBe("number");
  });

  it("SIGTERM mid-request: new connections are refused, the requests in flight finish whole, exit 0", async () => {
    const p = await startServeProcess(["--model", slow, "--port", "0", "--threads", "1", "--log-level", "silent"]);
    const c = client(p.url);
    const stream = await c.completions.create({ model: "x", prompt: "Once", max_tokens: 200, stream: true }).catch((e) => e);
    // The served name is the directory's: "x" is unknown.
    expect(stream).toBeInstanceOf(OpenAI.NotFoundError);
    const model = (await c.models.list()).data[0]!.id;
    // ignore_eos: a random model may end its text early, and these must run 200 tokens.
    const long = { model, max_tokens: 200, ignore_eos: true } as { model: string; max_tokens: number };
    const streamed = await c.completions.create({ ...long, prompt: "Once", stream: true });
    const whole = c.completions.create({ ...long, prompt: "Upon" });
    // Both are in flight (the server has them) before the signal.
    await eventually(async () => {
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      return metricValue(metrics, "gptcuda_requests_running") + metricValue(metrics, "gptcuda_requests_waiting") === 2;
    }, "both requests to be in flight");
    p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${p.url}/health`)).rejects.toThrow(); // no longer listening
    let text = "";
    let finish: string | null = null;
    for await (const chunk of streamed) {
      text += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason;
    }
    expect(finish).toBe("length");
    expect((await whole).usage!.completion_tokens).toBe(200);
    expect(text.length).toBeGreaterThan(0);
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toContain("SIGTERM: draining (at most 30 s)");
    expect(p.stderr()).toMatch(/stopped\n$/);
  }, 60_000);

  it("--drain-timeout cuts requests still running (here on SIGINT, Ctrl-C's): the stream gets an error event, exit 0", async () => {
    const p = await startServeProcess(["--model", slow, "--port", "0", "--threads", "1", "--drain-timeout", "0.3", "--log-level", "silent"]);
    const res = await fetch(`${p.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Once", max_tokens: 1000, ignore_eos: true, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    const t0 = performance.now();
    p.child.kill("SIGINT");
    let body = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(body).toContain('"error":{"message":"the server is shutting down"');
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(p.stderr()).toContain("SIGINT: draining (at most 0.3 s)");
  }, 60_000);

  it("a client that stops reading does not hold the drain open: the process exits after --drain-timeout", async () => {
    const p = await startServeProcess(["--model", slow, "--port", "0", "--threads", "1", "--drain-timeout", "0.3", "--log-level", "silent"]);
    const firstChunk = new Promise<void>((resolve, reject) => {
      const req = request(`${p.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        res.once("data", () => {
          res.pause(); // and never read again
          resolve();
        });
      });
      req.on("error", () => {}); // the server closes this connection in the end
      req.end(JSON.stringify({ prompt: "Once", max_tokens: 1000, ignore_eos: true, stream: true }));
      setTimeout(() => reject(new Error("no first chunk")), 20_000);
    });
    await firstChunk;
    const t0 = performance.now();
    p.child.kill("SIGTERM");
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - t0).toBeLessThan(5000);
  }, 60_000);
});
