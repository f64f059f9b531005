// The public model class: load a checkpoint, read logits, generate and stream text.
import { fileURLToPath } from "node:url";

import type { NativeDtype, NativeModel } from "../bindings.js";
import "./disposable.js";
import { ChatSetup } from "./chat/chat-setup.js";
import type { ChatMessage } from "./chat/messages.js";
import { readChatFiles, type ChatFiles } from "./chat/template-files.js";
import { loadCheckpoint, type Checkpoint, type ModelConfig } from "./checkpoint/index.js";
import { buildInfo, chooseDevice, devices, type BuildInfo, type GpuDevice } from "./device.js";
import { Engine, type SequenceCounts } from "./engine/engine.js";
import { resolveModel } from "./hub/cache.js";
import { pullModel, type PullOptions, type PullResult } from "./hub/pull.js";
import { GptError, GptInputError, GptLoadError } from "./errors.js";
import { native } from "./native.js";
import { nativeModelSpec } from "./native-spec.js";
import { MAX_LOGPROBS, resolveGenerateOptions, type GenerateOptions, type ResolvedGenerateOptions } from "./generate-options.js";
import { checkObject, describe, integer } from "./option-checks.js";
import { engineLimits, resolveLoadOptions, type ComputeMode, type EngineLimits, type LoadOptions, type ResolvedLoadOptions, type WeightDtype } from "./options.js";
import { RANDOM_PRESETS, randomPreset, randomSpecOf, type RandomPreset } from "./random-spec.js";
import { GenerationRequest } from "./requests/generation-request.js";
import { LogitsRequest } from "./requests/logits-request.js";
import { PromptLogprobsRequest } from "./requests/prompt-logprobs-request.js";
import type { FinishReason, GenerateResult, PromptTokenLogprob, StreamChunk, TokenLogprob, TokenLogprobs } from "./requests/results.js";
import { GenerationStream } from "./requests/stream.js";
import { Tokenizer } from "./tokenizer/index.js";

/** The model's shape; frozen (the engine was sized from it, so changing it would change nothing but the checks). */
export interface GptConfig {
  readonly nLayer: number;
  readonly nHead: number;
  readonly nEmbd: number;
  /** Positions the model was trained with (n_positions): prompt plus generated tokens fit in it. */
  readonly nCtx: number;
  readonly vocabSize: number;
}

/** The KV cache's blocks (of `blockSize` positions) and what holds them. */
export interface KvCacheUsage {
  blockSize: number;
  totalBlocks: number;
  /** Blocks held by running sequences (a shared prefix block counts once). */
  usedBlocks: number;
  /** Blocks nobody holds that keep a cached prefix for later prompts; reused when no block is free. */
  cachedBlocks: number;
  freeBlocks: number;
  /** Bytes of keys and values one position of one sequence takes (every layer's key and value). */
  bytesPerToken: number;
  /** Bytes of keys and values in the used blocks. */
  usedBytes: number;
}

export type { RandomPreset };
export type { StreamChunk, FinishReason, GenerateResult, GenerationStream, PromptTokenLogprob, TokenLogprob, TokenLogprobs };

/** A prompt: text, or token ids. */
export type Prompt = string | readonly number[];
/** Generate options that ask for n sequences: the call returns one result or stream per sequence. */
export type GenerateNOptions = GenerateOptions & { n: number };

export interface ChatOptions extends GenerateOptions {
  /** A Jinja chat template to use instead of the checkpoint's own (which a model may not have). */
  chatTemplate?: string;
}
export type ChatNOptions = ChatOptions & { n: number };

/** The shapes of the four GPT-2 sizes (vocabulary 50257, 1024 positions). */


/** The demo model trained by scripts/train-default.py, shipped in the package. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../assets/default-model", import.meta.url));

const DISPOSED_MESSAGE = "this Gpt was disposed; load the model again to use it";
/** The dtype each option stores weights in; int8 quantizes the matrices from the stored ones. */
const NATIVE_DTYPE: Record<Exclude<WeightDtype, "int8">, NativeDtype> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

