/**
 * Worker threads that run a model and are stopped mid-generation — worker.terminate() from the
 * main thread, or process.exit() inside the worker while a step is in flight — do not take the
 * process down (issue 15, finding 1: node-addon-api aborted the process settling a promise on the
 * dying environment), and a model on the main thread still gives its greedy tokens. Each run is a
 * child process (tests/helpers/worker-terminations.ts), so an abort is seen as its exit status.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { describe, expect, it } from "vitest";

import { Gpt } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("./helpers/worker-terminations.ts", import.meta.url));
const MODEL = fixtureDir("tiny-f32");

describe("worker threads stopped mid-generation", () => {
  it("30 workers terminated or exiting at random points leave the process alive and its own model exact", async () => {
    const want = await (async () => {
      using gpt = await Gpt.load(MODEL, { threads: 1 });
      return (await gpt.generate("The meaning of", { maxTokens: 8, temperature: 0, ignoreEos: true })).tokens.join(",");
    })();
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", SCRIPT, MODEL, "30", "11"], {
      timeout: 150_000,
    }).catch((e: { code?: number; signal?: string; stdout?: string; stderr?: string }) => {
      throw new Error(`the process died (exit ${e.code}, signal ${e.signal}): ${e.stderr}`);
    });
    expect(stderr).not.toMatch(/terminate called|Aborted|worker \d+:/);
    expect(stdout.trim()).toBe(`alive ${want}`);
  }, 180_000);
});
