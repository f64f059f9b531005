// The one-row matmul (a decode step's matrix-vector products) for CPUs with AVX2 but not AVX-512:
// cpu/matmul.cpp calls it when use_avx2() says so, with cpu::matmul's contract for one row.
#pragma once

#include "core/backend.h"
#include "core/thread_pool.h"
#include "core/weight_view.h"

namespace gpt::cpu {

void gemv_avx2(ThreadPool& pool, const float* x, const WeightView& w, const WeightView& bias, Epilogue epilogue,
               float* out);

}  // namespace gpt::cpu