export class Gpt implements Disposable {
  readonly config: GptConfig;
  readonly device: "cpu" | "cuda";
  /** How the matmuls compute: "bfloat16" only where it was asked for and the CPU has AMX tiles (LoadOptions.compute). */
  readonly compute: ComputeMode;
  readonly tokenizer: Tokenizer;
  /** Where the weights were read from. */
  readonly path: string;
  /** The batched engine's sizes: maxSequences, maxBatchTokens, and the KV cache's capacity in tokens. */
  readonly limits: { maxSequences: number; maxBatchTokens: number; kvCacheTokens: number };
  private model: NativeModel | null;
  private readonly engine: Engine;
  private readonly chatSetup: ChatSetup;
  /** Set when config.json's vocab_size is padded past the tokenizer (as OPT's and BLOOM's are): ids from it on are never sampled. */
  private readonly vocabLimit: number | undefined;

  private constructor(
    config: ModelConfig,
    path: string,
    tokenizer: Tokenizer,
    model: NativeModel,
    cudaDevice: number | null,
    limits: EngineLimits,
    compute: ComputeMode,
    chatFiles: ChatFiles | null,
  ) {
    const c = config;
    this.config = Object.freeze({ nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nCtx: c.nCtx, vocabSize: c.vocabSize });
    this.device = cudaDevice === null ? "cpu" : "cuda";
    this.compute = compute;
    this.tokenizer = tokenizer;
    this.path = path;
    this.model = model;
    const blockSize = native().kvBlockSize;
    this.limits = {
      maxSequences: limits.maxSequences,
      maxBatchTokens: limits.maxBatchTokens,
      kvCacheTokens: limits.kvBlocks * blockSize,
    };
    this.chatSetup = new ChatSetup(chatFiles, tokenizer, path);
    this.vocabLimit = tokenizer.vocabSize < c.vocabSize ? tokenizer.vocabSize : undefined;
    this.engine = new Engine(model, {
      ...limits,
      blockSize,
      vocabSize: c.vocabSize,
      wrapError: (e) => wrapNative(e, this.model === null),
    });
  }

  /**
   * Loads a Hugging Face checkpoint of a supported family (GPT-2, OPT, BLOOM, GPT-Neo: lib/arch):
   * its directory or a weights file in it (.safetensors or PyTorch .bin), or a model
   * pulled into the cache by name ("gpt2", "openai-community/gpt2", "org/name@revision"), as the
   * CLI's --model takes it. Without a path, the small demo model that ships with the package
   * (assets/default-model).
   */
  static async load(path: string = DEFAULT_MODEL_DIR, options?: LoadOptions): Promise<Gpt> {
    if (typeof path !== "string" || path.length === 0)
      throw new GptInputError(`Gpt.load needs a checkpoint path or a pulled model's name, got ${JSON.stringify(path)}`);
    const opts = resolveLoadOptions(options);
    const cudaDevice = await deviceFor(opts);
    const checkpoint = await loadCheckpoint((await resolveModel(path)).path);
    const tokenizer = await Tokenizer.load(checkpoint.tokenizer);
    if (tokenizer.vocabSize > checkpoint.config.vocabSize)
      throw new GptLoadError(
        "E_CHECKPOINT",
        checkpoint.dir,
        `the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${checkpoint.config.vocabSize}`,
      );
    const limits = limitsFor(opts, checkpoint.config.nCtx, cudaDevice);
    const chatFiles = await readChatFiles(checkpoint.dir);
    const model = await loadNative(checkpoint, opts, limits.kvBlocks, cudaDevice);
    return new Gpt(checkpoint.config, checkpoint.dir, tokenizer, model, cudaDevice, limits, computeIn(opts), chatFiles);
  }

  /**
   * Downloads a checkpoint of a supported family from the Hugging Face Hub into the models cache,
   * as `gpt-cuda pull` does: its weights (safetensors, else PyTorch .bin), config and tokenizer
   * files, each resumable (an interrupted pull continues where it stopped) and verified against
   * the hub's sha256 or git blob id; HF_ENDPOINT and HF_TOKEN from the environment. Resolves to
   * the snapshot; Gpt.load then takes the repo's name. Hub and checksum failures are E_DOWNLOAD, a repo we cannot run E_UNSUPPORTED
   * (refused before its weights are fetched).
   */
  static pull(repo: string, options?: PullOptions): Promise<PullResult> {
    return pullModel(repo, options);
  }

