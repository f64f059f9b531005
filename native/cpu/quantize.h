// int8 weights for the CPU (a load option, dtype "int8"): each matrix [K, N] quantized
// symmetrically per output column, value = round(W / scale) in [−127, 127] with
// scale = max_k |W[k, n]| / 127 (a column of zeros: scale 0, values 0). Every kernel sums
// x · value in fp32 as it sums x · W for other dtypes (the same fma chain: batched equals solo)
// and multiplies the column's sum by its scale before the bias, so a matrix-vector product
// reads one byte per weight. Quantized once at load, straight into column panels.
#pragma once
#include <cstdint>

#include "core/weight_view.h"

namespace gpt::cpu {

// scales[n] for each of `plain`'s N columns ([K, N] row-major, any stored dtype). Throws
// std::runtime_error when a weight is not finite (no scale represents it).
void int8_column_scales(const WeightView& plain, float* scales);

// The int8 value of w in a column of scale s: nearbyint(w / s) in fp32 (ties to even), clamped
// to ±127; 0 when s is 0.
inline int8_t int8_value(float w, float s) {
  if (s == 0.0f) return 0;
  const float q = __builtin_nearbyintf(w / s);
  return int8_t(q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q);
}

// `plain`'s values quantized with `scales`, written in column panels of `panel` columns
// (cpu/panels.h's layout) to dst (numel bytes).
void int8_pack_panels(const WeightView& plain, int64_t panel, const float* scales, int8_t* dst);

// A token table [V, C] for the LM head, which reads it as the matrix [C, V] (its transpose, in
// panels: cpu/panels.h's pack_transposed_panels): a scale per token (the matrix's column), and the
// values written transposed in panels of `panel` tokens. Throws as int8_column_scales does.
void int8_token_scales(const WeightView& table, float* scales);
void int8_pack_transposed_panels(const WeightView& table, int64_t panel, const float* scales, int8_t* dst);

}  // namespace gpt::cpu
