// The exact types of the native addon (build/Release/gpt_cuda.node, or a prebuild), as
// native/addon.cpp registers them. lib/native.ts loads the addon through these types.

export type NativeDtype = "F32" | "F16" | "BF16";

/** A stored tensor (or a range of its rows): bytes of one of NativeModelSpec.files. */
export interface NativeTensorSource {
  /** Index into NativeModelSpec.files. */
  file: number;
  /** Absolute byte offset of the first element in its file. */
  offset: number;
  byteLength: number;
  dtype: NativeDtype;
  shape: number[];
}

/**
 * A weight as the native graph reads it (native/core/weight_store.h's TensorSpec): its sources
 * stacked along their first dimension, the stack's rows taken in rowOrder, then transposed; no
 * source is zeros. One source as is is used where it lies.
 */
export interface NativeTensorSpec {
  /** The graph's name for it, e.g. "h.0.attn.c_attn.weight" (native/core/graphs/). */
  name: string;
  /** The dtype it is kept in (before convertTo). */
  dtype: NativeDtype;
  shape: number[];
  sources: NativeTensorSource[];
  rowOrder?: number[];
  transpose?: boolean;
}

/**
 * Each layer's attention: scores scale · q·k (+ ALiBi), over keys within `window` positions (0:
 * all); the first rotaryDims values of each q and k head rotated by position (0: none), in GPT-J's
 * interleaved pairs or the half-split ones.
 */
export interface NativeLayerAttention {
  scale: number;
  window: number;
  alibi: boolean;
  rotaryDims: number;
  rotaryInterleaved: boolean;
}

export interface NativeModelSpec {
  /** The family's graph (native/core/graphs/). */
  graph: "gpt2" | "opt" | "bloom" | "rotary";
  nLayer: number;
  nHead: number;
  /** Key/value heads: a divisor of nHead (grouped-query attention), nHead for multi-head attention. */
  nKvHead: number;
  /** Each head's width (nEmbd / nHead unless the config gives head_dim). */
  headDim: number;
  nEmbd: number;
  nInner: number;
  nCtx: number;
  vocabSize: number;
  layerNormEpsilon: number;
  /** The MLP's activation ("swiglu": its first matmul's columns interleave gate and up, twice nInner wide). */
  activation: "gelu-tanh" | "gelu-erf" | "relu" | "swiglu";
  attention: NativeLayerAttention[];
  /** The token embeddings' width (OPT's word_embed_proj_dim; nEmbd elsewhere). */
  wordEmbedDim: number;
  /** LayerNorm before each sublayer (false: after each residual add). */
  preNorm: boolean;
  /** The residual stream continues from the LayerNorm's output (BLOOM's apply_residual_connection_post_layernorm). */
  residualFromNorm: boolean;
  /** The rotary graph's norms. */
  norm: "layernorm" | "rmsnorm";
  /** Attention and the MLP both read the block's input (sharedNorm: from one norm, GPT-J). */
  parallelResidual: boolean;
  sharedNorm: boolean;
  /** The LM head has a bias ("lm_head.bias"). */
  headBias: boolean;
  /** The rotary graph's LM head is its token embedding (no "lm_head.weight"). */
  tiedHead: boolean;
  /** RoPE's frequencies, rotaryDims / 2 of them; empty without rotary positions. */
  ropeInvFreq: number[];
  files: string[];
  tensors: NativeTensorSpec[];
  /** Store every weight in this dtype; null keeps each tensor's stored dtype (mapped in place). */
  convertTo: NativeDtype | null;
  /** "int8": matmul weights quantized per column at load (native/cpu/quantize.h; the CPU only). */
  quantize?: "int8" | null;
  /** "bfloat16": matmul weights in bf16 AMX tiles, their inputs rounded to bf16 (native/cpu/tiles.h; the CPU only, where it has AMX; else as if absent). */
  compute?: "bfloat16" | null;
  /** false: read every weight into memory of its own instead of mapping the files (default true). */
  mmap?: boolean;
  /** When set, `files` is ignored and every tensor is filled with seeded random values (benchmarks). */
  randomSeed?: number | null;
  threads: number;
  /** The CUDA device to run on; absent or null: the CPU backend. */
  cudaDevice?: number | null;
  /** Blocks of NativeBinding.kvBlockSize positions in the KV pool, shared by every sequence. */
  kvBlocks: number;
}

/** Which rows' next-token logits a step returns for a segment. */
export type NativeLogitsMode = "all" | "last" | "none";

