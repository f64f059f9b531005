// The exact types of the native addon (build/Release/gpt_cuda.node, or a prebuild), as
// native/addon.cpp registers them. lib/native.ts loads the addon through these types.

export type NativeDtype = "F32" | "F16" | "BF16";

export interface NativeTensorSpec {
  /** Canonical GPT-2 name without the "transformer." prefix, e.g. "h.0.attn.c_attn.weight". */
  name: string;
  dtype: NativeDtype;
  shape: number[];
  /** Index into NativeModelSpec.files. */
  file: number;
  /** Absolute byte offset of the tensor's first element in its file. */
  offset: number;
  byteLength: number;
}

export interface NativeModelSpec {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nInner: number;
  nCtx: number;
  vocabSize: number;
  layerNormEpsilon: number;
  files: string[];
  tensors: NativeTensorSpec[];
  /** Store every weight in this dtype; null keeps each tensor's stored dtype (mapped in place). */
  convertTo: NativeDtype | null;
  /** When set, `files` is ignored and every tensor is filled with seeded random values (benchmarks). */
  randomSeed?: number | null;
  threads: number;
}

/** Which rows' next-token logits a forward pass returns. */
export type NativeLogitsMode = "all" | "last" | "none";

export interface NativeSampled {
  token: number;
  /** log-softmax of the raw logits at the chosen token. */
  logprob: number;
}

export interface NativeModel {
  /**
   * Runs `tokens` at positions start … start + tokens.length - 1 (start ≤ cachedLength) and
   * resolves with rows × vocabSize logits (rows = tokens.length, 1 or 0 by `logits`).
   * Rejects when another forward pass on this model is still running.
   */
  forward(tokens: Int32Array, start: number, logits: NativeLogitsMode): Promise<Float32Array>;
  /** Picks a token from row `row` of `logits`; `u` is a uniform random number in [0, 1). */
  sample(logits: Float32Array, row: number, temperature: number, topK: number, topP: number, u: number): NativeSampled;
  /** Frees the weights and the KV cache (once any running forward pass ends). */
  dispose(): void;
  readonly cachedLength: number;
  readonly residentBytes: number;
  readonly kvCacheBytes: number;
  readonly threads: number;
}

export interface NativeBuildInfo {
  /** Whether the CUDA backend is usable in this binary (false until it exists). */
  cuda: boolean;
  /** Whether CMake found nvcc and compiled with GPT_CUDA on. */
  cudaCompiled: boolean;
  /** The widest instruction set the CPU kernels use on this machine. */
  cpuIsa: string;
  hardwareThreads: number;
  compiler: string;
}

export type NativeEpilogue = "store" | "gelu" | "residual";
export type NativeImpl = "fast" | "reference";

/** Single kernels, for the tests that compare each fast path with its reference twin. */
export interface NativeOps {
  matmul(args: {
    impl: NativeImpl;
    input: Float32Array;
    rows: number;
    weight: Float32Array | Uint16Array;
    dtype: NativeDtype;
    k: number;
    n: number;
    bias: Float32Array;
    epilogue: NativeEpilogue;
    out: Float32Array;
    threads: number;
  }): void;
  lmHead(args: {
    impl: NativeImpl;
    input: Float32Array;
    rows: number;
    weight: Float32Array | Uint16Array;
    dtype: NativeDtype;
    vocab: number;
    c: number;
    out: Float32Array;
    threads: number;
  }): void;
}

export interface NativeBinding {
  /** The class of loadModel's results; constructed directly it is an empty, disposed handle. */
  NativeModel: abstract new () => NativeModel;
  loadModel(spec: NativeModelSpec): Promise<NativeModel>;
  buildInfo(): NativeBuildInfo;
  ops: NativeOps;
}
