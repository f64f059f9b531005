// Causal multi-head self-attention over the paged KV pool.
//
// Layout: a qkv row is [q: q_heads · D | k: kv_heads · D | v: kv_heads · D], heads contiguous
// inside each (GPT-2's c_attn q | k | v when the counts are equal). One layer's pool holds, for
// block b and KV head h, the keys of that block's 16 positions as a [16][D] run at
// k + (b · kv_heads + h) · 16 · D, and the values likewise from v (fp32). Row r of a step sits at
// layout.positions[r] and attends to positions 0 … positions[r] of its block table
// (core/kv_layout.h); query head h reads KV head h / (q_heads / kv_heads) (grouped-query attention).
#pragma once
#include <cstdint>

#include "core/backend.h"
#include "core/kv_layout.h"
#include "core/thread_pool.h"

namespace gpt::cpu {

struct AttentionShape {
  int64_t q_heads, kv_heads, head_dim;

  int64_t group() const { return q_heads / kv_heads; }
  int64_t qkv_width() const { return (q_heads + 2 * kv_heads) * head_dim; }
};

// One layer's keys and values in the pool.
struct PagedLayer {
  float* k;
  float* v;
};

// The keys and values one head of one row reads: position p is slot p % 16 of block table[p / 16].
struct HeadPages {
  const float* k;  // the layer's keys, offset to this head in block 0
  const float* v;
  const int32_t* table;
  int64_t block_stride;  // floats from one block to the next: kv_heads · 16 · D
  int64_t head_dim;

  const float* key(int64_t p) const { return k + at(p); }
  const float* value(int64_t p) const { return v + at(p); }
  // p ≥ 0: unsigned, the block and offset are a shift and a mask (signed division's sign fix-up
  // was a tenth of prefill's attention time).
  int64_t at(int64_t p) const {
    const uint64_t u = uint64_t(p);
    return int64_t(table[u / kKvBlockSize]) * block_stride + int64_t(u % kKvBlockSize) * head_dim;
  }
};

// KV head h of row r's pages.
HeadPages head_pages(const AttentionShape& s, const StepLayout& layout, const PagedLayer& pool, int64_t r,
                     int64_t h);

// Copies each row's key and value into the pool at the row's position.
void kv_append(const AttentionShape& s, const float* qkv, const StepLayout& layout, const PagedLayer& pool);

// The keys row r attends to under `v`: positions first … positions[r] (core/backend.h).
inline int64_t first_key(const AttentionVariant& v, int64_t position) {
  return v.window > 0 && position >= v.window ? position - v.window + 1 : 0;
}

// out[rows, q_heads · D] = softmax(scores) v per query head over the row's keys, the scores as `v` says
// (AttentionSpec in core/backend.h; `v.slopes` host memory), every key and value read from the pool.
// A (row, KV head) pair is one task, its group of query heads computed one after the other
// while the head's keys are in cache, each in one fixed order, so a result depends only on its
// query and the keys and values it reads — not on the other rows, their number, or the threads.
void attention(ThreadPool& pool, const AttentionShape& s, const AttentionVariant& v, const float* qkv,
               const StepLayout& layout, const PagedLayer& kv, float* out);

// The oracle for `attention`: the same result from plain loops in double precision.
void attention_reference(const AttentionShape& s, const AttentionVariant& v, const float* qkv,
                         const StepLayout& layout, const PagedLayer& kv, float* out);

}  // namespace gpt::cpu
