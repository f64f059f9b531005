/**
 * An architecture, described once per family (one file each in lib/arch/, the way transformers
 * has a modeling file per family): how its config.json maps onto the engine, which stored tensors
 * it needs and how each becomes a tensor of the engine's layout, and which native graph
 * (native/core/graphs/) runs it with which parameters of the shared ops. Stored tensors no plan
 * names (causal-mask buffers, an LM head tied to the embedding) are never read.
 */
import type { LayerAttention, ModelConfig } from "../checkpoint/types.js";
import type { ConfigFields } from "./config-fields.js";

export interface Architecture {
  /** config.json's model_type. */
  readonly modelType: string;
  /** transformers class names in config.json's `architectures` that mean this family (for configs without model_type). */
  readonly architectures: readonly string[];
  /** Prefixes stored tensor names may carry, one family's checkpoints differing on them; dropped to give canonical names. */
  readonly prefixes: readonly string[];
  parseConfig(fields: ConfigFields): ModelConfig;
  /** The engine's tensors, each made from stored ones (`fields`: config.json, for what only the layout depends on). */
  tensors(config: ModelConfig, fields: ConfigFields): EngineTensorPlan[];
}

/** A stored tensor the engine reads, by canonical name, with the shape config.json implies. */
export interface SourcePlan {
  name: string;
  shape: number[];
  /** Only rows start … start + count − 1 of its first dimension (OPT's positions, offset by 2). */
  rows?: { start: number; count: number };
}

/**
 * One tensor as the native graph reads it: its sources stacked along their first dimension, the
 * rows of the stack reordered by `rowOrder`, then transposed (native/core/weight_store.h). No
 * source: zeros (a bias the checkpoint leaves out).
 */
export interface EngineTensorPlan {
  name: string;
  shape: number[];
  sources: SourcePlan[];
  rowOrder?: number[];
  transpose?: boolean;
}

/** An nn.Linear weight [out, in] (or several, stacked) read as the [in, out] matrix the engine's matmul takes. */
export function linear(name: string, sources: SourcePlan[]): EngineTensorPlan {
  const rows = sources.reduce((n, s) => n + s.shape[0]!, 0);
  return { name, shape: [sources[0]!.shape[1]!, rows], sources, transpose: true };
}

/** A tensor used as stored. */
export function asStored(name: string, source: string, shape: number[]): EngineTensorPlan {
  return { name, shape, sources: [{ name: source, shape }] };
}

/** A tensor of zeros, for a bias the family leaves out. */
export function zeros(name: string, shape: number[]): EngineTensorPlan {
  return { name, shape, sources: [] };
}

/** Every layer's attention alike (without rotary positions unless `rotary` says). */
export function sameAttention(
  nLayer: number,
  scale: number,
  window = 0,
  alibi = false,
  rotary: { dims: number; interleaved: boolean } = { dims: 0, interleaved: false },
): LayerAttention[] {
  return Array.from({ length: nLayer }, () => ({ scale, window, alibi, rotaryDims: rotary.dims, rotaryInterleaved: rotary.interleaved }));
}

/**
 * The graph fields of a GPT-2-era family (multi-head attention of nEmbd / nHead, LayerNorm, no
 * rotary positions); the rotary graph's parameters at their neutral values.
 */
export function classicGraphFields(nHead: number, nEmbd: number) {
  return {
    nKvHead: nHead,
    headDim: nEmbd / nHead,
    norm: "layernorm",
    parallelResidual: false,
    sharedNorm: false,
    headBias: false,
    tiedHead: true,
    ropeInvFreq: [],
  } satisfies Partial<ModelConfig>;
}
