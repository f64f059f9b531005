// EleutherAI's GPT-NeoX (EleutherAI/pythia-70m … pythia-12b, gpt-neox-20b): rotary positions on the
// first rotary_pct of each head (half-split), a fused query_key_value whose rows interleave the
// heads (head h's q, k, v together, as BLOOM's; reordered at load), biases throughout, the exact
// GELU, blocks whose attention and MLP read the block's input from two LayerNorms and are added to
// it together (use_parallel_residual) or run one after the other, and an untied embed_out head.
import type { ModelConfig } from "../checkpoint/types.js";
import { asStored, linear, sameAttention, type Architecture, type EngineTensorPlan } from "./architecture.js";
import { bloomQkvOrder } from "./bloom.js";
import type { ConfigFields } from "./config-fields.js";
import { ropeInvFreq, ropeParameters } from "./rope.js";

const ACTIVATIONS = { gelu: "gelu-erf", gelu_new: "gelu-tanh", gelu_pytorch_tanh: "gelu-tanh", relu: "relu" } as const;

/** The share of each head that rotates: rotary_pct (classic) or partial_rotary_factor (transformers 5, maybe inside rope_parameters). */
function rotaryShare(f: ConfigFields): number {
  const params = f.json["rope_parameters"];
  const nested = params && typeof params === "object" ? (params as Record<string, unknown>)["partial_rotary_factor"] : undefined;
  const key = f.has("rotary_pct") ? "rotary_pct" : "partial_rotary_factor";
  const value = nested ?? f.json[key] ?? 1;
  if (typeof value !== "number" || !(value > 0 && value <= 1)) throw f.bad(`${key} must be a number in (0, 1], got ${JSON.stringify(value)}`);
  return value;
}

export const GPT_NEOX: Architecture = {
  modelType: "gpt_neox",
  architectures: ["GPTNeoXForCausalLM", "GPTNeoXModel"],
  prefixes: ["gpt_neox."],

  parseConfig(f: ConfigFields): ModelConfig {
    const activation = f.oneOf("hidden_act", "gelu", ACTIVATIONS);
    if (f.boolean("tie_word_embeddings", false))
      throw f.unsupported("tie_word_embeddings: true is not supported for GPT-NeoX (embed_out is its own weight)");
    f.refuseFlag("attention_bias", false, "query_key_value and dense without biases are not implemented");
    const nLayer = f.positiveInt("num_hidden_layers");
    const nHead = f.positiveInt("num_attention_heads");
    const nEmbd = f.positiveInt("hidden_size");
    f.checkHeads("hidden_size", nEmbd, "num_attention_heads", nHead);
    const headDim = nEmbd / nHead;
    // As GPTNeoXAttention sizes it: int(head_size * rotary_pct).
    const rotaryDims = Math.floor(headDim * rotaryShare(f));
    if (rotaryDims < 2 || rotaryDims % 2 !== 0)
      throw f.bad(`the rotated share of a head (${headDim} × rotary_pct = ${rotaryDims} values) must be even and at least 2`);
    const rope = ropeParameters(f, ["rotary_emb_base", "rope_theta"], 10000);
    return {
      modelType: "gpt_neox",
      nLayer,
      nHead,
      nEmbd,
      nInner: f.positiveInt("intermediate_size"),
      nCtx: f.positiveInt("max_position_embeddings"),
      vocabSize: f.positiveInt("vocab_size"),
      layerNormEpsilon: f.positiveNumber("layer_norm_eps", 1e-5),
      graph: "rotary",
      nKvHead: nHead,
      headDim,
      activation,
      attention: sameAttention(nLayer, 1 / Math.sqrt(headDim), 0, false, { dims: rotaryDims, interleaved: false }),
      wordEmbedDim: nEmbd,
      preNorm: true,
      residualFromNorm: false,
      norm: "layernorm",
      parallelResidual: f.boolean("use_parallel_residual", true),
      sharedNorm: false,
      headBias: false,
      tiedHead: false,
      ropeInvFreq: ropeInvFreq(f, rope, rotaryDims),
    };
  },

  tensors(c) {
    const C = c.nEmbd, F = c.nInner;
    const order = bloomQkvOrder(c.nHead, c.headDim);
    const norm = (engine: string, stored: string) => [
      asStored(`${engine}.weight`, `${stored}.weight`, [C]),
      asStored(`${engine}.bias`, `${stored}.bias`, [C]),
    ];
    const plans: EngineTensorPlan[] = [asStored("embed.weight", "embed_in.weight", [c.vocabSize, C])];
    for (let i = 0; i < c.nLayer; i++) {
      const s = `layers.${i}.`;
      const qkv = `${s}attention.query_key_value`;
      plans.push(
        ...norm(`${s}norm1`, `${s}input_layernorm`),
        { ...linear(`${s}qkv.weight`, [{ name: `${qkv}.weight`, shape: [3 * C, C] }]), rowOrder: order },
        { name: `${s}qkv.bias`, shape: [3 * C], sources: [{ name: `${qkv}.bias`, shape: [3 * C] }], rowOrder: order },
        linear(`${s}out.weight`, [{ name: `${s}attention.dense.weight`, shape: [C, C] }]),
        asStored(`${s}out.bias`, `${s}attention.dense.bias`, [C]),
        ...norm(`${s}norm2`, `${s}post_attention_layernorm`),
        linear(`${s}up.weight`, [{ name: `${s}mlp.dense_h_to_4h.weight`, shape: [F, C] }]),
        asStored(`${s}up.bias`, `${s}mlp.dense_h_to_4h.bias`, [F]),
        linear(`${s}down.weight`, [{ name: `${s}mlp.dense_4h_to_h.weight`, shape: [C, F] }]),
        asStored(`${s}down.bias`, `${s}mlp.dense_4h_to_h.bias`, [C]),
      );
    }
    plans.push(...norm("norm_f", "final_layer_norm"), asStored("lm_head.weight", "embed_out.weight", [c.vocabSize, C]));
    return plans;
  },
};
