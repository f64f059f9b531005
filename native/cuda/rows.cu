// Row gather: dst[i] = src[rows[i]], one block per output row. Tested through the model
// (tests/cuda-model.test.ts: a step asking for the last row of each of several sequences).
#include "cuda/common.cuh"
#include "cuda/rows.cuh"

namespace gpt::cuda {

namespace {

__global__ void gather_rows_kernel(const float* src, int64_t width, const int32_t* rows, float* dst) {
  const int64_t i = blockIdx.x;
  const float* from = src + int64_t(rows[i]) * width;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) dst[i * width + c] = from[c];
}

}  // namespace

void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t count, float* dst, cudaStream_t stream) {
  GPT_REQUIRE(count > 0 && width > 0 && count <= 0x7fffffff, "gather_rows: empty or too many rows");
  gather_rows_kernel<<<unsigned(count), 256, 0, stream>>>(src, width, rows, dst);
  CUDA_CHECK_LAUNCH("gather_rows_kernel");
}

}  // namespace gpt::cuda
