/**
 * Logprobs in the two shapes the OpenAI API has: the completions shape (parallel arrays of
 * tokens, token_logprobs, top_logprobs as { token: logprob } and text_offset) and the chat
 * shape (content: [{ token, logprob, bytes, top_logprobs: [{ token, logprob, bytes }] }]).
 */
import type { TokenLogprob } from "../gpt.js";
import type { Tokenizer } from "../tokenizer/index.js";

const strict = new TextDecoder("utf-8", { fatal: true });

/**
 * A token as the completions shape names it: its text, or, for a token holding part of a UTF-8
 * character, "bytes:\xe2\x80" (OpenAI's spelling), so that no two tokens look alike.
 */
export function completionTokenName(tokenizer: Tokenizer, id: number): string {
  const bytes = tokenizer.tokenBytes(id);
  try {
    return strict.decode(bytes);
  } catch {
    return `bytes:${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}`;
  }
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/**
 * Builds a choice's completions-shape logprobs token by token. text_offset is where each token
 * starts in the returned text (the echoed prompt included), as an index into the JavaScript
 * string: the tokens of one character split across tokens all start where it does.
 */
export class CompletionLogprobsBuilder {
  private readonly decoder = new TextDecoder("utf-8");
  private offset = 0;

  constructor(private readonly tokenizer: Tokenizer) {}

  /** One token's entry (logprob null for a prompt's first token, which has nothing before it). */
  next(id: number, logprob: number | null, top: readonly TokenLogprob[] | null): CompletionLogprobs {
    const entry: CompletionLogprobs = {
      tokens: [completionTokenName(this.tokenizer, id)],
      token_logprobs: [logprob],
      top_logprobs: [top && Object.fromEntries(top.map((t) => [completionTokenName(this.tokenizer, t.token), t.logprob]))],
      text_offset: [this.offset],
    };
    this.offset += this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true }).length;
    return entry;
  }
}

/** Entries joined into one choice's logprobs. */
export function joinCompletionLogprobs(entries: CompletionLogprobs[]): CompletionLogprobs {
  return {
    tokens: entries.flatMap((e) => e.tokens),
    token_logprobs: entries.flatMap((e) => e.token_logprobs),
    top_logprobs: entries.flatMap((e) => e.top_logprobs),
    text_offset: entries.flatMap((e) => e.text_offset),
  };
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function chatLogprob(tokenizer: Tokenizer, id: number, logprob: number, top: readonly TokenLogprob[]): ChatTokenLogprob {
  return {
    token: tokenizer.tokenText(id),
    logprob,
    bytes: [...tokenizer.tokenBytes(id)],
    top_logprobs: top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: [...tokenizer.tokenBytes(t.token)] })),
  };
}
