/**
 * The server through the official `openai` client, on loopback: both endpoints, whole and
 * streamed, against the library's own results for the same seed — n, logprobs, echo, stop,
 * include_usage, cached tokens — and the client's own error classes for the server's errors.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { ChatMessage } from "../lib/index.js";
import { chatModel, eosModel, slowChatModel } from "./helpers/model-edits.js";
import { eventually, metricValue, startTestServer, type TestServer } from "./helpers/test-server.js";

const TEMPLATE =
  "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
const PROMPT = "The old man said that the";
const MESSAGES: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say something." },
];

const dirs: string[] = [];
let t: TestServer;
let model: string;
beforeAll(async () => {
  const dir = await chatModel({ jinja: TEMPLATE });
  dirs.push(dir);
  t = await startTestServer(dir);
  model = (await t.client.models.list()).data[0]!.id;
});
afterAll(async () => {
  await t.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** log-softmax of one row, in double precision. */
function logSoftmax(row: Float32Array): number[] {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return Array.from(row, (v) => v - max - Math.log(sum));
}

/** OpenAI's name for a token: its text, or "bytes:\\xNN…" for one holding part of a UTF-8 character. */
function tokenName(id: number): string {
  const bytes = t.gpt.tokenizer.decodeBytes([id]);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return "bytes:" + Array.from(bytes, (b) => "\\x" + b.toString(16).padStart(2, "0")).join("");
  }
}

describe("/v1/models", () => {
  it("lists the one model, named after its directory, and retrieves it", async () => {
    const list = await t.client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([model]);
    expect(model).toMatch(/^gpt-cuda-chat-/);
    expect((await t.client.models.retrieve(model)).id).toBe(model);
  });
});

