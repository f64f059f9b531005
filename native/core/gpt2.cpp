#include "core/gpt2.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace gpt {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

const WeightView& Gpt2Model::checked(const std::string& name, const std::vector<int64_t>& shape) const {
  const WeightView& w = weights_->get(name);
  if (w.shape != shape)
    throw std::runtime_error("tensor " + name + " has shape " + shape_text(w.shape) + ", the config implies " +
                             shape_text(shape));
  return w;
}

Gpt2Model::Gpt2Model(const Gpt2Config& config, std::unique_ptr<WeightStore> weights, std::unique_ptr<Backend> backend)
    : config_(config), weights_(std::move(weights)), backend_(std::move(backend)) {
  const int64_t C = config.n_embd, F = config.n_inner;
  if (C % config.n_head != 0) throw std::runtime_error("n_embd is not a multiple of n_head");
  // Every tensor is checked before any is adopted, so that a backend can refuse a model that
  // will not fit before uploading any of it.
  std::vector<std::pair<WeightView*, const WeightView*>> pending;
  const auto want = [&](WeightView& field, const std::string& name, std::vector<int64_t> shape) {
    pending.emplace_back(&field, &checked(name, shape));
  };
  want(wte_, "wte.weight", {config.vocab_size, C});
  want(wpe_, "wpe.weight", {config.n_ctx, C});
  want(lnf_g_, "ln_f.weight", {C});
  want(lnf_b_, "ln_f.bias", {C});
  layers_.resize(size_t(config.n_layer));
  for (int64_t i = 0; i < config.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    Layer& L = layers_[size_t(i)];
    want(L.ln1_g, p + "ln_1.weight", {C});
    want(L.ln1_b, p + "ln_1.bias", {C});
    want(L.attn_w, p + "attn.c_attn.weight", {C, 3 * C});
    want(L.attn_b, p + "attn.c_attn.bias", {3 * C});
    want(L.proj_w, p + "attn.c_proj.weight", {C, C});
    want(L.proj_b, p + "attn.c_proj.bias", {C});
    want(L.ln2_g, p + "ln_2.weight", {C});
    want(L.ln2_b, p + "ln_2.bias", {C});
    want(L.fc_w, p + "mlp.c_fc.weight", {C, F});
    want(L.fc_b, p + "mlp.c_fc.bias", {F});
    want(L.fc_proj_w, p + "mlp.c_proj.weight", {F, C});
    want(L.fc_proj_b, p + "mlp.c_proj.bias", {C});
  }
  const AttentionDims dims{config.n_layer, config.n_head, C / config.n_head, config.n_ctx,
                           pending.front().second->dtype};
  std::vector<const WeightView*> hosts;
  for (const auto& [field, host] : pending) hosts.push_back(host);
  backend_->check_fits(hosts, dims);
  for (const auto& [field, host] : pending) *field = backend_->adopt(*host);
  backend_->allocate_kv_cache(dims);
}

void Gpt2Model::check_call(const int32_t* tokens, int64_t count, int64_t start) const {
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
}

void Gpt2Model::run(const int32_t* tokens, int64_t count, int64_t start, int64_t logits_rows) {
  const Gpt2Config& c = config_;
  Backend& b = *backend_;
  const int64_t C = c.n_embd;
  float* x = b.buffer(Slot::kResidual, size_t(count * C));
  float* h = b.buffer(Slot::kNormed, size_t(count * C));
  float* qkv = b.buffer(Slot::kQkv, size_t(count * 3 * C));
  float* att = b.buffer(Slot::kAttention, size_t(count * C));
  float* mlp = b.buffer(Slot::kMlp, size_t(count * c.n_inner));

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
  if (logits_rows == 0) return;
  // Only the rows whose logits were asked for go through the final LayerNorm and the LM head.
  b.layernorm(x + (count - logits_rows) * C, logits_rows, lnf_g_, lnf_b_, c.layer_norm_epsilon, h);
  b.lm_head(h, logits_rows, wte_, b.buffer(Slot::kLogits, size_t(logits_rows * c.vocab_size)));
}

std::vector<float> Gpt2Model::forward(const int32_t* tokens, int64_t count, int64_t start, LogitsMode mode) {
  check_call(tokens, count, start);
  discard_prefetched();
  const int64_t rows = mode == LogitsMode::kAll ? count : mode == LogitsMode::kLast ? 1 : 0;
  // From here the cache is being overwritten: if anything below throws, only the positions
  // before `start` are still valid.
  cached_ = start;
  run(tokens, count, start, rows);
  cached_ = start + count;
  if (rows == 0) return {};
  std::vector<float> out(size_t(rows * config_.vocab_size));
  backend_->read(backend_->buffer(Slot::kLogits, out.size()), out.size(), out.data());
  return out;
}

namespace {

bool same_params(const SamplingParams& a, const SamplingParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p;
}

}  // namespace

void Gpt2Model::start_pick(const int32_t* tokens, int64_t count, int64_t start, const SamplingParams& params,
                           double u) {
  if (count == 1)
    backend_->run_decode_step(tokens[0], start, [&] { run(tokens, 1, start, 1); });
  else
    run(tokens, count, start, 1);
  const int64_t V = config_.vocab_size;
  backend_->sample_begin(backend_->buffer(Slot::kLogits, size_t(V)), V, params, u);
}

void Gpt2Model::discard_prefetched() {
  if (!prefetched_) return;
  prefetched_.reset();
  backend_->wait();
}

Sampled Gpt2Model::forward_sample(const int32_t* tokens, int64_t count, int64_t start, const SamplingParams& params,
                                  double u, std::optional<double> u_next) {
  check_call(tokens, count, start);
  const int64_t V = config_.vocab_size;
  const bool collect = prefetched_ && count == 1 && prefetched_->token == tokens[0] && prefetched_->start == start &&
                       same_params(prefetched_->params, params) && prefetched_->u == u;
  if (collect) {
    prefetched_.reset();
  } else {
    discard_prefetched();
    cached_ = start;
    start_pick(tokens, count, start, params, u);
  }
  cached_ = start + count;
  const Sampled picked = backend_->sample_end();

  const int64_t next = cached_;
  if (prefetch_ && u_next && next < config_.n_ctx && picked.token >= 0 && picked.token < V) {
    try {
      start_pick(&picked.token, 1, next, params, *u_next);
      prefetched_ = Prefetched{picked.token, next, params, *u_next};
    } catch (const std::exception&) {
      // This token's result stands; the step is run again if it is asked for, and a fault that
      // outlives it surfaces there.
      try {
        backend_->wait();
      } catch (const std::exception&) {
      }
    }
  }
  return picked;
}

}  // namespace gpt