/** One alternative at a pick: a token and its log-softmax over the raw logits. */
export interface NativeAlternative {
  token: number;
  logprob: number;
}

export interface NativeSampled {
  token: number;
  /** log-softmax of the raw logits at the chosen token. */
  logprob: number;
  /** The topLogprobs best raw logits (ties: lower id first), best first. */
  top: NativeAlternative[];
}

/**
 * Changes to the raw logits before a pick, in vLLM's order: for each ids[i], its logit l becomes
 * l + bias[i]; then, where repeated[i] is 1, l / repetitionPenalty if positive and
 * l × repetitionPenalty otherwise; then l − penalty[i]. Each operation is rounded to fp32 on its
 * own, alike on the CPU and the GPU. A bias of −Infinity bans the token; the others are finite.
 * The ids are unique and inside the vocabulary; the four arrays have one length.
 */
export interface NativeAdjustments {
  ids: Int32Array;
  repeated: Uint8Array;
  bias: Float32Array;
  penalty: Float32Array;
}

/**
 * A pick from a row of logits: the adjustments, then greedy (temperature 0) or temperature,
 * top-k, top-p and min-p in that order; `u` is a uniform random number in [0, 1).
 */
export interface NativeSampling {
  temperature: number;
  topK: number;
  topP: number;
  u: number;
  /** Keep tokens whose probability is at least minP × the best's (0, the default: all). */
  minP?: number;
  /** > 0; 1 (the default) changes nothing. */
  repetitionPenalty?: number;
  adjust?: NativeAdjustments | null;
  /** How many alternatives to report, 0 (the default) … 20. */
  topLogprobs?: number;
  /** Only ids below this are considered (picked, and normalised over for the logprobs): a vocabulary padded past its tokenizer. */
  vocabLimit?: number;
}

/**
 * One sequence's share of a step: `rows` consecutive ids of NativeStep.tokens, at positions
 * start … start + rows − 1. Positions below `start` must already hold keys and values in its
 * blocks (written by earlier steps, or shared with another sequence).
 */
export interface NativeSegment {
  rows: number;
  start: number;
  /** The sequence's block table: blocks[i] holds positions 16i … 16i + 15 (kvBlockSize 16); it must cover start + rows positions. */
  blocks: Int32Array;
  logits: NativeLogitsMode;
  /** Pick the next token from the last row's logits (on the GPU for a CUDA model: only the token and its logprob come back). */
  sample?: NativeSampling | null;
}

/** One forward pass over the rows of several sequences. */
export interface NativeStep {
  /** Every row's token id, each segment's rows consecutive, in segment order. */
  tokens: Int32Array;
  segments: NativeSegment[];
}

export interface NativeStepResult {
  /** Per segment: the picked token, or -1 where no pick was asked for. */
  tokens: Int32Array;
  /** Per segment: the picked token's logprob (0 where none). */
  logprobs: Float32Array;
  /** Per segment: how many alternatives its pick reports (its sample's topLogprobs; 0 where none). */
  topCounts: Int32Array;
  /** Per segment, 20 slots each: the alternatives' ids, best first (topCounts[i] of them filled). */
  topIds: Int32Array;
  /** Per segment, 20 slots each: the alternatives' logprobs, as topIds. */
  topLogprobs: Float32Array;
  /** The logits rows the segments asked for, in segment order, vocabSize floats each. */
  logits: Float32Array;
}

export interface NativeModel {
  /**
   * Runs one step. Rejects, naming the segment and the value, for an id outside the vocabulary,
   * positions past n_positions, a block table that does not cover the segment or names a block
   * outside the pool, or a block written by one segment and read or written by another; and
   * when another step on this model is still running. Every row is computed in an order that
   * depends on nothing but that row, so a segment's results do not depend on the others.
   */
  step(plan: NativeStep): Promise<NativeStepResult>;
  /** Frees the weights and the KV pool (once any running step ends). */
  dispose(): void;
  /** Blocks in the KV pool, as loaded. */
  readonly kvBlocks: number;
  readonly residentBytes: number;
  /** Bytes the KV pool can hold (on the CPU its pages are committed only as blocks are first written). */
  readonly kvCacheBytes: number;
  readonly threads: number;
  /** Decode steps replayed from a captured CUDA graph so far; always 0 on the CPU. */
  readonly graphReplays: number;
}

