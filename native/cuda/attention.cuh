// Launcher of causal self-attention over the KV cache, which appends the call's keys and values.
// Device pointers; the layouts are the CPU backend's (native/cpu/attention.h): qkv [rows, 3C]
// (q | k | v, heads contiguous in each), one layer's cache k[H][capacity][D] then v[H][capacity][D]
// in the cache dtype, out [rows, C]. Row t of a call sits at position start + t and sees positions 0 … start + t.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "cuda/options.h"

namespace gpt::cuda {

constexpr int64_t kDecodeMaxQueries = 4;

// Where one attention call reads and writes. `start` is the first position of this call; when
// `device_start` is non-null the kernels read the start position from that int32 in device
// memory instead, and `start` is only an upper bound on it, used to size the launch (so a
// launch recorded once in a CUDA graph serves every position up to it).
struct AttentionCall {
  const float* qkv;             // [rows, 3C]
  int64_t rows;
  int64_t start;
  const int32_t* device_start;  // or nullptr
  void* cache;                  // one layer: k[H][capacity][D] then v[H][capacity][D], in cache_dtype
  DType cache_dtype;            // F32, F16 or BF16 (core/dtype.h)
  float* out;                   // [rows, C]
};

// Floats of workspace the decode path may use for its partial results; with less it splits less.
size_t attention_workspace_floats(const AttentionShape& s, int64_t rows);

// out[rows, C] = softmax(q kᵀ / sqrt(D)) v per head over positions 0 … start + t, keys and values
// below `start` read from the cache and this call's from qkv; the call also writes this call's
// keys and values into the cache at positions start … start + rows − 1 (rounded to cache_dtype).
// The host checks (std::invalid_argument) use `start` as given, so with device_start the caller
// guarantees 0 ≤ *device_start ≤ start.
void attention(const AttentionShape& s, const AttentionCall& call, AttentionPath path, float* workspace,
               size_t workspace_floats, cudaStream_t stream);

}  // namespace gpt::cuda