  /**
   * A model of a real size (GPT-2, OPT, BLOOM, GPT-Neo, Pythia, SmolLM2, TinyLlama, Qwen2.5) with
   * random weights, built in memory: for benchmarks and tests at full scale without a download.
   * Its text is noise, tokenized with GPT-2's tokenizer (a text whose ids the model's vocabulary
   * lacks is E_INVALID_ARGUMENT). dtype defaults to float32; "int8" quantizes float16 weights.
   */
  static async random(preset: RandomPreset, options?: LoadOptions & { seed?: number }): Promise<Gpt> {
    if (typeof preset !== "string" || !Object.hasOwn(RANDOM_PRESETS, preset))
      throw new GptInputError(`unknown preset ${JSON.stringify(preset)}: one of ${Object.keys(RANDOM_PRESETS).join(", ")}`);
    const { seed = 1, ...loadOptions } = options ?? {};
    if (!Number.isInteger(seed) || seed < 0) throw new GptInputError(`seed must be a non-negative integer, got ${seed}`);
    const opts = resolveLoadOptions(loadOptions);
    const cudaDevice = await deviceFor(opts);
    const { config, tensors } = randomPreset(preset);
    // int8 quantizes weights stored as float16, as a Hub checkpoint's usually are: its embeddings stay float16.
    const dtype = NATIVE_DTYPE[opts.dtype === "int8" ? "float16" : (opts.dtype ?? "float32")];
    const quantize = opts.dtype === "int8" ? "int8" : null;
    const limits = limitsFor(opts, config.nCtx, cudaDevice);
    const compute = opts.compute === "bfloat16" ? "bfloat16" : null;
    const spec = randomSpecOf(config, tensors, { dtype, quantize, compute, seed, threads: opts.threads, cudaDevice, kvBlocks: limits.kvBlocks });
    const model = await native()
      .loadModel(spec)
      .catch((e: unknown) => Promise.reject(loadError(e, `random:${preset}`, limits.kvBlocks)));
    return new Gpt(config, `random:${preset}`, await Tokenizer.load(null), model, cudaDevice, limits, computeIn(opts), null);
  }

  /** How this binary was built: CUDA or not, its GPU architectures, the CPU instruction set in use. */
  static buildInfo(): BuildInfo {
    return buildInfo();
  }

  /** The GPUs the CUDA runtime sees; empty without a driver or GPU. */
  static devices(): GpuDevice[] {
    return devices();
  }

  /** Bytes of weights held in memory (mapped from the checkpoint or converted). */
  get weightBytes(): number {
    return this.live().residentBytes;
  }

  /** Bytes the KV cache can hold (kvCacheTokens' worth; on the CPU, memory is committed only as blocks are first used). */
  get kvCacheBytes(): number {
    return this.live().kvCacheBytes;
  }

  /** What holds the KV cache's blocks now: for metrics, and for tests that look for leaks. */
  get kvCacheUsage(): KvCacheUsage {
    const model = this.live();
    const usage = this.engine.usage();
    const blockSize = native().kvBlockSize;
    // The native pool holds one scratch block more than the engine hands out.
    const bytesPerToken = model.kvCacheBytes / ((model.kvBlocks + 1) * blockSize);
    return { blockSize, ...usage, bytesPerToken, usedBytes: usage.usedBlocks * blockSize * bytesPerToken };
  }

  /**
   * The engine's sequences now: running in the batch, waiting for a place in it (FIFO), and
   * paused (a stream nobody reads). For metrics and admission control.
   */
  get sequences(): SequenceCounts {
    this.live();
    return this.engine.sequences();
  }

