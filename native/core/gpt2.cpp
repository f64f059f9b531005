#include "core/gpt2.h"

#include <stdexcept>
#include <string>

namespace gpt {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

WeightView Gpt2Model::take(const std::string& name, std::vector<int64_t> shape) {
  const WeightView& w = weights_->get(name);
  if (w.shape != shape)
    throw std::runtime_error("tensor " + name + " has shape " + shape_text(w.shape) + ", the config implies " +
                             shape_text(shape));
  return backend_->adopt(w);
}

Gpt2Model::Gpt2Model(const Gpt2Config& config, std::unique_ptr<WeightStore> weights, std::unique_ptr<Backend> backend)
    : config_(config), weights_(std::move(weights)), backend_(std::move(backend)) {
  const int64_t C = config.n_embd, F = config.n_inner;
  if (C % config.n_head != 0) throw std::runtime_error("n_embd is not a multiple of n_head");
  wte_ = take("wte.weight", {config.vocab_size, C});
  wpe_ = take("wpe.weight", {config.n_ctx, C});
  lnf_g_ = take("ln_f.weight", {C});
  lnf_b_ = take("ln_f.bias", {C});
  for (int64_t i = 0; i < config.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    layers_.push_back(Layer{
        take(p + "ln_1.weight", {C}), take(p + "ln_1.bias", {C}),
        take(p + "attn.c_attn.weight", {C, 3 * C}), take(p + "attn.c_attn.bias", {3 * C}),
        take(p + "attn.c_proj.weight", {C, C}), take(p + "attn.c_proj.bias", {C}),
        take(p + "ln_2.weight", {C}), take(p + "ln_2.bias", {C}),
        take(p + "mlp.c_fc.weight", {C, F}), take(p + "mlp.c_fc.bias", {F}),
        take(p + "mlp.c_proj.weight", {F, C}), take(p + "mlp.c_proj.bias", {C}),
    });
  }
  backend_->allocate_kv_cache({config.n_layer, config.n_head, C / config.n_head, config.n_ctx});
}

std::vector<float> Gpt2Model::forward(const int32_t* tokens, int64_t count, int64_t start, LogitsMode mode) {
  const Gpt2Config& c = config_;
  if (count <= 0) throw std::invalid_argument("forward needs at least one token");
  if (start < 0 || start > cached_)
    throw std::invalid_argument("start position " + std::to_string(start) + " is past the " +
                                std::to_string(cached_) + " cached positions");
  if (start + count > c.n_ctx)
    throw std::invalid_argument("positions up to " + std::to_string(start + count) + " exceed n_positions " +
                                std::to_string(c.n_ctx));
  for (int64_t t = 0; t < count; ++t)
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size)
      throw std::invalid_argument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary of " +
                                  std::to_string(c.vocab_size));

  Backend& b = *backend_;
  const int64_t C = c.n_embd;
  float* x = b.buffer(Slot::kResidual, size_t(count * C));
  float* h = b.buffer(Slot::kNormed, size_t(count * C));
  float* qkv = b.buffer(Slot::kQkv, size_t(count * 3 * C));
  float* att = b.buffer(Slot::kAttention, size_t(count * C));
  float* mlp = b.buffer(Slot::kMlp, size_t(count * c.n_inner));

  // From here the cache is being overwritten: if anything below throws, only the positions
  // before `start` are still valid.
  cached_ = start;
  b.embed(tokens, count, start, wte_, wpe_, x);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers_[size_t(l)];
    b.layernorm(x, count, L.ln1_g, L.ln1_b, c.layer_norm_epsilon, h);
    b.matmul(h, count, L.attn_w, L.attn_b, Epilogue::kStore, qkv);
    b.attention(l, qkv, count, start, att);
    b.matmul(att, count, L.proj_w, L.proj_b, Epilogue::kResidual, x);
    b.layernorm(x, count, L.ln2_g, L.ln2_b, c.layer_norm_epsilon, h);
    b.matmul(h, count, L.fc_w, L.fc_b, Epilogue::kGelu, mlp);
    b.matmul(mlp, count, L.fc_proj_w, L.fc_proj_b, Epilogue::kResidual, x);
  }
  cached_ = start + count;

  if (mode == LogitsMode::kNone) return {};
  // Only the rows whose logits were asked for go through the final LayerNorm and the LM head.
  const int64_t rows = mode == LogitsMode::kAll ? count : 1;
  const float* last = x + (count - rows) * C;
  b.layernorm(last, rows, lnf_g_, lnf_b_, c.layer_norm_epsilon, h);
  float* logits = b.buffer(Slot::kLogits, size_t(rows * c.vocab_size));
  b.lm_head(h, rows, wte_, logits);
  std::vector<float> out(size_t(rows * c.vocab_size));
  b.read(logits, out.size(), out.data());
  return out;
}

}  // namespace gpt
