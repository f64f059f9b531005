// Launchers of causal self-attention over the KV cache, and of the cache append.
// Device pointers; the layouts are the CPU backend's (native/cpu/attention.h): qkv [rows, 3C]
// (q | k | v, heads contiguous in each), one layer's cache k[H][capacity][D] then v[H][capacity][D]
// in fp32, out [rows, C]. Row t of a call sits at position start + t and sees positions 0 … start + t.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/options.h"

namespace gpt::cuda {

constexpr int64_t kDecodeMaxQueries = 4;

// Copies this call's keys and values into the cache at positions start … start + rows - 1.
void kv_append(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, float* cache,
               cudaStream_t stream);

// Floats of workspace the decode path may use for its partial results; with less it splits less.
size_t attention_workspace_floats(const AttentionShape& s, int64_t rows);

// out[rows, C] = softmax(q kᵀ / sqrt(D)) v per head, keys and values read from `cache` (which
// must already hold positions 0 … start + rows - 1: call kv_append first).
void attention(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, const float* cache, float* out,
               AttentionPath path, float* workspace, size_t workspace_floats, cudaStream_t stream);

}  // namespace gpt::cuda
