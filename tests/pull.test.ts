// `gpt-cuda pull` against a fake Hugging Face Hub on 127.0.0.1 (tests/helpers/fake-hub.ts).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { parseRepoName } from "../lib/hub/cache.js";
import { Gpt, GptInputError, GptLoadError } from "../lib/index.js";
import { startFakeHub, fixtureFiles, type FakeHub, type FakeHubOptions } from "./helpers/fake-hub.js";
import { fixtureDir, reference } from "./helpers/fixtures.js";
import { runCli } from "./helpers/run-cli.js";

const REPO = "openai-community/gpt2";
const SHARDED = fixtureFiles(fixtureDir("tiny-f16-sharded"));
const SHARD1 = "model-00001-of-00003.safetensors";
const SHARD2 = "model-00002-of-00003.safetensors";

let cache: string;
let hub: FakeHub | undefined;

beforeEach(async () => {
  cache = await mkdtemp(join(tmpdir(), "gpt-cuda-pull-"));
});
afterEach(async () => {
  await hub?.close();
  hub = undefined;
  await rm(cache, { recursive: true, force: true });
});

async function serve(options: Partial<FakeHubOptions> = {}): Promise<FakeHub> {
  hub = await startFakeHub({ repo: REPO, files: SHARDED, ...options });
  return hub;
}

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { env: { HF_ENDPOINT: hub?.endpoint, GPT_CUDA_CACHE: cache, HF_TOKEN: undefined, ...env } });
}

const snapshot = () => join(cache, "openai-community", "gpt2", hub!.commit);

/** Weights, config, index and tokenizer files: what a pull must bring home. */
const CHECKPOINT_FILES = [
  "config.json",
  "generation_config.json",
  "merges.txt",
  "model-00001-of-00003.safetensors",
  "model-00002-of-00003.safetensors",
  "model-00003-of-00003.safetensors",
  "model.safetensors.index.json",
  "vocab.json",
];

async function expectSameFiles(dir: string): Promise<void> {
  expect((await readdir(dir)).sort()).toEqual(CHECKPOINT_FILES);
  for (const name of CHECKPOINT_FILES) expect((await readFile(join(dir, name))).equals(SHARDED[name]!)).toBe(true);
}

