// The AVX-512 matmul and LM head (matmul_avx512.cpp); cpu/matmul.cpp calls them when
// use_avx512() says the machine has AVX-512, with the same contracts as cpu::matmul and
// cpu::lm_head.
#pragma once
#include <cstdint>

#include "core/backend.h"
#include "core/thread_pool.h"
#include "core/weight_view.h"

namespace gpt::cpu {

void matmul_avx512(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                   Epilogue epilogue, float* out);

void lm_head_avx512(ThreadPool& pool, const float* in, int64_t rows, const WeightView& wte, float* logits);

// out[i] = activate(ep, x[i]) (cpu/activation.h) as the epilogue computes it; for tests of the
// epilogue over wide ranges.
void activation_avx512(Epilogue ep, const float* x, int64_t n, float* out);

}  // namespace gpt::cpu
