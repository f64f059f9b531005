// The gpt-cuda command line end to end, run as a child process from source.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { fixtureDir, reference } from "./helpers/fixtures.js";
import { eosModel } from "./helpers/model-edits.js";
import { runCli } from "./helpers/run-cli.js";

const TINY = "tests/fixtures/models/tiny-f32";
let cache: string;
// Keep the CLI away from the user's real cache.
const env = () => ({ GPT_CUDA_CACHE: cache });
const cli = (args: string[], input?: string) => runCli(args, { env: env(), ...(input !== undefined ? { input } : {}) });

beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), "gpt-cuda-cli-"));
});
afterAll(async () => {
  await rm(cache, { recursive: true, force: true });
});

/** One line on stderr, "gpt-cuda: …". */
function expectOneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^gpt-cuda: /);
  return lines[0]!;
}

describe("cli generate", () => {
  it("prints the greedy continuation of a prompt given as an argument", async () => {
    const ref = reference("tiny-f32");
    const out = await cli(["generate", "--model", TINY, "--temperature", "0", "--max-tokens", "8", ref.prompt_text]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout.length).toBeGreaterThan(1);
    expect(out.stdout.endsWith("\n")).toBe(true);
    // The same text as the JSON result's, which holds the reference's greedy tokens.
    const json = await cli(["generate", "--model", TINY, "-t", "0", "-n", "8", "--json", ref.prompt_text]);
    expect(out.stdout).toBe(`${JSON.parse(json.stdout).text}\n`);
  });

  it("reads the prompt from stdin when none is given", async () => {
    const ref = reference("tiny-f32");
    const args = ["generate", "--model", TINY, "--temperature", "0", "--max-tokens", "8"];
    const fromArg = await cli([...args, ref.prompt_text]);
    const fromStdin = await cli(args, `${ref.prompt_text}\n`);
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toBe(fromArg.stdout);
  });

  it("--json prints the GenerateResult with the reference's greedy tokens", async () => {
    const ref = reference("tiny-f32");
    const out = await cli(["generate", "--model", TINY, "-t", "0", "-n", "8", "--json", ref.prompt_text]);
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result.tokens).toEqual(ref.greedy.tokens.slice(0, 8));
    expect(result.finishReason).toBe("length");
    expect(result.usage).toEqual({ promptTokens: ref.prompt_ids.length, completionTokens: 8, cachedTokens: 0 });
    expect(typeof result.text).toBe("string");
    expect(result.timings.prefillMs).toBeGreaterThanOrEqual(0);
  });

  it("--no-mmap loads the weights into memory and gives the same greedy tokens", async () => {
    const ref = reference("tiny-f32");
    const out = await cli(["generate", "--model", TINY, "--no-mmap", "-v", "-t", "0", "-n", "8", "--json", ref.prompt_text]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).tokens).toEqual(ref.greedy.tokens.slice(0, 8));
    expect(out.stderr).toMatch(/^loaded .* on cpu, weights read into memory$/m);
  });

  it("the same --seed gives the same sampled text, and --stop ends it", async () => {
    const args = ["generate", "-m", TINY, "-n", "12", "--temperature", "1.5", "--top-k", "40", "--top-p", "0.9", "--seed", "7", "--json", "Hello"];
    const a = JSON.parse((await cli(args)).stdout);
    const b = JSON.parse((await cli(args)).stdout);
    expect(a.tokens).toEqual(b.tokens);
    const greedy = JSON.parse((await cli(["generate", "-m", TINY, "-t", "0", "-n", "8", "--json", "Hello"])).stdout);
    const stop = greedy.text.trim().slice(0, 3);
    const stopped = JSON.parse(
      (await cli(["generate", "-m", TINY, "-t", "0", "-n", "8", "--json", "--stop", "zzzz", "--stop", stop, "Hello"])).stdout,
    );
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(greedy.text.slice(0, greedy.text.indexOf(stop)));
  });

  it("--verbose prints the load time and prefill/decode speeds to stderr", async () => {
    const out = await cli(["generate", "-m", TINY, "-t", "0", "-n", "4", "--verbose", "Hello"]);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/^loaded .*tiny-f32 in \d+ ms/m);
    expect(out.stderr).toMatch(/prefill: \d+ tokens in [\d.]+ ms \([\d.]+ tok\/s\), decode: 3 tokens/);
  });

  it.each([
    [["--temperature", "-1"], /--temperature.*'-1' is invalid/],
    [["--max-tokens", "abc"], /--max-tokens.*'abc' is invalid/],
    [["--top-p", "0"], /--top-p.*'0' is invalid/],
    [["--seed", "1.5"], /--seed.*'1.5' is invalid/],
    [["--device", "tpu"], /--device.*'tpu' is invalid/],
    [["--bogus"], /unknown option '--bogus'/],
    [["--max-tokens", "1000"], /exceed the model's 64 positions/],
  ])("a bad flag %j is a usage error: exit 2, one line", async (flags, message) => {
    const out = await cli(["generate", "-m", TINY, ...flags, "Hello"]);
    expect(out.code).toBe(2);
    expect(expectOneErrorLine(out.stderr)).toMatch(message);
    expect(out.stdout).toBe("");
  });

  it("without --model it generates with the bundled demo model", async () => {
    const out = await cli(["generate", "--max-tokens", "12", "--temperature", "0", "--json", "The old man said"]);
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout) as { text: string; tokens: number[] };
    expect(result.tokens.length).toBeGreaterThan(0);
    expect(result.text.length).toBeGreaterThan(0);
  });

  it("a missing model directory is a runtime error naming the path", async () => {
    const missing = join(cache, "no-such-model");
    const out = await cli(["generate", "--model", missing, "Hello"]);
    expect(out.code).toBe(1);
    expect(expectOneErrorLine(out.stderr)).toContain(missing);
  });

  it("a hub name that was never pulled says how to pull it", async () => {
    const out = await cli(["generate", "--model", "gpt2", "Hello"]);
    expect(out.code).toBe(1);
    expect(expectOneErrorLine(out.stderr)).toMatch(/gpt-cuda pull openai-community\/gpt2/);
  });

  it("--verbose adds the stack trace to an error", async () => {
    const out = await cli(["generate", "--model", join(cache, "nope"), "--verbose", "Hello"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/GptLoadError: .*nope/);
    expect(out.stderr).toMatch(/\n\s+at /);
  });

  it("Ctrl-C while waiting for the prompt exits 130", async () => {
    const out = await runCli(["generate", "-m", TINY, "--verbose"], {
      env: env(),
      keepStdinOpen: true,
      // Once the CLI waits on stdin (its SIGINT handler is installed by then), interrupt it.
      onSpawn: (child) =>
        child.stderr!.on("data", (s: Buffer) => {
          if (s.toString().includes("reading the prompt from stdin")) child.kill("SIGINT");
        }),
    });
    expect(out.signal).toBeNull();
    expect(out.code).toBe(130);
  });
});

