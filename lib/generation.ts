// The decode loop, gpt-fast style: prefill the prompt, then sample and decode one token at a
// time, each step's text passed through the UTF-8 and stop-string hold-backs.
import type { NativeModel, NativeSampled } from "../bindings.js";
import type { ResolvedGenerateOptions } from "./options.js";
import { Random } from "./random.js";
import { StopMatcher } from "./stop-matcher.js";
import { StreamDecoder, type Tokenizer } from "./tokenizer/index.js";

export type FinishReason = "eos" | "length" | "stop" | "abort";

export interface StreamChunk {
  /** The token this chunk follows; the last chunk after <|endoftext|> carries the EOS id. */
  token: number;
  /** Newly completed text: can be "" while a multi-byte character or a possible stop string is pending. */
  text: string;
  /** log-softmax of the raw logits at this token. */
  logprob: number;
}

export interface GenerationSummary {
  /** Generated ids, without a final <|endoftext|>. */
  tokens: number[];
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
  timings: { prefillMs: number; decodeMs: number };
}

export interface DecodeContext {
  model: NativeModel;
  tokenizer: Tokenizer;
  /** Ids whose keys and values are in the model's cache, in order: lets a new prompt reuse them. */
  cachedTokens: number[];
}

/** Length of the cached prefix to keep: shared with the prompt, and never the prompt's last id. */
function reusablePrefix(cached: readonly number[], prompt: readonly number[]): number {
  let n = 0;
  const limit = Math.min(cached.length, prompt.length - 1);
  while (n < limit && cached[n] === prompt[n]) n++;
  return n;
}

/** Runs the prompt (after any reusable cached prefix) and samples the first token. */
async function prefill(ctx: DecodeContext, prompt: number[], sampling: SamplingArgs): Promise<NativeSampled> {
  const start = reusablePrefix(ctx.cachedTokens, prompt);
  ctx.cachedTokens.length = start;
  const next = await ctx.model.forwardSample(Int32Array.from(prompt.slice(start)), start, ...sampling);
  ctx.cachedTokens.push(...prompt.slice(start));
  return next;
}

async function decodeOne(ctx: DecodeContext, token: number, sampling: SamplingArgs): Promise<NativeSampled> {
  const next = await ctx.model.forwardSample(Int32Array.of(token), ctx.cachedTokens.length, ...sampling);
  ctx.cachedTokens.push(token);
  return next;
}

/**
 * forwardSample's last five arguments for one step: the options, this step's uniform number and
 * the next one's, so that the engine may start the next step while this token is handled here
 * (undefined when no next step can follow: the token limit, or an abort).
 */
type SamplingArgs = [temperature: number, topK: number, topP: number, u: number, uNext: number | undefined];

export async function* decodeTokens(
  ctx: DecodeContext,
  prompt: number[],
  options: ResolvedGenerateOptions,
): AsyncGenerator<StreamChunk, GenerationSummary> {
  const { tokenizer } = ctx;
  const random = new Random(options.seed);
  const text = new StreamDecoder(tokenizer);
  const stops = new StopMatcher(options.stop);
  const tokens: number[] = [];
  const summary = (finishReason: FinishReason, prefillMs: number, decodeMs: number, eos = false) => ({
    tokens,
    finishReason,
    usage: { promptTokens: prompt.length, completionTokens: tokens.length + (eos ? 1 : 0) },
    timings: { prefillMs, decodeMs },
  });
  if (options.signal?.aborted) return summary("abort", 0, 0);

  // Each u is drawn one step ahead, so the sequence of numbers is the same whether or not the
  // next step starts early. `produced`: the tokens there will be once this step's is sampled.
  let upcoming = random.next();
  const sampling = (produced: number): SamplingArgs => {
    const u = upcoming;
    upcoming = random.next();
    const more = produced < options.maxTokens && options.signal?.aborted !== true;
    return [options.temperature, options.topK, options.topP, u, more ? upcoming : undefined];
  };
  const t0 = performance.now();
  let next = await prefill(ctx, prompt, sampling(1));
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  const elapsed = () => performance.now() - t1;

  for (;;) {
    const { token, logprob } = next;
    if (token === tokenizer.eosTokenId && !options.ignoreEos) {
      yield { token, text: stops.push(text.flush()).emit + stops.flush(), logprob };
      return summary("eos", prefillMs, elapsed(), true);
    }
    tokens.push(token);
    const step = stops.push(text.push(token));
    if (step.stopped) {
      yield { token, text: step.emit, logprob };
      return summary("stop", prefillMs, elapsed());
    }
    // An abort is seen here, at the first sample after it: that token is the last one.
    const last = tokens.length === options.maxTokens || options.signal?.aborted === true;
    if (last) {
      const tail = stops.push(text.flush());
      yield { token, text: step.emit + tail.emit + (tail.stopped ? "" : stops.flush()), logprob };
      const reason = tail.stopped ? "stop" : tokens.length === options.maxTokens ? "length" : "abort";
      return summary(reason, prefillMs, elapsed());
    }
    yield { token, text: step.emit, logprob };
    next = await decodeOne(ctx, token, sampling(tokens.length + 1));
  }
}
