// The AI SDK's call options as gpt-cuda's generate options: the standard settings mapped one to
// one, gpt-cuda's own through providerOptions.gptCuda, and a warning (the specification's way)
// for each setting a text-only model without tools cannot honour.
import type { LanguageModelV4CallOptions, SharedV4Warning } from "@ai-sdk/provider";

import type { GenerateOptions } from "../generate-options.js";
import { checkObject } from "../option-checks.js";

/** providerOptions.gptCuda: generation options the AI SDK has no standard name for. */
export interface GptCudaProviderOptions {
  /** As GenerateOptions.minP. */
  minP?: number;
  /** As GenerateOptions.repetitionPenalty. */
  repetitionPenalty?: number;
  /** As GenerateOptions.logitBias. */
  logitBias?: Record<number, number>;
  /** As GenerateOptions.stopTokens (a chat reply also ends at the template's end-of-turn tokens). */
  stopTokens?: number[];
  /** As GenerateOptions.ignoreEos. */
  ignoreEos?: boolean;
  /** Report each token's logprob and this many alternatives (0–20) in providerMetadata.gptCuda.logprobs. */
  logprobs?: number;
  /** A Jinja chat template for this call, instead of the model's (or the provider settings'). */
  chatTemplate?: string;
}

/** One sequence per call: the AI SDK has no n. */
export type SingleOptions = GenerateOptions & { n?: undefined };

export const PROVIDER_KEY = "gptCuda";
const PROVIDER_OPTION_KEYS = new Set(["minP", "repetitionPenalty", "logitBias", "stopTokens", "ignoreEos", "logprobs", "chatTemplate"]);

export interface MappedOptions {
  /** Without maxTokens when the call set no maxOutputTokens: the default depends on chat or plain text. */
  generate: SingleOptions;
  chatTemplate: string | undefined;
  warnings: SharedV4Warning[];
}

export function mapCallOptions(call: LanguageModelV4CallOptions): MappedOptions {
  const own = checkObject(call.providerOptions?.[PROVIDER_KEY], `providerOptions.${PROVIDER_KEY}`, PROVIDER_OPTION_KEYS) as GptCudaProviderOptions;
  const { chatTemplate, ...extra } = own;
  const generate: SingleOptions = { ...extra };
  if (call.maxOutputTokens !== undefined) generate.maxTokens = call.maxOutputTokens;
  if (call.temperature !== undefined) generate.temperature = call.temperature;
  if (call.topP !== undefined) generate.topP = call.topP;
  if (call.topK !== undefined) generate.topK = call.topK;
  if (call.presencePenalty !== undefined) generate.presencePenalty = call.presencePenalty;
  if (call.frequencyPenalty !== undefined) generate.frequencyPenalty = call.frequencyPenalty;
  if (call.seed !== undefined) generate.seed = call.seed;
  if (call.stopSequences !== undefined && call.stopSequences.length > 0) generate.stop = call.stopSequences;
  if (call.abortSignal !== undefined) generate.signal = call.abortSignal;
  return { generate, chatTemplate, warnings: warningsFor(call) };
}

function warningsFor(call: LanguageModelV4CallOptions): SharedV4Warning[] {
  const warnings: SharedV4Warning[] = [];
  if (call.tools !== undefined && call.tools.length > 0)
    warnings.push({ type: "unsupported", feature: "tools", details: "gpt-cuda's models do not call tools; the tools were not shown to the model" });
  if (call.toolChoice !== undefined && call.toolChoice.type !== "auto" && call.toolChoice.type !== "none")
    warnings.push({ type: "unsupported", feature: "toolChoice", details: "gpt-cuda's models do not call tools" });
  if (call.responseFormat?.type === "json")
    warnings.push({ type: "unsupported", feature: "responseFormat", details: "JSON output is not enforced: the model writes free text" });
  if (call.reasoning !== undefined && call.reasoning !== "provider-default" && call.reasoning !== "none")
    warnings.push({ type: "unsupported", feature: "reasoning", details: "gpt-cuda's models have no reasoning mode" });
  return warnings;
}
