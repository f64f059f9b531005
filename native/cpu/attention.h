// Causal multi-head self-attention over a KV cache.
//
// Layout: qkv is [rows, 3C] as GPT-2's c_attn writes it (q | k | v, heads contiguous inside each).
// The cache of one layer is k[H][capacity][D] followed by v[H][capacity][D], fp32, so each head
// reads its keys and values as one contiguous run. Row t of this call sits at position
// start + t and attends to positions 0 … start + t.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"

namespace gpt::cpu {

struct AttentionShape {
  int64_t heads;
  int64_t head_dim;
  int64_t capacity;  // positions the cache holds
};

// Copies this call's keys and values into the cache at positions start … start + rows - 1.
void kv_append(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, float* cache);

// out[rows, C] = softmax(q kᵀ / sqrt(D)) v per head, reading keys and values from the cache.
void attention(ThreadPool& pool, const AttentionShape& s, const float* qkv, int64_t rows, int64_t start,
               const float* cache, float* out);

// The oracle for `attention`: the same result from plain loops in double precision.
void attention_reference(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start,
                         const float* cache, float* out);

}  // namespace gpt::cpu
