/**
 * gpt-cuda/ai-sdk through the real `ai` package (generateText, streamText) on Node 20: each call
 * gives what the same call to gpt.chat / gpt.generate gives, the AI SDK's settings map onto
 * ours, usage and finish reasons come back in its terms, aborts free the sequence, and what a
 * text-only model cannot do is a warning or a clear error.
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { LanguageModelV4 } from "@ai-sdk/provider";
import { generateText, jsonSchema, streamText, tool, type ModelMessage } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { gptCuda, type GptCudaLanguageModel } from "../lib/ai-sdk/index.js";
import { writeRef } from "../lib/hub/cache.js";
import { Gpt, GptError, type ChatMessage } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { nanModel, slowChatModel } from "./helpers/model-edits.js";
import { eventually } from "./helpers/test-server.js";

const TURNS = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}<assistant>";
const CONVERSATION: ChatMessage[] = [
  { role: "system", content: "You answer briefly." },
  { role: "user", content: "Hello there!" },
  { role: "assistant", content: "Hi." },
  { role: "user", content: "How are you?" },
];

let bundled: Gpt; // the demo model: it has a chat template
let plain: Gpt; // tiny-f32 as made: no chat template
let slowDir: string;
let slow: GptCudaLanguageModel;
const dirs: string[] = [];
beforeAll(async () => {
  bundled = await Gpt.load(undefined, { device: "cpu" });
  plain = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
  slowDir = await slowChatModel(TURNS);
  dirs.push(slowDir);
  slow = gptCuda(slowDir, { device: "cpu", threads: 1 });
});
afterAll(async () => {
  bundled.dispose();
  plain.dispose();
  slow.dispose();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function streamedText(textStream: AsyncIterable<string>): Promise<string> {
  let text = "";
  for await (const delta of textStream) text += delta;
  return text;
}

describe("gptCuda: the model it makes", () => {
  it("is a LanguageModelV4 named by what it was given", () => {
    const model: LanguageModelV4 = gptCuda(bundled);
    expect(model).toMatchObject({ specificationVersion: "v4", provider: "gpt-cuda", modelId: "default-model" });
    expect(gptCuda().modelId).toBe("default");
    expect(gptCuda("gpt2").modelId).toBe("gpt2");
    expect(gptCuda(fixtureDir("tiny-f32") + "/").modelId).toBe("tiny-f32");
  });

  it("rejects bad settings when made, naming them", () => {
    expect(() => gptCuda(undefined, { dtype: "int4" as never })).toThrow(/dtype must be one of float32, float16, bfloat16, int8, got "int4"/);
    expect(() => gptCuda(undefined, { temperature: 0 } as never)).toThrow(/gptCuda settings: unknown option "temperature"/);
    expect(() => gptCuda("")).toThrow(/gptCuda needs a checkpoint path, a pulled model's name or a loaded Gpt/);
    expect(() => gptCuda(bundled, { threads: 1 })).toThrow(/load options \(threads\) do not apply/);
  });
});

describe("generateText and streamText", () => {
  it("generateText({ prompt }) is gpt.chat on the lone user message, with usage and the finish reason", async () => {
    const options = { temperature: 0.8, topK: 40, topP: 0.9, seed: 7, maxTokens: 12 };
    const expected = await bundled.chat([{ role: "user", content: "Hello there!" }], options);
    const result = await generateText({
      model: gptCuda(bundled),
      prompt: "Hello there!",
      temperature: 0.8,
      topK: 40,
      topP: 0.9,
      seed: 7,
      maxOutputTokens: 12,
    });
    expect(result.text).toBe(expected.text);
    expect(expected.finishReason).toBe("length");
    expect(result.finishReason).toBe("length");
    expect(result.rawFinishReason).toBe("length");
    expect(result.usage).toMatchObject({
      inputTokens: expected.usage.promptTokens,
      outputTokens: expected.usage.completionTokens,
      totalTokens: expected.usage.promptTokens + expected.usage.completionTokens,
    });
    expect(result.warnings).toEqual([]);
    // A prompt of several blocks, twice: the second time its full blocks come from the prefix cache.
    const long = "Tell me about the sea, the ships on it, the fish in it and the people who sail across it. ".repeat(3);
    const first = await generateText({ model: gptCuda(bundled), prompt: long, maxOutputTokens: 2 });
    expect(first.usage.inputTokenDetails.cacheReadTokens).toBe(0);
    const again = await generateText({ model: gptCuda(bundled), prompt: long, maxOutputTokens: 2 });
    expect(again.usage.inputTokenDetails.cacheReadTokens).toBeGreaterThanOrEqual(16);
    expect(again.usage.inputTokenDetails.noCacheTokens).toBe(again.usage.inputTokens! - again.usage.inputTokenDetails.cacheReadTokens!);
  });

  it("a conversation with system and assistant turns goes through the chat template, as gpt.chat renders it", async () => {
    const expected = await bundled.chat(CONVERSATION, { seed: 11, maxTokens: 10, presencePenalty: 0.5, frequencyPenalty: 0.25 });
    const messages = CONVERSATION.slice(1) as ModelMessage[];
    const result = await generateText({
      model: gptCuda(bundled),
      system: CONVERSATION[0]!.content,
      messages,
      seed: 11,
      maxOutputTokens: 10,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      include: { requestBody: true },
    });
    expect(result.text).toBe(expected.text);
    expect(result.request.body).toEqual({ prompt: bundled.applyChatTemplate(CONVERSATION) });
  });

  it("streamText streams the same text as generateText, in text parts, and ends with the same usage", async () => {
    const settings = { prompt: "Once upon a time", seed: 3, maxOutputTokens: 16 } as const;
    const whole = await generateText({ model: gptCuda(bundled), ...settings });
    const result = streamText({ model: gptCuda(bundled), ...settings });
    const types: string[] = [];
    let text = "";
    for await (const part of result.fullStream) {
      types.push(part.type);
      if (part.type === "text-delta") text += part.text;
    }
    expect(text).toBe(whole.text);
    expect(await result.text).toBe(whole.text);
    expect(await result.finishReason).toBe(whole.finishReason);
    expect(await result.usage).toEqual(whole.usage);
    const textTypes = types.filter((t) => t.startsWith("text-"));
    expect(textTypes[0]).toBe("text-start");
    expect(textTypes.at(-1)).toBe("text-end");
    expect(textTypes.filter((t) => t === "text-delta").length).toBeGreaterThan(1);
    expect(types.at(-1)).toBe("finish");
  });

  it("stopSequences end the text before the stop string: finish reason stop", async () => {
    const free = await bundled.chat([{ role: "user", content: "Tell me a story." }], { temperature: 0, maxTokens: 30 });
    const word = free.text.trim().split(/\s+/)[2];
    expect(word).toBeTruthy();
    const expected = await bundled.chat([{ role: "user", content: "Tell me a story." }], { temperature: 0, maxTokens: 30, stop: [word!] });
    expect(expected.finishReason).toBe("stop");
    const result = await generateText({ model: gptCuda(bundled), prompt: "Tell me a story.", temperature: 0, maxOutputTokens: 30, stopSequences: [word!] });
    expect(result.text).toBe(expected.text);
    expect(result.finishReason).toBe("stop");
    expect(result.rawFinishReason).toBe("stop");
  });

  it("the end of the turn is finish reason stop, its raw reason eos", async () => {
    const model = gptCuda(slowDir, { device: "cpu", threads: 1 });
    try {
      const gpt = await model.gpt();
      // Banning everything but the end-of-turn token makes the reply end at once.
      const eot = gpt.endOfTurnTokens[0]!;
      const logitBias = Object.fromEntries([...Array(gpt.config.vocabSize).keys()].filter((id) => id !== eot).map((id) => [id, -100]));
      const result = await generateText({ model, prompt: "Hi", providerOptions: { gptCuda: { logitBias } } });
      expect(result.text).toBe("");
      expect(result.finishReason).toBe("stop");
      expect(["eos", "stop"]).toContain(result.rawFinishReason);
      expect(result.usage.outputTokens).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it("providerOptions.gptCuda carries our own settings: minP, repetitionPenalty, logprobs in providerMetadata", async () => {
    const extra = { minP: 0.05, repetitionPenalty: 1.3, logprobs: 2 };
    const expected = await bundled.chat([{ role: "user", content: "Hi" }], { ...extra, seed: 5, maxTokens: 6 });
    const result = await generateText({ model: gptCuda(bundled), prompt: "Hi", seed: 5, maxOutputTokens: 6, providerOptions: { gptCuda: extra } });
    expect(result.text).toBe(expected.text);
    const meta = result.providerMetadata?.gptCuda as { logprobs: unknown[]; timings: Record<string, number> };
    expect(meta.logprobs).toEqual(JSON.parse(JSON.stringify(expected.logprobs)));
    expect(Object.keys(meta.timings).sort()).toEqual(["decodeMs", "prefillMs", "queueMs"]);
  });

  it("calls made at once batch in one engine and each gets its solo result", async () => {
    const model = gptCuda(bundled);
    const seeds = [1, 2, 3, 4];
    const solo = [];
    for (const seed of seeds) solo.push((await generateText({ model, prompt: "Tell me a story.", seed, maxOutputTokens: 12 })).text);
    const together = await Promise.all(seeds.map((seed) => generateText({ model, prompt: "Tell me a story.", seed, maxOutputTokens: 12 })));
    expect(together.map((r) => r.text)).toEqual(solo);
    expect(new Set(solo).size).toBeGreaterThan(1);
  });
});

describe("a model without a chat template", () => {
  it("continues a lone user message as plain text, as gpt.generate does", async () => {
    const expected = await plain.generate("Hello there", { temperature: 0, maxTokens: 8 });
    const result = await generateText({ model: gptCuda(plain), prompt: "Hello there", temperature: 0, maxOutputTokens: 8, include: { requestBody: true } });
    expect(result.text).toBe(expected.text);
    expect(result.usage.inputTokens).toBe(expected.usage.promptTokens);
    expect(result.request.body).toEqual({ prompt: "Hello there" });
    const streamed = streamText({ model: gptCuda(plain), prompt: "Hello there", temperature: 0, maxOutputTokens: 8 });
    expect(await streamedText(streamed.textStream)).toBe(expected.text);
  });

  it("refuses any other conversation with E_UNSUPPORTED naming the template it looked for", async () => {
    for (const call of [
      { system: "Be brief.", prompt: "Hello" },
      { messages: CONVERSATION.slice(1) as ModelMessage[] },
    ]) {
      const error = await generateText({ model: gptCuda(plain), maxRetries: 0, ...call }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GptError);
      expect(error).toMatchObject({ code: "E_UNSUPPORTED", message: expect.stringContaining("chat_template.jinja") });
    }
  });

  it("talks through a chatTemplate given in the settings or per call", async () => {
    const expected = await plain.chat(CONVERSATION, { chatTemplate: TURNS, temperature: 0, maxTokens: 6 });
    const call = { system: CONVERSATION[0]!.content, messages: CONVERSATION.slice(1) as ModelMessage[], temperature: 0, maxOutputTokens: 6 };
    expect((await generateText({ model: gptCuda(plain, { chatTemplate: TURNS }), ...call })).text).toBe(expected.text);
    const perCall = await generateText({ model: gptCuda(plain), ...call, providerOptions: { gptCuda: { chatTemplate: TURNS } } });
    expect(perCall.text).toBe(expected.text);
  });
});

describe("aborts", () => {
  it("generateText rejects with the AbortError, and the sequence is freed", async () => {
    const controller = new AbortController();
    const gpt = await slow.gpt();
    const call = generateText({ model: slow, prompt: "Hi", maxOutputTokens: 900, abortSignal: controller.signal, providerOptions: { gptCuda: { ignoreEos: true } } });
    await eventually(() => gpt.sequences.running === 1, "the sequence running");
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: "AbortError" });
    await eventually(() => gpt.sequences.running + gpt.sequences.waiting === 0, "the sequence freed");
    // The provider itself rejects with the signal's reason, as fetch does, once the engine stops.
    const again = new AbortController();
    const direct = slow.doGenerate({ prompt: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], maxOutputTokens: 900, abortSignal: again.signal, providerOptions: { gptCuda: { ignoreEos: true } } });
    await eventually(() => gpt.sequences.running === 1, "the sequence running");
    again.abort(new Error("user left"));
    await expect(direct).rejects.toThrow("user left");
    await eventually(() => gpt.sequences.running === 0, "the sequence freed (at the end of the step running)");
  });

  it("streamText ends with an abort part and onAbort, and the sequence is freed", async () => {
    const controller = new AbortController();
    const gpt = await slow.gpt();
    let aborted = false;
    const result = streamText({
      model: slow,
      prompt: "Hi",
      maxOutputTokens: 900,
      abortSignal: controller.signal,
      providerOptions: { gptCuda: { ignoreEos: true } },
      onAbort: () => {
        aborted = true;
      },
    });
    const types: string[] = [];
    for await (const part of result.fullStream) {
      types.push(part.type);
      if (types.filter((t) => t === "text-delta").length === 3) controller.abort();
    }
    expect(types.at(-1)).toBe("abort");
    expect(aborted).toBe(true);
    await eventually(() => gpt.sequences.running + gpt.sequences.paused === 0, "the sequence freed");
  });

  it("cancelling the provider's stream (what the AI SDK does on abort) ends the sequence", async () => {
    const gpt = await slow.gpt();
    const { stream } = await slow.doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], maxOutputTokens: 900, providerOptions: { gptCuda: { ignoreEos: true } } });
    const reader = stream.getReader();
    let deltas = 0;
    while (deltas < 2) if ((await reader.read()).value?.type === "text-delta") deltas++;
    expect(gpt.sequences.running + gpt.sequences.paused).toBe(1);
    await reader.cancel();
    await eventually(() => gpt.sequences.running + gpt.sequences.paused === 0, "the sequence freed");
  });
});

describe("the provider's stream", () => {
  it("delivers every part to a slow reader when chunks hold no text yet (a character or stop string pending)", async () => {
    // A stand-in Gpt whose stream yields empty-text chunks between texts, read 20 ms apart: a
    // pull that enqueued nothing would leave the reader waiting for ever.
    const chunks = ["a", "", "", "b", "", "c"].map((text, i) => ({ token: i, text, logprob: 0 }));
    const fake = Object.create(Gpt.prototype) as Gpt;
    Object.defineProperty(fake, "hasChatTemplate", { value: false });
    Object.defineProperty(fake, "path", { value: "/stand-in" });
    const result = { text: "abc", tokens: [], finishReason: "length", usage: { promptTokens: 1, completionTokens: 6, cachedTokens: 0 }, timings: { queueMs: 0, prefillMs: 0, decodeMs: 0 } };
    Object.defineProperty(fake, "stream", {
      value: () => {
        let i = 0;
        return {
          next: async () => (i < chunks.length ? { value: chunks[i++]!, done: false } : { value: undefined, done: true }),
          return: async () => ({ value: undefined, done: true }),
          result: Promise.resolve(result),
        };
      },
    });
    const { stream } = await gptCuda(fake).doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
    const reader = stream.getReader();
    const deltas: string[] = [];
    let last = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.type === "text-delta") deltas.push(value.delta);
      last = value.type;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(deltas).toEqual(["a", "b", "c"]);
    expect(last).toBe("finish");
  });
});

describe("what a text-only model cannot do", () => {
  it("tools are a warning, as the specification asks (the model runs without them)", async () => {
    // The result carries them; the AI SDK's own console logging of them is turned off here.
    (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
    const result = await generateText({
      model: gptCuda(bundled),
      prompt: "Hi",
      maxOutputTokens: 2,
      tools: { weather: tool({ description: "the weather", inputSchema: jsonSchema({ type: "object", properties: {} }) }) },
    });
    expect(result.warnings).toEqual([expect.objectContaining({ type: "unsupported", feature: "tools" })]);
  });

  it("a file part is E_UNSUPPORTED naming the message and part", async () => {
    const error = await generateText({
      model: gptCuda(bundled),
      maxRetries: 0,
      messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "file", data: new Uint8Array([1, 2, 3]), mediaType: "image/png" }] }],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_UNSUPPORTED", message: "prompt[0].content[1] is a file (image/png) part: gpt-cuda's models read and write text only" });
  });

  it("a bad setting is our E_INVALID_ARGUMENT naming it, not retried", async () => {
    const unknown = await generateText({ model: gptCuda(bundled), prompt: "Hi", providerOptions: { gptCuda: { beamWidth: 4 } } }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: "E_INVALID_ARGUMENT", message: expect.stringContaining('providerOptions.gptCuda: unknown option "beamWidth"') });
    const hot = await generateText({ model: gptCuda(bundled), prompt: "Hi", temperature: 1000 }).catch((e: unknown) => e);
    expect(hot).toMatchObject({ code: "E_INVALID_ARGUMENT", message: "temperature must be a number in [0, 100], got 1000" });
  });

  it("an engine failure mid-stream is an error part, then finish reason error", async () => {
    const dir = await nanModel();
    dirs.push(dir);
    const model = gptCuda(dir, { device: "cpu" });
    try {
      const errors: unknown[] = [];
      const result = streamText({ model, prompt: "Hello", maxOutputTokens: 5, onError: ({ error }) => void errors.push(error) });
      const types: string[] = [];
      for await (const part of result.fullStream) types.push(part.type);
      expect(types).toContain("error");
      expect(errors).toEqual([expect.objectContaining({ code: "E_NATIVE" })]);
      expect(await result.finishReason).toBe("error");
    } finally {
      model.dispose();
    }
  });
});

describe("loading", () => {
  it("a pulled model's name loads from the pull cache; an unpulled one says how to pull it, and a later call retries", async () => {
    const cache = await mkdtemp(join(tmpdir(), "gpt-cuda-ai-cache-"));
    dirs.push(cache);
    const saved = process.env.GPT_CUDA_CACHE;
    process.env.GPT_CUDA_CACHE = cache;
    const model = gptCuda("gpt2", { device: "cpu" });
    try {
      const missing = await generateText({ model, prompt: "Hello there", maxRetries: 0 }).catch((e: unknown) => e);
      expect(missing).toMatchObject({ code: "E_CHECKPOINT", message: expect.stringContaining("`gpt-cuda pull openai-community/gpt2`") });
      // What a pull leaves: the snapshot's files, then the ref naming its commit.
      const repo = { org: "openai-community", name: "gpt2", id: "openai-community/gpt2" };
      await cp(fixtureDir("tiny-f32"), join(cache, "openai-community", "gpt2", "c0ffee"), { recursive: true });
      await writeRef(cache, repo, "main", "c0ffee");
      const expected = await plain.generate("Hello there", { temperature: 0, maxTokens: 5 });
      expect((await generateText({ model, prompt: "Hello there", temperature: 0, maxOutputTokens: 5 })).text).toBe(expected.text);
      expect((await model.gpt()).path).toBe(join(cache, "openai-community", "gpt2", "c0ffee"));
    } finally {
      model.dispose();
      if (saved === undefined) delete process.env.GPT_CUDA_CACHE;
      else process.env.GPT_CUDA_CACHE = saved;
    }
  });

  it("dispose frees a model the provider loaded, and never one it was given", async () => {
    const own = gptCuda(fixtureDir("tiny-f32"), { device: "cpu" });
    const gpt = await own.gpt();
    own.dispose();
    await expect(gpt.generate("Hi", { maxTokens: 1 })).rejects.toMatchObject({ code: "E_DISPOSED" });
    await expect(generateText({ model: own, prompt: "Hi", maxRetries: 0 })).rejects.toMatchObject({ code: "E_DISPOSED" });
    {
      using given = gptCuda(plain);
      expect((await generateText({ model: given, prompt: "Hi", maxOutputTokens: 1 })).usage.outputTokens).toBe(1);
    }
    expect((await plain.generate("Hi", { maxTokens: 1 })).tokens.length).toBeLessThanOrEqual(1);
  });
});