describe("cli generate --ignore-eos, and errors as JSON with --json", () => {
  it("--ignore-eos runs past <|endoftext|> to exactly --max-tokens", async () => {
    const dir = await eosModel();
    try {
      const stops = JSON.parse((await cli(["generate", "-m", dir, "-t", "0", "-n", "5", "--json", "Hi"])).stdout);
      expect(stops.finishReason).toBe("eos");
      const runs = JSON.parse((await cli(["generate", "-m", dir, "-t", "0", "-n", "5", "--ignore-eos", "--json", "Hi"])).stdout);
      expect(runs.finishReason).toBe("length");
      expect(runs.tokens).toEqual([1023, 1023, 1023, 1023, 1023]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [["generate", "--json", "--model", "/nonexistent/model", "Hi"], 1, "E_CHECKPOINT", "/nonexistent/model"],
    [["generate", "--json", "-m", TINY, "-n", "1000", "Hi"], 2, "E_CONTEXT_OVERFLOW", "64 positions"],
    [["generate", "--json", "--max-tokens", "zero", "Hi"], 2, "E_USAGE", "--max-tokens"],
    [["info", "--json", "--model", "/nonexistent/model"], 1, "E_CHECKPOINT", "/nonexistent/model"],
  ])("%j: the error is JSON on stdout, exit %i", async (args, code, errorCode, text) => {
    const out = await cli(args as string[]);
    expect(out.code).toBe(code);
    expect(out.stderr).toBe("");
    const lines = out.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const body = JSON.parse(lines[0]!);
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error.code).toBe(errorCode);
    expect(body.error.message).toContain(text);
  });

  it("info --help describes --model as the checkpoint to summarise", async () => {
    const out = await cli(["info", "--help"]);
    expect(out.stdout).toContain("the checkpoint to summarise");
    expect(out.stdout).not.toContain("generate, chat, serve: default");
  });
});

describe("cli info", () => {
  it("--json reports the build, threads and node version", async () => {
    const out = await cli(["info", "--json"]);
    expect(out.code).toBe(0);
    const info = JSON.parse(out.stdout);
    expect(info.node).toBe(process.version);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.build.cuda).toBe("boolean");
    expect(typeof info.build.cpuIsa).toBe("string");
    expect(info.cache).toBe(cache);
    expect(info.model).toBeUndefined();
    expect(["cpu", "cuda"]).toContain(info.auto.device);
    if (info.gpus.length === 0) expect(info.auto.reason).toMatch(/no CUDA device is visible|built without CUDA/);
  });

  it("--model adds the checkpoint's config, dtypes, files and tokenizer", async () => {
    const out = await cli(["info", "--json", "--model", "tests/fixtures/models/tiny-f16-sharded"]);
    expect(out.code).toBe(0);
    const { model } = JSON.parse(out.stdout);
    expect(model.path).toBe(fixtureDir("tiny-f16-sharded"));
    expect(model.config).toMatchObject({ nLayer: 3, nHead: 2, nEmbd: 128, nCtx: 96, vocabSize: 1024 });
    expect(model.dtypes).toEqual({ F16: expect.any(Number) });
    expect(model.files.map((f: { name: string }) => f.name)).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
    ]);
    expect(model.tokenizer).toBe("vocab.json + merges.txt");
  });

  it("prints a readable summary without --json", async () => {
    const out = await cli(["info", "--model", TINY]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^gpt-cuda \d+\.\d+\.\d+/);
    expect(out.stdout).toMatch(/config\s+gpt2: 2 layers, 3 heads, 48 wide/);
    expect(out.stdout).toMatch(/tokenizer tokenizer\.json/);
    expect(out.stdout).toMatch(/^auto {6}(cpu|cuda) \(.+\)$/m);
  });
});

describe("cli usage", () => {
  it.each(["--help", "generate --help", "info --help", "pull --help", "bench --help"])(
    "%s prints help and exits 0",
    async (line) => {
      const args = line.split(" ");
      const out = await cli(args);
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/^Usage: gpt-cuda/);
    },
  );

  it("no command prints the help on stderr and exits 2", async () => {
    const out = await cli([]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^Usage: gpt-cuda/);
  });

  it("an unknown command is a usage error", async () => {
    const out = await cli(["frobnicate"]);
    expect(out.code).toBe(2);
    expect(expectOneErrorLine(out.stderr)).toMatch(/unknown command 'frobnicate'/);
  });
});
