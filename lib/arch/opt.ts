// Meta's OPT (facebook/opt-125m … opt-66b): learned positions offset by 2, ReLU, nn.Linear
// weights with separate q/k/v (fused at load), pre-LayerNorm blocks or — OPT-350m — post-LayerNorm
// ones with project_in / project_out between a narrower embedding and the model width.
import type { ModelConfig } from "../checkpoint/types.js";
import { classicGraphFields, asStored, linear, sameAttention, zeros, type Architecture, type EngineTensorPlan } from "./architecture.js";
import type { ConfigFields } from "./config-fields.js";

const ACTIVATIONS = { relu: "relu", gelu: "gelu-erf", gelu_new: "gelu-tanh" } as const;
/** OPTLearnedPositionalEmbedding: position p reads row p + 2 (rows 0 and 1 were fairseq's padding). */
const POSITION_OFFSET = 2;

export const OPT: Architecture = {
  modelType: "opt",
  architectures: ["OPTForCausalLM", "OPTModel"],
  // OPTForCausalLM saves the body under model.decoder., OPTModel under decoder.
  prefixes: ["model.decoder.", "decoder."],

  parseConfig(f: ConfigFields): ModelConfig {
    const activation = f.oneOf("activation_function", "relu", ACTIVATIONS);
    if (!f.boolean("tie_word_embeddings", true))
      throw f.unsupported("tie_word_embeddings: false is not supported (the LM head must be tied to embed_tokens)");
    f.refuseFlag("layer_norm_elementwise_affine", false, "LayerNorms without weights are not implemented");
    f.refuseFlag("_remove_final_layer_norm", true, "not implemented");
    const nLayer = f.positiveInt("num_hidden_layers");
    const nHead = f.positiveInt("num_attention_heads");
    const nEmbd = f.positiveInt("hidden_size");
    const vocabSize = f.positiveInt("vocab_size");
    const nCtx = f.positiveInt("max_position_embeddings");
    const nInner = f.positiveInt("ffn_dim");
    f.checkHeads("hidden_size", nEmbd, "num_attention_heads", nHead);
    return {
      modelType: "opt",
      nLayer,
      nHead,
      nEmbd,
      nInner,
      nCtx,
      vocabSize,
      layerNormEpsilon: 1e-5, // nn.LayerNorm's default: OPT's config has no epsilon
      graph: "opt",
      activation,
      attention: sameAttention(nLayer, 1 / Math.sqrt(nEmbd / nHead)),
      wordEmbedDim: f.optionalPositiveInt("word_embed_proj_dim", nEmbd),
      preNorm: f.boolean("do_layer_norm_before", true),
      residualFromNorm: false,
      ...classicGraphFields(nHead, nEmbd),
    };
  },

  tensors(c, f) {
    const C = c.nEmbd, E = c.wordEmbedDim, F = c.nInner;
    const biased = f.boolean("enable_bias", true);
    const bias = (name: string, stored: string[], width: number): EngineTensorPlan =>
      biased ? { name, shape: [width * stored.length], sources: stored.map((s) => ({ name: s, shape: [width] })) } : zeros(name, [width * stored.length]);
    const plans: EngineTensorPlan[] = [
      asStored("embed_tokens.weight", "embed_tokens.weight", [c.vocabSize, E]),
      {
        name: "embed_positions.weight",
        shape: [c.nCtx, C],
        sources: [{ name: "embed_positions.weight", shape: [c.nCtx + POSITION_OFFSET, C], rows: { start: POSITION_OFFSET, count: c.nCtx } }],
      },
    ];
    if (E !== C)
      plans.push(
        linear("project_in.weight", [{ name: "project_in.weight", shape: [C, E] }]),
        zeros("project_in.bias", [C]),
        linear("project_out.weight", [{ name: "project_out.weight", shape: [E, C] }]),
        zeros("project_out.bias", [E]),
      );
    for (let i = 0; i < c.nLayer; i++) {
      const p = `layers.${i}.`;
      const a = `${p}self_attn.`;
      plans.push(
        asStored(`${p}self_attn_layer_norm.weight`, `${p}self_attn_layer_norm.weight`, [C]),
        asStored(`${p}self_attn_layer_norm.bias`, `${p}self_attn_layer_norm.bias`, [C]),
        linear(`${a}qkv.weight`, ["q", "k", "v"].map((t) => ({ name: `${a}${t}_proj.weight`, shape: [C, C] }))),
        bias(`${a}qkv.bias`, ["q", "k", "v"].map((t) => `${a}${t}_proj.bias`), C),
        linear(`${a}out_proj.weight`, [{ name: `${a}out_proj.weight`, shape: [C, C] }]),
        bias(`${a}out_proj.bias`, [`${a}out_proj.bias`], C),
        asStored(`${p}final_layer_norm.weight`, `${p}final_layer_norm.weight`, [C]),
        asStored(`${p}final_layer_norm.bias`, `${p}final_layer_norm.bias`, [C]),
        linear(`${p}fc1.weight`, [{ name: `${p}fc1.weight`, shape: [F, C] }]),
        bias(`${p}fc1.bias`, [`${p}fc1.bias`], F),
        linear(`${p}fc2.weight`, [{ name: `${p}fc2.weight`, shape: [C, F] }]),
        bias(`${p}fc2.bias`, [`${p}fc2.bias`], C),
      );
    }
    if (c.preNorm)
      plans.push(asStored("final_layer_norm.weight", "final_layer_norm.weight", [C]), asStored("final_layer_norm.bias", "final_layer_norm.bias", [C]));
    return plans;
  },
};
