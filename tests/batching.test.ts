/**
 * Many sequences at once: every sequence gives exactly — tokens and logprobs bit for bit — what
 * the same request gives alone, whatever else is in its steps, when it joined, whether its prompt
 * hit the prefix cache, how long prompts were chunked, whether it was preempted, and the thread
 * count. Random mixes from a fresh seed each run (GPT_TEST_SEED=<seed> repeats one), on the
 * bundled demo model (256 positions: prompts longer than a chunk and than a block).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt, type GenerateOptions, type StreamChunk } from "../lib/index.js";
import { deriveSeed, Prng, testSeed } from "./helpers/random.js";

const SEED = testSeed();
const VOCAB = 50257;

interface Request {
  prompt: number[];
  options: GenerateOptions & { n?: undefined };
  /** Steps of other requests to wait for before joining (0: at once). */
  joinAfter: number;
}

interface Outcome {
  chunks: StreamChunk[];
  finishReason: string;
  cachedTokens: number;
}

/** A few prompts, some continuing another's prompt (prefix hits), random sampling options. */
function randomRequests(rng: Prng, count: number): Request[] {
  const requests: Request[] = [];
  for (let i = 0; i < count; i++) {
    const length = 1 + rng.int(70);
    const base = i > 0 && rng.next() < 0.4 ? requests[rng.int(i)]!.prompt : [];
    const shared = base.slice(0, rng.int(base.length + 1));
    const prompt = [...shared, ...Array.from({ length: Math.max(1, length - shared.length) }, () => rng.int(VOCAB))];
    const greedy = rng.next() < 0.3;
    requests.push({
      prompt,
      options: {
        maxTokens: 3 + rng.int(18),
        temperature: greedy ? 0 : 0.6 + rng.next(),
        topK: rng.next() < 0.5 ? 0 : 1 + rng.int(100),
        topP: rng.next() < 0.5 ? 1 : 0.5 + rng.next() / 2,
        seed: rng.int(2 ** 32),
        ignoreEos: rng.next() < 0.5,
      },
      joinAfter: i === 0 ? 0 : rng.int(4), // the first starts at once, so that chunks come
    });
  }
  return requests;
}

async function collect(gpt: Gpt, request: Request): Promise<Outcome> {
  const stream = gpt.stream(request.prompt, request.options);
  const chunks: StreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const result = await stream.result;
  expect(result.tokens).toEqual(chunks.filter((c) => result.finishReason !== "eos" || c !== chunks.at(-1)).map((c) => c.token));
  return { chunks, finishReason: result.finishReason, cachedTokens: result.usage.cachedTokens };
}

/** Runs the requests together: each joins once `joinAfter` chunks have come out of the others. */
async function together(gpt: Gpt, requests: Request[]): Promise<Outcome[]> {
  let produced = 0;
  let running = requests.filter((r) => r.joinAfter === 0).length;
  const waiters: { after: number; go: () => void }[] = [];
  const release = (all: boolean) => {
    for (const w of waiters.filter((w) => all || w.after <= produced)) {
      waiters.splice(waiters.indexOf(w), 1);
      running++;
      w.go();
    }
  };
  return Promise.all(
    requests.map(async (request) => {
      if (request.joinAfter > 0) await new Promise<void>((go) => waiters.push({ after: request.joinAfter, go }));
      const stream = gpt.stream(request.prompt, request.options);
      const chunks: StreamChunk[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
        produced++;
        release(false);
      }
      const result = await stream.result;
      // The last one out lets in whoever still waits for chunks that will not come.
      if (--running === 0) release(true);
      return { chunks, finishReason: result.finishReason, cachedTokens: result.usage.cachedTokens };
    }),
  );
}

/** Object.is on every token and logprob: bit-identical, not close. */
function expectIdentical(got: Outcome, want: Outcome, what: string): void {
  expect(got.chunks.map((c) => c.token), `${what}: tokens`).toEqual(want.chunks.map((c) => c.token));
  const differ = got.chunks.findIndex((c, i) => !Object.is(c.logprob, want.chunks[i]!.logprob));
  expect(differ, `${what}: first chunk whose logprob differs`).toBe(-1);
  expect(got.chunks.map((c) => c.text).join(""), `${what}: text`).toBe(want.chunks.map((c) => c.text).join(""));
  expect(got.finishReason, `${what}: finishReason`).toBe(want.finishReason);
}

let solo: Gpt;
beforeAll(async () => {
  // One sequence at a time, large prefill chunks: the reference every mix is held to.
  solo = await Gpt.load(undefined, { device: "cpu", threads: 2, maxSequences: 1, maxBatchTokens: 256 });
});
afterAll(() => solo?.dispose());

describe(`batched results equal solo results, bit for bit (seed ${SEED})`, () => {
  for (let trial = 0; trial < 6; trial++) {
    const seed = deriveSeed(SEED, trial);
    const rng = new Prng(seed);
    const threads = 1 + (trial % 3);
    const maxSequences = 2 + rng.int(5);
    const maxBatchTokens = maxSequences + rng.int(40);
    // Every other trial, a cache so small that running sequences must preempt each other.
    const kvCacheTokens = trial % 2 ? 96 + rng.int(64) : undefined;
    const name = `threads ${threads}, maxSequences ${maxSequences}, maxBatchTokens ${maxBatchTokens}, kvCacheTokens ${kvCacheTokens ?? "default"}`;
    it(`${name} (trial seed ${seed})`, async () => {
      const requests = randomRequests(rng, 4 + rng.int(5));
      const gpt = await Gpt.load(undefined, { device: "cpu", threads, maxSequences, maxBatchTokens, kvCacheTokens });
      try {
        const mixed = await together(gpt, requests);
        // Run again: now the prompts hit the prefix cache the first round left behind.
        const again = await together(gpt, requests);
        for (let i = 0; i < requests.length; i++) {
          const alone = await collect(solo, requests[i]!);
          expectIdentical(mixed[i]!, alone, `request ${i} in the mix`);
          expectIdentical(again[i]!, alone, `request ${i} in the second mix`);
        }
        // Not vacuous: with room to keep them, the second round starts from cached prefixes.
        const long = requests.findIndex((r) => r.prompt.length > 16);
        if (long >= 0 && kvCacheTokens === undefined)
          expect(again[long]!.cachedTokens, "a prompt of more than a block hits the cache").toBeGreaterThan(0);
        expect(gpt.kvCacheUsage.usedBlocks, "every block is back in the pool").toBe(0);
      } finally {
        gpt.dispose();
      }
    });
  }
});

