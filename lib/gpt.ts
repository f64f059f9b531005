// The public model class: load a checkpoint, read logits, generate and stream text.
import { fileURLToPath } from "node:url";

import type { NativeDtype, NativeModel, NativeModelSpec } from "../bindings.js";
import { loadCheckpoint, type Checkpoint, type ModelConfig } from "./checkpoint/index.js";
import { GptError, GptInputError, GptLoadError } from "./errors.js";
import { decodeTokens, type FinishReason, type GenerationSummary, type StreamChunk } from "./generation.js";
import { buildInfo, chooseDevice, devices, type BuildInfo, type GpuDevice } from "./device.js";
import { Mutex } from "./mutex.js";
import { native } from "./native.js";
import { randomModelSpec } from "./random-spec.js";
import {
  resolveGenerateOptions,
  resolveLoadOptions,
  type GenerateOptions,
  type LoadOptions,
  type WeightDtype,
} from "./options.js";
import { Tokenizer } from "./tokenizer/index.js";

export interface GptConfig {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Positions the model was trained with (n_positions): prompt plus generated tokens fit in it. */
  nCtx: number;
  vocabSize: number;
}

export interface GenerateResult {
  text: string;
  /** Generated ids, without a final <|endoftext|>. */
  tokens: number[];
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
  timings: { prefillMs: number; decodeMs: number };
}

export type { StreamChunk, FinishReason };

/** The shapes of the four GPT-2 sizes (vocabulary 50257, 1024 positions). */
const RANDOM_PRESETS = {
  gpt2: { nLayer: 12, nHead: 12, nEmbd: 768 },
  "gpt2-medium": { nLayer: 24, nHead: 16, nEmbd: 1024 },
  "gpt2-large": { nLayer: 36, nHead: 20, nEmbd: 1280 },
  "gpt2-xl": { nLayer: 48, nHead: 25, nEmbd: 1600 },
} as const;
export type RandomPreset = keyof typeof RANDOM_PRESETS;

