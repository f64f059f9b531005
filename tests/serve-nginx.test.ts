/**
 * Scale-out: examples/deploy/nginx.conf balancing two `gpt-cuda serve` replicas on loopback,
 * under a bounded load, with one replica sent SIGTERM part way: every request is answered in
 * full with no retry by the client, and the replica exits 0. Then one is killed (SIGKILL) part
 * way: only the streams it had begun are cut, everything else is answered in full by the other,
 * no client sees a 5xx, and the survivor holds nothing afterwards.
 * Needs nginx (Debian's package; .ci/run installs it): skipped, visibly, without.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { slowChatModel } from "./helpers/model-edits.js";
import { repoRoot } from "./helpers/run-cli.js";
import { startServeProcess, type ServeProcess } from "./helpers/serve-process.js";
import { eventually, metricValue } from "./helpers/test-server.js";

const haveNginx = spawnSync("nginx", ["-v"]).status === 0;
const REQUESTS = 48;
const CONCURRENCY = 8;
const TOKENS = 48;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(!haveNginx)("two replicas behind nginx (needs nginx)", () => {
  let model: string;
  let prefix: string;
  const replicas: ServeProcess[] = [];
  let nginx: ChildProcess | undefined;
  let nginxPort: number;

  beforeAll(async () => {
    model = await slowChatModel("{% for m in messages %}{{ m.content }}\n{% endfor %}");
    prefix = await mkdtemp(join(tmpdir(), "gpt-cuda-nginx-"));
    for (let i = 0; i < 2; i++)
      replicas.push(await startServeProcess(["--model", model, "--port", "0", "--threads", "1", "--log-level", "silent"]));
    nginxPort = await freePort();
    // The example as it is, pointed at this test's ports.
    const ports = replicas.map((r) => new URL(r.url).port);
    const conf = (await readFile(join(repoRoot, "examples/deploy/nginx.conf"), "utf8"))
      .replace("127.0.0.1:8081", `127.0.0.1:${ports[0]}`)
      .replace("127.0.0.1:8082", `127.0.0.1:${ports[1]}`)
      .replace("listen 127.0.0.1:8080", `listen 127.0.0.1:${nginxPort}`);
    await writeFile(join(prefix, "nginx.conf"), conf);
    nginx = spawn("nginx", ["-c", join(prefix, "nginx.conf"), "-p", prefix, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${nginxPort}/health`).catch(() => null))?.status === 200,
      "nginx to pass /health through",
    );
  }, 60_000);

  afterAll(async () => {
    nginx?.kill("SIGQUIT");
    for (const r of replicas) r.child.kill("SIGKILL");
    await rm(prefix, { recursive: true, force: true });
    await rm(model, { recursive: true, force: true });
  });

  /** A request of the load, as the official client without retries makes it: its completion tokens. */
  const one = async (client: OpenAI, id: string, i: number): Promise<number> => {
    const request = { model: id, prompt: `Request ${i}:`, max_tokens: TOKENS, ignore_eos: true, seed: i } as const;
    if (i % 2 === 0) {
      const r = await client.completions.create(request);
      return r.usage!.completion_tokens;
    }
    const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let tokens = 0;
    for await (const chunk of stream) if (chunk.usage) tokens = chunk.usage.completion_tokens;
    return tokens;
  };

  /** Runs the load CONCURRENCY at a time; `after(done)` is called as each request ends. */
  const load = async (after: (done: number) => void): Promise<PromiseSettledResult<number>[]> => {
    // No retries by the client: nginx alone must send what a replica refused elsewhere.
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${nginxPort}/v1`, apiKey: "unused", maxRetries: 0 });
    const id = (await client.models.list()).data[0]!.id;
    let next = 0;
    let done = 0;
    const results: PromiseSettledResult<number>[] = [];
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        [results[i]] = await Promise.allSettled([one(client, id, i)]);
        after(++done);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return results;
  };

  it(`${REQUESTS} requests, ${CONCURRENCY} at a time, SIGTERM to one replica part way: all answered`, async () => {
    const results = await load((done) => {
      if (done === REQUESTS / 4) replicas[0]!.child.kill("SIGTERM");
    });
    // Streamed: an answer that started on the draining replica is finished by it.
    expect(results).toEqual(Array.from({ length: REQUESTS }, () => ({ status: "fulfilled", value: TOKENS })));
    expect(await replicas[0]!.exited).toEqual({ code: 0, signal: null });
    expect(replicas[0]!.stderr()).toContain("SIGTERM: draining");
    // The other replica is still up and took the rest.
    expect((await fetch(`${replicas[1]!.url}/health`)).status).toBe(200);
  }, 120_000);

  it(`${REQUESTS} requests, SIGKILL to one replica part way: only streams it had begun are cut, no 5xx, the survivor holds nothing`, async () => {
    // The replica drained above comes back on its port.
    const port = new URL(replicas[0]!.url).port;
    replicas[0] = await startServeProcess(["--model", model, "--port", port, "--threads", "1", "--log-level", "silent"]);
    // nginx marked it failed when it stopped listening (max_fails=1) and sends it nothing for
    // fail_timeout (2 s): killing the other replica within that window would leave no live
    // upstream at all (502s), which is not what this checks. A fast restart waits it out.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    let killed: Promise<number> | undefined;
    const results = await load((done) => {
      if (done !== REQUESTS / 4) return;
      // What the replica had in flight when it died: the check below means nothing if it had none.
      killed = fetch(`${replicas[1]!.url}/metrics`)
        .then((r) => r.text())
        .then((text) => {
          replicas[1]!.child.kill("SIGKILL");
          return metricValue(text, "gptcuda_requests_running") + metricValue(text, "gptcuda_requests_waiting");
        });
    });
    expect(await killed, "requests in flight on the replica when it was killed").toBeGreaterThan(0);
    expect(await replicas[1]!.exited).toEqual({ code: null, signal: "SIGKILL" });
    const cut = results.flatMap((r, i) => (r.status === "rejected" ? [{ i, error: r.reason as Error & { status?: number } }] : []));
    // A request the dead replica had not begun to answer was sent on by nginx: answered in full.
    // One it was streaming cannot be: the client sees its stream end early, never a 5xx status.
    for (const { i, error } of cut) {
      expect(i % 2, `request ${i} (not streamed) failed: ${error.message}`).toBe(1);
      expect(error.status, `request ${i}: ${error.message}`).toBeUndefined();
    }
    expect(cut.length).toBeLessThanOrEqual(CONCURRENCY);
    console.log(`SIGKILL: ${await killed} requests in flight on the killed replica; ${cut.length} streams cut, ${REQUESTS - cut.length} answered in full`);
    for (const r of results) if (r.status === "fulfilled") expect(r.value).toBe(TOKENS);
    const metrics = await (await fetch(`${replicas[0]!.url}/metrics`)).text();
    for (const gauge of ["gptcuda_requests_running", "gptcuda_requests_waiting", "gptcuda_sequences_admitted", "gptcuda_kv_cache_usage_ratio"])
      expect(metricValue(metrics, gauge), gauge).toBe(0);
    expect((await fetch(`${replicas[0]!.url}/health`)).status).toBe(200);
  }, 120_000);
});
