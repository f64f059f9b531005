// BigScience's BLOOM (bigscience/bloom-560m … bloom): ALiBi instead of learned positions, a
// LayerNorm over the embeddings, a fused query_key_value whose output rows interleave the heads
// (head h's q, k, v together; reordered at load into q | k | v), tanh GELU.
import type { ModelConfig } from "../checkpoint/types.js";
import { classicGraphFields, asStored, linear, sameAttention, type Architecture, type EngineTensorPlan } from "./architecture.js";
import type { ConfigFields } from "./config-fields.js";

/**
 * BLOOM's config has no position limit: ALiBi extrapolates. The engine sizes its cache from one,
 * so it takes seq_length when the config has it, else the 2,048 tokens BLOOM was trained on.
 */
const TRAINED_CONTEXT = 2048;

/** Engine row t·C + h·D + d (t = q, k, v) is stored row h·3D + t·D + d. */
export function bloomQkvOrder(nHead: number, headDim: number): number[] {
  const C = nHead * headDim;
  const order = new Array<number>(3 * C);
  for (let t = 0; t < 3; t++)
    for (let h = 0; h < nHead; h++)
      for (let d = 0; d < headDim; d++) order[t * C + h * headDim + d] = h * 3 * headDim + t * headDim + d;
  return order;
}

export const BLOOM: Architecture = {
  modelType: "bloom",
  architectures: ["BloomForCausalLM", "BloomModel"],
  prefixes: ["transformer."],

  parseConfig(f: ConfigFields): ModelConfig {
    if (!f.boolean("tie_word_embeddings", true))
      throw f.unsupported("tie_word_embeddings: false is not supported (the LM head must be tied to word_embeddings)");
    // slow_but_exact with pretraining_tp > 1 splits the dense layers' sums in another order.
    if (f.boolean("slow_but_exact", false) && f.optionalPositiveInt("pretraining_tp", 1) > 1)
      throw f.unsupported("slow_but_exact: true with pretraining_tp > 1 is not supported");
    // As BloomConfig reads them: n_embed, where given, over hidden_size.
    const headKey = f.has("n_head") ? "n_head" : "num_attention_heads";
    const embdKey = f.has("n_embed") ? "n_embed" : "hidden_size";
    const nLayer = f.firstPositiveInt("n_layer", "num_hidden_layers");
    const nHead = f.positiveInt(headKey);
    const nEmbd = f.positiveInt(embdKey);
    const vocabSize = f.positiveInt("vocab_size");
    f.checkHeads(embdKey, nEmbd, headKey, nHead);
    return {
      modelType: "bloom",
      nLayer,
      nHead,
      nEmbd,
      nInner: 4 * nEmbd,
      nCtx: f.optionalPositiveInt("seq_length", TRAINED_CONTEXT),
      vocabSize,
      layerNormEpsilon: f.positiveNumber("layer_norm_epsilon", 1e-5),
      graph: "bloom",
      activation: "gelu-tanh",
      attention: sameAttention(nLayer, 1 / Math.sqrt(nEmbd / nHead), 0, true),
      wordEmbedDim: nEmbd,
      preNorm: true,
      residualFromNorm: f.boolean("apply_residual_connection_post_layernorm", false),
      ...classicGraphFields(nHead, nEmbd),
    };
  },

  tensors(c) {
    const C = c.nEmbd, F = c.nInner;
    const order = bloomQkvOrder(c.nHead, C / c.nHead);
    const norm = (name: string) => [asStored(`${name}.weight`, `${name}.weight`, [C]), asStored(`${name}.bias`, `${name}.bias`, [C])];
    const plans: EngineTensorPlan[] = [
      asStored("word_embeddings.weight", "word_embeddings.weight", [c.vocabSize, C]),
      ...norm("word_embeddings_layernorm"),
    ];
    for (let i = 0; i < c.nLayer; i++) {
      const p = `h.${i}.`;
      const qkv = `${p}self_attention.query_key_value`;
      plans.push(
        ...norm(`${p}input_layernorm`),
        { ...linear(`${p}self_attention.qkv.weight`, [{ name: `${qkv}.weight`, shape: [3 * C, C] }]), rowOrder: order },
        { name: `${p}self_attention.qkv.bias`, shape: [3 * C], sources: [{ name: `${qkv}.bias`, shape: [3 * C] }], rowOrder: order },
        linear(`${p}self_attention.dense.weight`, [{ name: `${p}self_attention.dense.weight`, shape: [C, C] }]),
        asStored(`${p}self_attention.dense.bias`, `${p}self_attention.dense.bias`, [C]),
        ...norm(`${p}post_attention_layernorm`),
        linear(`${p}mlp.dense_h_to_4h.weight`, [{ name: `${p}mlp.dense_h_to_4h.weight`, shape: [F, C] }]),
        asStored(`${p}mlp.dense_h_to_4h.bias`, `${p}mlp.dense_h_to_4h.bias`, [F]),
        linear(`${p}mlp.dense_4h_to_h.weight`, [{ name: `${p}mlp.dense_4h_to_h.weight`, shape: [C, F] }]),
        asStored(`${p}mlp.dense_4h_to_h.bias`, `${p}mlp.dense_4h_to_h.bias`, [C]),
      );
    }
    plans.push(...norm("ln_f"));
    return plans;
  },
};
