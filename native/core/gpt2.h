// The GPT-2 graph, written once against the Backend op set: embeddings, pre-LayerNorm blocks
// (attention and tanh-GELU MLP, each added to the residual stream), final LayerNorm, and the
// LM head tied to the token embedding. Keys and values persist in the backend's cache, so a
// decode step runs one token through the network, not the whole prefix.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/backend.h"
#include "core/weight_store.h"

namespace gpt {

struct Gpt2Config {
  int64_t n_layer, n_head, n_embd, n_inner, n_ctx, vocab_size;
  float layer_norm_epsilon;
};

enum class LogitsMode { kAll, kLast, kNone };

class Gpt2Model {
 public:
  // Checks every tensor's shape against the config (std::runtime_error naming the tensor).
  Gpt2Model(const Gpt2Config& config, std::unique_ptr<WeightStore> weights, std::unique_ptr<Backend> backend);

  const Gpt2Config& config() const { return config_; }
  Backend& backend() { return *backend_; }
  const WeightStore& weights() const { return *weights_; }
  // Positions whose keys and values are in the cache.
  int64_t cached_length() const { return cached_; }

  // Runs tokens at positions start … start + count - 1 (start ≤ cached_length(), so a caller
  // may rewind) and returns the next-token logits of every row, of the last row, or none.
  // Throws std::invalid_argument for an out-of-range id or position.
  std::vector<float> forward(const int32_t* tokens, int64_t count, int64_t start, LogitsMode mode);

  // Runs tokens as forward does and samples the next token from the last row's logits where
  // they lie (on the GPU for the CUDA backend). A single token is a decode step, which the
  // backend may replay from a recording (Backend::run_decode_step).
  //
  // With `u_next` and prefetching on, it then starts the decode step that would follow — the
  // sampled token at the next position, sampled with u_next — and returns without waiting for
  // it; a following call for exactly that step (same token, position, parameters and u) only
  // collects it. So on a GPU the caller's handling of one token overlaps the next step. Any other
  // call discards it: it wrote nothing that call reads (the cache at positions ≥ its start is
  // rewritten, and cached_length() never counted it).
  Sampled forward_sample(const int32_t* tokens, int64_t count, int64_t start, const SamplingParams& params, double u,
                         std::optional<double> u_next = std::nullopt);

  // Whether forward_sample starts the next step early. On by default where the backend is
  // asynchronous (CUDA), where it is free; forcing it on the CPU (tests) only wastes a step.
  void set_prefetch(bool on) { prefetch_ = on; }

 private:
  struct Layer {
    WeightView ln1_g, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_g, ln2_b, fc_w, fc_b, fc_proj_w, fc_proj_b;
  };

  // The stored tensor `name`; std::runtime_error when its shape is not `shape`.
  const WeightView& checked(const std::string& name, const std::vector<int64_t>& shape) const;
  void check_call(const int32_t* tokens, int64_t count, int64_t start) const;
  // The network on `count` rows; with `logits_rows` > 0, the LM head on the last that many rows,
  // left in the backend's kLogits buffer.
  void run(const int32_t* tokens, int64_t count, int64_t start, int64_t logits_rows);

  Gpt2Config config_;
  std::unique_ptr<WeightStore> weights_;
  std::unique_ptr<Backend> backend_;
  WeightView wte_, wpe_, lnf_g_, lnf_b_;
  std::vector<Layer> layers_;
  int64_t cached_ = 0;

  // The decode step forward_sample started early, and what it was started for.
  struct Prefetched {
    int32_t token;
    int64_t start;
    SamplingParams params;
    double u;
  };
  std::optional<Prefetched> prefetched_;
  bool prefetch_ = false;
  // Runs tokens (one: as a decode step) and starts sampling from the last row (Backend::sample_begin).
  void start_pick(const int32_t* tokens, int64_t count, int64_t start, const SamplingParams& params, double u);
  // Waits out a prefetched step nobody asked for, so that nothing runs behind the caller's back.
  void discard_prefetched();
};

}  // namespace gpt