describe("pull", () => {
  it("downloads a sharded checkpoint into the cache, and generate runs it by name", async () => {
    const extra = { "flax_model.msgpack": Buffer.from("flax"), "onnx/model.onnx": Buffer.from("onnx"), "README.md": Buffer.from("# hi") };
    await serve({ files: { ...SHARDED, ...extra } });
    const out = await cli(["pull", REPO]);
    expect(out.stderr).toMatch(/pulled openai-community\/gpt2@0123456789ab \(8 files/);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(snapshot());
    await expectSameFiles(snapshot()); // and nothing else: no flax, onnx or README
    expect((await readFile(join(cache, "openai-community", "gpt2", "refs", "main"), "utf8")).trim()).toBe(hub!.commit);
    // Files come from the commit the revision pointed to.
    expect(hub!.requests.filter((r) => r.url.includes("/resolve/")).every((r) => r.url.includes(`/resolve/${hub!.commit}/`))).toBe(true);

    const ref = reference("tiny-f16-sharded");
    for (const name of [REPO, "gpt2", `${REPO}@main`, `${REPO}@${hub!.commit}`]) {
      const gen = await cli(["generate", "--model", name, "-t", "0", "-n", "6", "--json", ref.prompt_text]);
      expect(gen.stderr).toBe("");
      expect(gen.code).toBe(0);
      expect(JSON.parse(gen.stdout).tokens).toEqual(ref.greedy.tokens.slice(0, 6));
    }
    const info = JSON.parse((await cli(["info", "--json", "--model", "gpt2"])).stdout);
    expect(info.model.hub).toEqual({ repo: REPO, revision: "main", commit: hub!.commit });
  });

  it("Gpt.load finds a pulled model by the same names, and says how to pull one that is not", async () => {
    await serve();
    expect((await cli(["pull", REPO])).code).toBe(0);
    const saved = process.env.GPT_CUDA_CACHE;
    process.env.GPT_CUDA_CACHE = cache;
    try {
      const ref = reference("tiny-f16-sharded");
      for (const name of ["gpt2", REPO, `${REPO}@main`]) {
        using gpt = await Gpt.load(name, { device: "cpu" });
        expect(gpt.path).toBe(snapshot());
        expect((await gpt.generate(ref.greedy.prompt_ids, { temperature: 0, maxTokens: 4 })).tokens).toEqual(
          ref.greedy.tokens.slice(0, 4),
        );
      }
      const missing = await Gpt.load("gpt2-medium").catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(GptLoadError);
      expect(missing).toMatchObject({ code: "E_CHECKPOINT", file: "gpt2-medium" });
      expect((missing as Error).message).toContain("neither a path nor a pulled model");
      expect((missing as Error).message).toContain("`gpt-cuda pull openai-community/gpt2-medium`");
      const other = await Gpt.load(`${REPO}@v9`).catch((e: unknown) => e);
      expect((other as Error).message).toContain("pulled revisions: main");
    } finally {
      if (saved === undefined) delete process.env.GPT_CUDA_CACHE;
      else process.env.GPT_CUDA_CACHE = saved;
    }
  });

  it("Gpt.pull in-process: progress events per file, the snapshot it resolves to, an abort that the next pull resumes", async () => {
    await serve();
    const env = { ...process.env, HF_ENDPOINT: hub!.endpoint, GPT_CUDA_CACHE: cache, HF_TOKEN: undefined };
    // Stopped once the second shard has begun: the files before it stay, and no ref is written.
    const controller = new AbortController();
    const seen: { file: string; bytes: number; totalBytes: number | null }[] = [];
    const stopped = await Gpt.pull(REPO, {
      env,
      signal: controller.signal,
      onProgress: (e) => {
        seen.push(e);
        if (e.file === SHARD2) controller.abort(new Error("enough"));
      },
    }).catch((e: unknown) => e);
    expect((stopped as Error).message).toBe("enough");
    expect(existsSync(join(cache, "openai-community", "gpt2", "refs", "main"))).toBe(false);
    expect(seen.some((e) => e.file === SHARD1 && e.bytes === SHARDED[SHARD1]!.length)).toBe(true);

    const events: { file: string; bytes: number; totalBytes: number | null }[] = [];
    const result = await Gpt.pull(REPO, { env, onProgress: (e) => events.push(e) });
    expect(result).toMatchObject({ repo: REPO, revision: "main", commit: hub!.commit, dir: snapshot() });
    expect(result.files.sort()).toEqual(CHECKPOINT_FILES);
    await expectSameFiles(snapshot());
    // Per file, bytes only grow, and end at its size.
    for (const name of [SHARD1, SHARD2, "model-00003-of-00003.safetensors"]) {
      const mine = events.filter((e) => e.file === name);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((e) => e.totalBytes === SHARDED[name]!.length)).toBe(true);
      expect(mine.at(-1)!.bytes).toBe(SHARDED[name]!.length);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.bytes).toBeGreaterThanOrEqual(mine[i - 1]!.bytes);
    }
    // The first shard, complete before the abort, was not fetched again.
    expect(hub!.downloads(SHARD1)).toHaveLength(1);
    await expect(Gpt.pull("not a repo", { env })).rejects.toThrow(GptInputError);
  });

  it("pulling again fetches nothing new", async () => {
    await serve();
    expect((await cli(["pull", "gpt2"])).code).toBe(0);
    const before = hub!.requests.length;
    const again = await cli(["pull", "gpt2"]);
    expect(again.code).toBe(0);
    // Only the file list is asked for again.
    expect(hub!.requests.slice(before).map((r) => r.url)).toEqual([
      `/api/models/${REPO}/revision/main?blobs=true`,
    ]);
  });

  it("resumes an interrupted download with a Range request", async () => {
    const cutAt = 100_000;
    await serve({ cut: { file: SHARD1, bytes: cutAt } });
    const out = await cli(["pull", REPO]);
    expect(out.stderr).not.toMatch(/gpt-cuda: /);
    expect(out.code).toBe(0);
    const tries = hub!.downloads(SHARD1);
    expect(tries).toHaveLength(2);
    expect(tries[0]!.headers.range).toBeUndefined();
    const range = /^bytes=(\d+)-$/.exec(tries[1]!.headers.range ?? "");
    expect(range).not.toBeNull();
    expect(Number(range![1])).toBeGreaterThan(0);
    expect(Number(range![1])).toBeLessThanOrEqual(cutAt);
    await expectSameFiles(snapshot());
    expect(existsSync(join(snapshot(), `${SHARD1}.part`))).toBe(false);
  });

  it("resumes a .part left by an earlier run", async () => {
    await serve();
    await mkdir(snapshot(), { recursive: true });
    await writeFile(join(snapshot(), `${SHARD2}.part`), SHARDED[SHARD2]!.subarray(0, 12_345));
    const out = await cli(["pull", REPO]);
    expect(out.code).toBe(0);
    expect(hub!.downloads(SHARD2).map((r) => r.headers.range)).toEqual(["bytes=12345-"]);
    await expectSameFiles(snapshot());
  });

  it("a .part from an earlier run that fails the checksum is downloaded again from scratch", async () => {
    await serve();
    await mkdir(snapshot(), { recursive: true });
    const bad = Buffer.from(SHARDED[SHARD2]!.subarray(0, 5000));
    bad[10]! ^= 0xff;
    await writeFile(join(snapshot(), `${SHARD2}.part`), bad);
    const out = await cli(["pull", REPO]);
    expect(out.code).toBe(0);
    expect(hub!.downloads(SHARD2).map((r) => r.headers.range)).toEqual(["bytes=5000-", undefined]);
    await expectSameFiles(snapshot());
  });

  it.each([
    ["the sha256 of the file list (?blobs=true)", true],
    ["the sha256 in X-Linked-Etag", false],
  ])("a checksum mismatch against %s fails, leaving no file behind", async (_, blobs) => {
    await serve({ corrupt: [SHARD2], blobs });
    const out = await cli(["pull", REPO]);
    expect(out.code).toBe(1);
    const lines = out.stderr.split("\n").filter((l) => l.startsWith("gpt-cuda: "));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`${SHARD2}: checksum mismatch: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}`));
    expect(existsSync(join(snapshot(), SHARD2))).toBe(false);
    expect(existsSync(join(snapshot(), `${SHARD2}.part`))).toBe(false);
    // The half-pulled snapshot is not used by name.
    const gen = await cli(["generate", "--model", REPO, "Hello"]);
    expect(gen.code).toBe(1);
    expect(gen.stderr).toMatch(/gpt-cuda pull openai-community\/gpt2/);
  });

  it("a corrupt small file (git blob id) is caught too", async () => {
    await serve({ corrupt: ["config.json"] });
    const out = await cli(["pull", REPO]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/config\.json: checksum mismatch: expected git blob [0-9a-f]{40}/);
    expect(existsSync(join(snapshot(), "config.json"))).toBe(false);
  });

  it("sends HF_TOKEN as a Bearer token to the hub, and not to the storage host", async () => {
    await serve({ token: "hf_secret" });
    const denied = await cli(["pull", REPO]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/access denied \(HTTP 401\).*set HF_TOKEN/);

    const out = await cli(["pull", REPO], { HF_TOKEN: "hf_secret" });
    expect(out.code).toBe(0);
    const hubRequests = hub!.requests.filter((r) => r.server === "hub" && r.headers.authorization !== undefined);
    expect(hubRequests.length).toBeGreaterThan(0);
    expect(hubRequests.every((r) => r.headers.authorization === "Bearer hf_secret")).toBe(true);
    const cdn = hub!.requests.filter((r) => r.server === "cdn");
    expect(cdn.length).toBe(3);
    expect(cdn.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("--revision pulls that revision, and name@revision finds it", async () => {
    await serve();
    const out = await cli(["pull", REPO, "--revision", "v1.0"]);
    // The fake hub knows only main and the commit: v1.0 is not found.
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/not found/);
    const byCommit = await cli(["pull", REPO, "--revision", hub!.commit]);
    expect(byCommit.code).toBe(0);
    const gen = await cli(["generate", "-m", `${REPO}@${hub!.commit}`, "-t", "0", "-n", "2", "Hi"]);
    expect(gen.code).toBe(0);
    // main was never pulled: the plain name says which revisions there are.
    const plain = await cli(["generate", "-m", REPO, "Hi"]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(`pulled revisions: ${hub!.commit}`);
  });

  it("pulls a PyTorch .bin-only repo, sharded with its index, and the model loads from it", async () => {
    const files = fixtureFiles(fixtureDir("opt-bin-sharded"));
    await serve({ files });
    const out = await cli(["pull", REPO]);
    expect(out.stderr).toMatch(/pulled openai-community\/gpt2@0123456789ab/);
    expect(out.code).toBe(0);
    const pulled = (await readdir(snapshot())).sort();
    expect(pulled).toEqual(expect.arrayContaining(["pytorch_model.bin.index.json", "pytorch_model-00001-of-00003.bin", "pytorch_model-00003-of-00003.bin", "special_tokens_map.json"]));
    for (const name of pulled) expect((await readFile(join(snapshot(), name))).equals(files[name]!), name).toBe(true);
    const checkpoint = await loadCheckpoint(snapshot());
    expect(checkpoint.config.modelType).toBe("opt");
    expect(checkpoint.files.map((f) => basename(f))).toEqual(["pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin", "pytorch_model-00003-of-00003.bin"]);
  });

  it("knows the OPT, BLOOM and GPT-Neo releases by their short names", () => {
    expect(parseRepoName("opt-125m")?.id).toBe("facebook/opt-125m");
    expect(parseRepoName("bloom-560m")?.id).toBe("bigscience/bloom-560m");
    expect(parseRepoName("gpt-neo-125m")?.id).toBe("EleutherAI/gpt-neo-125m");
    expect(parseRepoName("smollm2-135m-instruct")?.id).toBe("HuggingFaceTB/SmolLM2-135M-Instruct");
    expect(parseRepoName("pythia-160m")?.id).toBe("EleutherAI/pythia-160m");
    expect(parseRepoName("tinyllama-1.1b-chat")?.id).toBe("TinyLlama/TinyLlama-1.1B-Chat-v1.0");
    expect(parseRepoName("qwen2.5-0.5b-instruct")?.id).toBe("Qwen/Qwen2.5-0.5B-Instruct");
    expect(parseRepoName("gpt-neo-1.3b")?.id).toBe("EleutherAI/gpt-neo-1.3B");
  });

  it("refuses a repo without config.json or without weights it reads", async () => {
    await serve({ files: { "config.json": SHARDED["config.json"]!, "flax_model.msgpack": Buffer.from("flax") } });
    const flax = await cli(["pull", REPO]);
    expect(flax.code).toBe(1);
    expect(flax.stderr.trim()).toMatch(/^gpt-cuda: .*has no weights gpt-cuda reads \(model\.safetensors, .*pytorch_model\.bin.*\); it has flax_model\.msgpack$/);
    await hub!.close();

    await serve({ files: { "model.safetensors": Buffer.from("x") } });
    const noConfig = await cli(["pull", REPO]);
    expect(noConfig.code).toBe(1);
    expect(noConfig.stderr).toMatch(/has no config\.json/);
  });

  it("refuses a model that is not GPT-2 before downloading its weights", async () => {
    const config = Buffer.from(JSON.stringify({ model_type: "llama", architectures: ["LlamaForCausalLM"] }));
    await serve({ files: { ...SHARDED, "config.json": config } });
    const out = await cli(["pull", REPO]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/is not a checkpoint gpt-cuda can run/);
    expect(hub!.downloads(SHARD1)).toHaveLength(0);
  });

  it("an unknown repo, a bad name and an unreachable hub are one-line errors", async () => {
    await serve();
    const missing = await cli(["pull", "someone/nothing"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^gpt-cuda: someone\/nothing at revision main: not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)\n$/);
    const bad = await cli(["pull", "../etc"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a Hugging Face repo/);
    const closed = hub!.endpoint;
    await hub!.close();
    hub = undefined;
    const down = await cli(["pull", REPO], { HF_ENDPOINT: closed });
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`gpt-cuda: cannot reach ${closed}: ECONNREFUSED (connect ECONNREFUSED ${closed.slice(7)})\n`);
  });
});
