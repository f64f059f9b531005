// What a model is, as its architecture description in lib/arch/ gives it: the sizes, the graph
// (native/core/graphs/) that runs it, and the parameters of that graph's ops.
#pragma once
#include <cstdint>
#include <vector>

#include "core/backend.h"

namespace gpt {

// One graph per family whose block differs in structure; families that differ only in their ops'
// parameters share one (GPT-Neo runs GPT-2's graph with its own attention).
enum class GraphKind { kGpt2, kOpt, kBloom };

struct ModelConfig {
  GraphKind graph = GraphKind::kGpt2;
  int64_t n_layer = 0, n_head = 0, n_embd = 0, n_inner = 0, n_ctx = 0, vocab_size = 0;
  float layer_norm_epsilon = 1e-5f;
  // The MLP's activation, as the epilogue of its first matmul.
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
};

}  // namespace gpt
