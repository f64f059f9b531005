/** What the checkpoint loader hands to the engine: a validated description, no tensor data. */

export type StoredDtype = "F32" | "F16" | "BF16";

/** A model's sizes, read from config.json (each family names them its own way). */
export interface ModelDims {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Hidden width of the MLP (GPT-2: config.n_inner, or 4 × nEmbd when that is null). */
  nInner: number;
  /** Positions the model can attend over (GPT-2: config.n_positions). */
  nCtx: number;
  vocabSize: number;
  layerNormEpsilon: number;
}

/**
 * The MLP's activation, applied in the epilogue of its first matmul ("swiglu": silu(gate) · up,
 * that matmul's columns interleaving gate and up).
 */
export type Activation = "gelu-tanh" | "gelu-erf" | "relu" | "swiglu";

/**
 * How one layer scores its keys: scale · q·k, ALiBi's bias, keys within `window` positions (0: all);
 * the first `rotaryDims` values of each q and k head rotated by position (RoPE; GPT-J's
 * interleaved pairs or the half-split ones), 0 for none.
 */
export interface LayerAttention {
  scale: number;
  window: number;
  alibi: boolean;
  rotaryDims: number;
  rotaryInterleaved: boolean;
}

/** What the engine runs: the native graph (native/core/graphs/) and the parameters of its ops. */
export interface GraphSpec {
  graph: "gpt2" | "opt" | "bloom" | "rotary";
  /** Key/value heads (grouped-query attention: fewer than nHead) and each head's width. */
  nKvHead: number;
  headDim: number;
  activation: Activation;
  attention: LayerAttention[];
  /** The token embeddings' width (OPT's word_embed_proj_dim; nEmbd elsewhere). */
  wordEmbedDim: number;
  /** LayerNorm before attention and the MLP (false: after each residual add, OPT-350m). */
  preNorm: boolean;
  /** The residual is the LayerNorm's output (BLOOM's apply_residual_connection_post_layernorm). */
  residualFromNorm: boolean;
  /** The rotary graph's norms: LayerNorm, or RMSNorm (Llama, Qwen2). */
  norm: "layernorm" | "rmsnorm";
  /** Attention and the MLP both read the block's input (GPT-J; GPT-NeoX's use_parallel_residual), from one norm with sharedNorm (GPT-J). */
  parallelResidual: boolean;
  sharedNorm: boolean;
  /** The LM head has a bias (GPT-J). */
  headBias: boolean;
  /** The LM head is the token embedding (the rotary graph; the other graphs always tie it). */
  tiedHead: boolean;
  /** The rotary frequencies, rotaryDims / 2 of them as rope_scaling leaves them; empty without RoPE. */
  ropeInvFreq: number[];
}

/** A model as its architecture description (lib/arch/) reads config.json. */
export interface ModelConfig extends ModelDims, GraphSpec {
  /** config.json's model_type: the family ("gpt2", "opt", "bloom", "gpt_neo"). */
  modelType: string;
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

/**
 * A tensor as the engine reads it (native/core/weight_store.h's TensorSpec): its stored sources
 * stacked, reordered, transposed; no source means zeros.
 */
export interface EngineTensor {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  sources: TensorRef[];
  rowOrder?: number[];
  transpose?: boolean;
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
  /** Every stored tensor the engine reads, by canonical name (prefix dropped); buffers such as attn.bias are left out. */
  tensors: Map<string, TensorRef>;
  /** The tensors the engine gets, made from those (as stored, for GPT-2). */
  engineTensors: EngineTensor[];
  /** Tokenizer files found beside the weights, or null when there are none. */
  tokenizer: TokenizerFiles | null;
  /** Sum of the safetensors files' sizes in bytes. */
  totalBytes: number;
}
