/**
 * dispose() racing every other call (issue 15): a seeded mix of calls on one model — generate
 * (one, n: 2, a list), streams read to the end or abandoned, chat, logits, promptLogprobs, the
 * getters, and requests through serve() — with dispose() at a random moment among them. Each call
 * either gives exactly what a model never disposed gives for it (a stream: a prefix of it) or
 * fails with E_DISPOSED (a 503 over HTTP); nothing else, nothing hangs, no rejection goes
 * unhandled, and the process and another model in it go on exact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt, GptError } from "../lib/index.js";
import { serve } from "../lib/server/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { Prng, testSeed } from "./helpers/random.js";
import { eventually } from "./helpers/test-server.js";

const TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";
const GREEDY = { temperature: 0, ignoreEos: true } as const;
const TRIALS = 40;

/** One call on `g`: resolves with a value comparable to the same call on a model never disposed. */
type Call = (g: Gpt, rng: Prng) => Promise<unknown>;

const CALLS: Record<string, Call> = {
  generate: async (g) => (await g.generate("Hello there", { maxTokens: 12, ...GREEDY })).tokens,
  "generate n 2": async (g) => (await g.generate("Once", { maxTokens: 8, n: 2, temperature: 0.8, seed: 5 })).map((r) => r.tokens),
  "generate list": async (g) => (await g.generate(["A", "B c"], { maxTokens: 6, ...GREEDY })).map((r) => r.tokens),
  "stream to the end": async (g) => {
    const tokens: number[] = [];
    for await (const { token } of g.stream("Stream me", { maxTokens: 16, ...GREEDY })) tokens.push(token);
    return tokens;
  },
  chat: async (g) => (await g.chat([{ role: "user", content: "Hi" }], { chatTemplate: TEMPLATE, maxTokens: 8, ...GREEDY })).tokens,
  logits: async (g) => Array.from(await g.logits([1, 2, 3, 4, 5])),
  promptLogprobs: async (g) => await g.promptLogprobs([5, 4, 3, 2, 1], { top: 2 }),
  getters: async (g) => {
    await new Promise((r) => setImmediate(r));
    return [g.weightBytes > 0, g.kvCacheBytes > 0, g.kvCacheUsage.usedBlocks >= 0, g.sequences.running >= 0];
  },
};

/** A stream left after a few tokens: its tokens are a prefix of the one read to the end. */
async function abandonedStream(g: Gpt, rng: Prng): Promise<number[]> {
  const tokens: number[] = [];
  const keep = 1 + (rng.nextUint32() % 8);
  for await (const { token } of g.stream("Stream me", { maxTokens: 16, ...GREEDY })) {
    tokens.push(token);
    if (tokens.length === keep) break;
  }
  return tokens;
}

function isDisposed(e: unknown): boolean {
  return e instanceof GptError && e.code === "E_DISPOSED" && /disposed/.test(e.message);
}

describe("dispose() racing every other call", () => {
  let reference: Gpt;
  const expected = new Map<string, unknown>();

  beforeAll(async () => {
    reference = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
    for (const [name, call] of Object.entries(CALLS)) expected.set(name, await call(reference, new Prng(1)));
  });
  afterAll(() => reference.dispose());

  it(`${TRIALS} trials: each call is exact or E_DISPOSED, never anything else, and the other model stays exact`, async () => {
    const seed = testSeed();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const outcomes = { exact: 0, disposed: 0 };
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const rng = new Prng((seed + trial) >>> 0);
        const g = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
        const names = Object.keys(CALLS);
        const running: Promise<void>[] = [];
        const record = (what: string, p: Promise<unknown>, check: (value: unknown) => void) =>
          running.push(
            p.then(
              (value) => {
                check(value);
                outcomes.exact++;
              },
              (e: unknown) => {
                expect(isDisposed(e), `seed ${seed} trial ${trial}: ${what} failed with ${String(e)}`).toBe(true);
                outcomes.disposed++;
              },
            ),
          );
        const count = 3 + (rng.nextUint32() % 6);
        // dispose() at a random point: before any call, between them, or some time after the last.
        const disposeAt = rng.nextUint32() % (count + 1);
        const delay = rng.nextUint32() % 4;
        for (let i = 0; i <= count; i++) {
          if (i === disposeAt) {
            if (delay === 0) g.dispose();
            else if (delay === 1) setImmediate(() => g.dispose());
            else setTimeout(() => g.dispose(), rng.nextUint32() % (delay === 2 ? 5 : 40));
          }
          if (i === count) break;
          const name = names[rng.nextUint32() % (names.length + 1)];
          if (name === undefined) {
            const full = expected.get("stream to the end") as number[];
            record("abandoned stream", abandonedStream(g, rng), (v) => expect(full.slice(0, (v as number[]).length)).toEqual(v));
          } else {
            const want = expected.get(name);
            // A call made after dispose() throws at once: the same outcome as a rejection here.
            record(name, Promise.resolve().then(() => CALLS[name]!(g, rng)), (v) => expect(v, `seed ${seed} trial ${trial}: ${name}`).toEqual(want));
          }
        }
        await Promise.all(running);
        g.dispose(); // again, or for the first time if every call ended before its turn came
        await expect(g.generate("x")).rejects.toSatisfy(isDisposed);
      }
      // The process goes on, and so does another model.
      expect(await CALLS.generate!(reference, new Prng(1))).toEqual(expected.get("generate"));
      expect(await CALLS.logits!(reference, new Prng(1))).toEqual(expected.get("logits"));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    // Both outcomes happened: the race was real.
    expect(outcomes.exact, JSON.stringify(outcomes)).toBeGreaterThan(10);
    expect(outcomes.disposed, JSON.stringify(outcomes)).toBeGreaterThan(10);
  }, 120_000);

  it("through serve(): requests racing dispose() get 200 with the exact text, or 503", async () => {
    const g = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
    const server = await serve(g, { port: 0, logLevel: false });
    const text = (await reference.generate("Hello there", { maxTokens: 12, ...GREEDY })).text;
    try {
      const one = async (stream: boolean) => {
        const res = await fetch(`${server.url}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "Hello there", max_tokens: 12, temperature: 0, ignore_eos: true, stream }),
        });
        const body = await res.text();
        if (res.status !== 200) return `${res.status}`;
        if (!stream) return (JSON.parse(body) as { choices: { text: string }[] }).choices[0]!.text === text ? "exact" : `wrong: ${body}`;
        // A stream the dispose cut ends with an error event, then [DONE].
        const events = body.split("\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)) as { choices?: { text: string }[]; error?: unknown });
        const streamed = events.map((e) => e.choices?.[0]?.text ?? "").join("");
        if (events.at(-1)?.error) return text.startsWith(streamed) ? "cut" : `wrong: ${body}`;
        return streamed === text ? "exact" : `wrong: ${body}`;
      };
      const answers = Array.from({ length: 24 }, (_, i) => one(i % 2 === 1));
      // Disposed while sequences run: the race is real.
      await eventually(() => g.sequences.running > 0, "a sequence to run", 10_000);
      g.dispose();
      const outcomes = await Promise.all(answers);
      for (const o of outcomes) expect(["exact", "cut", "503"], outcomes.join(", ")).toContain(o);
      expect(await one(false)).toBe("503");
    } finally {
      await server.close(1000);
      g.dispose();
    }
  });
});
