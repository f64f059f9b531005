// The Llama architecture (meta-llama/Llama-3.2-1B, TinyLlama/TinyLlama-1.1B, HuggingFaceTB/SmolLM2-*)
// and Qwen2 (Qwen/Qwen2.5-*), which is Llama with biases on q, k and v: RMSNorm, rotary positions
// over the head (half-split; rope_theta, rope_scaling linear or llama3), grouped-query attention
// (num_key_value_heads) with an optional explicit head_dim, a SwiGLU MLP — gate_proj and up_proj
// laid out at load as one matrix whose columns interleave them, for the engine's swiglu epilogue —
// and an LM head tied to the embedding or not.
import type { ModelConfig } from "../checkpoint/types.js";
import { asStored, linear, sameAttention, zeros, type Architecture, type EngineTensorPlan } from "./architecture.js";
import type { ConfigFields } from "./config-fields.js";
import { ropeInvFreq, ropeParameters } from "./rope.js";

/** Engine row 2j is stored row j (gate_proj's), row 2j + 1 is stored row F + j (up_proj's). */
export function swigluOrder(F: number): number[] {
  return Array.from({ length: 2 * F }, (_, t) => (t % 2 === 0 ? t / 2 : F + (t - 1) / 2));
}

/** The two descriptions; `qkvBiasAlways`: q, k and v have biases whatever attention_bias says (Qwen2). */
function llamaFamily(modelType: "llama" | "qwen2", architectures: string[], qkvBiasAlways: boolean): Architecture {
  return {
    modelType,
    architectures,
    prefixes: ["model."],

    parseConfig(f: ConfigFields): ModelConfig {
      const act = f.string("hidden_act", "silu");
      if (act !== "silu") throw f.unsupported(`hidden_act "${act}" is not supported (supported: "silu")`);
      f.refuseFlag("use_sliding_window", true, "sliding-window attention is not implemented for this family");
      if (f.has("layer_types")) {
        const types = f.json["layer_types"];
        if (!Array.isArray(types) || types.some((t) => t !== "full_attention"))
          throw f.unsupported(`layer_types other than "full_attention" are not supported, got ${JSON.stringify(types)}`);
      }
      const pretrainingTp = f.optionalPositiveInt("pretraining_tp", 1);
      if (pretrainingTp !== 1) throw f.unsupported(`pretraining_tp ${pretrainingTp} is not supported (its sums run in another order)`);
      const nLayer = f.positiveInt("num_hidden_layers");
      const nHead = f.positiveInt("num_attention_heads");
      const nEmbd = f.positiveInt("hidden_size");
      const nKvHead = f.optionalPositiveInt("num_key_value_heads", nHead);
      if (nHead % nKvHead !== 0)
        throw f.bad(`num_attention_heads (${nHead}) is not a multiple of num_key_value_heads (${nKvHead})`);
      if (!f.has("head_dim")) f.checkHeads("hidden_size", nEmbd, "num_attention_heads", nHead);
      const headDim = f.optionalPositiveInt("head_dim", nEmbd / nHead);
      if (headDim % 2 !== 0) throw f.bad(`head_dim (${headDim}) must be even to rotate`);
      const rope = ropeParameters(f, ["rope_theta"], 10000);
      // transformers' default for tie_word_embeddings differs: Llama's config says false, Qwen2's too.
      const tied = f.boolean("tie_word_embeddings", false);
      return {
        modelType,
        nLayer,
        nHead,
        nEmbd,
        nInner: f.positiveInt("intermediate_size"),
        nCtx: f.positiveInt("max_position_embeddings"),
        vocabSize: f.positiveInt("vocab_size"),
        layerNormEpsilon: f.positiveNumber("rms_norm_eps", 1e-6),
        graph: "rotary",
        nKvHead,
        headDim,
        activation: "swiglu",
        attention: sameAttention(nLayer, 1 / Math.sqrt(headDim), 0, false, { dims: headDim, interleaved: false }),
        wordEmbedDim: nEmbd,
        preNorm: true,
        residualFromNorm: false,
        norm: "rmsnorm",
        parallelResidual: false,
        sharedNorm: false,
        headBias: false,
        tiedHead: tied,
        ropeInvFreq: ropeInvFreq(f, rope, headDim),
      };
    },

    tensors(c, f) {
      // Llama's attention_bias puts a bias on q, k, v and o; Qwen2 always has q, k, v's and no o's.
      const attentionBias = f.boolean("attention_bias", false);
      const qkvBias = qkvBiasAlways || attentionBias, outBias = !qkvBiasAlways && attentionBias;
      const mlpBias = f.boolean("mlp_bias", false);
      const C = c.nEmbd, F = c.nInner, D = c.headDim;
      const Q = c.nHead * D, KV = c.nKvHead * D;
      const plans: EngineTensorPlan[] = [asStored("embed.weight", "embed_tokens.weight", [c.vocabSize, C])];
      const bias = (engine: string, present: boolean, sources: { name: string; shape: number[] }[], rowOrder?: number[]) =>
        present
          ? { name: engine, shape: [sources.reduce((n, s) => n + s.shape[0]!, 0)], sources, ...(rowOrder ? { rowOrder } : {}) }
          : zeros(engine, [sources.reduce((n, s) => n + s.shape[0]!, 0)]);
      const order = swigluOrder(F);
      for (let i = 0; i < c.nLayer; i++) {
        const p = `layers.${i}.`;
        const a = `${p}self_attn.`;
        const m = `${p}mlp.`;
        const qkv = [
          { name: `${a}q_proj`, rows: Q },
          { name: `${a}k_proj`, rows: KV },
          { name: `${a}v_proj`, rows: KV },
        ];
        plans.push(
          asStored(`${p}norm1.weight`, `${p}input_layernorm.weight`, [C]),
          linear(`${p}qkv.weight`, qkv.map((t) => ({ name: `${t.name}.weight`, shape: [t.rows, C] }))),
          bias(`${p}qkv.bias`, qkvBias, qkv.map((t) => ({ name: `${t.name}.bias`, shape: [t.rows] }))),
          linear(`${p}out.weight`, [{ name: `${a}o_proj.weight`, shape: [C, Q] }]),
          bias(`${p}out.bias`, outBias, [{ name: `${a}o_proj.bias`, shape: [C] }]),
          asStored(`${p}norm2.weight`, `${p}post_attention_layernorm.weight`, [C]),
          {
            ...linear(`${p}up.weight`, [
              { name: `${m}gate_proj.weight`, shape: [F, C] },
              { name: `${m}up_proj.weight`, shape: [F, C] },
            ]),
            rowOrder: order,
          },
          bias(`${p}up.bias`, mlpBias, [{ name: `${m}gate_proj.bias`, shape: [F] }, { name: `${m}up_proj.bias`, shape: [F] }], order),
          linear(`${p}down.weight`, [{ name: `${m}down_proj.weight`, shape: [C, F] }]),
          bias(`${p}down.bias`, mlpBias, [{ name: `${m}down_proj.bias`, shape: [C] }]),
        );
      }
      plans.push(asStored("norm_f.weight", "norm.weight", [C]));
      if (!c.tiedHead) plans.push(asStored("lm_head.weight", "lm_head.weight", [c.vocabSize, C]));
      return plans;
    },
  };
}

export const LLAMA = llamaFamily("llama", ["LlamaForCausalLM", "LlamaModel"], false);
export const QWEN2 = llamaFamily("qwen2", ["Qwen2ForCausalLM", "Qwen2Model"], true);
