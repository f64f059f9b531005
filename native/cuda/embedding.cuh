// Launcher of the token + position embedding. Device pointers.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace gpt::cuda {

// out[t] = wte[tokens[t]] + wpe[positions[t]] for t < rows, widened to fp32; wte [V, C] and
// wpe [P, C] row-major in their storage dtypes; tokens and positions int32 in device memory. Ids
// and positions are checked by the caller (core/gpt2.cpp); the kernel reads in bounds for the ids
// and positions it is given.
void embed(const int32_t* tokens, const int32_t* positions, int64_t rows, int64_t C, const void* wte, DType wte_dtype,
           const void* wpe, DType wpe_dtype, float* out, cudaStream_t stream);

}  // namespace gpt::cuda
