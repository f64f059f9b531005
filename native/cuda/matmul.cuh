// Launchers of the matrix products: the linear layers (matmul) and the tied LM head (lm_head).
// All pointers are device memory, activations fp32 row-major, weights in their storage dtype.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/backend.h"
#include "core/dtype.h"
#include "cuda/options.h"

namespace gpt::cuda {

// Rows per block of the decode kernels; more rows take more blocks. Eight, not sixteen: at 16
// rows the half-precision kernel needed all 255 registers (one block per SM).
constexpr int64_t kDecodeRowChunk = 8;

// Floats of workspace the decode path needs for its split-K partials at these sizes on the
// current GPU, 0 when it does not split (it throws std::invalid_argument with less).
size_t matmul_workspace_floats(int64_t M, int64_t K, int64_t N, DType dtype);

// out[M, epilogue_width(epilogue, N)] = epilogue(in[M, K] · w[K, N] + bias[N]); bias fp32 or null
// (zero). For kResidual `out` is read and added to; kSwiglu (N even) writes out[M, N/2], output j
// silu(y[2j]) · y[2j + 1]. Throws std::invalid_argument when the forced path cannot run.
void matmul(const float* in, int64_t M, int64_t K, int64_t N, const void* w, DType dtype, const float* bias,
            Epilogue epilogue, float* out, MatmulPath path, float* workspace, size_t workspace_floats,
            cudaStream_t stream);

// logits[M, V] = in[M, C] · wte[V, C]ᵀ (+ bias[V], fp32, when not null: GPT-J's head) — the LM
// head tied to the token embedding.
void lm_head(const float* in, int64_t M, int64_t C, int64_t V, const void* wte, DType dtype, const float* bias,
             float* logits, MatmulPath path, cudaStream_t stream);

}  // namespace gpt::cuda
