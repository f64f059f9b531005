// Launcher of the row gather that picks the rows whose logits a step asks for. Device pointers.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace gpt::cuda {

// dst[i, :] = src[rows[i], :] for i < count, rows of `width` floats; `rows` int32 in device memory.
void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst, cudaStream_t stream);

}  // namespace gpt::cuda
