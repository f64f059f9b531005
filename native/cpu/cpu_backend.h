// The CPU backend: the Backend op set over host memory, with a thread pool and an fp32 KV cache.
#pragma once
#include <exception>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/thread_pool.h"

namespace gpt::cpu {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads);

  const char* name() const override { return "cpu"; }
  int threads() const { return pool_.size(); }

  WeightView adopt(const WeightView& host) override { return host; }
  float* buffer(Slot slot, size_t floats) override;
  void allocate_kv_cache(const AttentionDims& dims) override;
  size_t kv_cache_bytes() const override { return kv_cache_.size() * sizeof(float); }

  void embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte, const WeightView& wpe,
             float* out) override;
  void layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                 float* out) override;
  void matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
              float* out) override;
  void attention(int64_t layer, const float* qkv, int64_t rows, int64_t start, float* out) override;
  void lm_head(const float* in, int64_t rows, const WeightView& wte, float* logits) override;
  void read(const float* src, size_t count, float* host) override;
  // The CPU samples at once; the result (or the error) waits for sample_end.
  void sample_begin(const float* logits, int64_t vocab, const SamplingParams& params, double u) override;
  Sampled sample_end() override;

 private:
  ThreadPool pool_;
  std::vector<float> buffers_[size_t(Slot::kCount)];
  AttentionDims dims_{};
  std::vector<float> kv_cache_;
  Sampled sampled_{};
  std::exception_ptr sample_error_;
};

}  // namespace gpt::cpu
