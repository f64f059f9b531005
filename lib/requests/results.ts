// What generation returns: the chunks a stream yields and the result a call resolves to.

export type FinishReason = "eos" | "length" | "stop" | "abort";

export interface StreamChunk {
  /** The token this chunk follows; the last chunk after <|endoftext|> carries the EOS id. */
  token: number;
  /** Newly completed text: can be "" while a multi-byte character or a possible stop string is pending. */
  text: string;
  /** log-softmax of the raw logits at this token. */
  logprob: number;
}

export interface GenerateResult {
  /** The generated text: the chunks' texts joined. */
  text: string;
  /** Generated ids, without a final <|endoftext|>. */
  tokens: number[];
  finishReason: FinishReason;
  usage: {
    promptTokens: number;
    /** Generated tokens, a final <|endoftext|> included. */
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
