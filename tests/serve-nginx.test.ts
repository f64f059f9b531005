/**
 * Scale-out: examples/deploy/nginx.conf balancing two `gpt-cuda serve` replicas on loopback,
 * under a bounded load, with one replica sent SIGTERM part way: every request is answered in
 * full with no retry by the client, and the replica exits 0.
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
import { eventually } from "./helpers/test-server.js";

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

  it(`${REQUESTS} requests, ${CONCURRENCY} at a time, SIGTERM to one replica part way: all answered`, async () => {
    // No retries by the client: nginx alone must send what the draining replica refused elsewhere.
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${nginxPort}/v1`, apiKey: "unused", maxRetries: 0 });
    const id = (await client.models.list()).data[0]!.id;
    let next = 0;
    let done = 0;
    const answered: number[] = [];
    const one = async (i: number) => {
      const request = { model: id, prompt: `Request ${i}:`, max_tokens: TOKENS, ignore_eos: true, seed: i } as const;
      if (i % 2 === 0) {
        const r = await client.completions.create(request);
        return r.usage!.completion_tokens;
      }
      // Streamed: an answer that started on one replica is finished by it while it drains.
      const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
      let tokens = 0;
      for await (const chunk of stream) if (chunk.usage) tokens = chunk.usage.completion_tokens;
      return tokens;
    };
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        answered[i] = await one(i);
        if (++done === REQUESTS / 4) replicas[0]!.child.kill("SIGTERM");
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(answered).toEqual(Array.from({ length: REQUESTS }, () => TOKENS));
    expect(await replicas[0]!.exited).toEqual({ code: 0, signal: null });
    expect(replicas[0]!.stderr()).toContain("SIGTERM: draining");
    // The other replica is still up and took the rest.
    expect((await fetch(`${replicas[1]!.url}/health`)).status).toBe(200);
  }, 120_000);
});