  /**
   * Next-token logits at every position of `ids`: a Float32Array of ids.length × vocabSize,
   * row-major. Computed in chunks of maxBatchTokens rows beside any other work; every row is
   * bit-identical to what any other split of the same ids gives (one call, or token by token).
   */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    this.live();
    const prompt = this.checkIds(ids, "logits");
    this.checkFits(prompt.length, 0, `${prompt.length} tokens`);
    return new LogitsRequest(this.engine, prompt, this.config.vocabSize).start();
  }

  /**
   * Each token of `ids` scored by the model: its log-probability given the tokens before it
   * (from the raw logits, in double precision), with the `top` (0–20, default 0) likeliest
   * tokens at that position — a text's likelihood, as evaluation harnesses measure it. The first
   * token has no logprob. Computed like logits() in chunks beside other work, reduced chunk by
   * chunk; the signal cancels it (the promise rejects with the signal's reason).
   */
  async promptLogprobs(ids: readonly number[], options: { top?: number; signal?: AbortSignal } = {}): Promise<PromptTokenLogprob[]> {
    this.live();
    const o = checkObject(options, "promptLogprobs options", new Set(["top", "signal"]));
    const top = o.top === undefined ? 0 : integer("top", o.top, 0, MAX_LOGPROBS);
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
      throw new GptInputError(`signal must be an AbortSignal, got ${describe(o.signal)}`);
    const prompt = this.checkIds(ids, "promptLogprobs");
    this.checkFits(prompt.length, 0, `${prompt.length} tokens`);
    const request = new PromptLogprobsRequest(this.engine, this.tokenizer, prompt, this.config.vocabSize, top, o.signal as AbortSignal | undefined);
    return request.start();
  }

  /**
   * Generates a continuation of a prompt (text, or token ids), or of each prompt of a list
   * (resolving to their results in order; each runs with the same options, seed included, so
   * each result equals that prompt run alone). Calls run together in the batched engine. With
   * the n option, a prompt gets n results (a list gets n per prompt, prompt by prompt): n
   * sequences that compute the prompt once and sample with seeds seed, seed + 1, ….
   */
  generate(prompt: Prompt, options?: GenerateOptions & { n?: undefined }): Promise<GenerateResult>;
  generate(prompt: Prompt, options: GenerateNOptions): Promise<GenerateResult[]>;
  generate(prompts: readonly string[] | readonly (readonly number[])[], options?: GenerateOptions): Promise<GenerateResult[]>;
  /** Options whose n is not known here: a list exactly when n is set. */
  generate(prompt: Prompt, options?: GenerateOptions): Promise<GenerateResult | GenerateResult[]>;
  async generate(
    prompt: Prompt | readonly string[] | readonly (readonly number[])[],
    options?: GenerateOptions,
  ): Promise<GenerateResult | GenerateResult[]> {
    const opts = resolveGenerateOptions(options, this.config.vocabSize);
    if (isPromptList(prompt)) {
      const requests = prompt.flatMap((p, i) => this.requests(p, opts, false, `prompts[${i}]`));
      for (const r of requests) r.start();
      return Promise.all(requests.map((r) => r.result));
    }
    const requests = this.requests(prompt, opts, false, "prompt");
    for (const r of requests) r.start();
    return opts.n === undefined ? requests[0]!.result : Promise.all(requests.map((r) => r.result));
  }

  /**
   * Streams a continuation token by token: an async iterable of chunks whose texts concatenate to
   * the result's text, with `result` (finishReason, usage, timings). Generation starts at once.
   * With the n option: n streams, as generate() makes n results.
   */
  stream(prompt: Prompt, options?: GenerateOptions & { n?: undefined }): GenerationStream;
  stream(prompt: Prompt, options: GenerateNOptions): GenerationStream[];
  /** Options whose n is not known here: a list exactly when n is set. */
  stream(prompt: Prompt, options?: GenerateOptions): GenerationStream | GenerationStream[];
  stream(prompt: Prompt, options?: GenerateOptions): GenerationStream | GenerationStream[] {
    const opts = resolveGenerateOptions(options, this.config.vocabSize);
    const requests = this.requests(prompt, opts, true, "prompt");
    for (const r of requests) r.start();
    const streams = requests.map((r) => new GenerationStream(r));
    return opts.n === undefined ? streams[0]! : streams;
  }

  /**
   * The prompt a conversation becomes: `messages` rendered with the checkpoint's chat template
   * (chat_template.jinja, or tokenizer_config.json's chat_template) or `chatTemplate`, its
   * special tokens, and add_generation_prompt — as Hugging Face's apply_chat_template renders it.
   * E_UNSUPPORTED, naming the file looked in, for a model without a template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: { chatTemplate?: string }): string {
    this.live();
    return this.chatSetup.prompt(messages, options?.chatTemplate);
  }

  /** Whether the checkpoint has a chat template of its own; without one, chat() needs the chatTemplate option. */
  get hasChatTemplate(): boolean {
    return this.chatSetup.hasOwnTemplate;
  }

  /** The ids that end a chat reply (the template's end-of-turn: the eos token and generation_config.json's eos_token_id). */
  get endOfTurnTokens(): readonly number[] {
    return this.chatSetup.endOfTurn;
  }

  /**
   * The assistant's reply to a conversation: generate() on its applyChatTemplate() prompt, ending
   * at the template's end-of-turn token (the eos token, and generation_config.json's
   * eos_token_id), which is left out of the text.
   */
  chat(messages: readonly ChatMessage[], options?: ChatOptions & { n?: undefined }): Promise<GenerateResult>;
  chat(messages: readonly ChatMessage[], options: ChatNOptions): Promise<GenerateResult[]>;
  chat(messages: readonly ChatMessage[], options?: ChatOptions): Promise<GenerateResult | GenerateResult[]>;
  async chat(messages: readonly ChatMessage[], options?: ChatOptions): Promise<GenerateResult | GenerateResult[]> {
    const { prompt, generateOptions } = this.chatPrompt(messages, options);
    return this.generate(prompt, generateOptions);
  }

  /** chat(), streamed as stream() streams generate(). */
  chatStream(messages: readonly ChatMessage[], options?: ChatOptions & { n?: undefined }): GenerationStream;
  chatStream(messages: readonly ChatMessage[], options: ChatNOptions): GenerationStream[];
  chatStream(messages: readonly ChatMessage[], options?: ChatOptions): GenerationStream | GenerationStream[];
  chatStream(messages: readonly ChatMessage[], options?: ChatOptions): GenerationStream | GenerationStream[] {
    const { prompt, generateOptions } = this.chatPrompt(messages, options);
    return this.stream(prompt, generateOptions);
  }

  /**
   * Frees the weights and the KV cache. Calls still queued or running reject with E_DISPOSED
   * (those in the step now running once it ends); any later call throws E_DISPOSED.
   */
  dispose(): void {
    if (!this.model) return;
    this.engine.dispose(new GptError("E_DISPOSED", DISPOSED_MESSAGE));
    this.model.dispose();
    this.model = null;
  }

  /** dispose(), for `using gpt = await Gpt.load(…)` (TypeScript 5.2+): freed when the scope ends. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The n (or one) requests of a prompt: the first leads, the others wait to share its prompt's blocks. */
  private requests(prompt: Prompt, opts: ResolvedGenerateOptions, streaming: boolean, what: string): GenerationRequest[] {
    this.live();
    let ids: number[];
    if (typeof prompt === "string") {
      ids = this.tokenizer.encode(prompt);
      // A tokenizer larger than the embedding (Gpt.random's presets below GPT-2's vocabulary) can give ids the model lacks.
      const past = ids.find((id) => id >= this.config.vocabSize);
      if (past !== undefined)
        throw new GptInputError(`the ${what}'s text encodes to token id ${past}, past the model's vocabulary of ${this.config.vocabSize}`);
    } else ids = this.checkIds(prompt, what);
    // An empty prompt starts from <|endoftext|>, as GPT-2 itself was trained to begin a document.
    if (ids.length === 0) ids = [this.tokenizer.eosTokenId];
    this.checkFits(ids.length, opts.maxTokens, `the ${what}'s ${ids.length} tokens plus maxTokens ${opts.maxTokens}`);
    const requests: GenerationRequest[] = [];
    for (let i = 0; i < (opts.n ?? 1); i++) {
      const request = new GenerationRequest(this.engine, this.tokenizer, ids, { ...opts, seed: (opts.seed + i) >>> 0 }, streaming, this.vocabLimit);
      request.sequence.leader = requests[0]?.sequence ?? null;
      requests.push(request);
    }
    return requests;
  }

  private chatPrompt(messages: readonly ChatMessage[], options: ChatOptions | undefined) {
    this.live();
    const { chatTemplate, ...generateOptions } = options ?? {};
    // The template writes the conversation's special tokens (its BOS included): none are added.
    const prompt = this.tokenizer.encode(this.chatSetup.prompt(messages, chatTemplate), { addSpecialTokens: false });
    const stopTokens = Array.isArray(generateOptions.stopTokens) ? generateOptions.stopTokens : [];
    if (generateOptions.stopTokens === undefined || Array.isArray(generateOptions.stopTokens))
      generateOptions.stopTokens = [...stopTokens, ...this.chatSetup.endOfTurn];
    return { prompt, generateOptions };
  }

  /** E_CONTEXT_OVERFLOW when `tokens` + `more` positions exceed n_positions or the KV cache. */
  private checkFits(tokens: number, more: number, what: string): void {
    const total = tokens + more;
    if (total > this.config.nCtx)
      throw new GptInputError(`${what} exceed the model's ${this.config.nCtx} positions (n_positions)`, "E_CONTEXT_OVERFLOW");
    if (total > this.limits.kvCacheTokens)
      throw new GptInputError(
        `${what} exceed the KV cache's ${this.limits.kvCacheTokens} tokens (kvCacheTokens)`,
        "E_CONTEXT_OVERFLOW",
      );
  }

  private live(): NativeModel {
    if (!this.model) throw new GptError("E_DISPOSED", DISPOSED_MESSAGE);
    return this.model;
  }

  private checkIds(ids: readonly number[], what: string): number[] {
    if (!Array.isArray(ids)) throw new GptInputError(`${what} must be a string or an array of token ids`);
    const vocab = this.config.vocabSize;
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new GptInputError(`${what}[${i}] = ${id} is not a token id: ids run from 0 to ${vocab - 1}`);
    });
    if (what === "logits" && ids.length === 0) throw new GptInputError("logits needs at least one token id");
    return [...ids];
  }
}

