// EleutherAI's GPT-Neo (EleutherAI/gpt-neo-125m … 2.7B): GPT-2's block with nn.Linear weights
// and separate q/k/v without biases (laid out as GPT-2's at load, so it runs GPT-2's graph),
// unscaled attention scores, and layers alternating global attention with a local window.
import type { ModelConfig } from "../checkpoint/types.js";
import { classicGraphFields, asStored, linear, zeros, type Architecture, type EngineTensorPlan } from "./architecture.js";
import { showValue } from "../checkpoint/fs-util.js";
import type { ConfigFields } from "./config-fields.js";

const ACTIVATIONS = { gelu_new: "gelu-tanh", gelu_pytorch_tanh: "gelu-tanh", gelu: "gelu-erf", relu: "relu" } as const;

/** Each layer's kind: config.json's attention_layers, or attention_types expanded ([[kinds, repeats], …]) as GPTNeoConfig does. */
function layerKinds(f: ConfigFields, nLayer: number): string[] {
  let kinds: unknown = f.json["attention_layers"];
  if (kinds === undefined || kinds === null) {
    const types = f.json["attention_types"];
    if (!Array.isArray(types)) throw f.bad("missing attention_layers (and no attention_types to expand)");
    let total = 0;
    for (const entry of types as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[0]) || !Number.isSafeInteger(entry[1]) || entry[1] < 0)
        throw f.bad(`attention_types must be a list of [kinds, repeats] pairs, got ${showValue(entry)}`);
      // Counted before anything is expanded: a huge repeat count must not build a huge list.
      total += (entry[0] as unknown[]).length * (entry[1] as number);
    }
    if (total !== nLayer) throw f.bad(`attention_types expands to ${total} layers, not num_layers ${nLayer}`);
    kinds = (types as [unknown[], number][]).flatMap(([k, repeats]) => Array.from({ length: repeats }, () => k).flat());
  }
  if (!Array.isArray(kinds) || kinds.length !== nLayer)
    throw f.bad(`attention_layers must name a kind for each of the ${nLayer} layers, got ${JSON.stringify(kinds)}`);
  for (const kind of kinds)
    if (kind !== "global" && kind !== "local")
      throw f.unsupported(`attention layer kind ${JSON.stringify(kind)} is not supported (supported: "global", "local")`);
  return kinds as string[];
}

export const GPT_NEO: Architecture = {
  modelType: "gpt_neo",
  architectures: ["GPTNeoForCausalLM", "GPTNeoModel"],
  prefixes: ["transformer."],

  parseConfig(f: ConfigFields): ModelConfig {
    const activation = f.oneOf("activation_function", "gelu_new", ACTIVATIONS);
    if (!f.boolean("tie_word_embeddings", true))
      throw f.unsupported("tie_word_embeddings: false is not supported (the LM head must be tied to wte)");
    const nLayer = f.positiveInt("num_layers");
    const nHead = f.positiveInt("num_heads");
    const nEmbd = f.positiveInt("hidden_size");
    const vocabSize = f.positiveInt("vocab_size");
    const nCtx = f.positiveInt("max_position_embeddings");
    const nInner = f.optionalPositiveInt("intermediate_size", 4 * nEmbd);
    f.checkHeads("hidden_size", nEmbd, "num_heads", nHead);
    const window = f.optionalPositiveInt("window_size", 256);
    // GPT-Neo does not scale its scores by 1/√D (it was trained that way).
    const attention = layerKinds(f, nLayer).map((kind) => ({ scale: 1, window: kind === "local" ? window : 0, alibi: false, rotaryDims: 0, rotaryInterleaved: false }));
    return {
      modelType: "gpt_neo",
      nLayer,
      nHead,
      nEmbd,
      nInner,
      nCtx,
      vocabSize,
      layerNormEpsilon: f.positiveNumber("layer_norm_epsilon", 1e-5),
      graph: "gpt2",
      activation,
      attention,
      wordEmbedDim: nEmbd,
      preNorm: true,
      residualFromNorm: false,
      ...classicGraphFields(nHead, nEmbd),
    };
  },

  tensors(c) {
    const C = c.nEmbd, F = c.nInner;
    const stored = (engine: string, source: string, shape: number[]) => asStored(engine, source, shape);
    const plans: EngineTensorPlan[] = [
      stored("wte.weight", "wte.weight", [c.vocabSize, C]),
      stored("wpe.weight", "wpe.weight", [c.nCtx, C]),
    ];
    for (let i = 0; i < c.nLayer; i++) {
      const h = `h.${i}.`;
      const a = `${h}attn.attention.`;
      plans.push(
        stored(`${h}ln_1.weight`, `${h}ln_1.weight`, [C]),
        stored(`${h}ln_1.bias`, `${h}ln_1.bias`, [C]),
        linear(`${h}attn.c_attn.weight`, ["q", "k", "v"].map((t) => ({ name: `${a}${t}_proj.weight`, shape: [C, C] }))),
        zeros(`${h}attn.c_attn.bias`, [3 * C]),
        linear(`${h}attn.c_proj.weight`, [{ name: `${a}out_proj.weight`, shape: [C, C] }]),
        stored(`${h}attn.c_proj.bias`, `${a}out_proj.bias`, [C]),
        stored(`${h}ln_2.weight`, `${h}ln_2.weight`, [C]),
        stored(`${h}ln_2.bias`, `${h}ln_2.bias`, [C]),
        linear(`${h}mlp.c_fc.weight`, [{ name: `${h}mlp.c_fc.weight`, shape: [F, C] }]),
        stored(`${h}mlp.c_fc.bias`, `${h}mlp.c_fc.bias`, [F]),
        linear(`${h}mlp.c_proj.weight`, [{ name: `${h}mlp.c_proj.weight`, shape: [C, F] }]),
        stored(`${h}mlp.c_proj.bias`, `${h}mlp.c_proj.bias`, [C]),
      );
    }
    plans.push(stored("ln_f.weight", "ln_f.weight", [C]), stored("ln_f.bias", "ln_f.bias", [C]));
    return plans;
  },
};