export interface NativeBuildInfo {
  /** Whether this binary contains the CUDA backend (CMake found nvcc and GPT_CUDA was on). */
  cuda: boolean;
  /** The CPU kernels' level on this machine, capped by GPT_CPU_ISA: "avx512+amx", "avx512", "avx2" or "generic". */
  cpuIsa: string;
  hardwareThreads: number;
  compiler: string;
  /** The nvcc release the CUDA kernels were compiled with, e.g. "13.0.88"; null without CUDA. */
  cudaVersion: string | null;
  /** GPU code in this binary: real code per architecture ("sm_80", …) then PTX ("compute_90"); [] without CUDA. */
  archs: string[];
}

/** A GPU the CUDA runtime sees (devices()). */
export interface NativeDevice {
  name: string;
  /** Bytes. */
  totalMemory: number;
  /** "major.minor", e.g. "9.0". */
  computeCapability: string;
  multiprocessors: number;
}

/** out[rows, n] = epilogue(input[rows, k] · weight[k, n] + bias) (rows × n/2 for "swiglu", n even); weight as its storage bits. */
export interface NativeMatmulArgs {
  input: Float32Array;
  rows: number;
  weight: Float32Array | Uint16Array | Int8Array;
  dtype: NativeDtype | "I8";
  /** dtype "I8" only: the columns' scales (n). */
  scales?: Float32Array;
  k: number;
  n: number;
  bias: Float32Array;
  epilogue: NativeEpilogue;
  out: Float32Array;
}

/** out[rows, vocab] = input[rows, c] · weight[vocab, c]ᵀ (the tied LM head). */
export interface NativeLmHeadArgs {
  input: Float32Array;
  rows: number;
  weight: Float32Array | Uint16Array;
  dtype: NativeDtype;
  vocab: number;
  c: number;
  out: Float32Array;
}

/**
 * One layer's attention over a paged pool: writes each row's key and value into `pool` at its
 * position, then attends causally over positions 0 … positions[r] of the row's block table
 * (the tables entries from tableStarts[r] on; entry i holds positions 16i … 16i + 15).
 */
export interface NativeAttentionArgs {
  /** [rows, (heads + 2 · kvHeads) · headDim]: q | k | v. */
  qkv: Float32Array;
  rows: number;
  heads: number;
  /** KV heads, a divisor of heads (grouped-query attention: query head h reads KV head h / (heads / kvHeads)); heads by default. */
  kvHeads?: number;
  headDim: number;
  positions: Int32Array;
  tableStarts: Int32Array;
  tables: Int32Array;
  blocks: number;
  /** One layer: k[blocks][kvHeads][16][headDim], then v likewise. */
  pool: Float32Array;
  /** [rows, heads · headDim]. */
  out: Float32Array;
  /** The scores' scale: 1/√headDim by default (GPT-Neo: 1). */
  scale?: number;
  /** A row at position i attends to keys in (i − window, i]; 0 (default) for every key ≤ i. */
  window?: number;
  /** ALiBi's slope per query head (ops.alibiSlopes): adds slope · (j − i) to each score. */
  slopes?: Float32Array;
}

export interface NativeRotaryArgs {
  qkv: Float32Array;
  rows: number;
  positions: Int32Array;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  /** Rotated values per head (even, ≤ headDim; less is partial rotary). */
  dims: number;
  /** GPT-J's pairs (2i, 2i + 1); otherwise GPT-NeoX's and Llama's (i, i + dims/2). */
  interleaved: boolean;
  /** dims / 2 frequencies: pair i turns by position · invFreq[i]. */
  invFreq: Float32Array;
}

export type NativeMatmulPath = "auto" | "fp32" | "tensorcore" | "decode";

/**
 * Single CUDA kernels on host arrays (native/napi/cuda_ops_wrap.cpp), for tests/cuda-kernels.test.ts,
 * which checks each against its CPU twin. Every function throws when the binary has no CUDA backend
 * or no device is visible. Layouts as in NativeOps and native/cpu/attention.h.
 */
