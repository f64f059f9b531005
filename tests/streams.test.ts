/**
 * Streams and the lifecycle of calls in the batched engine: stream().result, readers that stop
 * or vanish (a paused stream holds no slot and no blocks; an abandoned one is cancelled), aborts
 * during a prompt's prefill and during decoding, dispose() with calls queued and running, a
 * failing engine step, and 200 calls at once. Every call must settle and every block return.
 */
import { rm } from "node:fs/promises";
import v8 from "node:v8";
import vm from "node:vm";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { Gpt, type StreamChunk } from "../lib/index.js";
import { nanModel } from "./helpers/model-edits.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Lets the engine run: a few turns of the event loop (each engine step is a libuv job). */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
};

/** Resolves once `ready()` holds, polling the event loop; rejects after `ms`. */
async function until(ready: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!ready()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await turns(1);
  }
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  await turns(2);
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled, "unhandled rejections").toEqual([]);
});

let gpt: Gpt;
beforeAll(async () => {
  gpt = await Gpt.load(undefined, { device: "cpu", maxSequences: 4, maxBatchTokens: 16 });
});
afterAll(() => gpt?.dispose());

describe("stream()", () => {
  it("is an async iterable with a result: finishReason, usage and timings, the chunks' text", async () => {
    const stream = gpt.stream("The old man said", { maxTokens: 12, temperature: 0 });
    const chunks: StreamChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const result = await stream.result;
    expect(result.finishReason).toBe("length");
    expect(result.text).toBe(chunks.map((c) => c.text).join(""));
    expect(result.tokens).toEqual(chunks.map((c) => c.token));
    expect(result.usage).toMatchObject({ completionTokens: 12 });
    expect(result.timings.decodeMs).toBeGreaterThan(0);
    const generated = await gpt.generate("The old man said", { maxTokens: 12, temperature: 0 });
    expect({ text: result.text, tokens: result.tokens }).toEqual({ text: generated.text, tokens: generated.tokens });
  });

  it("left early (break) resolves its result with finishReason abort and frees its blocks", async () => {
    const stream = gpt.stream("Once upon a time", { maxTokens: 100, temperature: 0.8, seed: 3 });
    let n = 0;
    for await (const _ of stream) if (++n === 5) break;
    const result = await stream.result;
    expect(result.finishReason).toBe("abort");
    expect(result.tokens).toHaveLength(5);
    await until(() => gpt.kvCacheUsage.usedBlocks === 0, "the blocks to come back");
  });

  it("return() and throw() cancel too", async () => {
    const a = gpt.stream("Hello", { maxTokens: 50 });
    await a.next();
    expect(await a.return()).toEqual({ value: undefined, done: true });
    expect((await a.result).finishReason).toBe("abort");
    const b = gpt.stream("Hello", { maxTokens: 50 });
    await b.next();
    await expect(b.throw(new Error("reader gave up"))).rejects.toThrow("reader gave up");
    expect((await b.result).finishReason).toBe("abort");
    expect((await a.next()).done).toBe(true); // a finished stream stays finished
  });

  it("queues next() calls made before the chunks come, as an async generator does", async () => {
    const stream = gpt.stream("Queued reads", { maxTokens: 5, temperature: 0, ignoreEos: true });
    const reads = await Promise.all(Array.from({ length: 7 }, () => stream.next()));
    expect(reads.map((r) => r.done)).toEqual([false, false, false, false, false, true, true]);
    expect(reads.slice(0, 5).map((r) => r.value!.token)).toEqual((await stream.result).tokens);
  });

  it("one AbortSignal shared by many calls: one listener, no leak warning, every call aborted", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const options = { maxTokens: 200, ignoreEos: true, signal: controller.signal };
      // Abort on the first chunk, not after a few turns: a stalled event loop let a timed abort
      // come after the first calls had all their 200 tokens (finishReason "length").
      const first = gpt.stream("Shared", options);
      const calls = [first.result, ...Array.from({ length: 29 }, (_, i) => gpt.generate(`Shared ${i}`, options))];
      await first.next();
      controller.abort();
      const results = await Promise.all(calls);
      expect(results.map((r) => r.finishReason)).toEqual(calls.map(() => "abort"));
      await turns(2);
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a reader that stops pauses its stream at 16 unread chunks; reading resumes it with the same tokens", async () => {
    const options = { maxTokens: 60, temperature: 0.9, seed: 21, ignoreEos: true };
    const want = (await gpt.generate("In the morning", options)).tokens;
    const stream = gpt.stream("In the morning", options);
    await until(() => gpt.kvCacheUsage.usedBlocks > 0, "the stream to start");
    // Unread, it runs until 16 chunks wait, then leaves the batch and holds no blocks.
    await until(() => gpt.kvCacheUsage.usedBlocks === 0, "the stream to pause");
    await turns(20);
    expect(gpt.kvCacheUsage.usedBlocks, "still paused").toBe(0);
    const got: number[] = [];
    for await (const { token } of stream) got.push(token);
    expect(got).toEqual(want);
    expect((await stream.result).finishReason).toBe("length");
  });
});

