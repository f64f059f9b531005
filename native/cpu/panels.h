// The CPU's layout for matmul weights: column panels (core/weight_view.h). A decode step's
// matrix-vector products read every weight once, so their speed is the rate weights stream from
// memory; a row-major [K, N] matrix read a block of columns at a time is K short runs N apart,
// which the hardware prefetchers follow poorly. Packed into panels, each block the kernels take
// is one contiguous run: 11–15 → 23–29 GB/s on this machine's cores (bench/NOTES.md §13). The
// layout only moves elements: every sum is taken in the same order, so results are unchanged.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/weight_view.h"

namespace gpt::cpu {

// Columns per panel for a matrix of N columns run on `threads` threads: at most what the one-row
// kernel holds in registers (AVX-512: 256, 16 zmm; otherwise 64, 8 ymm), a multiple of 16, and as many panels as a whole number
// of rounds of the threads needs, so the one-row kernel's tasks (one per panel) balance.
int64_t panel_columns(int64_t n, int threads);

// `plain`'s elements ([K, N] row-major, panel 0) written in panels of `panel` columns to `dst`
// (numel elements of its dtype).
void pack_panels(const WeightView& plain, int64_t panel, void* dst);

// `plain` [V, C] row-major written as its transpose [C, V] in panels of `panel` columns, calling
// done_with(first, count) for each panel's rows of `plain` once they are read.
void pack_transposed_panels(const WeightView& plain, int64_t panel, void* dst,
                            const std::function<void(int64_t first, int64_t count)>& done_with);

// One block of columns a kernel takes: columns j0 … j0 + cols − 1, all in one panel, whose
// element (k, j0 + c) is at element offset at + k · ld + c.
struct ColumnBlock {
  int64_t j0, cols, at, ld;
};

// The blocks of at most `width` columns that cover `w`'s columns, panel by panel.
std::vector<ColumnBlock> column_blocks(const WeightView& w, int64_t width);

}  // namespace gpt::cpu
