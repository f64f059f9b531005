/** Canonical GPT-2 tensor names and the shape each must have for a given config. */
import type { ModelConfig } from "./types.js";

/** Hugging Face's GPT2LMHeadModel stores the body under this prefix; GPT2Model does not. */
export const TRANSFORMER_PREFIX = "transformer.";

/** Drop the "transformer." prefix, if any. */
export function canonicalTensorName(storedName: string): string {
  return storedName.startsWith(TRANSFORMER_PREFIX) ? storedName.slice(TRANSFORMER_PREFIX.length) : storedName;
}

/** The names a canonical tensor may be stored under: unprefixed and prefixed. */
export function storedNameCandidates(canonical: string): [string, string] {
  return [canonical, TRANSFORMER_PREFIX + canonical];
}

const IGNORED = /^(?:h\.\d+\.attn\.(?:bias|masked_bias)|lm_head\.weight)$/;

/**
 * Tensors that checkpoints carry but the engine never reads: the causal-mask buffers
 * (attn.bias, attn.masked_bias) and lm_head.weight, which is tied to wte.
 */
export function isIgnoredTensor(canonical: string): boolean {
  return IGNORED.test(canonical);
}

/**
 * Every tensor the engine needs, canonical name → expected shape, in a stable order
 * (embeddings, then each block, then the final layer norm). Conv1D weights are [in, out].
 */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
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