describe("preemption", () => {
  it("a pool too small for everything still completes every request, each as it does alone", async () => {
    const rng = new Prng(deriveSeed(SEED, 100));
    // Six requests of 40 + 30 tokens: each fits the 80-token cache alone; together they cannot.
    const requests: Request[] = Array.from({ length: 6 }, () => ({
      prompt: Array.from({ length: 40 }, () => rng.int(VOCAB)),
      options: { maxTokens: 30, temperature: 0.9, seed: rng.int(1000), ignoreEos: true },
      joinAfter: 0,
    }));
    const gpt = await Gpt.load(undefined, { device: "cpu", maxSequences: 6, maxBatchTokens: 64, kvCacheTokens: 80 });
    try {
      const mixed = await together(gpt, requests);
      for (let i = 0; i < requests.length; i++) {
        expect(mixed[i]!.chunks).toHaveLength(30);
        expectIdentical(mixed[i]!, await collect(solo, requests[i]!), `request ${i}`);
      }
      expect(gpt.kvCacheUsage.usedBlocks).toBe(0);
    } finally {
      gpt.dispose();
    }
  });

  it("refuses a request that could never fit the cache, naming both numbers", async () => {
    const gpt = await Gpt.load(undefined, { device: "cpu", kvCacheTokens: 64 });
    try {
      await expect(gpt.generate(new Array(50).fill(1), { maxTokens: 20 })).rejects.toMatchObject({
        code: "E_CONTEXT_OVERFLOW",
        message: expect.stringMatching(/50 tokens plus maxTokens 20 exceed the KV cache's 64 tokens \(kvCacheTokens\)/),
      });
      await expect(gpt.logits(new Array(65).fill(1))).rejects.toMatchObject({ code: "E_CONTEXT_OVERFLOW" });
    } finally {
      gpt.dispose();
    }
  });
});

describe("generate() with a list of prompts", () => {
  it("resolves to each prompt's result in order, each equal to that prompt run alone", async () => {
    const gpt = await Gpt.load(undefined, { device: "cpu", maxSequences: 3 });
    try {
      const prompts = ["The old man said", "Once upon a time", "", "The old man said", "In the morning the"];
      const options = { maxTokens: 12, temperature: 1, seed: 7 };
      const results = await gpt.generate(prompts, options);
      expect(results).toHaveLength(prompts.length);
      for (let i = 0; i < prompts.length; i++) {
        const alone = await solo.generate(prompts[i]!, options);
        expect(results[i]!.tokens, `prompt ${i}`).toEqual(alone.tokens);
        expect(results[i]!.text, `prompt ${i}`).toBe(alone.text);
      }
      // Token-id prompts too; an empty list is one empty prompt of ids, as before.
      const ids = await gpt.generate([[5, 6, 7], [8]], { maxTokens: 4, temperature: 0 });
      expect(ids.map((r) => r.usage.promptTokens)).toEqual([3, 1]);
      expect((await gpt.generate([], { maxTokens: 2 })).usage.promptTokens).toBe(1);
    } finally {
      gpt.dispose();
    }
  });

  it("checks every prompt before running any, naming the one at fault", async () => {
    const gpt = await Gpt.load(undefined, { device: "cpu" });
    try {
      await expect(gpt.generate([[1, 2], [3, VOCAB]], { maxTokens: 2 })).rejects.toThrow(/prompts\[1\]\[1\] = 50257 is not a token id/);
      expect(gpt.kvCacheUsage.usedBlocks).toBe(0);
    } finally {
      gpt.dispose();
    }
  });
});

describe("logits", () => {
  it("gives bit-identical rows in one call, token by token, and in chunks beside other work", async () => {
    const rng = new Prng(deriveSeed(SEED, 200));
    const ids = Array.from({ length: 70 }, () => rng.int(VOCAB));
    const gpt = await Gpt.load(undefined, { device: "cpu", maxBatchTokens: 24 });
    try {
      const whole = await solo.logits(ids);
      expect(whole.length).toBe(ids.length * VOCAB);
      // Chunked at 24 rows on another model, with a generation running beside it.
      const [chunked] = await Promise.all([gpt.logits(ids), gpt.generate("Once upon a time", { maxTokens: 20 })]);
      expect(chunked.every((x, i) => Object.is(x, whole[i]))).toBe(true);
      for (const n of [1, 2, 17, 33, 69]) {
        const prefix = await gpt.logits(ids.slice(0, n));
        const row = prefix.subarray((n - 1) * VOCAB);
        const want = whole.subarray((n - 1) * VOCAB, n * VOCAB);
        expect(row.every((x, i) => Object.is(x, want[i])), `row ${n - 1} from a call of ${n} ids`).toBe(true);
      }
    } finally {
      gpt.dispose();
    }
  });
});
