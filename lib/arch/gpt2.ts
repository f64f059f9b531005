// GPT-2 (openai-community/gpt2 and its fine-tunes): learned positions, pre-LayerNorm blocks,
// Conv1D weights stored [in, out] as the engine reads them, the LM head tied to wte.
import type { ModelConfig, ModelDims } from "../checkpoint/types.js";
import { classicGraphFields, sameAttention, type Architecture } from "./architecture.js";
import type { ConfigFields } from "./config-fields.js";

/** What activation_function names, as transformers' ACT2FN computes it. */
const ACTIVATIONS = { gelu_new: "gelu-tanh", gelu_pytorch_tanh: "gelu-tanh", gelu: "gelu-erf", relu: "relu" } as const;

/**
 * Every tensor GPT-2's graph reads, canonical name → shape, in a stable order (embeddings, then
 * each block, then the final layer norm). Conv1D weights are [in, out].
 */
export function expectedTensorShapes(config: ModelDims): Map<string, number[]> {
  const { nLayer, nEmbd, nInner, nCtx, vocabSize } = config;
  const shapes = new Map<string, number[]>();
  shapes.set("wte.weight", [vocabSize, nEmbd]);
  shapes.set("wpe.weight", [nCtx, nEmbd]);
  for (let i = 0; i < nLayer; i++) {
    const h = `h.${i}.`;
    shapes.set(`${h}ln_1.weight`, [nEmbd]);
    shapes.set(`${h}ln_1.bias`, [nEmbd]);
    shapes.set(`${h}attn.c_attn.weight`, [nEmbd, 3 * nEmbd]);
    shapes.set(`${h}attn.c_attn.bias`, [3 * nEmbd]);
    shapes.set(`${h}attn.c_proj.weight`, [nEmbd, nEmbd]);
    shapes.set(`${h}attn.c_proj.bias`, [nEmbd]);
    shapes.set(`${h}ln_2.weight`, [nEmbd]);
    shapes.set(`${h}ln_2.bias`, [nEmbd]);
    shapes.set(`${h}mlp.c_fc.weight`, [nEmbd, nInner]);
    shapes.set(`${h}mlp.c_fc.bias`, [nInner]);
    shapes.set(`${h}mlp.c_proj.weight`, [nInner, nEmbd]);
    shapes.set(`${h}mlp.c_proj.bias`, [nEmbd]);
  }
  shapes.set("ln_f.weight", [nEmbd]);
  shapes.set("ln_f.bias", [nEmbd]);
  return shapes;
}

/** GPT-2's graph for a model of these sizes with GPT-2's own ops: what Gpt.random and the CUDA self-check build. */
export function gpt2Config(dims: ModelDims): ModelConfig {
  return {
    ...dims,
    modelType: "gpt2",
    graph: "gpt2",
    activation: "gelu-tanh",
    attention: sameAttention(dims.nLayer, 1 / Math.sqrt(dims.nEmbd / dims.nHead)),
    wordEmbedDim: dims.nEmbd,
    preNorm: true,
    residualFromNorm: false,
    ...classicGraphFields(dims.nHead, dims.nEmbd),
  };
}

export const GPT2: Architecture = {
  modelType: "gpt2",
  architectures: ["GPT2LMHeadModel", "GPT2Model"],
  prefixes: ["transformer."],

  parseConfig(f: ConfigFields): ModelConfig {
    const activation = f.oneOf("activation_function", "gelu_new", ACTIVATIONS);
    const tie = f.boolean("tie_word_embeddings", true);
    if (!tie) throw f.unsupported("tie_word_embeddings: false is not supported (the LM head must be tied to wte)");
    for (const key of ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"])
      f.refuseFlag(key, true, "not implemented");
    f.refuseFlag("scale_attn_weights", false, "attention is always scaled by 1/sqrt(head size)");
    const nLayer = f.positiveInt("n_layer");
    const nHead = f.positiveInt("n_head");
    const nEmbd = f.positiveInt("n_embd");
    const vocabSize = f.positiveInt("vocab_size");
    const nCtx = f.firstPositiveInt("n_positions", "n_ctx");
    const nInner = f.optionalPositiveInt("n_inner", 4 * nEmbd);
    f.checkHeads("n_embd", nEmbd, "n_head", nHead);
    const layerNormEpsilon = f.positiveNumber("layer_norm_epsilon", 1e-5);
    return { ...gpt2Config({ nLayer, nHead, nEmbd, nInner, nCtx, vocabSize, layerNormEpsilon }), activation };
  },

  tensors(config) {
    return [...expectedTensorShapes(config)].map(([name, shape]) => ({ name, shape, sources: [{ name, shape }] }));
  },
};