describe("/v1/completions", () => {
  it("answers what gpt.generate gives for the same seed and options", async () => {
    const got = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 12, seed: 7, temperature: 0.9, top_p: 0.95 });
    const want = await t.gpt.generate(PROMPT, { maxTokens: 12, seed: 7, temperature: 0.9, topP: 0.95 });
    expect(got.object).toBe("text_completion");
    expect(got.model).toBe(model);
    expect(got.id).toMatch(/^cmpl-/);
    expect(got.choices).toHaveLength(1);
    expect(got.choices[0]!.text).toBe(want.text);
    expect(got.choices[0]!.finish_reason).toBe("length");
    expect(got.choices[0]!.logprobs).toBeNull();
    expect(got.usage).toMatchObject({ prompt_tokens: want.usage.promptTokens, completion_tokens: 12, total_tokens: want.usage.promptTokens + 12 });
  });

  it("the same seed twice gives the same text; streamed, the same again, with include_usage last", async () => {
    const request = { model, prompt: PROMPT, max_tokens: 16, seed: 123 };
    const a = await t.client.completions.create(request);
    const b = await t.client.completions.create(request);
    expect(b.choices[0]!.text).toBe(a.choices[0]!.text);
    const stream = await t.client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 16, prompt_tokens: a.usage!.prompt_tokens });
    const body = chunks.slice(0, -1);
    for (const c of body) expect(c.usage).toBeNull();
    expect(body.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    expect(body.at(-1)!.choices[0]!.finish_reason).toBe("length");
    expect(body.map((c) => c.choices[0]!.text).join("")).toBe(a.choices[0]!.text);
  });

  it("n: 2 gives two choices, equal to the library's n: 2 (seeds s and s + 1), the prompt counted once", async () => {
    const got = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 10, seed: 40, n: 2 });
    const want = await t.gpt.generate(PROMPT, { maxTokens: 10, seed: 40, n: 2 });
    expect(got.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(got.choices.map((c) => c.text)).toEqual(want.map((r) => r.text));
    expect(got.choices[0]!.text).not.toBe(got.choices[1]!.text);
    expect(got.usage!.prompt_tokens).toBe(want[0]!.usage.promptTokens);
    expect(got.usage!.completion_tokens).toBe(20);
    // Streamed: both choices' chunks, by index.
    const stream = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 10, seed: 40, n: 2, stream: true });
    const texts = ["", ""];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.text;
    expect(texts).toEqual(want.map((r) => r.text));
  });

  it("a list of prompts gets n choices each, prompt by prompt", async () => {
    const prompts = ["Once upon", "In the year"];
    const got = await t.client.completions.create({ model, prompt: prompts, max_tokens: 5, seed: 9, n: 2, temperature: 0 });
    expect(got.choices).toHaveLength(4);
    for (const [i, p] of prompts.entries()) {
      const want = await t.gpt.generate(p, { maxTokens: 5, temperature: 0 });
      expect(got.choices[2 * i]!.text).toBe(want.text);
      expect(got.choices[2 * i + 1]!.text).toBe(want.text);
    }
    // Token ids, one list or several, are prompts too.
    const ids = t.gpt.tokenizer.encode(prompts[0]!);
    const one = await t.client.completions.create({ model, prompt: ids, max_tokens: 5, temperature: 0 });
    expect(one.choices[0]!.text).toBe(got.choices[0]!.text);
    const lists = await t.client.completions.create({ model, prompt: [ids, t.gpt.tokenizer.encode(prompts[1]!)], max_tokens: 5, temperature: 0 });
    expect(lists.choices.map((c) => c.text)).toEqual([got.choices[0]!.text, got.choices[2]!.text]);
  });

  it("logprobs: the completions shape, the library's logprobs, offsets into the text", async () => {
    const got = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 8, seed: 3, logprobs: 3 });
    const want = await t.gpt.generate(PROMPT, { maxTokens: 8, seed: 3, logprobs: 3 });
    const lp = got.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(8);
    expect(lp.token_logprobs).toEqual(want.logprobs!.map((l) => l.logprob));
    expect(lp.tokens).toEqual(want.tokens.map(tokenName));
    for (const [i, top] of lp.top_logprobs!.entries()) {
      expect(Object.values(top)).toEqual(want.logprobs![i]!.topLogprobs.map((a) => a.logprob));
      expect(Object.keys(top)).toEqual(want.logprobs![i]!.topLogprobs.map((a) => tokenName(a.token)));
    }
    // Each whole token is found at its offset; the pieces of a split character start where it does.
    const text = got.choices[0]!.text;
    expect(lp.text_offset![0]).toBe(0);
    for (const [i, token] of lp.tokens!.entries()) {
      const at = lp.text_offset![i]!;
      if (!token.startsWith("bytes:")) expect(text.slice(at, at + token.length)).toBe(token);
      if (i > 0) expect(at).toBeGreaterThanOrEqual(lp.text_offset![i - 1]!);
    }
  });

  it("echo with logprobs: the prompt comes first, its tokens' logprobs from the model's logits (the first null)", async () => {
    const got = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 4, temperature: 0, echo: true, logprobs: 2 });
    const ids = t.gpt.tokenizer.encode(PROMPT);
    const want = await t.gpt.generate(PROMPT, { maxTokens: 4, temperature: 0 });
    const choice = got.choices[0]!;
    expect(choice.text).toBe(PROMPT + want.text);
    const lp = choice.logprobs!;
    expect(lp.tokens).toHaveLength(ids.length + 4);
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.top_logprobs![0]).toBeNull();
    const logits = await t.gpt.logits(ids);
    const V = t.gpt.config.vocabSize;
    for (let i = 1; i < ids.length; i++) {
      const row = logSoftmax(logits.subarray((i - 1) * V, i * V));
      expect(lp.token_logprobs![i]).toBeCloseTo(row[ids[i]!]!, 5);
      expect(Math.max(...Object.values(lp.top_logprobs![i]!))).toBeCloseTo(Math.max(...row), 5);
    }
    for (const [i, token] of lp.tokens!.entries()) expect(choice.text.slice(lp.text_offset![i]!).startsWith(token)).toBe(true);
    // max_tokens 0 with echo: the prompt's logprobs alone, as evaluation harnesses ask for them.
    const only = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 0, echo: true, logprobs: 1 });
    expect(only.choices[0]!.text).toBe(PROMPT);
    expect(only.choices[0]!.logprobs!.token_logprobs!.slice(1)).toEqual(lp.token_logprobs!.slice(1, ids.length));
    expect(only.usage!.completion_tokens).toBe(0);
  });

  it("streamed, each event carries its token's logprobs; echo comes first; together they equal the whole answer's", async () => {
    const request = { model, prompt: PROMPT, max_tokens: 6, seed: 21, logprobs: 2, echo: true } as const;
    const whole = (await t.client.completions.create(request)).choices[0]!;
    const stream = await t.client.completions.create({ ...request, stream: true });
    let text = "";
    const tokens: string[] = [];
    const logprobs: (number | null)[] = [];
    const offsets: number[] = [];
    for await (const chunk of stream) {
      const c = chunk.choices[0]!;
      text += c.text;
      tokens.push(...(c.logprobs?.tokens ?? []));
      logprobs.push(...(c.logprobs?.token_logprobs ?? []));
      offsets.push(...(c.logprobs?.text_offset ?? []));
    }
    expect(text).toBe(whole.text);
    expect(tokens).toEqual(whole.logprobs!.tokens);
    expect(logprobs).toEqual(whole.logprobs!.token_logprobs);
    expect(offsets).toEqual(whole.logprobs!.text_offset);
  });

  it("the sampling fields, extensions included, reach the sampler as the library's options", async () => {
    const ids = t.gpt.tokenizer.encode(" the");
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ top_k: 5 }, { topK: 5 }],
      [{ top_k: -1 }, {}],
      [{ min_p: 0.2 }, { minP: 0.2 }],
      [{ repetition_penalty: 1.7 }, { repetitionPenalty: 1.7 }],
      [{ presence_penalty: 1.5, frequency_penalty: -0.5 }, { presencePenalty: 1.5, frequencyPenalty: -0.5 }],
      [{ logit_bias: { [ids[0]!]: 8 } }, { logitBias: { [ids[0]!]: 8 } }],
      [{ stop_token_ids: [ids[0]!] }, { stopTokens: [ids[0]!] }],
      [{ ignore_eos: true }, { ignoreEos: true }],
    ];
    for (const [fields, options] of cases) {
      const got = await t.post("/v1/completions", { model, prompt: PROMPT, max_tokens: 20, seed: 77, ...fields });
      const want = await t.gpt.generate(PROMPT, { maxTokens: 20, seed: 77, ...options });
      expect(got.status).toBe(200);
      expect([JSON.stringify(fields), got.json.choices[0].text]).toEqual([JSON.stringify(fields), want.text]);
    }
    // And they change the answer: the same seed without them differs for most.
    const plain = (await t.gpt.generate(PROMPT, { maxTokens: 20, seed: 77 })).text;
    const biased = await t.post("/v1/completions", { model, prompt: PROMPT, max_tokens: 20, seed: 77, logit_bias: { [ids[0]!]: 100 } });
    expect(biased.json.choices[0].text).not.toBe(plain);
  });

  it("stop ends the text before the stop string, finish_reason stop", async () => {
    const free = await t.gpt.generate(PROMPT, { maxTokens: 30, temperature: 0 });
    const stop = free.text.slice(10, 14);
    const got = await t.client.completions.create({ model, prompt: PROMPT, max_tokens: 30, temperature: 0, stop: [stop] });
    expect(got.choices[0]!.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(got.choices[0]!.finish_reason).toBe("stop");
  });

  it("a prompt seen before is counted in usage.prompt_tokens_details.cached_tokens", async () => {
    const prompt = "A long prompt that fills more than one block of the cache, ".repeat(2);
    await t.client.completions.create({ model, prompt, max_tokens: 1 });
    const again = await t.client.completions.create({ model, prompt, max_tokens: 1 });
    const tokens = again.usage!.prompt_tokens;
    expect(tokens).toBeGreaterThan(32);
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBe(Math.floor((tokens - 1) / 16) * 16);
  });
});

