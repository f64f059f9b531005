// The native spec of a model whose every weight is seeded random numbers: Gpt.random's models of
// real shapes (GPT-2, OPT, BLOOM, GPT-Neo, Pythia, SmolLM2, TinyLlama, Qwen2.5), and the small model the CUDA self-check
// (lib/cuda-self-check.ts) runs on both backends.
import type { NativeDtype, NativeModelSpec } from "../bindings.js";
import { expectedTensorShapes, gpt2Config, parseConfig, type ModelConfig, type ModelDims } from "./checkpoint/index.js";

/**
 * The models Gpt.random builds: each release's config.json as the Hub has it (the fields that
 * shape the model), read by its architecture description like a checkpoint's.
 */
export const RANDOM_PRESETS = {
  gpt2: { model_type: "gpt2", n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 },
  "gpt2-medium": { model_type: "gpt2", n_layer: 24, n_head: 16, n_embd: 1024, n_positions: 1024, vocab_size: 50257 },
  "gpt2-large": { model_type: "gpt2", n_layer: 36, n_head: 20, n_embd: 1280, n_positions: 1024, vocab_size: 50257 },
  "gpt2-xl": { model_type: "gpt2", n_layer: 48, n_head: 25, n_embd: 1600, n_positions: 1024, vocab_size: 50257 },
  "opt-125m": {
    model_type: "opt",
    num_hidden_layers: 12,
    num_attention_heads: 12,
    hidden_size: 768,
    ffn_dim: 3072,
    max_position_embeddings: 2048,
    vocab_size: 50272,
  },
  "opt-350m": {
    model_type: "opt",
    num_hidden_layers: 24,
    num_attention_heads: 16,
    hidden_size: 1024,
    ffn_dim: 4096,
    max_position_embeddings: 2048,
    vocab_size: 50272,
    word_embed_proj_dim: 512,
    do_layer_norm_before: false,
  },
  "bloom-560m": { model_type: "bloom", n_layer: 24, n_head: 16, hidden_size: 1024, vocab_size: 250880 },
  "gpt-neo-125m": {
    model_type: "gpt_neo",
    num_layers: 12,
    num_heads: 12,
    hidden_size: 768,
    max_position_embeddings: 2048,
    vocab_size: 50257,
    attention_types: [[["global", "local"], 6]],
    window_size: 256,
  },
  "pythia-160m": {
    model_type: "gpt_neox",
    num_hidden_layers: 12,
    num_attention_heads: 12,
    hidden_size: 768,
    intermediate_size: 3072,
    max_position_embeddings: 2048,
    vocab_size: 50304,
    rotary_pct: 0.25,
    rotary_emb_base: 10000,
    use_parallel_residual: true,
  },
  "smollm2-135m": {
    model_type: "llama",
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    hidden_size: 576,
    intermediate_size: 1536,
    max_position_embeddings: 8192,
    vocab_size: 49152,
    rope_theta: 100000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
  },
  "tinyllama-1.1b": {
    model_type: "llama",
    num_hidden_layers: 22,
    num_attention_heads: 32,
    num_key_value_heads: 4,
    hidden_size: 2048,
    intermediate_size: 5632,
    max_position_embeddings: 2048,
    vocab_size: 32000,
    rope_theta: 10000,
    rms_norm_eps: 1e-5,
  },
  "qwen2.5-0.5b": {
    model_type: "qwen2",
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    hidden_size: 896,
    intermediate_size: 4864,
    max_position_embeddings: 32768,
    vocab_size: 151936,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
  },
} as const;
export type RandomPreset = keyof typeof RANDOM_PRESETS;

export interface RandomRun {
  dtype: NativeDtype;
  quantize?: "int8" | null;
  compute?: "bfloat16" | null;
  seed: number;
  threads: number;
  cudaDevice: number | null;
  kvBlocks: number;
}

/** A preset's config, as its architecture reads it, and the engine tensors it plans. */
export function randomPreset(preset: RandomPreset): { config: ModelConfig; tensors: { name: string; shape: number[] }[] } {
  const { architecture, config, fields } = parseConfig(RANDOM_PRESETS[preset], `random:${preset}`);
  return { config, tensors: architecture.tensors(config, fields) };
}

/** `config`'s native spec, every one of `tensors` filled with seeded random values. */
export function randomSpecOf(config: ModelConfig, tensors: { name: string; shape: number[] }[], run: RandomRun): NativeModelSpec {
  const { modelType: _, ...graph } = config;
  const { dtype, seed, ...rest } = run;
  return {
    ...graph,
    files: [],
    tensors: tensors.map(({ name, shape }) => ({ name, dtype, shape, sources: [] })),
    convertTo: null,
    randomSeed: seed,
    ...rest,
  };
}

/** A GPT-2 of these sizes. */
export function randomModelSpec(
  dims: ModelDims,
  dtype: NativeDtype,
  seed: number,
  threads: number,
  cudaDevice: number | null,
  kvBlocks: number,
): NativeModelSpec {
  const config = gpt2Config(dims);
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => ({ name, shape }));
  return randomSpecOf(config, tensors, { dtype, seed, threads, cudaDevice, kvBlocks });
}