describe("abandoned streams never block other calls", () => {
  it("20 never-read streams (more than maxSequences), then a generate() that completes", async () => {
    const streams = Array.from({ length: 20 }, (_, i) => gpt.stream(`Stream number ${i}`, { maxTokens: 200, ignoreEos: true }));
    const out = await gpt.generate("The old man said", { maxTokens: 8, temperature: 0 });
    expect(out.finishReason).toBe("length");
    // Each paused after 16 chunks; all are still there to be read (or cancelled).
    const first = await streams[0]!.next();
    expect(first.done).toBe(false);
    for (const s of streams) await s.return();
    await until(() => gpt.kvCacheUsage.usedBlocks === 0, "the blocks to come back");
  });

  it("streams read halfway and dropped pause, and a later call still runs", async () => {
    const streams = Array.from({ length: 6 }, () => gpt.stream("Half read", { maxTokens: 200, ignoreEos: true }));
    for (const s of streams) for (let i = 0; i < 5; i++) await s.next();
    expect((await gpt.generate("Still served", { maxTokens: 6 })).tokens.length).toBeGreaterThan(0);
    for (const s of streams) await s.return();
  });

  it("a stream that is garbage-collected is cancelled: its result resolves abort and its blocks return", async () => {
    // Only the results are kept: the streams themselves become garbage at once.
    const results = (() => {
      const out = [];
      for (let i = 0; i < 5; i++) out.push(gpt.stream(`Forgotten ${i}`, { maxTokens: 200, ignoreEos: true }).result);
      return out;
    })();
    let settled = 0;
    for (const r of results) void r.then(() => settled++);
    await turns(5);
    for (let i = 0; i < 50 && settled < results.length; i++) {
      gc(); // the registry's callbacks run in a later task
      await turns(2);
    }
    for (const r of await Promise.all(results)) expect(r.finishReason).toBe("abort");
    await until(() => gpt.kvCacheUsage.usedBlocks === 0, "the blocks to come back");
  });
});

describe("abort", () => {
  it("during a long prompt's prefill stops between chunks: no token, the rest of the prompt never computed", async () => {
    const model = await Gpt.load(undefined, { device: "cpu", maxBatchTokens: 16 });
    try {
      const prompt = Array.from({ length: 250 }, (_, i) => (i * 7919) % 50000);
      const controller = new AbortController();
      const pending = model.generate(prompt, { maxTokens: 5, signal: controller.signal });
      await until(() => model.kvCacheUsage.usedBlocks > 0, "the prefill to start");
      controller.abort();
      const out = await pending;
      expect(out).toMatchObject({ finishReason: "abort", tokens: [] });
      await until(() => model.kvCacheUsage.usedBlocks === 0, "the blocks to come back");
      // The computed blocks stay as cache: fewer than the prompt's 15 full ones.
      expect(model.kvCacheUsage.cachedBlocks).toBeLessThan(15);
      // The model is usable at once.
      expect((await model.generate("After the abort", { maxTokens: 3 })).tokens).toHaveLength(3);
    } finally {
      model.dispose();
    }
  });

  it("during decoding resolves with the tokens so far", async () => {
    const controller = new AbortController();
    const stream = gpt.stream("Hello", { maxTokens: 50, signal: controller.signal, ignoreEos: true });
    const seen: number[] = [];
    for await (const { token } of stream) {
      seen.push(token);
      if (seen.length === 3) controller.abort();
    }
    expect(seen).toHaveLength(3);
    expect(await stream.result).toMatchObject({ finishReason: "abort", tokens: seen });
  });
});