describe("/v1/chat/completions", () => {
  it("answers what gpt.chat gives, whole and streamed (role first, then content)", async () => {
    const got = await t.client.chat.completions.create({ model, messages: MESSAGES, max_tokens: 12, seed: 5 });
    const want = await t.gpt.chat(MESSAGES, { maxTokens: 12, seed: 5 });
    expect(got.object).toBe("chat.completion");
    expect(got.id).toMatch(/^chatcmpl-/);
    expect(got.choices[0]!.message).toMatchObject({ role: "assistant", content: want.text });
    expect(got.choices[0]!.finish_reason).toBe(want.finishReason === "length" ? "length" : "stop");
    expect(got.usage!.prompt_tokens).toBe(want.usage.promptTokens);

    const stream = await t.client.chat.completions.create({
      model,
      messages: MESSAGES,
      max_completion_tokens: 12,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.object).toBe("chat.completion.chunk");
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });
    const content = chunks.slice(1, -2).map((c) => c.choices[0]!.delta.content);
    expect(content.join("")).toBe(want.text);
    expect(chunks.at(-2)!.choices[0]).toMatchObject({ delta: {}, finish_reason: got.choices[0]!.finish_reason });
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(got.usage!.completion_tokens);
  });

  it("logprobs: the chat shape, token text, UTF-8 bytes and alternatives, equal to the library's", async () => {
    const got = await t.client.chat.completions.create({ model, messages: MESSAGES, max_tokens: 6, seed: 8, logprobs: true, top_logprobs: 2 });
    const want = await t.gpt.chat(MESSAGES, { maxTokens: 6, seed: 8, logprobs: 2 });
    const content = got.choices[0]!.logprobs!.content!;
    expect(content).toHaveLength(want.tokens.length);
    for (const [i, entry] of content.entries()) {
      const id = want.tokens[i]!;
      expect(entry.token).toBe(t.gpt.tokenizer.decode([id]));
      expect(entry.logprob).toBe(want.logprobs![i]!.logprob);
      expect(entry.bytes).toEqual([...t.gpt.tokenizer.decodeBytes([id])]);
      expect(entry.top_logprobs.map((a) => a.logprob)).toEqual(want.logprobs![i]!.topLogprobs.map((a) => a.logprob));
      expect(entry.top_logprobs[0]!.bytes).toEqual([...t.gpt.tokenizer.decodeBytes([want.logprobs![i]!.topLogprobs[0]!.token])]);
    }
  });

  it("streamed chat logprobs equal the whole answer's", async () => {
    const request = { model, messages: MESSAGES, max_tokens: 6, seed: 8, logprobs: true, top_logprobs: 2 } as const;
    const whole = (await t.client.chat.completions.create(request)).choices[0]!.logprobs!.content!;
    const stream = await t.client.chat.completions.create({ ...request, stream: true });
    const streamed = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed).toEqual(whole);
  });

  it("n: 2 replies, each equal to the library's", async () => {
    const got = await t.client.chat.completions.create({ model, messages: MESSAGES, max_tokens: 8, seed: 11, n: 2 });
    const want = await t.gpt.chat(MESSAGES, { maxTokens: 8, seed: 11, n: 2 });
    expect(got.choices.map((c) => c.message.content)).toEqual(want.map((r) => r.text));
  });
});

