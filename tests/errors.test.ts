// Bad input through the public API: each error is typed and names the value or limit at fault.
import { execFileSync } from "node:child_process";
import { copyFile, mkdtemp, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { supportsKernels } from "../lib/device.js";
import { Gpt, GptError, GptInputError, GptLoadError } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";

let gpt: Gpt;
beforeAll(async () => {
  gpt = await Gpt.load(fixtureDir("tiny-f32"));
});
afterAll(() => gpt.dispose());

async function thrown(fn: () => Promise<unknown>): Promise<GptError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GptError);
    return e as GptError;
  }
  throw new Error("expected an error");
}

describe("errors: context and token ids", () => {
  it("refuses a prompt plus maxTokens beyond n_positions, naming both numbers", async () => {
    const e = await thrown(() => gpt.generate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { maxTokens: 60 }));
    expect(e.code).toBe("E_CONTEXT_OVERFLOW");
    expect(e.message).toMatch(/10 tokens plus maxTokens 60 exceed the model's 64 positions/);
  });

  it("refuses logits for more tokens than n_positions", async () => {
    const e = await thrown(() => gpt.logits(Array.from({ length: 65 }, (_, i) => i)));
    expect(e.code).toBe("E_CONTEXT_OVERFLOW");
    expect(e.message).toMatch(/65 tokens exceed the model's 64 positions/);
  });

  it("refuses token ids outside the vocabulary, naming the id and the range", async () => {
    for (const bad of [1024, -1, 2.5, Number.NaN]) {
      const e = await thrown(() => gpt.generate([1, bad, 3], { maxTokens: 2 }));
      expect(e).toBeInstanceOf(GptInputError);
      expect(e.message).toContain(`prompt[1] = ${bad}`);
      expect(e.message).toContain("0 to 1023");
    }
    const e = await thrown(() => gpt.logits([5, 9999]));
    expect(e.message).toContain("logits[1] = 9999");
    await expect(gpt.logits([])).rejects.toThrow(/at least one token/);
  });
});

describe("errors: options", () => {
  const cases: [string, object, RegExp][] = [
    ["a negative temperature", { temperature: -1 }, /temperature must be a number in \[0, 100\], got -1/],
    ["maxTokens 0", { maxTokens: 0 }, /maxTokens must be an integer .* got 0/],
    ["a fractional topK", { topK: 1.5 }, /topK must be an integer .* got 1.5/],
    ["topP 0", { topP: 0 }, /topP must be a number .* got 0/],
    ["an empty stop string", { stop: [""] }, /stop must be a non-empty string/],
    ["a seed that is not an integer", { seed: "x" }, /seed must be an integer .* got "x"/],
    ["an unknown option", { max_tokens: 5 }, /unknown option "max_tokens"/],
    ["a signal that is not an AbortSignal", { signal: {} }, /signal must be an AbortSignal/],
  ];
  for (const [what, opts, message] of cases)
    it(`rejects ${what}`, async () => {
      const e = await thrown(() => gpt.generate("Hi", opts as never));
      expect(e.code).toBe("E_INVALID_ARGUMENT");
      expect(e.message).toMatch(message);
    });

  it("rejects bad load options before touching the disk", async () => {
    await expect(Gpt.load(fixtureDir("tiny-f32"), { device: "tpu" as never })).rejects.toThrow(
      /device must be one of auto, cpu, cuda, got "tpu"/,
    );
    await expect(Gpt.load(fixtureDir("tiny-f32"), { dtype: "int4" as never })).rejects.toThrow(/dtype must be one of float32, float16, bfloat16, int8, got "int4"/);
    await expect(Gpt.load(fixtureDir("tiny-f32"), { threads: 0 })).rejects.toThrow(/threads must be an integer/);
    await expect(Gpt.load("")).rejects.toThrow(/needs a checkpoint path/);
    // The batched engine's sizes: maxBatchTokens must hold every running sequence's decode row.
    await expect(Gpt.load(fixtureDir("tiny-f32"), { maxSequences: 0 })).rejects.toThrow(/maxSequences must be an integer in \[1, 4096\], got 0/);
    await expect(Gpt.load(fixtureDir("tiny-f32"), { maxSequences: 8, maxBatchTokens: 4 })).rejects.toThrow(
      /maxBatchTokens must be an integer in \[8, 65535\], got 4/,
    );
    await expect(Gpt.load(fixtureDir("tiny-f32"), { kvCacheTokens: 1.5 })).rejects.toThrow(/kvCacheTokens must be an integer/);
    await expect(Gpt.load(fixtureDir("tiny-f32"), { maxBatchTokens: 70_000 })).rejects.toThrow(/65535/);
  });

  it.skipIf(process.platform !== "linux")("a KV cache the machine cannot reserve is E_DEVICE, naming kvCacheTokens", () => {
    // Under a 40 GB address-space limit, a cache of 2^26 tokens (256 GiB for the demo model) does not fit.
    const script = `import { Gpt } from ${JSON.stringify(fileURLToPath(new URL("../lib/index.ts", import.meta.url)))};
      try { await Gpt.load(undefined, { device: "cpu", kvCacheTokens: 2 ** 26 }); console.log("LOADED"); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const out = execFileSync("bash", ["-c", `ulimit -v 40000000 && "${process.execPath}" --import tsx --input-type=module -e "$0"`, script], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("..", import.meta.url)),
    });
    const r = JSON.parse(out.trim().split("\n").pop()!) as { code: string; message: string };
    expect(r.code).toBe("E_DEVICE");
    expect(r.message).toMatch(/cannot reserve 262144 MiB of address space for the KV cache \(67108864 tokens\).*kvCacheTokens 67108864/);
  });

  it.skipIf(Gpt.devices().length > 0)("says clearly why device cuda is not available here", async () => {
    const e = await thrown(() => Gpt.load(fixtureDir("tiny-f32"), { device: "cuda" }));
    expect(e.code).toBe("E_DEVICE");
    expect(e.message).toMatch(
      Gpt.buildInfo().cuda ? /no CUDA device is visible \(no NVIDIA driver or GPU/ : /built without the CUDA backend/,
    );
  });

  it("takes GPUs of compute capability 8.0 and newer (the oldest code in the binary is sm_80)", () => {
    for (const cc of ["8.0", "8.6", "8.9", "9.0", "10.0", "12.0"]) expect(supportsKernels(cc), cc).toBe(true);
    for (const cc of ["7.5", "7.0", "6.1", "", "x"]) expect(supportsKernels(cc), cc).toBe(false);
  });

  it.skipIf(Gpt.buildInfo().cuda && Gpt.devices().length > 0)("falls back to the CPU for device auto when no GPU is visible", async () => {
    const g = await Gpt.load(fixtureDir("tiny-f32"), { device: "auto" });
    expect(g.device).toBe("cpu");
    g.dispose();
  });
});

describe("errors: files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gpt-cuda-errors-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("names a checkpoint directory that does not exist", async () => {
    const e = await thrown(() => Gpt.load(join(dir, "nowhere")));
    expect(e).toBeInstanceOf(GptLoadError);
    expect(e.message).toContain(join(dir, "nowhere"));
  });

  it("names the safetensors file when its data is cut short", async () => {
    const src = fixtureDir("tiny-f32");
    for (const f of ["config.json", "tokenizer.json", "model.safetensors"]) await copyFile(join(src, f), join(dir, f));
    await truncate(join(dir, "model.safetensors"), 100_000);
    const e = await thrown(() => Gpt.load(dir));
    expect(e.code).toBe("E_CHECKPOINT");
    expect(e.message).toContain(join(dir, "model.safetensors"));
  });
});

describe("errors: after dispose", () => {
  it("every call throws E_DISPOSED, and dispose twice is harmless", async () => {
    const g = await Gpt.load(fixtureDir("tiny-f32"));
    g.dispose();
    g.dispose();
    for (const call of [
      () => g.generate("x"),
      () => g.generate(["x", "y"]),
      () => g.logits([1]),
      async () => g.weightBytes,
      async () => g.kvCacheUsage,
      async () => g.stream("x"),
    ]) {
      const e = await thrown(call);
      expect(e.code).toBe("E_DISPOSED");
      expect(e.message).toMatch(/disposed/);
    }
  });

  it("a dispose during generation lets the running step finish, then the next step fails cleanly", async () => {
    const g = await Gpt.load(fixtureDir("tiny-f32"));
    const chunks: number[] = [];
    const run = (async () => {
      for await (const { token } of g.stream("Hello", { maxTokens: 40, temperature: 0 })) {
        chunks.push(token);
        if (chunks.length === 2) g.dispose();
      }
    })();
    await expect(run).rejects.toMatchObject({ code: "E_DISPOSED", message: expect.stringMatching(/disposed/) });
    expect(chunks).toHaveLength(2);
  });
});
