// Launcher of the rotary position embedding over a step's qkv rows, in place: native/cpu/rotary.h
// describes the layout and the rotation; device pointers (positions, inv_freq on the device).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/options.h"

namespace gpt::cuda {

void rotary(const RotaryArgs& a, float* qkv, int64_t rows, const int32_t* positions, cudaStream_t stream);

}  // namespace gpt::cuda
