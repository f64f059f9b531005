// The scalar epilogue of the generic and AVX2 matmuls (cpu/matmul.cpp, cpu/matmul_avx2.cpp): one
// definition, so that the one-row AVX2 kernel and the many-row generic kernels round alike.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/backend.h"
#include "core/weight_view.h"
#include "cpu/activation.h"

namespace gpt::cpu {

// b[i] = bias element j + i for i < count, zeros for no bias (data null).
inline void bias_values(const WeightView& bias, int64_t j, int64_t count, float* b) {
  for (int64_t i = 0; i < count; ++i) b[i] = bias.data ? bias.at(j + i) : 0.0f;
}

// Stores the epilogue of y = acc · s + b for elements j … j + count − 1 of row `row` (count even
// for kSwiglu, j too), into out whose rows are epilogue_width(ep, N) wide. `s`: the columns'
// scales from j on (I8 weights), or null for none. Always inlined: each kernel gets it compiled for
// its own instruction set, and the kernels round alike.
__attribute__((always_inline)) inline void finish(const float* acc, const float* s, const float* b, int64_t count, Epilogue ep, float* out,
                   int64_t row, int64_t N, int64_t j) {
  // One explicit fma for the scale and the bias, never left to the compiler's contraction, which
  // differs between kernels (as in cpu/matmul_avx512.cpp).
  auto y = [&](int64_t i) { return s ? std::fma(acc[i], s[i], b[i]) : acc[i] + b[i]; };
  if (ep == Epilogue::kSwiglu) {
    float* dst = out + row * (N / 2) + j / 2;
    for (int64_t i = 0; i + 1 < count; i += 2) dst[i / 2] = swiglu(y(i), y(i + 1));
    return;
  }
  float* dst = out + row * N + j;
  for (int64_t i = 0; i < count; ++i) {
    const float v = y(i);
    dst[i] = ep == Epilogue::kResidual ? dst[i] + v : activate(ep, v);
  }
}

}  // namespace gpt::cpu