/** The demo model trained by scripts/train-default.py, shipped in the package. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../assets/default-model", import.meta.url));

const DISPOSED_MESSAGE = "this Gpt was disposed; load the model again to use it";
const NATIVE_DTYPE: Record<WeightDtype, NativeDtype> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

export class Gpt {
  readonly config: GptConfig;
  readonly device: "cpu" | "cuda";
  readonly tokenizer: Tokenizer;
  /** Where the weights were read from. */
  readonly path: string;
  private model: NativeModel | null;
  private readonly cachedTokens: number[] = [];
  private readonly mutex = new Mutex();

  private constructor(
    config: ModelConfig,
    path: string,
    tokenizer: Tokenizer,
    model: NativeModel,
    cudaDevice: number | null,
  ) {
    const c = config;
    this.config = { nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, nCtx: c.nCtx, vocabSize: c.vocabSize };
    this.device = cudaDevice === null ? "cpu" : "cuda";
    this.tokenizer = tokenizer;
    this.path = path;
    this.model = model;
  }

  /**
   * Loads a Hugging Face GPT-2 checkpoint: its directory, or its .safetensors file. Without a
   * path, the small demo model that ships with the package (assets/default-model).
   */
  static async load(path: string = DEFAULT_MODEL_DIR, options?: LoadOptions): Promise<Gpt> {
    if (typeof path !== "string" || path.length === 0)
      throw new GptInputError(`Gpt.load needs a checkpoint path, got ${JSON.stringify(path)}`);
    const opts = resolveLoadOptions(options);
    const cudaDevice = await chooseDevice(opts.device);
    const checkpoint = await loadCheckpoint(path);
    const tokenizer = await Tokenizer.load(checkpoint.tokenizer);
    if (tokenizer.vocabSize > checkpoint.config.vocabSize)
      throw new GptLoadError(
        "E_CHECKPOINT",
        checkpoint.dir,
        `the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${checkpoint.config.vocabSize}`,
      );
    const model = await loadNative(checkpoint, opts.dtype, opts.threads, cudaDevice);
    return new Gpt(checkpoint.config, checkpoint.dir, tokenizer, model, cudaDevice);
  }

  /**
   * A model of a real GPT-2 size with random weights, built in memory: for benchmarks and
   * tests at full scale without a download. Its text is noise. dtype defaults to float32.
   */
  static async random(preset: RandomPreset, options?: LoadOptions & { seed?: number }): Promise<Gpt> {
    const shape = Object.hasOwn(RANDOM_PRESETS, preset) ? RANDOM_PRESETS[preset] : undefined;
    if (!shape)
      throw new GptInputError(`unknown preset ${JSON.stringify(preset)}: one of ${Object.keys(RANDOM_PRESETS).join(", ")}`);
    const { seed = 1, ...loadOptions } = options ?? {};
    if (!Number.isInteger(seed) || seed < 0) throw new GptInputError(`seed must be a non-negative integer, got ${seed}`);
    const opts = resolveLoadOptions(loadOptions);
    const cudaDevice = await chooseDevice(opts.device);
    const config: ModelConfig = { ...shape, nInner: 4 * shape.nEmbd, nCtx: 1024, vocabSize: 50257, layerNormEpsilon: 1e-5 };
    const dtype = NATIVE_DTYPE[opts.dtype ?? "float32"];
    const model = await native().loadModel(randomModelSpec(config, dtype, seed, opts.threads, cudaDevice));
    return new Gpt(config, `random:${preset}`, await Tokenizer.load(null), model, cudaDevice);
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

  /** Bytes of the preallocated KV cache. */
  get kvCacheBytes(): number {
    return this.live().kvCacheBytes;
  }

  /** Next-token logits at every position of `ids`: a Float32Array of ids.length × vocabSize, row-major. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    const prompt = this.checkIds(ids, "logits");
    if (prompt.length > this.config.nCtx)
      throw new GptInputError(
        `${prompt.length} tokens exceed the model's ${this.config.nCtx} positions (n_positions)`,
        "E_CONTEXT_OVERFLOW",
      );
    const release = await this.mutex.acquire();
    try {
      const model = this.live();
      const out = await model.forward(Int32Array.from(prompt), 0, "all");
      this.cachedTokens.length = 0;
      this.cachedTokens.push(...prompt);
      return out;
    } catch (e) {
      this.cachedTokens.length = 0;
      throw wrapNative(e, this.model === null);
    } finally {
      release();
    }
  }

  /** Generates a continuation of a prompt (text, or token ids). */
  async generate(prompt: string | readonly number[], options?: GenerateOptions): Promise<GenerateResult> {
    let text = "";
    const run = this.run(prompt, options);
    for (;;) {
      const step = await run.next();
      if (step.done) return { text, ...step.value };
      text += step.value.text;
    }
  }

  /** Streams a continuation token by token; the text pieces concatenate to generate()'s text. */
  async *stream(prompt: string | readonly number[], options?: GenerateOptions): AsyncGenerator<StreamChunk, void> {
    yield* this.run(prompt, options);
  }

  /** Frees the weights and the KV cache. Any later call throws. */
  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }

  private async *run(
    prompt: string | readonly number[],
    options: GenerateOptions | undefined,
  ): AsyncGenerator<StreamChunk, GenerationSummary> {
    const opts = resolveGenerateOptions(options);
    this.live();
    let ids: number[];
    if (typeof prompt === "string") ids = this.tokenizer.encode(prompt);
    else ids = this.checkIds(prompt, "prompt");
    // An empty prompt starts from <|endoftext|>, as GPT-2 itself was trained to begin a document.
    if (ids.length === 0) ids = [this.tokenizer.eosTokenId];
    if (ids.length + opts.maxTokens > this.config.nCtx)
      throw new GptInputError(
        `the prompt's ${ids.length} tokens plus maxTokens ${opts.maxTokens} exceed the model's ` +
          `${this.config.nCtx} positions (n_positions)`,
        "E_CONTEXT_OVERFLOW",
      );
    const release = await this.mutex.acquire();
    try {
      const ctx = { model: this.live(), tokenizer: this.tokenizer, cachedTokens: this.cachedTokens };
      return yield* decodeTokens(ctx, ids, opts);
    } catch (e) {
      this.cachedTokens.length = 0;
      throw wrapNative(e, this.model === null);
    } finally {
      release();
    }
  }

  private live(): NativeModel {
    if (!this.model) throw new GptError("E_DISPOSED", DISPOSED_MESSAGE);
    return this.model;
  }

  private checkIds(ids: readonly number[], what: string): number[] {
    if (!Array.isArray(ids)) throw new GptInputError(`${what} must be an array of token ids`);
    const vocab = this.config.vocabSize;
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new GptInputError(`${what}[${i}] = ${id} is not a token id: ids run from 0 to ${vocab - 1}`);
    });
    if (what === "logits" && ids.length === 0) throw new GptInputError("logits needs at least one token id");
    return [...ids];
  }
}

async function loadNative(
  checkpoint: Checkpoint,
  dtype: WeightDtype | undefined,
  threads: number,
  cudaDevice: number | null,
) {
  const fileIndex = new Map(checkpoint.files.map((f, i) => [f, i]));
  const c = checkpoint.config;
  const spec: NativeModelSpec = {
    nLayer: c.nLayer,
    nHead: c.nHead,
    nEmbd: c.nEmbd,
    nInner: c.nInner,
    nCtx: c.nCtx,
    vocabSize: c.vocabSize,
    layerNormEpsilon: c.layerNormEpsilon,
    files: checkpoint.files,
    tensors: [...checkpoint.tensors.values()].map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      file: fileIndex.get(t.file)!,
      offset: t.offset,
      byteLength: t.byteLength,
    })),
    convertTo: dtype ? NATIVE_DTYPE[dtype] : null,
    threads,
    cudaDevice,
  };
  try {
    return await native().loadModel(spec);
  } catch (e) {
    if (e instanceof GptError) throw e;
    throw new GptLoadError("E_CHECKPOINT", checkpoint.dir, (e as Error).message, { cause: e });
  }
}

function wrapNative(e: unknown, disposed: boolean): unknown {
  if (e instanceof GptError || !(e instanceof Error)) return e;
  if (disposed) return new GptError("E_DISPOSED", DISPOSED_MESSAGE, { cause: e });
  return new GptError("E_NATIVE", `native engine: ${e.message}`, { cause: e });
}
