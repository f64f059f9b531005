/**
 * A checkpoint file that is not a regular file — a FIFO in particular, which blocks whoever opens
 * it until a writer comes — is refused at once with an error naming it (issue 15, finding 3: the
 * load hung for good, and each such load held a libuv pool thread, so four of them stopped every
 * later file operation of the process).
 */
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { GptLoadError } from "../lib/errors.js";
import { fixtureDir } from "./helpers/fixtures.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A copy of `fixture` whose `file` is a FIFO nobody writes. */
async function withFifo(fixture: "tiny-f32" | "gpt-neo-f16-bin", file: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-fifo-"));
  dirs.push(dir);
  await cp(fixtureDir(fixture), dir, { recursive: true });
  await rm(join(dir, file));
  execFileSync("mkfifo", [join(dir, file)]);
  return dir;
}

/** Gpt.load's outcome within `ms`: a hang shows as "hung", not as the test's own timeout. */
async function loadWithin(dir: string, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise((resolve) => (timer = setTimeout(() => resolve("hung"), ms)));
  try {
    return await Promise.race([Gpt.load(dir, { threads: 1 }).then((gpt) => (gpt.dispose(), "loaded"), (e: unknown) => e), hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe("checkpoint files that are FIFOs", () => {
  it.each([
    ["tiny-f32", "config.json", "E_CHECKPOINT"],
    ["tiny-f32", "model.safetensors", "E_CHECKPOINT"],
    ["tiny-f32", "tokenizer.json", "E_TOKENIZER"],
    ["tiny-f32", "tokenizer_config.json", "E_TOKENIZER"],
    ["gpt-neo-f16-bin", "pytorch_model.bin", "E_CHECKPOINT"],
    ["gpt-neo-f16-bin", "vocab.json", "E_TOKENIZER"],
  ] as const)("%s with %s a FIFO: %s naming it, at once", async (fixture, file, code) => {
    const dir = await withFifo(fixture, file);
    const outcome = await loadWithin(dir, 10_000);
    expect(outcome).toBeInstanceOf(GptLoadError);
    expect(outcome).toMatchObject({ code });
    expect((outcome as Error).message).toContain(join(dir, file));
    expect((outcome as Error).message).toContain("is not a regular file");
  });

  it("leaves the thread pool free: a load after six refused ones works", async () => {
    for (let i = 0; i < 6; i++) expect(await loadWithin(await withFifo("tiny-f32", "config.json"), 10_000)).toBeInstanceOf(GptLoadError);
    expect(await loadWithin(fixtureDir("tiny-f32"), 20_000)).toBe("loaded");
  });
});
