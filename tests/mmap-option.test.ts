/**
 * The mmap load option (issue 15, finding 2). A mapped checkpoint file that is truncated while the
 * model is loaded (`cp` over it truncates first) kills the process with SIGBUS on the next read
 * of a lost page, and one rewritten in place changes the weights under the model. With
 * mmap: false every weight is read into the model's own memory at load: the same logits as the
 * mapped model, and the files can then be cut short or rewritten with the model still exact.
 */
import { cp, mkdtemp, open, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function copyOf(fixture: Parameters<typeof fixtureDir>[0]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-mmap-"));
  dirs.push(dir);
  await cp(fixtureDir(fixture), dir, { recursive: true });
  return dir;
}

const PROMPT = [5, 17, 42, 7, 99, 3];

describe("Gpt.load with mmap: false", () => {
  // Weights used in place (tiny-f32), converted to another dtype, laid out anew from nn.Linear
  // (opt-f32), and read from a PyTorch .bin (gpt-neo-f16-bin): every path a tensor takes.
  it.each([
    ["tiny-f32", "model.safetensors", undefined],
    ["tiny-f32", "model.safetensors", "bfloat16"],
    ["opt-f32", "model.safetensors", undefined],
    ["gpt-neo-f16-bin", "pytorch_model.bin", undefined],
  ] as const)("%s (weights %s, dtype %s): the mapped model's logits, still after the file is cut short and rewritten", async (fixture, file, dtype) => {
    const dir = await copyOf(fixture);
    const options = { threads: 1, ...(dtype ? { dtype } : {}) } as const;
    const want = await (async () => {
      using mapped = await Gpt.load(dir, options);
      return { logits: await mapped.logits(PROMPT), bytes: mapped.weightBytes };
    })();
    using gpt = await Gpt.load(dir, { ...options, mmap: false });
    expect(gpt.weightBytes).toBe(want.bytes);
    expect(Array.from(await gpt.logits(PROMPT))).toEqual(Array.from(want.logits));

    // Rewritten in place: every byte after the first 4 KiB replaced.
    const weights = join(dir, file);
    const fh = await open(weights, "r+");
    const { size } = await fh.stat();
    await fh.write(Buffer.alloc(size - 4096, 0x7f), 0, size - 4096, 4096);
    await fh.close();
    expect(Array.from(await gpt.logits(PROMPT))).toEqual(Array.from(want.logits));
    // Cut short, as cp over it would: a mapped model would die of SIGBUS here.
    await truncate(weights, 0);
    expect(Array.from(await gpt.logits(PROMPT))).toEqual(Array.from(want.logits));
  });

  it("refuses a value that is not a boolean", async () => {
    await expect(Gpt.load(fixtureDir("tiny-f32"), { mmap: "no" as never })).rejects.toMatchObject({
      code: "E_INVALID_ARGUMENT",
      message: expect.stringContaining('mmap must be true or false, got "no"'),
    });
  });
});
