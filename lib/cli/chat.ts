// `gpt-cuda chat`: a conversation in the terminal (replies streamed, the history kept, /reset
// to start over), or, with stdin not a terminal, one message read from stdin and its reply.
import { createInterface, type Interface } from "node:readline";

import type { ChatMessage } from "../chat/messages.js";
import { GptError, GptInputError } from "../errors.js";
import type { ChatOptions, Gpt } from "../gpt.js";
import type { GenerateResult } from "../requests/results.js";
import { UsageError } from "./args.js";
import { EXIT_INTERRUPTED, interruptOnCtrlC, readStdin, type Io } from "./io.js";
import { loadFromFlags, readChatTemplateFile, samplingOptions, type LoadFlags, type SamplingFlags } from "./model-flags.js";

export interface ChatFlags extends LoadFlags, SamplingFlags {
  system?: string;
  /** A file holding a Jinja chat template, used instead of the checkpoint's. */
  chatTemplate?: string;
}

export const CHAT_MAX_TOKENS = 256;

export async function chatCommand(flags: ChatFlags, io: Io): Promise<number> {
  const chatTemplate = flags.chatTemplate === undefined ? undefined : await readChatTemplateFile(flags.chatTemplate);
  const history: ChatMessage[] = flags.system === undefined ? [] : [{ role: "system", content: flags.system }];
  const options: ChatOptions & { n?: undefined } = {
    maxTokens: CHAT_MAX_TOKENS,
    ...samplingOptions(flags),
    ...(chatTemplate === undefined ? {} : { chatTemplate }),
  };
  if (!io.stdin.isTTY) return oneReply(flags, io, history, options);

  const { gpt } = await loadFromFlags(flags, io);
  try {
    checkTemplate(gpt, history, options);
    io.stderr.write(
      `chatting with ${gpt.path} on ${gpt.device}: /reset starts over; Ctrl-C stops a reply, ` +
        "and at the prompt (or twice) exits; Ctrl-D exits\n",
    );
    return await conversation(gpt, io, history, options, flags.maxTokens !== undefined, flags.verbose === true);
  } finally {
    gpt.dispose();
  }
}

/** A model without a usable template fails now, not after the first message is typed. */
function checkTemplate(gpt: Gpt, history: ChatMessage[], options: ChatOptions): void {
  try {
    gpt.applyChatTemplate([...history, { role: "user", content: "Hello" }], options);
  } catch (e) {
    if (!(e instanceof GptError && e.code === "E_INVALID_ARGUMENT")) throw e; // that conversation, not the template
  }
}

/** stdin is a pipe or a file: its text is the one user message, and the reply goes to stdout. */
async function oneReply(flags: ChatFlags, io: Io, history: ChatMessage[], options: ChatOptions & { n?: undefined }): Promise<number> {
  const ctrlC = interruptOnCtrlC();
  let gpt: Gpt | undefined;
  try {
    const message = await readStdin(io.stdin, ctrlC.signal);
    if (message === null) return EXIT_INTERRUPTED;
    if (message.trim() === "") throw new UsageError("no message: pipe one in (echo 'Hello' | gpt-cuda chat …)");
    gpt = (await loadFromFlags(flags, io)).gpt;
    const stream = gpt.chatStream([...history, { role: "user", content: message }], { ...options, signal: ctrlC.signal });
    for await (const chunk of stream) io.stdout.write(chunk.text);
    io.stdout.write("\n");
    if (flags.verbose) io.stderr.write(usageLine(await stream.result));
    return (await stream.result).finishReason === "abort" ? EXIT_INTERRUPTED : 0;
  } finally {
    ctrlC.release();
    gpt?.dispose();
  }
}