export interface NativeCudaOps {
  /** With epilogue "swiglu" (n even), `out` is rows × n/2: out[r, j] = silu(y[r, 2j]) · y[r, 2j + 1]. */
  matmul(args: NativeMatmulArgs & { path: NativeMatmulPath }): void;
  /** With `bias` ([vocab], GPT-J's head), it is added to every row's logits. */
  lmHead(args: NativeLmHeadArgs & { path: NativeMatmulPath; bias?: Float32Array | null }): void;
  /** With `add`, x += add is written back to `x` before the LayerNorm (the fused residual add). */
  layernorm(args: {
    x: Float32Array;
    add: Float32Array | null;
    rows: number;
    c: number;
    gamma: Float32Array;
    beta: Float32Array;
    eps: number;
    out: Float32Array;
  }): void;
  /** The rotary embedding (the twin of ops.rotary). */
  rotary(args: NativeRotaryArgs): void;
  /** RMSNorm (the twin of ops.rmsnorm), fused with the residual add when `add` is given (x += add, written back). */
  rmsnorm(args: { x: Float32Array; add: Float32Array | null; rows: number; c: number; gamma: Float32Array; eps: number; out: Float32Array }): void;
  embed(args: {
    tokens: Int32Array;
    start: number;
    wte: Float32Array | Uint16Array;
    wteDtype: NativeDtype;
    wpe: Float32Array | Uint16Array;
    wpeDtype: NativeDtype;
    vocab: number;
    positions: number;
    c: number;
    out: Float32Array;
  }): void;
  attention(
    args: NativeAttentionArgs & {
      /** The pool's dtype on the device ("F32" by default): `pool` is rounded to it on upload and widened back. */
      cacheDtype?: NativeDtype;
    },
  ): void;
  /** The device sampler (the twin of ops.sample). */
  sample(args: NativeSampling & { logits: Float32Array }): NativeSampled;
  /** Free and total bytes of a GPU's memory (cudaMemGetInfo), for the tests that look for leaks. */
  memInfo(args: { device: number }): { free: number; total: number };
}

/**
 * What the fused matmul does with y = x·W + b: store it (through an activation or not) or add it
 * into out; "swiglu" stores silu(y[2j]) · y[2j + 1], half as wide.
 */
export type NativeEpilogue = "store" | "gelu-tanh" | "gelu-erf" | "relu" | "swiglu" | "residual";
export type NativeImpl = "fast" | "reference";

/** Single kernels, for the tests that compare each fast path with its reference twin. */
/** A matmul weight quantized as the CPU backend quantizes it with dtype "int8" (native/cpu/quantize.h). */
export interface NativeInt8Matrix {
  /** [k, n] row-major: round(W / scale) of each column, in [−127, 127]. */
  values: Int8Array;
  /** Per column: max |W| / 127. */
  scales: Float32Array;
}

export interface NativeOps {
  /**
   * With dtype "I8": weight is the values (Int8Array) and `scales` the columns' scales. With
   * compute "bfloat16" (not I8; only where `Gpt.buildInfo().cpuIsa` has "amx", else an Error): the
   * weight and the input rounded to bf16 (nearest even, subnormals flushed), the fast path on the
   * AMX tiles, the reference summing those in double.
   */
  matmul(args: NativeMatmulArgs & { impl: NativeImpl; threads: number; compute?: "float32" | "bfloat16" }): void;
  /** W [k, n] (F32, F16 or BF16) quantized to int8; a RangeError names a weight that is not finite. */
  quantizeInt8(args: { weight: Float32Array | Uint16Array; dtype: NativeDtype; k: number; n: number }): NativeInt8Matrix;
  lmHead(args: NativeLmHeadArgs & { impl: NativeImpl; threads: number }): void;
  attention(args: NativeAttentionArgs & { impl: NativeImpl; threads: number }): void;
  /** The rotary embedding (RoPE) of each row's q and k heads in place (native/cpu/rotary.h): rows [q | k | v] of qHeads, kvHeads, kvHeads heads. */
  rotary(args: NativeRotaryArgs & { threads: number }): void;
  /** Llama's RMSNorm over rows of gamma.length: out = x / √(mean(x²) + eps) · gamma (one implementation, in double). */
  rmsnorm(args: { x: Float32Array; rows: number; gamma: Float32Array; eps: number; out: Float32Array; threads: number }): void;
  /** ALiBi's slope per head for a model of `heads` heads, as transformers' build_alibi_tensor makes them. */
  alibiSlopes(heads: number): Float32Array;
  /** out = the epilogue's activation of input, elementwise (store and residual: a copy; swiglu: of each pair, out half as long). */
  activation(args: { impl: NativeImpl; epilogue: NativeEpilogue; input: Float32Array; out: Float32Array }): void;
  /** The CPU sampler, the one a CPU model's steps use: throws for unusable logits (NaN, +inf, all −inf). */
  sample(args: NativeSampling & { logits: Float32Array }): NativeSampled;
}

/** How a bench kernel is timed: `warmup` untimed calls, then up to `iterations` timed ones, ending early past `maxSeconds`. */
export interface NativeBenchTiming {
  warmup: number;
  iterations: number;
  maxSeconds: number;
}