describe("dispose() with calls queued and running", () => {
  it("settles every call with E_DISPOSED and nothing hangs", async () => {
    const model = await Gpt.load(undefined, { device: "cpu", maxSequences: 2 });
    const stream = model.stream("A stream", { maxTokens: 100, ignoreEos: true });
    await stream.next();
    // One more runs beside the stream; seven wait in the queue. Dispose on the second stream's
    // first chunk, not after timer turns: a stalled event loop could let a call finish first.
    const running = model.stream("Call 0", { maxTokens: 100, ignoreEos: true });
    const calls = Array.from({ length: 7 }, (_, i) => model.generate(`Call ${i + 1}`, { maxTokens: 100, ignoreEos: true }));
    await running.next();
    model.dispose();
    const settled = await Promise.allSettled([...calls, running.result, stream.result]);
    for (const s of settled) {
      expect(s.status).toBe("rejected");
      expect((s as PromiseRejectedResult).reason).toMatchObject({ code: "E_DISPOSED" });
    }
    // The chunks made before the dispose are still delivered, then the iterator rejects.
    let error: unknown;
    for (let i = 0; i <= 16 && error === undefined; i++) await stream.next().catch((e: unknown) => (error = e));
    expect(error).toMatchObject({ code: "E_DISPOSED" });
  });
});

describe("an engine step that fails", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await nanModel();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("rejects the iterator and the result (handled), with the engine's message", async () => {
    const model = await Gpt.load(dir, { device: "cpu" });
    try {
      const stream = model.stream("Hello", { maxTokens: 5 });
      await expect(stream.next()).rejects.toMatchObject({ code: "E_NATIVE", message: expect.stringMatching(/NaN/) });
      await expect(stream.result).rejects.toMatchObject({ code: "E_NATIVE" });
      await expect(model.generate("Hello", { maxTokens: 5 })).rejects.toMatchObject({ code: "E_NATIVE" });
      // A stream whose failure nobody reads leaves no unhandled rejection behind (afterEach checks).
      model.stream("Unread", { maxTokens: 5 });
      await turns(10);
      expect(model.kvCacheUsage.usedBlocks).toBe(0);
    } finally {
      model.dispose();
    }
  });
});

describe("200 calls at once", () => {
  it("all settle, every block returns, and memory returns to its baseline", async () => {
    const model = await Gpt.load(undefined, { device: "cpu" });
    try {
      const round = () =>
        Promise.all(Array.from({ length: 200 }, (_, i) => model.generate(`Request ${i % 17} says`, { maxTokens: 8, seed: i })));
      const first = await round();
      expect(first.every((r) => r.tokens.length > 0 || r.finishReason === "eos")).toBe(true);
      expect(model.kvCacheUsage.usedBlocks).toBe(0);
      gc();
      const baseline = process.memoryUsage();
      for (let i = 0; i < 3; i++) await round();
      gc();
      const after = process.memoryUsage();
      expect(model.kvCacheUsage.usedBlocks).toBe(0);
      expect(after.heapUsed - baseline.heapUsed, "JS heap growth").toBeLessThan(8 << 20);
      expect(after.rss - baseline.rss, "RSS growth").toBeLessThan(32 << 20);
    } finally {
      model.dispose();
    }
  });
});