/** The interactive loop; resolves with the exit code once the user leaves. */
async function conversation(
  gpt: Gpt,
  io: Io,
  initial: ChatMessage[],
  options: ChatOptions & { n?: undefined },
  maxTokensGiven: boolean,
  verbose: boolean,
): Promise<number> {
  const rl = createInterface({ input: io.stdin, output: io.stdout, terminal: true, prompt: "> " });
  const lines = new LineQueue(rl);
  let reply: AbortController | null = null;
  let exitCode = 0;
  rl.on("SIGINT", () => {
    if (reply && !reply.signal.aborted) return reply.abort(); // stop the reply
    exitCode = EXIT_INTERRUPTED;
    rl.close();
  });
  let history = [...initial];
  try {
    for (;;) {
      rl.prompt();
      const line = await lines.next();
      if (line === null) break;
      const text = line.trim();
      if (text === "") continue;
      if (text === "/reset") {
        history = [...initial];
        io.stdout.write("(history cleared)\n");
        continue;
      }
      const user: ChatMessage = { role: "user", content: line };
      const maxTokens = replyRoom(gpt, [...history, user], options, maxTokensGiven);
      if (maxTokens <= 0) {
        io.stderr.write(`the conversation fills the model's ${contextTokens(gpt)} positions: /reset starts over\n`);
        continue;
      }
      reply = new AbortController();
      try {
        const stream = gpt.chatStream([...history, user], { ...options, maxTokens, signal: reply.signal });
        for await (const chunk of stream) io.stdout.write(chunk.text);
        const result = await stream.result;
        io.stdout.write(result.finishReason === "abort" ? " (stopped)\n" : "\n");
        if (verbose) io.stderr.write(usageLine(result));
        history.push(user, { role: "assistant", content: result.text });
      } catch (e) {
        // A message this conversation cannot take (too long, refused by the template) is not the
        // end of the conversation: say why and keep the history.
        if (!(e instanceof GptInputError)) throw e;
        io.stderr.write(`gpt-cuda: ${e.message}\n`);
      } finally {
        reply = null;
      }
    }
  } finally {
    rl.close();
  }
  return exitCode;
}

/** -v: what a reply cost; the prompt grows with the history, and its cached part is what the prefix cache kept. */
function usageLine({ usage, timings }: GenerateResult): string {
  const tokS = usage.completionTokens > 1 ? ((usage.completionTokens - 1) / timings.decodeMs) * 1000 : 0;
  return (
    `[${usage.promptTokens} prompt tokens (${usage.cachedTokens} cached), ${usage.completionTokens} generated, ` +
    `${tokS.toFixed(1)} tokens/s]\n`
  );
}

/** Positions one sequence can hold: the model's n_positions, or the KV cache if that is smaller. */
function contextTokens(gpt: Gpt): number {
  return Math.min(gpt.config.nCtx, gpt.limits.kvCacheTokens);
}

/**
 * The reply's maxTokens. The history grows with every turn, so without -n a reply gets what is
 * left of the context (up to CHAT_MAX_TOKENS) rather than failing once the total passes it; an
 * explicit -n is kept, and a conversation it no longer fits in gets E_CONTEXT_OVERFLOW.
 */
function replyRoom(gpt: Gpt, messages: ChatMessage[], options: ChatOptions, maxTokensGiven: boolean): number {
  const requested = options.maxTokens ?? CHAT_MAX_TOKENS;
  if (maxTokensGiven) return requested;
  const promptTokens = gpt.tokenizer.encode(gpt.applyChatTemplate(messages, options), { addSpecialTokens: false }).length;
  return Math.min(requested, contextTokens(gpt) - promptTokens);
}

/** The lines a readline interface reads, taken one at a time; null once it closes. */
class LineQueue {
  private readonly lines: string[] = [];
  private closed = false;
  private waiting: (() => void) | null = null;

  constructor(rl: Interface) {
    rl.on("line", (line) => {
      this.lines.push(line);
      this.waiting?.();
    });
    rl.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  async next(): Promise<string | null> {
    while (this.lines.length === 0 && !this.closed) await new Promise<void>((resolve) => (this.waiting = resolve));
    this.waiting = null;
    return this.lines.shift() ?? null;
  }
}