export interface NativeKernelTime {
  /** Median and fastest of the timed calls, in seconds. */
  medianSeconds: number;
  minSeconds: number;
  /** Timed calls made. */
  iterations: number;
}

export interface NativeMemoryRead {
  bytes: number;
  passes: number;
  threads: number;
  /** 10⁹ bytes per second: the fastest pass, and the median. */
  bestGBs: number;
  medianGBs: number;
  /** Sum of the words read, so the reads are not optimised away; meaningless otherwise. */
  checksum: number;
}

/**
 * Timing for `npm run bench` (bench/run.ts): CPU kernels on random non-zero inputs, timed in C++ on
 * one thread pool, and a STREAM-style memory read. Synchronous. The weight of matmul and lmHead
 * is cycled through copies spanning `coldBytes` (0: one copy, a warm cache).
 */
export interface NativeBench {
  /** With compute "bfloat16" the weight is bf16 in AMX tiles whatever `dtype` says (an Error naming the CPU level without AMX tiles). */
  matmul(
    args: NativeBenchTiming & {
      rows: number;
      k: number;
      n: number;
      dtype: NativeDtype;
      threads: number;
      coldBytes: number;
      compute?: "float32" | "bfloat16";
    },
  ): NativeKernelTime & { weightCopies: number };
  lmHead(
    args: NativeBenchTiming & { rows: number; vocab: number; c: number; dtype: NativeDtype; threads: number; coldBytes: number },
  ): NativeKernelTime & { weightCopies: number };
  /** One layer's kv_append + attention for `rows` new positions after `start` cached ones. */
  attention(
    args: NativeBenchTiming & { heads: number; headDim: number; capacity: number; rows: number; start: number; threads: number },
  ): NativeKernelTime;
  memoryRead(args: { bytes: number; passes: number; threads: number }): NativeMemoryRead;
}

/**
 * GPU timing for `npm run bench -- --device cuda` (native/cuda/kernel_timing.cu): single CUDA
 * kernels on random non-zero device buffers, path "auto" as the model runs them, on the current
 * device. Each timed launch sits between its own pair of CUDA events; the launches are queued
 * behind a short spin kernel so that the GPU runs them back to back (the host's launch overhead
 * is not timed). Synchronous. With `coldWeights` the weight of matmul and lmHead is cycled through
 * copies spanning twice the GPU's L2 cache, so each launch reads it from device memory, as a decode
 * step does; without, one copy is reused (L2-warm, as a prefill's repeated reads are). Each
 * function throws when the binary has no CUDA backend or no CUDA device is visible.
 */
export interface NativeCudaBench {
  /** in[rows, k] · W[k, n] + bias, epilogue store. */
  matmul(
    args: NativeBenchTiming & { rows: number; k: number; n: number; dtype: NativeDtype; coldWeights: boolean },
  ): NativeKernelTime & { weightCopies: number };
  /** in[rows, c] · wte[vocab, c]ᵀ. */
  lmHead(
    args: NativeBenchTiming & { rows: number; vocab: number; c: number; dtype: NativeDtype; coldWeights: boolean },
  ): NativeKernelTime & { weightCopies: number };
  /** One layer's attention, its KV append fused in, for `rows` new positions after `start` cached ones; the cache in `cacheDtype`. */
  attention(
    args: NativeBenchTiming & {
      heads: number;
      /** KV heads (grouped-query attention): `heads` by default, a divisor of it. */
      kvHeads?: number;
      headDim: number;
      capacity: number;
      rows: number;
      start: number;
      cacheDtype: NativeDtype;
    },
  ): NativeKernelTime;
  /** A STREAM-style read of `bytes` of GPU memory, `passes` times: the bandwidth a decode step can at best reach. */
  memoryRead(args: { bytes: number; passes: number }): Omit<NativeMemoryRead, "threads">;
}

export interface NativeBinding {
  /** The class of loadModel's results; constructed directly it is an empty, disposed handle. */
  NativeModel: abstract new () => NativeModel;
  loadModel(spec: NativeModelSpec): Promise<NativeModel>;
  /** Positions per KV block (16). */
  kvBlockSize: number;
  buildInfo(): NativeBuildInfo;
  /** GPUs the CUDA runtime sees; [] without a driver, a GPU, or CUDA in this binary. */
  devices(): NativeDevice[];
  ops: NativeOps;
  cudaOps: NativeCudaOps;
  bench: NativeBench;
  cudaBench: NativeCudaBench;
}
