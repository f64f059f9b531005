/**
 * One generate() or stream() call as the engine's owner of its sequence: turns each picked token
 * into a chunk (through the UTF-8 and stop-string hold-backs), decides when generation ends,
 * queues chunks for a streaming reader, and settles the result. A streaming reader that falls
 * 16 chunks behind pauses the sequence; reading it down to 8 resumes it.
 */
import type { NativeSampling } from "../../bindings.js";
import type { Engine } from "../engine/engine.js";
import { Sequence, type Pick, type SequenceOwner, type TokenVerdict } from "../engine/sequence.js";
import type { ResolvedGenerateOptions } from "../generate-options.js";
import { Random } from "../random.js";
import { onAbort } from "./abort-listeners.js";
import { LogitAdjuster } from "./logit-adjuster.js";
import { StopMatcher } from "../stop-matcher.js";
import { StreamDecoder, type Tokenizer } from "../tokenizer/index.js";
import type { FinishReason, GenerateResult, StreamChunk, TokenLogprob, TokenLogprobs } from "./results.js";

/** Unread chunks at which a stream's sequence leaves the batch until its reader catches up... */
export const PAUSE_AFTER_UNREAD = 16;
/**
 * ...and how few must be left unread before it rejoins: half, so that a reader a little slower
 * than the engine does not make the sequence leave and rejoin (recomputing its last block) at
 * every token.
 */
export const RESUME_AT_UNREAD = PAUSE_AFTER_UNREAD / 2;

type Outcome = { result: GenerateResult } | { error: unknown };

export class GenerationRequest implements SequenceOwner {
  readonly output = "sample";
  readonly sequence: Sequence;
  /** Settles once generation ends; never rejects unhandled (a handler is attached here). */
  readonly result: Promise<GenerateResult>;

  private readonly random: Random;
  private readonly decoder: StreamDecoder;
  private readonly stops: StopMatcher;
  private readonly adjuster: LogitAdjuster;
  private readonly promptTokens: number;
  private readonly generated: number[] = [];
  /** With the logprobs option: one entry per chunk. */
  private readonly logprobs: TokenLogprobs[] | undefined;
  private text = "";
  private readonly unread: StreamChunk[] = [];
  /** next() calls waiting for a chunk, first first (an async generator queues them the same way). */
  private readonly readers: { resolve: (r: IteratorResult<StreamChunk, undefined>) => void; reject: (e: unknown) => void }[] =
    [];
  private outcome: Outcome | null = null;
  private paused = false;
  private settle!: { resolve: (r: GenerateResult) => void; reject: (e: unknown) => void };
  private readonly times: { submitted: number; started?: number; firstToken?: number } = { submitted: performance.now() };
  private stopListening: () => void = () => {};

  constructor(
    private readonly engine: Engine,
    private readonly tokenizer: Tokenizer,
    prompt: number[],
    private readonly options: ResolvedGenerateOptions,
    /** Whether a reader takes the chunks (stream()); generate() only wants the result. */
    private readonly streaming: boolean,
    /** Ids at or past this one have no token in the tokenizer (a padded vocabulary): never picked. */
    private readonly vocabLimit?: number,
  ) {
    this.sequence = new Sequence([...prompt], this, true);
    this.promptTokens = prompt.length;
    this.random = new Random(options.seed);
    this.decoder = new StreamDecoder(tokenizer);
    this.stops = new StopMatcher(options.stop);
    this.adjuster = new LogitAdjuster(options, prompt, vocabLimit);
    this.logprobs = options.logprobs === undefined ? undefined : [];
    this.result = new Promise<GenerateResult>((resolve, reject) => (this.settle = { resolve, reject }));
    this.result.catch(() => {});
  }

  /** Queues the sequence, or ends at once when the signal has already fired. */
  start(): void {
    const { signal } = this.options;
    if (signal?.aborted) return this.finish("abort");
    if (signal) this.stopListening = onAbort(signal, () => this.cancel());
    this.engine.submit(this.sequence);
  }

  // ---- the reader's side (GenerationStream) ----

