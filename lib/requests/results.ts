// What generation returns: the chunks a stream yields and the result a call resolves to.

export type FinishReason = "eos" | "length" | "stop" | "abort";

/** A token with its log-probability under the model's raw logits. */
export interface TokenLogprob {
  token: number;
  /** The token's own text (U+FFFD where it holds part of a UTF-8 character). */
  text: string;
  /** log-softmax of the raw logits (before penalties, biases and sampling filters). */
  logprob: number;
}

export interface StreamChunk {
  /** The token this chunk follows; the last chunk after <|endoftext|> (or a stop token) carries that id. */
  token: number;
  /** Newly completed text: can be "" while a multi-byte character or a possible stop string is pending. */
  text: string;
  /** log-softmax of the raw logits at this token (before penalties, biases and sampling filters). */
  logprob: number;
  /** With the logprobs option: the likeliest tokens at this position, best first, from the raw logits. */
  topLogprobs?: TokenLogprob[];
}

/** A prompt token scored by the model (gpt.promptLogprobs): the first has nothing before it, so no logprob. */
export interface PromptTokenLogprob {
  token: number;
  text: string;
  /** log-softmax of the raw logits at the position before, at this token; null for the first token. */
  logprob: number | null;
  /** The likeliest tokens at the position before, best first ([] for the first token). */
  topLogprobs: TokenLogprob[];
}

/** One generated token with its logprob and the alternatives (the logprobs option). */
export interface TokenLogprobs extends TokenLogprob {
  topLogprobs: TokenLogprob[];
}

export interface GenerateResult {
  /** The generated text: the chunks' texts joined. */
  text: string;
  /** Generated ids, without a final <|endoftext|> or stop token. */
  tokens: number[];
  finishReason: FinishReason;
  /** With the logprobs option: one entry per chunk (so a final <|endoftext|> or stop token has one too). */
  logprobs?: TokenLogprobs[];
  usage: {
    promptTokens: number;
    /** Generated tokens, a final <|endoftext|> or stop token included. */
    completionTokens: number;
    /** Prompt tokens whose keys and values came from the prefix cache instead of being computed. */
    cachedTokens: number;
  };
  timings: {
    /** From the call until its first step ran (waiting for a slot in the batch). */
    queueMs: number;
    /** From its first step until the first token. */
    prefillMs: number;
    /** From the first token to the end. */
    decodeMs: number;
  };
}
