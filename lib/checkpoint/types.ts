/** What the checkpoint loader hands to the engine: a validated description, no tensor data. */

export type StoredDtype = "F32" | "F16" | "BF16";

/** The hyper-parameters of a GPT-2 model, read from config.json. */
export interface ModelConfig {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Hidden width of the MLP: config.n_inner, or 4 × nEmbd when that is null. */
  nInner: number;
  /** Number of learned positions (config.n_positions). */
  nCtx: number;
  vocabSize: number;
  layerNormEpsilon: number;
}

/**
 * One tensor's place on disk. `name` is canonical: without the "transformer." prefix
 * (e.g. "h.0.attn.c_attn.weight", "wte.weight"). `offset` is the absolute byte offset
 * of the first element in `file`.
 */
export interface TensorRef {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  file: string;
  offset: number;
  byteLength: number;
}

export type TokenizerFiles =
  | { kind: "tokenizer.json"; path: string }
  | { kind: "vocab+merges"; vocab: string; merges: string };

export interface Checkpoint {
  /** The checkpoint directory (absolute). */
  dir: string;
  config: ModelConfig;
  /** Absolute paths of the safetensors files, in shard order. */
  files: string[];
  /** Every tensor the engine needs, by canonical name; buffers such as attn.bias are left out. */
  tensors: Map<string, TensorRef>;
  /** Tokenizer files found beside the weights, or null when there are none. */
  tokenizer: TokenizerFiles | null;
  /** Sum of the safetensors files' sizes in bytes. */
  totalBytes: number;
}
