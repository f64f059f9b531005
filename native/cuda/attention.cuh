// Launchers of causal self-attention over the paged KV pool. Device pointers; the layouts are the
// CPU backend's (native/cpu/attention.h): a qkv row is [q: q_heads · D | k: kv_heads · D |
// v: kv_heads · D] (heads contiguous in each); one layer's pool holds, for block b and KV head h,
// the keys of its 16 positions as a [16][D] run at k + (b · kv_heads + h) · 16 · D in the cache
// dtype, and the values likewise from v; out [rows, q_heads · D]. Query head h reads KV head
// h / (q_heads / kv_heads) (grouped-query attention). Row r sits at positions[r] and attends over
// positions 0 … positions[r] of its block table, which starts at tables[table_starts[r]]
// (core/kv_layout.h).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/backend.h"
#include "core/dtype.h"
#include "cuda/options.h"

namespace gpt::cuda {

// Keys per split: a query's keys are cut into splits of this many, each one block's work, and
// merged in split order. Fixed, so a query's result depends only on how many keys it has.
constexpr int64_t kSplitKeys = 64;

// A step's rows in device memory.
struct DeviceLayout {
  const int32_t* positions;     // [rows]
  const int32_t* table_starts;  // [rows]
  const int32_t* tables;
  int64_t rows;
  // More than any row's position: sizes the launch (a recorded decode step uses n_positions, so
  // that its replays serve every position). A row's result does not depend on it.
  int64_t max_positions;
};

// One layer's keys and values in the pool, in `dtype` (F32, F16 or BF16).
struct DevicePool {
  void* k;
  void* v;
  DType dtype;
};

// Floats of workspace `attention` needs for its split partials.
size_t attention_workspace_floats(const AttentionShape& s, int64_t rows, int64_t max_positions);

// Writes each row's kv_heads keys and values (rounded to the pool's dtype) at its position.
void kv_append(const AttentionShape& s, const float* qkv, const DeviceLayout& layout, const DevicePool& pool,
               cudaStream_t stream);

// out[rows, q_heads · D] = softmax(scores) v per query head over the keys `v` gives row r
// (AttentionSpec in core/backend.h: positions[r] − window < j ≤ positions[r], scores
// scale · q·k plus ALiBi's slope · (j − positions[r]) when v.slopes, a device array of one slope
// per query head, is set), query head h reading KV head h / (q_heads / kv_heads), every
// key and value read from the pool (so kv_append first): one fixed order per query whatever the
// other rows. Throws std::invalid_argument for a head dim the kernels are not built for, or a
// workspace that is too small.
void attention(const AttentionShape& s, const AttentionVariant& v, const float* qkv, const DeviceLayout& layout,
               const DevicePool& pool, float* out, float* workspace, size_t workspace_floats, cudaStream_t stream);

}  // namespace gpt::cuda
