// The decoder block the GPT-2-era families share, whatever each calls its weights: a LayerNorm,
// a fused q|k|v matmul, attention and its output projection added to the residual stream, a
// second LayerNorm, and a two-matmul MLP added to it — in the pre-LayerNorm order (GPT-2, OPT,
// BLOOM, GPT-Neo) or OPT-350m's post-LayerNorm one.
#pragma once
#include <cstdint>
#include <string>

#include "core/backend.h"
#include "core/graph.h"

namespace gpt {

struct DecoderLayer {
  WeightView ln1_g, ln1_b, qkv_w, qkv_b, out_w, out_b, ln2_g, ln2_b, up_w, up_b, down_w, down_b;
};

// What a family names the block's parts, under the layer's prefix (e.g. "ln_1", "attn.c_attn").
struct DecoderLayerNames {
  const char *ln1, *qkv, *out, *ln2, *up, *down;
};

// Binds layer `L`'s weights: C wide, an MLP of F.
void bind_decoder_layer(WeightBinder& w, DecoderLayer& L, const std::string& prefix, const DecoderLayerNames& names,
                        int64_t C, int64_t F);

// The activation buffers of a step's blocks: `qkv` holds rows × (n_head + 2 · n_kv_head) · head_dim,
// `att` rows × max(n_embd, n_head · head_dim), `mlp` at least rows × mlp_width.
struct BlockBuffers {
  float *normed, *qkv, *att, *mlp;
};
BlockBuffers block_buffers(Backend& b, const ModelConfig& c, int64_t rows, int64_t mlp_width);

// normed = LN1(x); x += out(attention(qkv(normed))); normed = LN2(x); x += down(act(up(normed))).
// `normed` may be x itself: BLOOM's residual taken after the LayerNorm.
void pre_norm_block(Backend& b, const DecoderLayer& L, int64_t layer, int64_t rows, float eps, Epilogue act, float* x,
                    float* normed, const BlockBuffers& buf);

// OPT-350m: x = LN1(x + out(attention(qkv(x)))); x = LN2(x + down(act(up(x)))).
void post_norm_block(Backend& b, const DecoderLayer& L, int64_t layer, int64_t rows, float eps, Epilogue act, float* x,
                     const BlockBuffers& buf);

// The final LayerNorm, then the LM head tied to `wte` (no bias), over `n` rows of final hidden states.
void norm_and_head(Backend& b, const float* x, int64_t n, int64_t C, const WeightView& gamma, const WeightView& beta,
                   float eps, const WeightView& wte, float* logits);

}  // namespace gpt
