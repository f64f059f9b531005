// EleutherAI's GPT-J (EleutherAI/gpt-j-6b): one LayerNorm feeding attention and the MLP in
// parallel, both added to the block's input; rotary positions on the first rotary_dim values of
// each head in GPT-J's interleaved pairs (rotate_every_two); separate q/k/v and out projections
// without biases (fused at load); a tanh-GELU MLP; an untied LM head with a bias.
import type { ModelConfig } from "../checkpoint/types.js";
import { asStored, linear, sameAttention, zeros, type Architecture, type EngineTensorPlan } from "./architecture.js";
import type { ConfigFields } from "./config-fields.js";
import { ropeInvFreq, ropeParameters } from "./rope.js";

const ACTIVATIONS = { gelu_new: "gelu-tanh", gelu_pytorch_tanh: "gelu-tanh", gelu: "gelu-erf", relu: "relu" } as const;

export const GPTJ: Architecture = {
  modelType: "gptj",
  architectures: ["GPTJForCausalLM", "GPTJModel"],
  prefixes: ["transformer."],

  parseConfig(f: ConfigFields): ModelConfig {
    const activation = f.oneOf("activation_function", "gelu_new", ACTIVATIONS);
    if (f.boolean("tie_word_embeddings", false))
      throw f.unsupported("tie_word_embeddings: true is not supported for GPT-J (its LM head has its own weight and bias)");
    const nLayer = f.positiveInt("n_layer");
    const nHead = f.positiveInt("n_head");
    const nEmbd = f.positiveInt("n_embd");
    f.checkHeads("n_embd", nEmbd, "n_head", nHead);
    const headDim = nEmbd / nHead;
    const rotaryDims = f.optionalPositiveInt("rotary_dim", headDim);
    if (rotaryDims % 2 !== 0 || rotaryDims > headDim)
      throw f.bad(`rotary_dim (${rotaryDims}) must be even and at most the head width ${headDim}`);
    // GPT-J's base is fixed at 10,000 (create_sinusoidal_positions); transformers 5 may write it as rope_parameters.
    const rope = ropeParameters(f, [], 10000);
    return {
      modelType: "gptj",
      nLayer,
      nHead,
      nEmbd,
      nInner: f.optionalPositiveInt("n_inner", 4 * nEmbd),
      nCtx: f.positiveInt("n_positions"),
      vocabSize: f.positiveInt("vocab_size"),
      layerNormEpsilon: f.positiveNumber("layer_norm_epsilon", 1e-5),
      graph: "rotary",
      nKvHead: nHead,
      headDim,
      activation,
      attention: sameAttention(nLayer, 1 / Math.sqrt(headDim), 0, false, { dims: rotaryDims, interleaved: true }),
      wordEmbedDim: nEmbd,
      preNorm: true,
      residualFromNorm: false,
      norm: "layernorm",
      parallelResidual: true,
      sharedNorm: true,
      headBias: true,
      tiedHead: false,
      ropeInvFreq: ropeInvFreq(f, rope, rotaryDims),
    };
  },

  tensors(c) {
    const C = c.nEmbd, F = c.nInner;
    const plans: EngineTensorPlan[] = [asStored("embed.weight", "wte.weight", [c.vocabSize, C])];
    for (let i = 0; i < c.nLayer; i++) {
      const h = `h.${i}.`;
      const p = `layers.${i}.`;
      plans.push(
        asStored(`${p}norm1.weight`, `${h}ln_1.weight`, [C]),
        asStored(`${p}norm1.bias`, `${h}ln_1.bias`, [C]),
        linear(`${p}qkv.weight`, ["q", "k", "v"].map((t) => ({ name: `${h}attn.${t}_proj.weight`, shape: [C, C] }))),
        zeros(`${p}qkv.bias`, [3 * C]),
        linear(`${p}out.weight`, [{ name: `${h}attn.out_proj.weight`, shape: [C, C] }]),
        zeros(`${p}out.bias`, [C]),
        linear(`${p}up.weight`, [{ name: `${h}mlp.fc_in.weight`, shape: [F, C] }]),
        asStored(`${p}up.bias`, `${h}mlp.fc_in.bias`, [F]),
        linear(`${p}down.weight`, [{ name: `${h}mlp.fc_out.weight`, shape: [C, F] }]),
        asStored(`${p}down.bias`, `${h}mlp.fc_out.bias`, [C]),
      );
    }
    plans.push(
      asStored("norm_f.weight", "ln_f.weight", [C]),
      asStored("norm_f.bias", "ln_f.bias", [C]),
      asStored("lm_head.weight", "lm_head.weight", [c.vocabSize, C]),
      asStored("lm_head.bias", "lm_head.bias", [c.vocabSize]),
    );
    return plans;
  },
};
