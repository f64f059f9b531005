// The load options: their types, their validation (each check names the option and the value),
// and the engine sizes they come to for a model.
import { availableParallelism } from "node:os";

import { GptInputError } from "./errors.js";
import { checkObject, describe, integer } from "./option-checks.js";

export type Device = "auto" | "cpu" | "cuda";
export type WeightDtype = "float32" | "float16" | "bfloat16" | "int8";
export type ComputeMode = "float32" | "bfloat16";

export interface LoadOptions {
  /**
   * "auto" (default): GPU 0 when the binary has CUDA, a GPU is visible and it passes the
   * once-per-process self-check (lib/cuda-self-check.ts); else the CPU.
   */
  device?: Device;
  /**
   * Store weights in this dtype; by default each tensor keeps the dtype it has on disk. "int8"
   * (the CPU only; device "auto" then stays on the CPU): every matmul weight and the LM head are
   * quantized at load, symmetrically per output column (a scale of max |w| / 127), and decode
   * reads one byte per weight; the embedding, norms and biases keep their stored dtype. Not
   * exact: see the README's int8 section for its accuracy.
   */
  dtype?: WeightDtype;
  /**
   * "float32" (default): every matmul multiplies and sums in fp32, the weights widened from their
   * dtype — exact to the reference. "bfloat16" (the CPU only; device "auto" then stays on the
   * CPU; not with dtype "int8"): the matmul weights are rounded to bf16 once at load and packed for
   * the AMX tiles, and each matmul's input rows are rounded to bf16 (sums stay fp32) — prefill and
   * batched decode run on the tiles. Where the CPU (or GPT_CPU_ISA) gives no AMX it computes in
   * float32, as `gpt.compute` then says. Not exact: see the README's bfloat16 section.
   */
  compute?: ComputeMode;
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
  /**
   * true (default): the checkpoint's files are mapped and tensors the engine reads as stored are
   * used in place — fast to load, and the page cache shares them between processes. The file must
   * then stay as it is while the model is loaded: truncating it (`cp` over it truncates first)
   * kills the process with SIGBUS on the next read of a lost page, and rewriting it in place
   * changes the model's weights under it. false: every weight is read into memory of its own at
   * load (slower to load; memory no longer shared; the file can change freely afterwards).
   */
  mmap?: boolean;
}

export interface ResolvedLoadOptions {
  device: Device;
  dtype: WeightDtype | undefined;
  compute: ComputeMode;
  threads: number;
  maxSequences: number;
  /** Unset: the default, which depends on the model's context (engineLimits). */
  kvCacheTokens: number | undefined;
  /** Unset: the default, which depends on the device (engineLimits). */
  maxBatchTokens: number | undefined;
  mmap: boolean;
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

const DEVICES: readonly Device[] = ["auto", "cpu", "cuda"];
const DTYPES: readonly WeightDtype[] = ["float32", "float16", "bfloat16", "int8"];
const COMPUTE_MODES: readonly ComputeMode[] = ["float32", "bfloat16"];
export const LOAD_OPTION_KEYS: ReadonlySet<string> = new Set(["device", "dtype", "compute", "threads", "maxSequences", "kvCacheTokens", "maxBatchTokens", "mmap"]);

export function resolveLoadOptions(options: unknown): ResolvedLoadOptions {
  const o = checkObject(options, "Gpt.load options", LOAD_OPTION_KEYS);
  const device = o.device ?? "auto";
  if (!DEVICES.includes(device as Device))
    throw new GptInputError(`device must be one of ${DEVICES.join(", ")}, got ${describe(device)}`);
  const dtype = o.dtype;
  if (dtype !== undefined && !DTYPES.includes(dtype as WeightDtype))
    throw new GptInputError(`dtype must be one of ${DTYPES.join(", ")}, got ${describe(dtype)}`);
  const compute = o.compute ?? "float32";
  if (!COMPUTE_MODES.includes(compute as ComputeMode))
    throw new GptInputError(`compute must be one of ${COMPUTE_MODES.join(", ")}, got ${describe(compute)}`);
  const threads = o.threads === undefined ? availableParallelism() : integer("threads", o.threads, 1, 1024);
  if (threads > availableParallelism()) warnOversubscribed(threads);
  const maxSequences =
    o.maxSequences === undefined ? DEFAULT_MAX_SEQUENCES : integer("maxSequences", o.maxSequences, 1, 4096);
  const kvCacheTokens = o.kvCacheTokens === undefined ? undefined : integer("kvCacheTokens", o.kvCacheTokens, 1, 2 ** 26);
  const maxBatchTokens =
    o.maxBatchTokens === undefined ? undefined : integer("maxBatchTokens", o.maxBatchTokens, maxSequences, MAX_BATCH_TOKENS);
  if (o.mmap !== undefined && typeof o.mmap !== "boolean") throw new GptInputError(`mmap must be true or false, got ${describe(o.mmap)}`);
  const mmap = o.mmap ?? true;
  return { device: device as Device, dtype: dtype as WeightDtype | undefined, compute: compute as ComputeMode, threads, maxSequences, kvCacheTokens, maxBatchTokens, mmap };
}

let warnedThreads = false;

/**
 * More threads than cores is allowed (a container may see fewer cores than it may use) but
 * usually a mistake that costs dearly: 64 threads on 2 cores made decode 2.6× slower. Said once
 * per process, as a Node.js warning (code GPT_CUDA_THREADS).
 */
function warnOversubscribed(threads: number): void {
  if (warnedThreads) return;
  warnedThreads = true;
  process.emitWarning(
    `threads ${threads} is more than the ${availableParallelism()} cores this process can use: the threads take turns on the cores, and every step waits for the slowest (decode ran 2.6× slower with 64 threads on 2 cores)`,
    { code: "GPT_CUDA_THREADS" },
  );
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
