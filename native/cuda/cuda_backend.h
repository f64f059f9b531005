// The CUDA backend: the Backend op set (core/backend.h) on one GPU. Weights are uploaded once by
// adopt() (2-D tensors in their storage dtype, 1-D parameters widened to fp32), the paged KV pool
// is one preallocated allocation in the weights' dtype, activations, the step's layout and the
// split-K workspaces grow on demand and are reused; every launch goes to one stream, and read(),
// sample() and wait points between steps are the only places that wait for it. Each allocation
// first checks cudaMemGetInfo and fails with both figures in the message. Everything is freed in
// the destructor.
//
// Decode steps (run_decode_step) are recorded as CUDA graphs, one per padded batch size (1, 2, 4,
// 8, …: decode_rows_padded): a size runs eagerly once, is then captured and replayed for every
// later step of that size. Its kernels read the step's tokens, positions and block tables from
// device buffers that begin_step fills, and attention is launched for n_positions so that one
// recording serves every position; a size is recorded again whenever a buffer it points into has
// been reallocated. GPT_CUDA_GRAPH=0 in the environment keeps every step eager.
//
// Plain C++ header (no CUDA includes), so model loading can create one:
//   #if GPT_CUDA_ENABLED
//     backend = gpt::cuda::make_cuda_backend(device);
//   #endif
#pragma once
#include <memory>

#include "core/backend.h"
#include "core/sampler.h"

namespace gpt::cuda {

class CudaBackend final : public Backend {
 public:
  // Throws std::runtime_error when `device` does not exist or CUDA cannot start on it.
  explicit CudaBackend(int device);
  ~CudaBackend() override;

  const char* name() const override { return "cuda"; }
  int device() const;

  void check_fits(const std::vector<const WeightView*>& weights, const KvPoolDims& dims) override;
  WeightView adopt(const WeightView& host) override;
  float* buffer(Slot slot, size_t floats) override;
  void allocate_kv_pool(const KvPoolDims& dims) override;
  size_t kv_cache_bytes() const override;

  // Uploads ALiBi's slopes and the rotary frequencies once; throws std::invalid_argument for a
  // setup the pool's dims cannot run (a spec per layer, a slope per query head, rotary_dims
  // even, ≤ head_dim and covered by rope_inv_freq).
  void set_attention(const AttentionSetup& setup) override;
  void begin_step(const StepLayout& layout) override;
  void embed(const int32_t* tokens, int64_t rows, const WeightView& wte, const WeightView& wpe,
             float* out) override;
  void layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                 float* out) override;
  void rmsnorm(const float* x, int64_t rows, const WeightView& gamma, float eps, float* out) override;
  void matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
              float* out) override;
  // The rotary embedding (when the layer has one), the KV append and attention: three launches
  // reading the step's positions and tables from the device layout, so a recording replays them.
  void attention(int64_t layer, float* qkv, int64_t rows, float* out) override;
  void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst) override;
  void lm_head(const float* in, int64_t rows, const WeightView& wte, const WeightView& bias, float* logits) override;
  void read(const float* src, size_t count, float* host) override;
  // On the GPU, one launch per row: only the tokens and logprobs come back, through pinned memory.
  void sample(const float* logits, int64_t vocab, const int32_t* rows, const SampleRequest* requests, int64_t count,
              Sampled* out) override;
  int64_t decode_rows_padded(int64_t rows) const override;
  void run_decode_step(int64_t rows, const std::function<void()>& step) override;
  uint64_t decode_steps_replayed() const override;

  // Bytes of device memory held for weights.
  size_t weight_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace gpt::cuda
