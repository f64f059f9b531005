// A request that can never fit the model's context is a 400 saying so, in OpenAI's words.
import { contextLimit } from "../context-limit.js";
import type { Gpt } from "../gpt.js";
import { invalid } from "./api-error.js";

/** The prompt's tokens plus the tokens asked for must fit n_positions and the KV cache. */
export function checkContext(gpt: Gpt, promptTokens: number, maxTokens: number, param: string): void {
  const limit = contextLimit(gpt);
  if (promptTokens + maxTokens > limit)
    throw invalid(
      `this model's maximum context length is ${limit} tokens; this request asks for ${promptTokens + maxTokens} ` +
        `(${promptTokens} in the ${param === "messages" ? "messages" : "prompt"}, ${maxTokens} for the completion)`,
      param,
      "context_length_exceeded",
    );
}
