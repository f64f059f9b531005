// The paged KV cache's geometry, shared by every backend: keys and values live in fixed-size
// blocks of one pool, and each sequence has a block table naming the blocks that hold its
// positions 0 … 15, 16 … 31, and so on (PagedAttention). Which blocks a sequence owns is decided
// in lib/engine (the block pool and scheduler); here is only where a row's keys and values go.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace gpt {

// Positions per block. 16 as vLLM uses: a partly filled last block wastes at most 15 positions,
// and on the CPU a head's keys in one block are 16 · D contiguous floats (4 KiB at D = 64).
constexpr int64_t kKvBlockSize = 16;

struct KvPoolDims {
  // The pool holds kv_heads heads of head_dim per layer; attention has q_heads query heads, a
  // multiple of kv_heads (grouped-query attention; equal for multi-head attention).
  int64_t layers, q_heads, kv_heads, head_dim;
  // Blocks in the pool; a backend allocates one more, the scratch block (index `blocks`) that the
  // padding rows of a recorded decode step write (core/backend.h).
  int64_t blocks;
  int64_t max_positions;  // n_positions: no row sits at or past it
  // The weights' storage dtype: a backend may keep the cache in it (the CUDA one does; the CPU
  // keeps fp32).
  DType weight_dtype;
};

// The rows of one forward pass and where they sit. Row r is token tokens[r] at position
// positions[r] of its sequence,
// whose block table starts at tables[table_starts[r]]; it writes its key and value at that
// position and attends over positions 0 … positions[r] of the same table. Rows of one sequence
// share a table. Valid for the duration of the step.
struct StepLayout {
  int64_t rows = 0;
  const int32_t* tokens = nullptr;        // [rows]
  const int32_t* positions = nullptr;     // [rows]
  const int32_t* table_starts = nullptr;  // [rows]
  const int32_t* tables = nullptr;        // [table_entries]: the step's block tables, back to back
  int64_t table_entries = 0;
};

}  // namespace gpt
