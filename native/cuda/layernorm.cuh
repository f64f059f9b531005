// Launchers of LayerNorm and RMSNorm over the last dimension, alone or fused with the residual add
// before it.
// Device pointers; x, add, out fp32 [rows, C]; gamma, beta fp32 [C].
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace gpt::cuda {

// Largest C the kernel keeps in shared memory: 4·C bytes of row plus its 128-byte reduction
// scratch within the 48 KiB a block gets without opting in.
constexpr int64_t kLayerNormMaxC = (48 * 1024 - 128) / 4;

// out[t] = (x[t] - mean) / sqrt(var + eps) · gamma + beta.
void layernorm(const float* x, int64_t rows, int64_t C, const float* gamma, const float* beta, float eps, float* out,
               cudaStream_t stream);

// x[t] += add[t] (written back: the residual stream), then out[t] = LayerNorm(x[t]).
void add_layernorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, const float* beta,
                   float eps, float* out, cudaStream_t stream);

// out[t] = x[t] / sqrt(mean(x[t]²) + eps) · gamma (Llama's RMSNorm).
void rmsnorm(const float* x, int64_t rows, int64_t C, const float* gamma, float eps, float* out, cudaStream_t stream);

// x[t] += add[t], then out[t] = RMSNorm(x[t]).
void add_rmsnorm(float* x, const float* add, int64_t rows, int64_t C, const float* gamma, float eps, float* out,
                 cudaStream_t stream);

}  // namespace gpt::cuda
