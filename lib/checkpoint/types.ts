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

/** The MLP's activation, applied in the epilogue of its first matmul. */
export type Activation = "gelu-tanh" | "gelu-erf" | "relu";

/** How one layer scores its keys: scale · q·k, ALiBi's bias, keys within `window` positions (0: all). */
export interface LayerAttention {
  scale: number;
  window: number;
  alibi: boolean;
}

/** What the engine runs: the native graph (native/core/graphs/) and the parameters of its ops. */
export interface GraphSpec {
  graph: "gpt2" | "opt" | "bloom";
  activation: Activation;
  attention: LayerAttention[];
  /** The token embeddings' width (OPT's word_embed_proj_dim; nEmbd elsewhere). */
  wordEmbedDim: number;
  /** LayerNorm before attention and the MLP (false: after each residual add, OPT-350m). */
  preNorm: boolean;
  /** The residual is the LayerNorm's output (BLOOM's apply_residual_connection_post_layernorm). */
  residualFromNorm: boolean;
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
