// The public option types and their validation. Every check names the option and the value.
import { availableParallelism } from "node:os";

import { GptInputError } from "./errors.js";

export type Device = "auto" | "cpu" | "cuda";
export type WeightDtype = "float32" | "float16" | "bfloat16";

export interface LoadOptions {
  /**
   * "auto" (default): GPU 0 when the binary has CUDA, a GPU is visible and it passes the
   * once-per-process self-check (lib/cuda-self-check.ts); else the CPU.
   */
  device?: Device;
  /** Store weights in this dtype; by default each tensor keeps the dtype it has on disk. */
  dtype?: WeightDtype;
  /** CPU threads; default: the machine's cores. */
  threads?: number;
  /**
   * Sequences decoded together in one engine step at most; more calls wait in a FIFO queue (they
   * never fail for being many). Default 16.
   */
  maxSequences?: number;
  /**
   * The KV cache's capacity in tokens, shared by all sequences (rounded up to whole blocks of 16).
   * Default: max(n_positions, maxSequences × min(n_positions, 256)) — room for maxSequences
   * sequences of 256 tokens at once, or one sequence of the model's full context.
   */
  kvCacheTokens?: number;
  /**
   * Rows in one forward pass at most: the decode rows of the running sequences plus chunks of
   * prompts being prefilled (an abort takes effect between chunks). At least maxSequences.
   * Default 256 on the CPU (about a quarter second of GPT-2 124M prefill here), 2048 on a GPU.
   */
  maxBatchTokens?: number;
}

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
   * Seed of the sampler: the same seed and options give the same tokens on the same device (CPU
   * and GPU logits differ by rounding, so their picks can too). Default: random.
   */
  seed?: number;
  /** Generation ends before the first occurrence of any of these strings. */
  stop?: string | string[];
  /** Keep generating past <|endoftext|>. Default false. */
  ignoreEos?: boolean;
  /** Aborting ends generation within one decode step, with finishReason "abort". */
  signal?: AbortSignal;
}

export interface ResolvedLoadOptions {
  device: Device;
  dtype: WeightDtype | undefined;
  threads: number;
  maxSequences: number;
  /** Unset: the default, which depends on the model's context (engineLimits). */
  kvCacheTokens: number | undefined;
  /** Unset: the default, which depends on the device (engineLimits). */
  maxBatchTokens: number | undefined;
}

/** The batched engine's sizes for one model, defaults filled in. */
export interface EngineLimits {
  maxSequences: number;
  maxBatchTokens: number;
  /** Blocks of KV_BLOCK_SIZE positions. */
  kvBlocks: number;
}

export const DEFAULT_MAX_SEQUENCES = 16;
/** The most rows one step may have: the CUDA kernels launch a grid dimension per row (≤ 65535). */
const MAX_BATCH_TOKENS = 65535;
const DEFAULT_MAX_BATCH_TOKENS = { cpu: 256, cuda: 2048 } as const;
/** Past this many tokens per sequence the default cache stops growing with the context. */
const DEFAULT_TOKENS_PER_SEQUENCE = 256;

export interface ResolvedGenerateOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stop: string[];
  ignoreEos: boolean;
  signal: AbortSignal | undefined;
}

const DEVICES: readonly Device[] = ["auto", "cpu", "cuda"];
const DTYPES: readonly WeightDtype[] = ["float32", "float16", "bfloat16"];
const LOAD_KEYS = new Set(["device", "dtype", "threads", "maxSequences", "kvCacheTokens", "maxBatchTokens"]);
const GENERATE_KEYS = new Set(["maxTokens", "temperature", "topK", "topP", "seed", "stop", "ignoreEos", "signal"]);

function checkObject(value: unknown, what: string, known: Set<string>): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new GptInputError(`${what} must be an object, got ${describe(value)}`);
  for (const key of Object.keys(value))
    if (!known.has(key)) throw new GptInputError(`${what}: unknown option "${key}" (known: ${[...known].join(", ")})`);
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new GptInputError(`${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
  return value;
}

function finite(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)
    throw new GptInputError(`${name} must be a number in [${min}, ${max}], got ${describe(value)}`);
  return value;
}

export function resolveLoadOptions(options: unknown): ResolvedLoadOptions {
  const o = checkObject(options, "Gpt.load options", LOAD_KEYS);
  const device = o.device ?? "auto";
  if (!DEVICES.includes(device as Device))
    throw new GptInputError(`device must be one of ${DEVICES.join(", ")}, got ${describe(device)}`);
  const dtype = o.dtype;
  if (dtype !== undefined && !DTYPES.includes(dtype as WeightDtype))
    throw new GptInputError(`dtype must be one of ${DTYPES.join(", ")}, got ${describe(dtype)}`);
  const threads = o.threads === undefined ? availableParallelism() : integer("threads", o.threads, 1, 1024);
  const maxSequences =
    o.maxSequences === undefined ? DEFAULT_MAX_SEQUENCES : integer("maxSequences", o.maxSequences, 1, 4096);
  const kvCacheTokens = o.kvCacheTokens === undefined ? undefined : integer("kvCacheTokens", o.kvCacheTokens, 1, 2 ** 26);
  const maxBatchTokens =
    o.maxBatchTokens === undefined ? undefined : integer("maxBatchTokens", o.maxBatchTokens, maxSequences, MAX_BATCH_TOKENS);
  return { device: device as Device, dtype: dtype as WeightDtype | undefined, threads, maxSequences, kvCacheTokens, maxBatchTokens };
}

/** The engine's sizes for a model of `nCtx` positions on `device`, from the load options. */
export function engineLimits(
  opts: ResolvedLoadOptions,
  nCtx: number,
  device: "cpu" | "cuda",
  blockSize: number,
): EngineLimits {
  const tokens = opts.kvCacheTokens ?? Math.max(nCtx, opts.maxSequences * Math.min(nCtx, DEFAULT_TOKENS_PER_SEQUENCE));
  return {
    maxSequences: opts.maxSequences,
    maxBatchTokens: opts.maxBatchTokens ?? Math.max(opts.maxSequences, DEFAULT_MAX_BATCH_TOKENS[device]),
    kvBlocks: Math.ceil(tokens / blockSize),
  };
}

export function resolveGenerateOptions(options: unknown): ResolvedGenerateOptions {
  const o = checkObject(options, "generate options", GENERATE_KEYS);
  const stop = o.stop === undefined ? [] : typeof o.stop === "string" ? [o.stop] : o.stop;
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string" || s.length === 0))
    throw new GptInputError(`stop must be a non-empty string or an array of them, got ${describe(o.stop)}`);
  if (o.ignoreEos !== undefined && typeof o.ignoreEos !== "boolean")
    throw new GptInputError(`ignoreEos must be a boolean, got ${describe(o.ignoreEos)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw new GptInputError(`signal must be an AbortSignal, got ${describe(o.signal)}`);
  return {
    maxTokens: o.maxTokens === undefined ? 64 : integer("maxTokens", o.maxTokens, 1),
    temperature: o.temperature === undefined ? 1 : finite("temperature", o.temperature, 0, 100),
    topK: o.topK === undefined ? 0 : integer("topK", o.topK, 0),
    topP: o.topP === undefined ? 1 : finite("topP", o.topP, Number.MIN_VALUE, 1),
    seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : integer("seed", o.seed, 0, 2 ** 32 - 1),
    stop: stop as string[],
    ignoreEos: (o.ignoreEos as boolean | undefined) ?? false,
    signal: o.signal as AbortSignal | undefined,
  };
}