function isPromptList(
  prompt: string | readonly number[] | readonly string[] | readonly (readonly number[])[],
): prompt is readonly string[] | readonly (readonly number[])[] {
  // A list holds strings or id arrays (each checked as its own prompt); numbers alone are one prompt of ids.
  return Array.isArray(prompt) && prompt.some((p) => typeof p === "string" || Array.isArray(p));
}

/**
 * The device for these options: int8 weights and bfloat16 compute run on the CPU only (so far),
 * which "auto" then picks.
 */
async function deviceFor(opts: ResolvedLoadOptions): Promise<number | null> {
  const bf16 = opts.compute === "bfloat16";
  if (bf16 && opts.dtype === "int8")
    throw new GptError("E_UNSUPPORTED", 'compute "bfloat16" with dtype "int8" is not supported yet: int8 weights compute in float32');
  if (opts.dtype !== "int8" && !bf16) return chooseDevice(opts.device);
  const what = bf16 ? 'compute "bfloat16"' : 'dtype "int8"';
  if (opts.device === "cuda") throw new GptError("E_UNSUPPORTED", `${what} runs on the CPU only for now: use device "cpu" (or "auto")`);
  return null;
}

/** What compute the native side runs for these options: bfloat16 needs the AMX tiles (native/cpu/isa.h). */
function computeIn(opts: ResolvedLoadOptions): ComputeMode {
  return opts.compute === "bfloat16" && buildInfo().cpuIsa.includes("amx") ? "bfloat16" : "float32";
}

