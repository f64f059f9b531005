// Widening of stored weights to fp32, the one place where the CPU kernels touch half types.
// Each ISA gets its own hardware conversion, picked once at load time, so one binary runs on any
// x86-64 and still uses F16C / AVX-512 where the machine has them.
#pragma once
#include <cstdint>

#include "core/weight_view.h"

namespace gpt::cpu {

// dst[r * cols + c] = float(src[r * ld + c]) for r < rows, c < cols; `src` in `dtype` elements
// (I8: the integer values, without their scales).
void widen_block(DType dtype, const void* src, int64_t ld, int rows, int cols, float* dst);

}  // namespace gpt::cpu
