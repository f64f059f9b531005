// Token + position embedding, and LayerNorm over the last dimension.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "core/weight_view.h"

namespace gpt::cpu {

// out[t] = wte[tokens[t]] + wpe[positions[t]]; ids and positions are checked by the caller. wte
// may be the CPU's transposed table (WeightView::transposed).
void embed(const int32_t* tokens, const int32_t* positions, int64_t rows, const WeightView& wte, const WeightView& wpe,
           float* out);

// out[t] = (x[t] - mean) / sqrt(var + eps) · gamma + beta, statistics over C = gamma's length.
void layernorm(ThreadPool& pool, const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta,
               float eps, float* out);

// out[t] = x[t] / sqrt(mean(x[t]²) + eps) · gamma (Llama's RMSNorm), over C = gamma's length.
// Like layernorm, one implementation: the statistic in double, each row one task.
void rmsnorm(ThreadPool& pool, const float* x, int64_t rows, const WeightView& gamma, float eps, float* out);

}  // namespace gpt::cpu
