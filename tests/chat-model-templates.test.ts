/**
 * The real chat templates of the models we target (tests/fixtures/chat/*.jinja, each copied from
 * the public source scripts/make-chat-cases.py names) render exactly as transformers'
 * apply_chat_template renders them (tests/fixtures/chat/model-templates.json, made by that script).
 *
 * Through our renderer (ChatTemplate, what gpt.applyChatTemplate / chat use): every case our API can
 * express, i.e. system / user / assistant messages with string content and add_generation_prompt
 * true. The rest (add_generation_prompt false, tools, tool_calls and "tool" messages) have no way
 * through our API, so they are checked against @huggingface/jinja itself with the settings
 * ChatTemplate uses: what the renderer would give once the API passes them.
 */
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ChatTemplate } from "../lib/chat/chat-template.js";
import { checkMessages } from "../lib/chat/messages.js";

interface ModelCase {
  model: string;
  source: string;
  templateFile: string;
  conversation: string;
  messages: Record<string, unknown>[];
  add_generation_prompt: boolean;
  tools?: unknown[];
  bos_token: string | null;
  eos_token: string;
  expected?: string;
  error?: string;
}

const fixture = (name: string) => new URL(`./fixtures/chat/${name}`, import.meta.url);
const FIXTURE = JSON.parse(readFileSync(fixture("model-templates.json"), "utf8")) as {
  transformers: string;
  strftimeNow: string;
  cases: ModelCase[];
};
const templates = new Map<string, string>();
const templateOf = (c: ModelCase) => {
  let t = templates.get(c.templateFile);
  if (t === undefined) templates.set(c.templateFile, (t = readFileSync(fixture(c.templateFile), "utf8")));
  return t;
};

/** Whether gpt.applyChatTemplate can express the case: plain role/content messages, generation prompt on. */
const passable = (c: ModelCase) =>
  c.add_generation_prompt &&
  c.tools === undefined &&
  c.messages.every((m) => ["system", "user", "assistant"].includes(m.role as string) && typeof m.content === "string" && Object.keys(m).length === 2);

const name = (c: ModelCase) => `${c.model} / ${c.conversation} / add_generation_prompt=${c.add_generation_prompt}`;

// strftime_now (Llama 3.2's "Today Date") reads the clock: pin it where the script pinned transformers'.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(FIXTURE.strftimeNow)); // local time, as datetime.now() is
});
afterEach(() => {
  vi.useRealTimers();
});

describe("model chat templates against transformers' apply_chat_template", () => {
  it("covers every model and conversation the script makes", () => {
    const models = new Set(FIXTURE.cases.map((c) => c.model));
    expect([...models]).toEqual([
      "HuggingFaceTB/SmolLM2-135M-Instruct",
      "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
      "Qwen/Qwen2.5-0.5B-Instruct",
      "Qwen/Qwen2.5-7B-Instruct",
      "meta-llama/Llama-3.2-3B-Instruct",
    ]);
    expect(FIXTURE.cases).toHaveLength(58);
    expect(FIXTURE.cases.filter(passable)).toHaveLength(20);
    expect(FIXTURE.cases.filter((c) => c.tools)).toHaveLength(18);
    for (const c of FIXTURE.cases) expect(c.error, name(c)).toBeUndefined();
  });

  it.each(FIXTURE.cases.filter(passable).map((c) => [name(c), c] as const))("our renderer: %s", (_name, c) => {
    const bosToken = c.bos_token ?? c.eos_token; // a checkpoint without bos_token: ChatSetup's fallback
    const template = new ChatTemplate(templateOf(c), { bosToken, eosToken: c.eos_token }, c.templateFile, (p) => new Error(p));
    expect(template.render(checkMessages(c.messages))).toBe(c.expected);
  });

  it.each(FIXTURE.cases.filter((c) => !passable(c)).map((c) => [name(c), c] as const))(
    "@huggingface/jinja (not passable through our API): %s",
    (_name, c) => {
      const text = new Template(templateOf(c)).render({
        messages: c.messages,
        bos_token: c.bos_token ?? c.eos_token,
        eos_token: c.eos_token,
        add_generation_prompt: c.add_generation_prompt,
        ...(c.tools ? { tools: c.tools } : {}),
      });
      expect(text).toBe(c.expected);
    },
  );
});
