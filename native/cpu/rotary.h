// Rotary position embedding (RoPE) applied in place to the queries and keys of a step's qkv rows.
//
// Layout: a row of qkv is [q: q_heads · D | k: kv_heads · D | v: kv_heads · D] (GPT-2's q | k | v
// when q_heads = kv_heads; grouped-query attention has fewer KV heads). In each q and k head the
// first `dims` values rotate (partial rotary leaves the rest), in pairs (i, i + dims/2)
// (GPT-NeoX, Llama: transformers' rotate_half) or (2i, 2i + 1) when `interleaved` (GPT-J's
// rotate_every_two), by the angle position · inv_freq[i], computed in float as transformers does.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"

namespace gpt::cpu {

struct RotaryShape {
  int64_t q_heads, kv_heads, head_dim;
  int64_t dims;  // rotated values per head, even, ≤ head_dim
  bool interleaved;
  const float* inv_freq;  // dims / 2 frequencies
};

void rotary(ThreadPool& pool, const RotaryShape& s, float* qkv, int64_t rows, const int32_t* positions);

}  // namespace gpt::cpu
