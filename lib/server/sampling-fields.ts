/**
 * The fields both endpoints share — sampling, stopping, n, streaming — read from a request body
 * into the library's GenerateOptions, each checked under its OpenAI name. Extensions as vLLM
 * names them: top_k, min_p, repetition_penalty, stop_token_ids, ignore_eos.
 */
import { MAX_N, type GenerateOptions } from "../generate-options.js";
import { describe } from "../option-checks.js";
import { invalid } from "./api-error.js";
import { optionalBoolean, optionalInteger, optionalNumber, optionalObject, optionalString, present, type Body } from "./fields.js";

export const SAMPLING_FIELDS = [
  "model",
  "max_tokens",
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "repetition_penalty",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "seed",
  "stop",
  "stop_token_ids",
  "ignore_eos",
  "n",
  "stream",
  "stream_options",
  "user",
] as const;

/** The most stop strings one request may give. */
const MAX_STOP = 16;
/** The sampler's seed is 32 bits. */
const MAX_SEED = 2 ** 32 - 1;

export interface SamplingFields {
  /** null: the request did not say (each endpoint has its own default). */
  maxTokens: number | null;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  options: Omit<GenerateOptions, "maxTokens" | "n" | "logprobs" | "signal">;
}

export function readSamplingFields(body: Body, vocabSize: number, maxTokensField = "max_tokens"): SamplingFields {
  optionalString(body, "model");
  optionalString(body, "user"); // who asked, for the caller's own records: it changes nothing
  const stream = optionalBoolean(body, "stream") ?? false;
  const streamOptions = optionalObject(body, "stream_options", new Set(["include_usage"]));
  if (streamOptions && !stream) throw invalid("stream_options is only allowed with stream: true", "stream_options");
  const includeUsage = streamOptions ? (optionalBoolean(streamOptions, "include_usage") ?? false) : false;
  const topK = optionalInteger(body, "top_k", -1, vocabSize);
  const options: SamplingFields["options"] = {
    temperature: optionalNumber(body, "temperature", 0, 2),
    topP: optionalNumber(body, "top_p", 0, 1, true),
    topK: topK === undefined || topK === -1 ? undefined : topK, // -1: no limit, as vLLM takes it
    minP: optionalNumber(body, "min_p", 0, 1),
    repetitionPenalty: optionalNumber(body, "repetition_penalty", 0, 100, true),
    presencePenalty: optionalNumber(body, "presence_penalty", -2, 2),
    frequencyPenalty: optionalNumber(body, "frequency_penalty", -2, 2),
    logitBias: logitBias(body, vocabSize),
    seed: optionalInteger(body, "seed", 0, MAX_SEED),
    stop: stopStrings(body),
    stopTokens: stopTokenIds(body, vocabSize),
    ignoreEos: optionalBoolean(body, "ignore_eos"),
  };
  return {
    maxTokens: optionalInteger(body, maxTokensField, 0, Number.MAX_SAFE_INTEGER) ?? null,
    n: optionalInteger(body, "n", 1, MAX_N) ?? 1,
    stream,
    includeUsage,
    options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
}

/** logit_bias: { "<token id>": bias in [−100, 100] }, keys strings as JSON has them. */
function logitBias(body: Body, vocabSize: number): Record<number, number> | undefined {
  if (!present(body, "logit_bias")) return undefined;
  const v = body.logit_bias;
  if (typeof v !== "object" || Array.isArray(v))
    throw invalid(`logit_bias must be an object of token id → bias, got ${describe(v)}`, "logit_bias");
  const out: Record<number, number> = {};
  for (const [key, bias] of Object.entries(v as Body)) {
    const id = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!(id < vocabSize))
      throw invalid(`logit_bias: ${JSON.stringify(key)} is not a token id (0–${vocabSize - 1})`, "logit_bias");
    if (typeof bias !== "number" || !Number.isFinite(bias) || bias < -100 || bias > 100)
      throw invalid(`logit_bias[${key}] must be a number in [-100, 100], got ${describe(bias)}`, "logit_bias");
    out[id] = bias;
  }
  return out;
}

function stopStrings(body: Body): string[] | undefined {
  if (!present(body, "stop")) return undefined;
  const v = body.stop;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.length > MAX_STOP || list.some((s) => typeof s !== "string" || s.length === 0))
    throw invalid(`stop must be a non-empty string or an array of at most ${MAX_STOP} of them, got ${describe(v)}`, "stop");
  return list as string[];
}

function stopTokenIds(body: Body, vocabSize: number): number[] | undefined {
  if (!present(body, "stop_token_ids")) return undefined;
  const v = body.stop_token_ids;
  if (!Array.isArray(v) || v.some((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize))
    throw invalid(`stop_token_ids must be an array of token ids (0–${vocabSize - 1}), got ${describe(v)}`, "stop_token_ids");
  return v as number[];
}
