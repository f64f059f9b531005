#include "core/graphs/decoder_layer.h"

#include <algorithm>

namespace gpt {

void bind_decoder_layer(WeightBinder& w, DecoderLayer& L, const std::string& prefix, const DecoderLayerNames& names,
                        int64_t C, int64_t F) {
  w.norm(L.ln1_g, L.ln1_b, prefix + names.ln1, C);
  w.linear(L.qkv_w, L.qkv_b, prefix + names.qkv, C, 3 * C);
  w.linear(L.out_w, L.out_b, prefix + names.out, C, C);
  w.norm(L.ln2_g, L.ln2_b, prefix + names.ln2, C);
  w.linear(L.up_w, L.up_b, prefix + names.up, C, F);
  w.linear(L.down_w, L.down_b, prefix + names.down, F, C);
}

BlockBuffers block_buffers(Backend& b, const ModelConfig& c, int64_t rows, int64_t mlp_width) {
  const int64_t qkv = (c.n_head + 2 * c.n_kv_head) * c.head_dim, att = std::max(c.n_embd, c.n_head * c.head_dim);
  return BlockBuffers{b.buffer(Slot::kNormed, size_t(rows * c.n_embd)), b.buffer(Slot::kQkv, size_t(rows * qkv)),
                      b.buffer(Slot::kAttention, size_t(rows * att)), b.buffer(Slot::kMlp, size_t(rows * mlp_width))};
}

void pre_norm_block(Backend& b, const DecoderLayer& L, int64_t layer, int64_t rows, float eps, Epilogue act, float* x,
                    float* normed, const BlockBuffers& buf) {
  b.layernorm(x, rows, L.ln1_g, L.ln1_b, eps, normed);
  b.matmul(normed, rows, L.qkv_w, L.qkv_b, Epilogue::kStore, buf.qkv);
  b.attention(layer, buf.qkv, rows, buf.att);
  b.matmul(buf.att, rows, L.out_w, L.out_b, Epilogue::kResidual, x);
  b.layernorm(x, rows, L.ln2_g, L.ln2_b, eps, normed);
  b.matmul(normed, rows, L.up_w, L.up_b, act, buf.mlp);
  b.matmul(buf.mlp, rows, L.down_w, L.down_b, Epilogue::kResidual, x);
}

void post_norm_block(Backend& b, const DecoderLayer& L, int64_t layer, int64_t rows, float eps, Epilogue act, float* x,
                     const BlockBuffers& buf) {
  b.matmul(x, rows, L.qkv_w, L.qkv_b, Epilogue::kStore, buf.qkv);
  b.attention(layer, buf.qkv, rows, buf.att);
  b.matmul(buf.att, rows, L.out_w, L.out_b, Epilogue::kResidual, x);
  b.layernorm(x, rows, L.ln1_g, L.ln1_b, eps, x);
  b.matmul(x, rows, L.up_w, L.up_b, act, buf.mlp);
  b.matmul(buf.mlp, rows, L.down_w, L.down_b, Epilogue::kResidual, x);
  b.layernorm(x, rows, L.ln2_g, L.ln2_b, eps, x);
}

void norm_and_head(Backend& b, const float* x, int64_t n, int64_t C, const WeightView& gamma, const WeightView& beta,
                   float eps, const WeightView& wte, float* logits) {
  float* h = b.buffer(Slot::kNormed, size_t(n * C));
  b.layernorm(x, n, gamma, beta, eps, h);
  b.lm_head(h, n, wte, WeightView{}, logits);
}

}  // namespace gpt