function limitsFor(opts: ResolvedLoadOptions, nCtx: number, cudaDevice: number | null): EngineLimits {
  return engineLimits(opts, nCtx, cudaDevice === null ? "cpu" : "cuda", native().kvBlockSize);
}

async function loadNative(
  checkpoint: Checkpoint,
  opts: ResolvedLoadOptions,
  kvBlocks: number,
  cudaDevice: number | null,
) {
  const spec = nativeModelSpec(checkpoint, {
    convertTo: opts.dtype && opts.dtype !== "int8" ? NATIVE_DTYPE[opts.dtype] : null,
    quantize: opts.dtype === "int8" ? "int8" : null,
    compute: opts.compute === "bfloat16" ? "bfloat16" : null,
    mmap: opts.mmap,
    threads: opts.threads,
    cudaDevice,
    kvBlocks,
  });
  try {
    return await native().loadModel(spec);
  } catch (e) {
    throw loadError(e, checkpoint.dir, kvBlocks);
  }
}

/** What a native load's failure means: memory the machine could not give (E_DEVICE), else a bad checkpoint. */
function loadError(e: unknown, dir: string, kvBlocks: number): unknown {
  if (e instanceof GptError) return e;
  const message = (e as Error).message;
  if ((e as { code?: unknown }).code === "E_RESOURCE")
    return new GptError(
      "E_DEVICE",
      `${message} (kvCacheTokens ${kvBlocks * native().kvBlockSize}: a smaller cache needs less)`,
      { cause: e },
    );
  return new GptLoadError("E_CHECKPOINT", dir, message, { cause: e });
}

function wrapNative(e: unknown, disposed: boolean): unknown {
  if (e instanceof GptError || !(e instanceof Error)) return e;
  if (disposed) return new GptError("E_DISPOSED", DISPOSED_MESSAGE, { cause: e });
  return new GptError("E_NATIVE", `native engine: ${e.message}`, { cause: e });
}