describe("a model that ends its text at once (<|endoftext|> first)", () => {
  let e: TestServer;
  beforeAll(async () => {
    const dir = await eosModel();
    dirs.push(dir);
    await writeFile(join(dir, "chat_template.jinja"), TEMPLATE);
    e = await startTestServer(dir);
  });
  afterAll(async () => {
    await e.close();
  });

  it("completions: finish_reason stop, and the end-of-text token has its logprobs entry, as OpenAI's and vLLM's", async () => {
    const got = await e.client.completions.create({ model: "tiny", prompt: PROMPT, max_tokens: 5, logprobs: 1, echo: true }).catch((x: unknown) => x);
    expect(got).toBeInstanceOf(OpenAI.NotFoundError); // the model is named after its directory
    const id = (await e.client.models.list()).data[0]!.id;
    const r = await e.client.completions.create({ model: id, prompt: PROMPT, max_tokens: 5, logprobs: 1, echo: true, temperature: 0 });
    const c = r.choices[0]!;
    expect(c.finish_reason).toBe("stop");
    expect(c.text).toBe(PROMPT);
    expect(r.usage!.completion_tokens).toBe(1);
    const promptTokens = e.gpt.tokenizer.encode(PROMPT).length;
    expect(c.logprobs!.tokens).toHaveLength(promptTokens + 1);
    expect(c.logprobs!.tokens!.at(-1)).toBe("<|endoftext|>");
    expect(c.logprobs!.token_logprobs!.at(-1)).toBeLessThan(0);
  });

  it("chat: finish_reason stop, empty content, no logprobs entry for what ended the turn", async () => {
    const id = (await e.client.models.list()).data[0]!.id;
    const r = await e.client.chat.completions.create({ model: id, messages: MESSAGES, max_tokens: 5, logprobs: true, temperature: 0 });
    expect(r.choices[0]!.finish_reason).toBe("stop");
    expect(r.choices[0]!.message.content).toBe("");
    expect(r.choices[0]!.logprobs!.content).toEqual([]);
    // The reply sent back as the API returned it ({ role, content, refusal: null }) is taken.
    const next = await e.client.chat.completions.create({
      model: id,
      messages: [...MESSAGES, r.choices[0]!.message, { role: "user", content: "And?" }],
      max_tokens: 2,
    });
    expect(next.choices).toHaveLength(1);
  });
});

