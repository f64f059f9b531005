// A read-only view of one weight tensor in its storage dtype, wherever its bytes live
// (a mapped checkpoint file, a converted copy, or the CPU backend's column panels).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tile_layout.h"

namespace gpt {

struct WeightView {
  const void* data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  // A matrix [K, N] in column panels (the CPU backend's layout for matmul weights, cpu/panels.h):
  // panel p holds columns p·panel … p·panel + panel_width(p) − 1 as a row-major [K][width] block,
  // the panels one after another, so that a matrix-vector product streams each panel from memory
  // in one run. 0: one panel of all N columns, i.e. plain row-major [K, N].
  int64_t panel = 0;
  // A token table [V, C] (shape as such) that the CPU backend stores transposed, as the matrix
  // [C, V] in column panels: the LM head is then a matrix product that streams it, and the
  // embedding reads a token's column. matrix() views it as that [C, V] matrix.
  bool transposed = false;
  // I8 matrices only: one fp32 scale per column n (in column order, whatever the panels), the
  // matrix's element (k, n) being value · scales[n]; for a transposed table, one per token.
  const float* scales = nullptr;
  // A tied token table kept in I8 for the LM head: the stored rows ([V, C] row-major, in
  // rows_dtype), which the embedding reads exactly. Null otherwise.
  const void* rows = nullptr;
  DType rows_dtype = DType::F32;
  // A BF16 matrix [K, N] in AMX tiles (core/tile_layout.h: compute "bfloat16"), padded to multiples of
  // 32; panel is then unused.
  bool tiles = false;

  WeightView matrix() const {
    WeightView m = *this;
    m.shape = {shape[1], shape[0]};
    m.transposed = false;
    return m;
  }

  int64_t panel_size() const { return panel > 0 ? panel : shape[1]; }
  int64_t panel_width(int64_t p) const { return std::min(panel_size(), shape[1] - p * panel_size()); }
  // The element offset of matrix element (k, n).
  int64_t offset(int64_t k, int64_t n) const {
    if (tiles) return tile_offset(shape[0], k, n);
    const int64_t P = panel_size(), p = n / P;
    return p * P * shape[0] + k * panel_width(p) + (n - p * P);
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // The bytes it holds, its scales included (not the stored rows it may also read).
  size_t bytes() const {
    if (tiles) return size_t(tile_elements(shape[0], shape[1])) * 2;
    const size_t columns = size_t(transposed ? shape[0] : shape[1]);
    return size_t(numel()) * dtype_size(dtype) + (scales ? columns * sizeof(float) : 0);
  }
  // Element i widened to fp32; for the scalar paths (reference ops, LayerNorm parameters). An I8
  // element is its integer value, without its column's scale.
  float at(int64_t i) const {
    switch (dtype) {
      case DType::F32: return static_cast<const float*>(data)[i];
      case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
      case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
      case DType::I8: return float(static_cast<const int8_t*>(data)[i]);
    }
    return 0.0f;
  }
};

}  // namespace gpt