  next(): Promise<IteratorResult<StreamChunk, undefined>> {
    const chunk = this.unread.shift();
    if (chunk) {
      if (this.paused && this.unread.length <= RESUME_AT_UNREAD) {
        this.paused = false;
        this.engine.resume(this.sequence);
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.outcome) {
      if ("error" in this.outcome) return Promise.reject(this.outcome.error);
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  /** Ends generation early (the reader left, its signal fired, or it was collected): the result is "abort". */
  cancel(): void {
    if (this.outcome) return;
    this.engine.cancel(this.sequence);
    this.finish("abort");
  }

  // ---- the engine's side (SequenceOwner) ----

  sampling(): NativeSampling {
    const { temperature, topK, topP, minP, repetitionPenalty, logprobs } = this.options;
    return {
      temperature,
      topK,
      topP,
      u: this.random.next(),
      minP,
      repetitionPenalty,
      adjust: this.adjuster.adjustments(),
      topLogprobs: logprobs ?? 0,
      ...(this.vocabLimit !== undefined ? { vocabLimit: this.vocabLimit } : {}),
    };
  }

  started(): void {
    this.times.started ??= performance.now();
  }

  token(pick: Pick): TokenVerdict {
    this.times.firstToken ??= performance.now();
    const { tokenizer, options, stops, decoder } = this;
    const { token } = pick;
    const eos = token === tokenizer.eosTokenId && !options.ignoreEos;
    if (eos || options.stopTokens.has(token)) {
      this.emit(pick, stops.push(decoder.flush()).emit + stops.flush());
      this.finish(eos ? "eos" : "stop", true);
      return "finish";
    }
    this.generated.push(token);
    this.adjuster.accept(token);
    const step = stops.push(decoder.push(token));
    if (step.stopped) {
      this.emit(pick, step.emit);
      this.finish("stop");
      return "finish";
    }
    if (this.generated.length === options.maxTokens) {
      const tail = stops.push(decoder.flush());
      this.emit(pick, step.emit + tail.emit + (tail.stopped ? "" : stops.flush()));
      this.finish(tail.stopped ? "stop" : "length");
      return "finish";
    }
    this.emit(pick, step.emit);
    if (this.streaming && this.unread.length >= PAUSE_AFTER_UNREAD) {
      this.paused = true;
      return "pause";
    }
    return "continue";
  }

  logits(): void {
    throw new Error("a generation does not take logits");
  }

  done(): void {
    throw new Error("a generation ends by its tokens, not by running out of them");
  }

  failed(error: unknown): void {
    if (this.outcome) return;
    this.outcome = { error };
    this.stopListening();
    this.settle.reject(error);
    // Waiting readers means nothing is unread: each of them gets the error.
    for (const reader of this.readers.splice(0)) reader.reject(error);
  }

  // ----

  private emit(pick: Pick, text: string): void {
    const chunk: StreamChunk = { token: pick.token, text, logprob: pick.logprob };
    if (this.logprobs) {
      chunk.topLogprobs = pick.top.map((a) => this.tokenLogprob(a.token, a.logprob));
      this.logprobs.push({ ...this.tokenLogprob(pick.token, pick.logprob), topLogprobs: chunk.topLogprobs });
    }
    this.text += text;
    if (!this.streaming) return;
    const reader = this.readers.shift();
    if (reader) reader.resolve({ value: chunk, done: false });
    else this.unread.push(chunk);
  }

  private tokenLogprob(token: number, logprob: number): TokenLogprob {
    return { token, text: this.tokenizer.tokenText(token), logprob };
  }

  /** `ended`: the generation ended on a token it leaves out of the text (<|endoftext|> or a stop token). */
  private finish(reason: FinishReason, ended = false): void {
    if (this.outcome) return;
    const now = performance.now();
    const { submitted, started = now, firstToken = now } = this.times;
    const result: GenerateResult = {
      text: this.text,
      tokens: this.generated,
      finishReason: reason,
      ...(this.logprobs && { logprobs: this.logprobs }),
      usage: {
        promptTokens: this.promptTokens,
        completionTokens: this.generated.length + (ended ? 1 : 0),
        cachedTokens: this.sequence.cachedTokens,
      },
      timings: { queueMs: started - submitted, prefillMs: firstToken - started, decodeMs: now - firstToken },
    };
    this.outcome = { result };
    this.stopListening();
    this.settle.resolve(result);
    for (const reader of this.readers.splice(0)) reader.resolve({ value: undefined, done: true });
  }
}
