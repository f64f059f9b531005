/**
 * Chat: templates rendered as Hugging Face's apply_chat_template renders them
 * (tests/fixtures/chat/chat-cases.json, made by scripts/make-chat-cases.py), found where
 * checkpoints keep them, and gpt.chat / gpt.chatStream ending at the end-of-turn token.
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt, GptError, type ChatMessage } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { chatModel } from "./helpers/model-edits.js";

interface ChatCase {
  template: string;
  conversation: string;
  messages: ChatMessage[];
  text?: string;
  ids?: number[];
  error?: string;
}

const CASES = JSON.parse(
  readFileSync(fileURLToPath(new URL("./fixtures/chat/chat-cases.json", import.meta.url)), "utf8"),
) as { templates: Record<string, string>; cases: ChatCase[] };
const EOS_SEPARATED = CASES.templates["eos-separated"]!;
const HELLO: ChatMessage[] = [{ role: "user", content: "Hello there!" }];

let plain: Gpt; // tiny-f32 as made: no chat template
const dirs: string[] = [];
beforeAll(async () => {
  plain = await Gpt.load(fixtureDir("tiny-f32"), { device: "cpu" });
});
afterAll(async () => {
  plain.dispose();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function loadChat(edits: Parameters<typeof chatModel>[0]): Promise<Gpt> {
  const dir = await chatModel(edits);
  dirs.push(dir);
  return Gpt.load(dir, { device: "cpu" });
}

describe("templates against Hugging Face's apply_chat_template", () => {
  it("covers every template and conversation the script makes", () => {
    expect(CASES.cases.length).toBe(16);
    expect(CASES.cases.filter((c) => c.error).length).toBe(1);
  });

  it.each(CASES.cases.map((c) => [`${c.template} / ${c.conversation}`, c] as const))("%s", (_name, c) => {
    const render = () => plain.applyChatTemplate(c.messages, { chatTemplate: CASES.templates[c.template]! });
    if (c.error !== undefined) {
      expect(render).toThrow(`the chat template (the chatTemplate option) refused the messages: ${c.error}`);
      return;
    }
    const text = render();
    expect(text).toBe(c.text);
    expect(plain.tokenizer.encode(text)).toEqual(c.ids);
  });
});

describe("the checkpoint's own template", () => {
  it("from tokenizer_config.json's chat_template, with its bos and eos tokens", async () => {
    const gpt = await loadChat({ tokenizerConfig: { chat_template: EOS_SEPARATED } });
    try {
      expect(gpt.applyChatTemplate(HELLO)).toBe(CASES.cases.find((c) => c.template === "eos-separated")!.text);
    } finally {
      gpt.dispose();
    }
  });

  it("chat_template.jinja over tokenizer_config.json's; a named list takes \"default\"; AddedToken objects give the token's text", async () => {
    const jinja = await loadChat({ jinja: "{{ bos_token }}J:{{ messages[0].content }}", tokenizerConfig: { chat_template: "T" } });
    const named = await loadChat({
      tokenizerConfig: {
        chat_template: [
          { name: "tool_use", template: "tools" },
          { name: "default", template: "{{ eos_token }}D:{{ messages[0].content }}" },
        ],
        eos_token: { content: "<|endoftext|>", lstrip: false, rstrip: false, special: true },
      },
    });
    try {
      expect([jinja.hasChatTemplate, named.hasChatTemplate]).toEqual([true, true]);
      expect(jinja.applyChatTemplate(HELLO)).toBe("<|endoftext|>J:Hello there!");
      expect(named.applyChatTemplate(HELLO)).toBe("<|endoftext|>D:Hello there!");
    } finally {
      jinja.dispose();
      named.dispose();
    }
  });

  it("no template: E_UNSUPPORTED naming the file it looked in, unless chatTemplate is given", async () => {
    const file = join(fixtureDir("tiny-f32"), "tokenizer_config.json");
    expect(plain.hasChatTemplate).toBe(false);
    expect(() => plain.applyChatTemplate(HELLO)).toThrow(`${file}: no chat_template here, and no`);
    await expect(plain.chat(HELLO)).rejects.toMatchObject({ code: "E_UNSUPPORTED", file });
    expect(() => plain.chatStream(HELLO)).toThrow(/pass the chatTemplate option/);
    const random = await Gpt.random("gpt2", { device: "cpu", kvCacheTokens: 64, maxSequences: 1 });
    try {
      expect(random.hasChatTemplate).toBe(false);
      expect(() => random.applyChatTemplate(HELLO)).toThrow("random:gpt2 has no chat template");
      expect(random.applyChatTemplate(HELLO, { chatTemplate: "{{ messages[0].content }}" })).toBe("Hello there!");
    } finally {
      random.dispose();
    }
  });

  it("a template that does not parse fails the chat (E_TOKENIZER naming its file), not the load", async () => {
    const gpt = await loadChat({ jinja: "{% for m in messages %}" });
    try {
      expect(() => gpt.applyChatTemplate(HELLO)).toThrow(/chat_template.jinja: the chat template does not parse/);
      expect((await gpt.generate([1, 2], { maxTokens: 1 })).tokens).toHaveLength(1);
      expect(() => plain.applyChatTemplate(HELLO, { chatTemplate: "{{" })).toThrow(GptError);
    } finally {
      gpt.dispose();
    }
  });
});

describe("gpt.chat and gpt.chatStream", () => {
  it("is generate() on the rendered prompt, ending at the eos token", async () => {
    const gpt = await loadChat({ tokenizerConfig: { chat_template: EOS_SEPARATED } });
    try {
      const prompt = gpt.applyChatTemplate(HELLO);
      const opts = { maxTokens: 30, temperature: 0.9, seed: 21 };
      const reply = await gpt.chat(HELLO, opts);
      const direct = await gpt.generate(prompt, opts);
      expect(reply.tokens).toEqual(direct.tokens);
      expect(reply.usage.promptTokens).toBe(gpt.tokenizer.encode(prompt).length);
      let text = "";
      const stream = gpt.chatStream(HELLO, opts);
      for await (const chunk of stream) text += chunk.text;
      expect(text).toBe(reply.text);
    } finally {
      gpt.dispose();
    }
  });

  it("ends at generation_config.json's eos_token_id too (finishReason stop), even with ignoreEos", async () => {
    const probe = await loadChat({ tokenizerConfig: { chat_template: EOS_SEPARATED } });
    const greedy = await probe.chat(HELLO, { temperature: 0, maxTokens: 12, ignoreEos: true });
    probe.dispose();
    const at = greedy.tokens.findIndex((t, i) => i >= 2 && greedy.tokens.indexOf(t) === i);
    const endOfTurn = greedy.tokens[at]!;
    const gpt = await loadChat({ tokenizerConfig: { chat_template: EOS_SEPARATED }, generationConfig: { eos_token_id: [1023, endOfTurn] } });
    try {
      const reply = await gpt.chat(HELLO, { temperature: 0, maxTokens: 12, ignoreEos: true });
      expect(reply.finishReason).toBe("stop");
      expect(reply.tokens).toEqual(greedy.tokens.slice(0, at));
      // generate() on the same prompt does not know of the turn's end.
      expect((await gpt.generate(gpt.applyChatTemplate(HELLO), { temperature: 0, maxTokens: 12, ignoreEos: true })).tokens).toEqual(
        greedy.tokens,
      );
    } finally {
      gpt.dispose();
    }
  });

  it("n replies, each equal to a lone chat with seed + i", async () => {
    const gpt = await loadChat({ tokenizerConfig: { chat_template: EOS_SEPARATED } });
    try {
      const replies = await gpt.chat(HELLO, { maxTokens: 6, seed: 8, n: 2 });
      expect(replies).toHaveLength(2);
      for (const [i, r] of replies.entries()) expect(r.tokens).toEqual((await gpt.chat(HELLO, { maxTokens: 6, seed: 8 + i })).tokens);
    } finally {
      gpt.dispose();
    }
  });

  it.each([
    ["not an array", "hi", /messages must be a non-empty array/],
    ["empty", [], /messages must be a non-empty array/],
    ["a bad role", [{ role: "tool", content: "x" }], /messages\[0\].role must be one of system, user, assistant, got "tool"/],
    ["a missing content", [{ role: "user" }], /messages\[0\].content must be a string, got undefined/],
    ["not an object", [HELLO[0], 3], /messages\[1\] must be an object/],
  ])("refuses messages that are %s (E_INVALID_ARGUMENT)", async (_what, messages, message) => {
    const options = { chatTemplate: EOS_SEPARATED };
    const error = await plain.chat(messages as ChatMessage[], options).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_INVALID_ARGUMENT" });
    expect((error as Error).message).toMatch(message);
  });
});
