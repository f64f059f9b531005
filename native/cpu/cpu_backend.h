// The CPU backend: the Backend op set over host memory, with a thread pool and an fp32 paged KV
// pool (cpu/kv_pool.h).
#pragma once
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/kv_pool.h"

namespace gpt::cpu {

class CpuBackend final : public Backend {
 public:
  // `int8_matrices`: matmul weights are quantized to int8 as they are adopted (cpu/quantize.h);
  // `bf16_tiles`: rounded to bf16 in AMX tiles (cpu/tiles.h: compute "bfloat16", the caller
  // having checked use_amx()).
  CpuBackend(int threads, bool int8_matrices, bool bf16_tiles);

  const char* name() const override { return "cpu"; }
  int threads() const { return pool_.size(); }

  WeightView adopt(const WeightView& host) override { return host; }
  // A copy in column panels sized for this pool's threads (cpu/panels.h), int8 if so asked; or in
  // bf16 AMX tiles.
  WeightView adopt_matrix(const WeightView& host) override;
  // Transposed, in column panels over the vocabulary, so the LM head is a matrix product; int8 if
  // so asked, the embedding of a tied table then reading the host's rows (WeightView::rows).
  WeightView adopt_table(const WeightView& host, bool looked_up,
                         const std::function<void(int64_t first, int64_t count)>& done_with) override;
  float* buffer(Slot slot, size_t floats) override;
  void allocate_kv_pool(const KvPoolDims& dims) override;
  size_t kv_cache_bytes() const override { return kv_ ? kv_->bytes() : 0; }

  void set_attention(const AttentionSetup& setup) override;
  void begin_step(const StepLayout& layout) override { layout_ = layout; }
  void embed(const int32_t* tokens, int64_t rows, const WeightView& wte, const WeightView& wpe,
             float* out) override;
  void layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                 float* out) override;
  void rmsnorm(const float* x, int64_t rows, const WeightView& gamma, float eps, float* out) override;
  void matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
              float* out) override;
  void attention(int64_t layer, float* qkv, int64_t rows, float* out) override;
  void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst) override;
  void lm_head(const float* in, int64_t rows, const WeightView& wte, const WeightView& bias, float* logits) override;
  void read(const float* src, size_t count, float* host) override;
  // Rows are sampled in parallel over the thread pool; the first error is rethrown.
  void sample(const float* logits, int64_t vocab, const int32_t* rows, const SampleRequest* requests, int64_t count,
              Sampled* out) override;

 private:
  struct FreeDeleter {
    void operator()(unsigned char* p) const;
  };

  // A page-aligned buffer of `bytes` that the backend owns (adopt_matrix's and adopt_table's copies).
  unsigned char* own(size_t bytes);
  // `packed` (its layout set) as I8: owned values and `scale_count` scales, which `fill` writes.
  WeightView own_int8(WeightView packed, int64_t scale_count,
                      const std::function<void(float* scales, int8_t* values)>& fill);

  ThreadPool pool_;
  bool int8_matrices_;
  bool bf16_tiles_;
  std::vector<std::unique_ptr<unsigned char, FreeDeleter>> matrices_;
  std::vector<float> buffers_[size_t(Slot::kCount)];
  AttentionShape shape_{};
  std::unique_ptr<KvPool> kv_;
  AttentionSetup attention_;
  StepLayout layout_{};
};

}  // namespace gpt::cpu
