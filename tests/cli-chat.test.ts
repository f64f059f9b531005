/**
 * `gpt-cuda chat`: one reply to a message piped in (checked against gpt.chat in this process),
 * the errors of a model without a template, and the conversation in a terminal: replies
 * streamed, the history kept, /reset, Ctrl-C stopping a reply and exiting at the prompt.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Gpt, type ChatMessage } from "../lib/index.js";
import { fixtureDir } from "./helpers/fixtures.js";
import { chatModel, slowChatModel } from "./helpers/model-edits.js";
import { runCli } from "./helpers/run-cli.js";
import { cliInTerminal, haveScript } from "./helpers/terminal.js";

// Every message of the history, so that a longer history is a longer prompt.
const TEMPLATE =
  "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

const dirs: string[] = [];
let cache: string;
let tiny: string; // tiny-f32 with TEMPLATE as its chat_template.jinja
const cli = (args: string[], input?: string) =>
  runCli(args, { env: { GPT_CUDA_CACHE: cache }, ...(input !== undefined ? { input } : {}) });

beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), "gpt-cuda-cli-chat-"));
  tiny = await chatModel({ jinja: TEMPLATE });
  dirs.push(cache, tiny);
});
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("cli chat, stdin not a terminal", () => {
  it("prints gpt.chat's reply to the message piped in (its trailing newline dropped)", async () => {
    const system = "You are terse.";
    const out = await cli(["chat", "-m", tiny, "-t", "0", "-n", "12", "--system", system], "Hello there!\n");
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const messages: ChatMessage[] = [
      { role: "system", content: system },
      { role: "user", content: "Hello there!" },
    ];
    const gpt = await Gpt.load(tiny, { device: "cpu" });
    try {
      const want = await gpt.chat(messages, { temperature: 0, maxTokens: 12 });
      expect(want.text.length).toBeGreaterThan(0);
      expect(out.stdout).toBe(`${want.text}\n`);
    } finally {
      gpt.dispose();
    }
  });

  it("--chat-template gives a model without one its template", async () => {
    const file = join(tiny, "chat_template.jinja");
    const plain = fixtureDir("tiny-f32");
    const withFile = await cli(["chat", "-m", plain, "-t", "0", "-n", "6", "--chat-template", file], "Hi");
    const own = await cli(["chat", "-m", tiny, "-t", "0", "-n", "6"], "Hi");
    expect(withFile.code).toBe(0);
    expect(withFile.stdout).toBe(own.stdout);
  });

  it("-v reports the reply's prompt, cached and generated tokens", async () => {
    const out = await cli(["chat", "-m", tiny, "-t", "0", "-n", "5", "-v"], "Hi");
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/\[\d+ prompt tokens \(0 cached\), 5 generated, [\d.]+ tokens\/s\]\n$/);
  });

  it("a model without a template: exit 1 and one line naming the file looked in", async () => {
    const out = await cli(["chat", "-m", fixtureDir("tiny-f32")], "Hello");
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    const lines = out.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("tokenizer_config.json: no chat_template here");
    expect(lines[0]).toContain("--chat-template <file>");
  });

  it("a missing --chat-template file or an empty message is a usage error (exit 2)", async () => {
    const missing = await cli(["chat", "-m", tiny, "--chat-template", "/nonexistent/t.jinja"], "Hello");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("gpt-cuda: --chat-template /nonexistent/t.jinja: not found\n");
    const empty = await cli(["chat", "-m", tiny], "  \n");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^gpt-cuda: no message: pipe one in/);
  });
});

describe.skipIf(!haveScript)("cli chat in a terminal (needs util-linux's script)", () => {
  // Slow enough that a 256-token reply can be stopped part way, with room in its 1024
  // positions for the whole conversation.
  let slow: string;
  beforeAll(async () => {
    slow = await slowChatModel(TEMPLATE);
    dirs.push(slow);
  });

  const usage = /\[(\d+) prompt tokens \((\d+) cached\), (\d+) generated/g;
  const promptTokens = (output: string) => [...output.matchAll(usage)].map((m) => Number(m[1]));

  it("streams replies, keeps the history, /reset starts over, Ctrl-C stops a reply and exits at the prompt", async () => {
    const term = cliInTerminal(["chat", "-m", slow, "-t", "0", "-v", "--threads", "1"], { GPT_CUDA_CACHE: cache });
    try {
      await term.waitFor(/Ctrl-D exits\r*\n[^]*> $/);

      // A reply stopped part way: Ctrl-C once it has started streaming.
      let from = term.output().length;
      term.send("Hello\r");
      await term.waitFor(/Hello\r*\n[^\r\n]+/, from);
      term.send("\x03");
      await term.waitFor(/ \(stopped\)\r*\n/, from);
      await term.waitFor(/generated[^\n]*\n[^]*> $/, from);
      const stopped = [...term.output().slice(from).matchAll(usage)][0]!;
      expect(Number(stopped[3])).toBeGreaterThan(0);
      expect(Number(stopped[3])).toBeLessThan(256);

      // The next message's prompt holds the first exchange too, and starts with its blocks.
      from = term.output().length;
      term.send("And then?\r");
      await term.waitFor(/generated[^\n]*\n[^]*> $/, from);
      const [first, second] = promptTokens(term.output());
      expect(second).toBeGreaterThan(first! + Number(stopped[3]));

      // /reset: the same first message is the same short prompt again.
      from = term.output().length;
      term.send("/reset\r");
      await term.waitFor(/\(history cleared\)\r*\n[^]*> $/, from);
      term.send("Hello\r");
      await term.waitFor(/Hello\r*\n[^\r\n]+/, from);
      term.send("\x03");
      await term.waitFor(/generated[^\n]*\n[^]*> $/, from);
      expect(promptTokens(term.output())[2]).toBe(first);

      // Ctrl-C at the prompt: the program exits, 128 + SIGINT.
      term.send("\x03");
      expect(await term.exited).toBe(130);
    } finally {
      term.kill();
    }
  }, 120_000);

  it("Ctrl-D at the prompt exits 0", async () => {
    const term = cliInTerminal(["chat", "-m", tiny], { GPT_CUDA_CACHE: cache });
    try {
      await term.waitFor(/> $/);
      term.send("\x04");
      expect(await term.exited).toBe(0);
    } finally {
      term.kill();
    }
  }, 60_000);
});
