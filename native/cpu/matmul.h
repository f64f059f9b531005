// out[M, N] = epilogue(in[M, K] · W[K, N] + bias[N]), W in its storage dtype (I8: values and
// column scales, cpu/quantize.h), [in, out] as
// Hugging Face's Conv1D stores it, row-major or in column panels (cpu/panels.h: the CPU backend
// packs every matmul weight so). Compute and accumulation are fp32.
//
// matmul_reference is the oracle: a plain triple loop accumulating in double (for a weight in AMX
// tiles, compute "bfloat16", over the inputs rounded to bf16 as the tiles round them).
// matmul is the fast path: for a tiled weight the AMX kernel (cpu/matmul_amx.h); else AVX-512 kernels where the CPU has them (cpu/matmul_avx512.h); else, up
// to 32 rows, a task per column panel widened chunk by chunk in one run, and for more, column
// strips of W widened once — both a register-blocked micro-kernel, spread over the thread pool.
// tests/ops.test.ts compares fast and reference on odd shapes.
#pragma once
#include <cstdint>

#include "core/backend.h"
#include "core/thread_pool.h"
#include "core/weight_view.h"

namespace gpt::cpu {


void matmul(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
            Epilogue epilogue, float* out);

void matmul_reference(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
                      float* out);

// logits[M, V] = in[M, C] · wte[V, C]ᵀ — the LM head tied to the token embedding.
void lm_head(ThreadPool& pool, const float* in, int64_t rows, const WeightView& wte, float* logits);

void lm_head_reference(const float* in, int64_t rows, const WeightView& wte, float* logits);

}  // namespace gpt::cpu