describe("errors, as the client's own classes", () => {
  it("400 BadRequestError naming the field; 404 NotFoundError for an unknown model", async () => {
    const bad = await t.client.completions.create({ model, prompt: "x", temperature: 5 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("temperature");
    expect((bad as Error).message).toContain("temperature must be a number in [0, 2], got 5");
    const unsupported = await t.client.chat.completions
      .create({ model, messages: MESSAGES, tools: [{ type: "function", function: { name: "f" } }] })
      .catch((e: unknown) => e);
    expect(unsupported).toBeInstanceOf(OpenAI.BadRequestError);
    expect((unsupported as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("tools");
    const missing = await t.client.completions.create({ model: "gpt-4", prompt: "x" }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });

  it("401 AuthenticationError without the right key; /health and /metrics need none", async () => {
    const keyed = await startTestServer(dirs[0]!, {}, { apiKey: "sesame" });
    try {
      expect((await keyed.client.completions.create({ model, prompt: "Hi", max_tokens: 2 })).choices).toHaveLength(1);
      const wrong = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: "sesamE", maxRetries: 0 });
      const e = await wrong.completions.create({ model, prompt: "Hi" }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
      // "Bearer" in any case, as HTTP takes auth schemes; nothing, or an empty key, is refused.
      expect((await fetch(`${keyed.url}/v1/models`, { headers: { authorization: "bearer sesame" } })).status).toBe(200);
      expect((await fetch(`${keyed.url}/v1/models`, { headers: { authorization: "Bearer " } })).status).toBe(401);
      expect((await fetch(`${keyed.url}/v1/models`, { headers: { authorization: "sesame" } })).status).toBe(401);
      expect((await fetch(`${keyed.url}/metrics?name=x`)).status).toBe(200);
      const none = await fetch(`${keyed.url}/v1/models`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
      expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
      expect((await fetch(`${keyed.url}/metrics`)).status).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});

describe("with a slow model (requests still running while the test acts)", () => {
  let slow: TestServer;
  let slowModel: string;
  beforeAll(async () => {
    const dir = await slowChatModel(TEMPLATE);
    dirs.push(dir);
    // One sequence at a time and no queue: a second request while one runs is a 429.
    slow = await startTestServer(dir, { threads: 1, maxSequences: 1 }, { maxQueue: 0 });
    slowModel = (await slow.client.models.list()).data[0]!.id;
  });
  afterAll(async () => {
    await slow.close();
  });

  it("429 RateLimitError with retry-after while the server is full; break out of a stream frees its sequence", async () => {
    const stream = await slow.client.completions.create({ model: slowModel, prompt: PROMPT, max_tokens: 900, stream: true, ignore_eos: true } as { model: string; prompt: string; max_tokens: number; stream: true });
    let read = 0;
    let full: unknown;
    for await (const chunk of stream) {
      expect(chunk.choices[0]!.finish_reason).toBeNull();
      if (++read === 3) {
        full = await slow.client.completions.create({ model: slowModel, prompt: "x", max_tokens: 2 }).catch((e: unknown) => e);
        break;
      }
    }
    expect(full).toBeInstanceOf(OpenAI.RateLimitError);
    expect((full as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toBe("1");
    // Leaving the loop closed the connection: the sequence is cancelled within a step.
    await eventually(() => slow.gpt.kvCacheUsage.usedBlocks === 0 && slow.gpt.sequences.running === 0, "the sequence to leave");
    const metrics = await slow.server.metrics();
    expect(metricValue(metrics, "gptcuda_requests_running")).toBe(0);
    expect(metricValue(metrics, "gptcuda_requests_waiting")).toBe(0);
    // And the server takes the next request.
    const next = await slow.client.completions.create({ model: slowModel, prompt: "x", max_tokens: 2 });
    expect(next.usage!.completion_tokens).toBe(2);
  });
});
