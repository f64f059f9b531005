// LayerNorm, and Llama's RMSNorm, over the last dimension (C), optionally fused with the residual
// add that precedes it.
//
// One block per row: the row is staged in shared memory, then the mean and the variance about
// the mean are two block reductions (two passes, as the CPU twin native/cpu/norm.cpp does in
// double; here fp32 with tree sums). Layout: fp32 row-major [rows, C]; gamma and beta fp32 [C]
// (the backend widens half parameters when it uploads them). C ≤ kLayerNormMaxC.
//
// RMSNorm skips the mean: x / sqrt(mean(x²) + eps) · gamma, no beta.
//
// Test: tests/cuda-kernels.test.ts (cudaOps.layernorm and cudaOps.rmsnorm, with and without
// `add`, against a double reference and the CPU twin). Time: not timed alone (it reads 4·C and writes 4·C bytes per row, a few µs).
#include <string>

#include "cuda/common.cuh"
#include "cuda/layernorm.cuh"

namespace gpt::cuda {

namespace {

constexpr int kThreads = 256;

template <bool kAdd, bool kRms>
__global__ void __launch_bounds__(kThreads) layernorm_rows(float* x, const float* add, int64_t C,
                                                           const float* gamma, const float* beta, float eps,
                                                           float* out) {
  extern __shared__ float row[];
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x;
  float* xt = x + t * C;
  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float v = xt[c];
    if (kAdd) {
      v += add[t * C + c];
      xt[c] = v;
    }
    row[c] = v;
    sum += v;
  }
  const float mean = kRms ? 0.0f : block_sum(sum, scratch) / float(C);
  float sq = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = row[c] - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(block_sum(sq, scratch) / float(C) + eps);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
    out[t * C + c] = kRms ? row[c] * rstd * gamma[c] : (row[c] - mean) * rstd * gamma[c] + beta[c];
}

template <bool kAdd, bool kRms>
void launch(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, const float* beta, float eps,
            float* out, cudaStream_t stream) {
  GPT_REQUIRE(rows > 0 && C > 0, "layernorm: empty shape");
  GPT_REQUIRE(C <= kLayerNormMaxC, "layernorm: C = " + std::to_string(C) + " exceeds the " +
                                       std::to_string(kLayerNormMaxC) + " the kernel holds in shared memory");
  GPT_REQUIRE(rows <= 0x7fffffff, "layernorm: too many rows");
  layernorm_rows<kAdd, kRms><<<unsigned(rows), kThreads, size_t(C) * sizeof(float), stream>>>(x, add, C, gamma,
                                                                                               beta, eps, out);
  CUDA_CHECK_LAUNCH("layernorm_rows");
}

}  // namespace

void layernorm(const float* x, int64_t rows, int64_t C, const float* gamma, const float* beta, float eps, float* out,
               cudaStream_t stream) {
  // Without kAdd the kernel only reads x.
  launch<false, false>(const_cast<float*>(x), nullptr, rows, C, gamma, beta, eps, out, stream);
}

void add_layernorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, const float* beta,
                   float eps, float* out, cudaStream_t stream) {
  launch<true, false>(x, add, rows, C, gamma, beta, eps, out, stream);
}

void rmsnorm(const float* x, int64_t rows, int64_t C, const float* gamma, float eps, float* out, cudaStream_t stream) {
  launch<false, true>(const_cast<float*>(x), nullptr, rows, C, gamma, nullptr, eps, out, stream);
}

void add_rmsnorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, float eps, float* out,
                 cudaStream_t stream) {
  launch<true, true>(x, add, rows, C, gamma, nullptr, eps, out, stream);
}

}  // namespace gpt::cuda
