// What a model is, as its architecture description in lib/arch/ gives it: the sizes, the graph
// (native/core/graphs/) that runs it, and the parameters of that graph's ops.
#pragma once
#include <cstdint>
#include <vector>

#include "core/backend.h"

namespace gpt {

// One graph per family whose block differs in structure; families that differ only in their ops'
// parameters share one (GPT-Neo runs GPT-2's graph with its own attention; GPT-J, GPT-NeoX, Llama
// and Qwen2 run the rotary graph).
enum class GraphKind { kGpt2, kOpt, kBloom, kRotary };

enum class NormKind { kLayerNorm, kRmsNorm };

struct ModelConfig {
  GraphKind graph = GraphKind::kGpt2;
  int64_t n_layer = 0, n_head = 0, n_embd = 0, n_inner = 0, n_ctx = 0, vocab_size = 0;
  // Key/value heads (grouped-query attention: fewer than n_head) and the head width (Llama's
  // explicit head_dim; n_embd / n_head elsewhere).
  int64_t n_kv_head = 0, head_dim = 0;
  float layer_norm_epsilon = 1e-5f;
  // The MLP's activation, as the epilogue of its first matmul (kSwiglu: that matmul is 2 · n_inner
  // wide, gate and up interleaved).
  Epilogue activation = Epilogue::kGeluTanh;
  // Each layer's attention (scale, local window, ALiBi).
  std::vector<AttentionSpec> attention;
  // OPT: position p reads row p + 2 of its learned positions; the word embeddings' width
  // (word_embed_proj_dim: project_in / project_out map it to and from n_embd when it differs);
  // do_layer_norm_before (false: post-LayerNorm blocks, no final LayerNorm).
  int64_t position_offset = 0;
  int64_t word_embed_dim = 0;
  bool pre_norm = true;
  // BLOOM: apply_residual_connection_post_layernorm (the residual is the LayerNorm's output).
  bool residual_from_norm = false;
  // The rotary graph: its norms; attention and the MLP both read the block's input and add to it
  // (GPT-J, GPT-NeoX's use_parallel_residual), GPT-J's from one shared norm; the LM head's bias
  // (GPT-J), and whether the head is the token embedding; the rotary frequencies of AttentionSpec::rotary_dims (as rope_scaling adjusts them).
  NormKind norm = NormKind::kLayerNorm;
  bool parallel_residual = false;
  bool shared_norm = false;
  bool head_bias = false;
  bool tied_head = true;
  std::vector<float> rope_inv_freq;
};

}  // namespace gpt
