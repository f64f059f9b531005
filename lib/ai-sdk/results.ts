// gpt-cuda's results in the AI SDK's terms: finish reasons, usage and provider metadata.
import type { LanguageModelV4FinishReason, LanguageModelV4Usage, SharedV4ProviderMetadata } from "@ai-sdk/provider";

import type { GenerateResult } from "../gpt.js";
import { PROVIDER_KEY } from "./call-options.js";

/** eos and a stop string or token are "stop"; the raw reason keeps which. */
export function finishReasonOf(result: GenerateResult): LanguageModelV4FinishReason {
  const raw = result.finishReason;
  return { unified: raw === "eos" || raw === "stop" ? "stop" : raw === "length" ? "length" : "other", raw };
}

export function usageOf(result: GenerateResult): LanguageModelV4Usage {
  const { promptTokens, completionTokens, cachedTokens } = result.usage;
  return {
    inputTokens: { total: promptTokens, noCache: promptTokens - cachedTokens, cacheRead: cachedTokens, cacheWrite: undefined },
    outputTokens: { total: completionTokens, text: completionTokens, reasoning: undefined },
    raw: { ...result.usage },
  };
}

/** A stream that failed has no usage to report. */
export const UNKNOWN_USAGE: LanguageModelV4Usage = {
  inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: undefined, text: undefined, reasoning: undefined },
};

/** providerMetadata.gptCuda: the timings, and the logprobs when providerOptions.gptCuda.logprobs asked for them. */
export function metadataOf(result: GenerateResult): SharedV4ProviderMetadata {
  const logprobs = result.logprobs?.map(({ token, text, logprob, topLogprobs }) => ({
    token,
    text,
    logprob,
    topLogprobs: topLogprobs.map((t) => ({ token: t.token, text: t.text, logprob: t.logprob })),
  }));
  return { [PROVIDER_KEY]: { timings: { ...result.timings }, ...(logprobs ? { logprobs } : {}) } };
}
