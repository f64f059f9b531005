/**
 * npm run bench:serve — gpt-cuda serve under a bounded load on loopback, the way vLLM's
 * benchmark_serving measures a server: at each concurrency, a fixed number of streamed
 * completions (prompts of --prompt-tokens ids, distinct for every request of the run, --max-tokens new tokens each, greedy,
 * end of text ignored); requests/s, output tokens/s, time to first token and inter-token latency
 * (p50, p99). The server runs in its own process (bench/lib/serve-target.ts). With --peer <url>
 * (an OpenAI-compatible server already running, e.g. llama.cpp's llama-server on the same
 * weights) the same load goes to it too, level by level in turn, so both see the same minutes.
 * Results are saved under bench/results/ as <time>-serve.json.
 *
 *   npm run bench:serve -- [--preset gpt2 | --model <dir>] [--dtype float16] [--concurrency 1,8,32]
 *                          [--requests 1:8,8:32,32:64] [--max-tokens 64] [--prompt-tokens 32]
 *                          [--threads N] [--peer http://127.0.0.1:8091/v1 --peer-name llama-server]
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { Gpt, type WeightDtype } from "../lib/index.js";
import { runLoad, timeInProcess, timeOverHttp, type LoadResult } from "./lib/load.js";
import { formatTable, sig } from "./lib/table.js";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "gpt2" },
    model: { type: "string" },
    dtype: { type: "string", default: "float16" },
    concurrency: { type: "string", default: "1,8,32" },
    requests: { type: "string", default: "1:8,8:32,32:64" },
    "max-tokens": { type: "string", default: "64" },
    "prompt-tokens": { type: "string", default: "32" },
    threads: { type: "string" },
    peer: { type: "string" },
    "peer-name": { type: "string", default: "peer" },
    "peer-model": { type: "string", default: "peer" },
  },
});
const levels = values.concurrency.split(",").map(Number);
const requestsAt = new Map(values.requests.split(",").map((p) => p.split(":").map(Number) as [number, number]));
const maxTokens = Number(values["max-tokens"]);
const promptTokens = Number(values["prompt-tokens"]);
/**
 * Prompt i of the k-th load: distinct ids for every request of the run (so no server's prefix or
 * prompt cache sees a repeat, between levels or from an earlier run: llama-server keeps each
 * slot's last prompt), the same ids for every server at a level.
 */
const runSalt = Date.now() % 100_000;
const prompts = (k: number) => (i: number) =>
  Array.from({ length: promptTokens }, (_, j) => (runSalt * 31 + k * 104_729 + i * 7919 + j * 15_485_863 + 13) % 50_000);

async function startOurs(): Promise<{ url: string; stop: () => void }> {
  const args = ["--import", "tsx", fileURLToPath(new URL("./lib/serve-target.ts", import.meta.url)), "--dtype", values.dtype];
  args.push(...(values.model ? ["--model", values.model] : ["--preset", values.preset]));
  if (values.threads) args.push("--threads", values.threads);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("exit", (code) => reject(new Error(`the server exited (${code}) before it listened`)));
  });
  return { url: `${url}/v1`, stop: () => child.kill("SIGTERM") };
}

const ours = await startOurs();
const targets = [{ name: "gpt-cuda", baseUrl: ours.url, model: "bench" }];
if (values.peer) targets.push({ name: values["peer-name"], baseUrl: values.peer, model: values["peer-model"] });

const results: (LoadResult & { server: string })[] = [];
const requestsFor = (concurrency: number) => requestsAt.get(concurrency) ?? Math.max(8, 2 * concurrency);
try {
  for (const t of targets) await runLoad(1, 2, timeOverHttp({ ...t, prompt: prompts(0), maxTokens: 8 })); // warm up
  for (const [k, concurrency] of levels.entries()) {
    for (const t of targets) {
      process.stderr.write(`${t.name}: concurrency ${concurrency}, ${requestsFor(concurrency)} requests…\n`);
      const r = await runLoad(concurrency, requestsFor(concurrency), timeOverHttp({ ...t, prompt: prompts(k + 1), maxTokens }));
      results.push({ server: t.name, ...r });
    }
  }
} finally {
  ours.stop();
}

// The same load on the library in this process, with no HTTP: what serving costs on top.
{
  const load = { device: "cpu" as const, dtype: values.dtype as WeightDtype, maxSequences: 32, ...(values.threads ? { threads: Number(values.threads) } : {}) };
  const gpt = values.model ? await Gpt.load(values.model, load) : await Gpt.random(values.preset as "gpt2", { ...load, seed: 1 });
  try {
    await runLoad(1, 2, timeInProcess(gpt, { prompt: prompts(0), maxTokens: 8 }));
    for (const [k, concurrency] of levels.entries()) {
      process.stderr.write(`in-process library: concurrency ${concurrency}…\n`);
      const r = await runLoad(concurrency, requestsFor(concurrency), timeInProcess(gpt, { prompt: prompts(k + 1), maxTokens }));
      results.push({ server: "library, in-process", ...r });
    }
  } finally {
    gpt.dispose();
  }
}

const ms = (x: number) => `${sig(x)} ms`;
const rows = results.map((r) => [
  r.server,
  String(r.concurrency),
  String(r.requests - r.failed) + (r.failed ? ` (${r.failed} failed)` : ""),
  sig(r.requestsPerSecond),
  sig(r.outputTokensPerSecond),
  ms(r.ttft.p50),
  ms(r.ttft.p99),
  ms(r.itl.p50),
  ms(r.itl.p99),
]);
const title =
  `bench:serve — ${values.model ?? `random ${values.preset}`} ${values.dtype}, ${promptTokens}-token prompts, ` +
  `${maxTokens} new tokens each, streamed; ${cpus()[0]?.model ?? "?"} × ${cpus().length}`;
process.stdout.write(`${title}\n\n`);
process.stdout.write(
  `${formatTable(["server", "concurrency", "requests", "req/s", "output tok/s", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99"], rows)}\n`,
);

const dir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(dir, { recursive: true });
const file = join(dir, `${new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}-serve.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      schema: "gpt-cuda-bench-serve/1",
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? null, cpus: cpus().length, node: process.version },
      model: values.model ?? `random:${values.preset}`,
      dtype: values.dtype,
      promptTokens,
      maxTokens,
      results,
    },
    null,
    2,
  )}\n`,
);
process.stdout.write(`\nsaved ${file}\n`);
