// The options of one generation: their types and their validation. Every check names the option,
// its range and the value (E_INVALID_ARGUMENT).
import { GptInputError } from "./errors.js";
import { checkObject, describe, finite, integer } from "./option-checks.js";

export interface GenerateOptions {
  /** Tokens to generate at most. Default 64. */
  maxTokens?: number;
  /** 0 is greedy. Default 1. */
  temperature?: number;
  /** Sample among the k most likely tokens; 0 (default) means no limit. */
  topK?: number;
  /** Sample from the smallest set of tokens whose probability reaches p; 1 (default) means no limit. */
  topP?: number;
  /**
   * Keep only tokens whose probability (after temperature) is at least minP × the likeliest
   * token's; 0 (default) keeps all. Applied after topK and topP, as Hugging Face does.
   */
  minP?: number;
  /**
   * Hugging Face's repetition penalty over the prompt and the generated ids: such a token's
   * logit is divided by it when positive and multiplied by it when negative. In (0, 100]; 1
   * (default) changes nothing, above 1 discourages repeats.
   */
  repetitionPenalty?: number;
  /** OpenAI's: subtracted once from the logit of every token generated so far. In [−2, 2]; default 0. */
  presencePenalty?: number;
  /** OpenAI's: subtracted from a token's logit once per time it was generated so far. In [−2, 2]; default 0. */
  frequencyPenalty?: number;
  /**
   * Token id → a bias in [−100, 100] added to its logit before the penalties (as OpenAI's
   * logit_bias); −100 bans the token outright.
   */
  logitBias?: Record<number, number>;
  /**
   * Seed of the sampler: the same seed and options give the same tokens on the same device (CPU
   * and GPU logits differ by rounding, so their picks can too). Default: random.
   */
  seed?: number;
  /** Generation ends before the first occurrence of any of these strings. */
  stop?: string | string[];
  /**
   * Generation ends when one of these token ids is picked (finishReason "stop"); like
   * <|endoftext|>, the id ends the stream's last chunk and is not in the result's tokens.
   */
  stopTokens?: number[];
  /** Keep generating past <|endoftext|>. Default false. */
  ignoreEos?: boolean;
  /**
   * Report, with each token, its logprob and the n likeliest alternatives (0–20), all from the
   * model's raw logits, before any penalty, bias or sampling filter (as OpenAI reports them):
   * each chunk's topLogprobs and the result's logprobs. Default: not reported.
   */
  logprobs?: number;
  /**
   * Sequences to generate from the prompt (1–128): they share the prompt's KV cache blocks
   * (computed once), and sequence i samples with seed + i. With n set, generate() and stream()
   * return one result or stream per sequence.
   */
  n?: number;
  /** Aborting ends generation within one decode step, with finishReason "abort". */
  signal?: AbortSignal;
}

export interface ResolvedGenerateOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  logitBias: ReadonlyMap<number, number>;
  seed: number;
  stop: string[];
  stopTokens: ReadonlySet<number>;
  ignoreEos: boolean;
  /** Unset: no logprobs reported. */
  logprobs: number | undefined;
  /** Unset: one sequence, and one result rather than a list. */
  n: number | undefined;
  signal: AbortSignal | undefined;
}

/** The most alternatives a pick reports (OpenAI's top_logprobs limit; the samplers' too). */
export const MAX_LOGPROBS = 20;
/** The most sequences one call may ask for (OpenAI's limit on n). */
export const MAX_N = 128;

const GENERATE_KEYS = new Set([
  "maxTokens",
  "temperature",
  "topK",
  "topP",
  "minP",
  "repetitionPenalty",
  "presencePenalty",
  "frequencyPenalty",
  "logitBias",
  "seed",
  "stop",
  "stopTokens",
  "ignoreEos",
  "logprobs",
  "n",
  "signal",
]);

/** Options checked for a model whose vocabulary has `vocabSize` ids. */
export function resolveGenerateOptions(options: unknown, vocabSize: number): ResolvedGenerateOptions {
  const o = checkObject(options, "generate options", GENERATE_KEYS);
  const stop = o.stop === undefined ? [] : typeof o.stop === "string" ? [o.stop] : o.stop;
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string" || s.length === 0))
    throw new GptInputError(`stop must be a non-empty string or an array of them, got ${describe(o.stop)}`);
  if (o.ignoreEos !== undefined && typeof o.ignoreEos !== "boolean")
    throw new GptInputError(`ignoreEos must be a boolean, got ${describe(o.ignoreEos)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw new GptInputError(`signal must be an AbortSignal, got ${describe(o.signal)}`);
  const tokenId = (name: string, v: unknown) => integer(name, v, 0, vocabSize - 1);
  return {
    maxTokens: o.maxTokens === undefined ? 64 : integer("maxTokens", o.maxTokens, 1),
    temperature: o.temperature === undefined ? 1 : finite("temperature", o.temperature, 0, 100),
    topK: o.topK === undefined ? 0 : integer("topK", o.topK, 0),
    topP: o.topP === undefined ? 1 : finite("topP", o.topP, Number.MIN_VALUE, 1),
    minP: o.minP === undefined ? 0 : finite("minP", o.minP, 0, 1),
    repetitionPenalty:
      o.repetitionPenalty === undefined ? 1 : finite("repetitionPenalty", o.repetitionPenalty, Number.MIN_VALUE, 100),
    presencePenalty: o.presencePenalty === undefined ? 0 : finite("presencePenalty", o.presencePenalty, -2, 2),
    frequencyPenalty: o.frequencyPenalty === undefined ? 0 : finite("frequencyPenalty", o.frequencyPenalty, -2, 2),
    logitBias: logitBias(o.logitBias, tokenId),
    seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : integer("seed", o.seed, 0, 2 ** 32 - 1),
    stop: stop as string[],
    stopTokens: stopTokens(o.stopTokens, tokenId),
    ignoreEos: (o.ignoreEos as boolean | undefined) ?? false,
    logprobs: o.logprobs === undefined ? undefined : integer("logprobs", o.logprobs, 0, MAX_LOGPROBS),
    n: o.n === undefined ? undefined : integer("n", o.n, 1, MAX_N),
    signal: o.signal as AbortSignal | undefined,
  };
}

function logitBias(value: unknown, tokenId: (name: string, v: unknown) => number): Map<number, number> {
  const out = new Map<number, number>();
  if (value === undefined) return out;
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new GptInputError(`logitBias must be an object of token id → bias, got ${describe(value)}`);
  for (const [key, bias] of Object.entries(value)) {
    // Object keys are strings: "12" names id 12; "1e3" or " 12" name nothing.
    const id = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : Number.NaN;
    tokenId(`logitBias key ${JSON.stringify(key)}`, id);
    out.set(id, finite(`logitBias[${key}]`, bias, -100, 100));
  }
  return out;
}

function stopTokens(value: unknown, tokenId: (name: string, v: unknown) => number): Set<number> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new GptInputError(`stopTokens must be an array of token ids, got ${describe(value)}`);
  return new Set(value.map((id, i) => tokenId(`stopTokens[${i}]`, id)));
}
