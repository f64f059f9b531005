// The CUDA backend: the Backend op set (core/backend.h) on one GPU. Weights are uploaded once by
// adopt() (2-D tensors in their storage dtype, 1-D parameters widened to fp32), the KV cache is
// one preallocated allocation in the weights' dtype, activations and split-K workspaces grow on
// demand and are reused; every launch goes to one stream, and read(), sample_end() and wait()
// are the only points that wait for it (so Gpt2Model can leave the next decode step running).
// Each allocation first checks cudaMemGetInfo and fails with both figures in the message.
// Everything is freed in the destructor.
//
// A decode step (run_decode_step) runs eagerly once, is then captured as a CUDA graph and
// replayed for every later token: its kernels read the token and position from device memory,
// and the graph is recorded again whenever a buffer it points into has been reallocated.
// GPT_CUDA_GRAPH=0 in the environment keeps every step eager (for comparison and debugging).
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

  void check_fits(const std::vector<const WeightView*>& weights, const AttentionDims& dims) override;
  WeightView adopt(const WeightView& host) override;
  float* buffer(Slot slot, size_t floats) override;
  void allocate_kv_cache(const AttentionDims& dims) override;
  size_t kv_cache_bytes() const override;

  void embed(const int32_t* tokens, int64_t rows, int64_t start, const WeightView& wte, const WeightView& wpe,
             float* out) override;
  void layernorm(const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta, float eps,
                 float* out) override;
  void matmul(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
              float* out) override;
  void attention(int64_t layer, const float* qkv, int64_t rows, int64_t start, float* out) override;
  void lm_head(const float* in, int64_t rows, const WeightView& wte, float* logits) override;
  void read(const float* src, size_t count, float* host) override;
  // On the GPU: only the token and its logprob come back, through pinned memory; sample_begin
  // returns at once, sample_end waits for the stream.
  void sample_begin(const float* logits, int64_t vocab, const SamplingParams& params, double u) override;
  Sampled sample_end() override;
  bool asynchronous() const override { return true; }
  void wait() override;
  void run_decode_step(int32_t token, int64_t start, const std::function<void()>& step) override;
  uint64_t decode_steps_replayed() const override;

  // Bytes of device memory held for weights.
  size_t weight_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace gpt::cuda
