// The AMX matmul of compute "bfloat16": cpu::matmul's contract (cpu/matmul.h) for a weight in AMX
// tiles (WeightView::tiles, cpu/tiles.h), its input rows rounded to bf16 (cpu/tiles.h's
// bf16_flushed) and multiplied on the tiles with fp32 accumulation. cpu/matmul.cpp calls it for
// every tiled weight, which the CPU backend only makes when use_amx() says yes.
#pragma once
#include <cstdint>

#include "core/backend.h"
#include "core/thread_pool.h"
#include "core/weight_view.h"

namespace gpt::cpu {

void matmul_amx(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                Epilogue epilogue, float* out);

}  // namespace gpt::cpu
