/**
 * bench:serve's load generator on the tiny checkpoint: over HTTP against serve() and in-process
 * on the library, every request counted with its tokens and timings. Nothing here checks a speed.
 */
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runLoad, timeInProcess, timeOverHttp } from "../bench/lib/load.js";
import { Gpt } from "../lib/index.js";
import { serve, type GptServer } from "../lib/server/index.js";

const TINY = fileURLToPath(new URL("./fixtures/models/tiny-f32", import.meta.url));
const prompt = (i: number) => [i % 1000, (i * 7) % 1000, 5];

let gpt: Gpt;
let server: GptServer;
beforeAll(async () => {
  gpt = await Gpt.load(TINY, { device: "cpu" });
  server = await serve(gpt, { port: 0, logLevel: false, modelId: "tiny" });
});
afterAll(async () => {
  await server.close(0);
  gpt.dispose();
});

describe("bench:serve load generator", () => {
  it("over HTTP: every request, all its tokens, and timings that add up", async () => {
    const r = await runLoad(3, 7, timeOverHttp({ baseUrl: `${server.url}/v1`, model: "tiny", prompt, maxTokens: 9 }));
    expect(r).toMatchObject({ concurrency: 3, requests: 7, failed: 0, outputTokens: 63 });
    expect(r.outputTokensPerSecond).toBeCloseTo(63 / r.wallSeconds, 6);
    expect(r.ttft.p50).toBeGreaterThan(0);
    expect(r.ttft.p99).toBeGreaterThanOrEqual(r.ttft.p50);
    expect(r.itl.p50).toBeGreaterThan(0);
    expect(r.latency.p50).toBeGreaterThanOrEqual(r.ttft.p50);
  });

  it("a request the server refuses is counted as failed", async () => {
    const r = await runLoad(2, 4, timeOverHttp({ baseUrl: `${server.url}/v1`, model: "other", prompt, maxTokens: 2 }));
    expect(r).toMatchObject({ requests: 4, failed: 4, outputTokens: 0 });
  });

  it("in-process: the same counts from the library's streams", async () => {
    const r = await runLoad(2, 5, timeInProcess(gpt, { prompt, maxTokens: 4 }));
    expect(r).toMatchObject({ failed: 0, outputTokens: 20 });
  });
});
