// The op set the model graph is written against. Each backend (CPU now, CUDA later) implements
// the same signatures over its own memory; core/gpt2.cpp calls only these.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/sampler.h"
#include "core/weight_view.h"

namespace gpt {

enum class Epilogue {
  kStore,     // out = x·W + b
  kGelu,      // out = gelu_tanh(x·W + b)
  kResidual,  // out += x·W + b
};

// Activation buffers a forward pass needs; each is sized per call.
enum class Slot { kResidual, kNormed, kQkv, kAttention, kMlp, kLogits, kCount };

struct AttentionDims {
  int64_t layers, heads, head_dim, capacity;
  // The weights' storage dtype: a backend may keep the cache in it (the CUDA one does; the CPU
  // keeps fp32).
  DType weight_dtype;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Throws std::runtime_error, naming what is needed and what there is, when these weights and a
  // KV cache of `dims` will not fit in this backend's memory; called before any adopt().
  virtual void check_fits(const std::vector<const WeightView*>& weights, const AttentionDims& dims) {
    (void)weights;
    (void)dims;
  }
  // Makes a weight usable by this backend's kernels (a no-op on the CPU, an upload on a GPU).
  virtual WeightView adopt(const WeightView& host) = 0;
  // An fp32 buffer of at least `floats` elements, valid until the next call for the same slot.
  virtual float* buffer(Slot slot, size_t floats) = 0;
  // Allocates the KV cache for every layer; kv_cache_bytes() reports its size.
  virtual void allocate_kv_cache(const AttentionDims& dims) = 0;
  virtual size_t kv_cache_bytes() const = 0;

  virtual void embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte,
                     const WeightView& wpe, float* out) = 0;
  virtual void layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                         float* out) = 0;
  virtual void matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
                      float* out) = 0;
  // Appends this call's keys and values to `layer`'s cache, then attends causally over it.
  virtual void attention(int64_t layer, const float* qkv, int64_t rows, int64_t start, float* out) = 0;
  virtual void lm_head(const float* in, int64_t rows, const WeightView& wte, float* logits) = 0;
  // Copies `count` floats from backend memory to the host.
  virtual void read(const float* src, size_t count, float* host) = 0;
  // Picks the next token from one row of logits in backend memory (sample_token's semantics
  // and errors), so that only the token and its logprob reach the host. In two halves, so that
  // an asynchronous backend can leave the pick in flight: sample_begin starts it, sample_end
  // waits for it and returns it (or throws sample_token's error).
  virtual void sample_begin(const float* logits, int64_t vocab, const SamplingParams& params, double u) = 0;
  virtual Sampled sample_end() = 0;
  // Whether calls return before their work is done (a GPU stream): then starting the next decode
  // step before the caller asks for it costs the caller nothing (Gpt2Model::forward_sample).
  virtual bool asynchronous() const { return false; }
  // Waits until all work started so far is done.
  virtual void wait() {}

  // Runs `step`: a forward pass of the one token `token` at position `start`, whose op calls are
  // the same on every call except for those two values. A backend may record the ops once and
  // replay them (the CUDA backend captures a graph); its embed and attention must then take the
  // token and position from where run_decode_step put them, not from their arguments.
  virtual void run_decode_step(int32_t token, int64_t start, const std::function<void()>& step) {
    (void)token;
    (void)start;
    step();
  }
  // How many decode steps were replayed from a recording so far (0 for a backend that never records).
  virtual uint64_t decode_steps_replayed() const { return 0; }
};

}  // namespace gpt
