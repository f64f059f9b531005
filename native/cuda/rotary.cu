// Rotary position embedding: one block per (row, q or k head), a thread per rotated pair; the
// angle position · inv_freq[i] in float and cosf / sinf, as the CPU twin (native/cpu/rotary.cpp)
// and transformers compute them. Test: tests/cuda-kernels.test.ts (cudaOps.rotary against
// ops.rotary).
#include <algorithm>
#include <string>

#include "cuda/common.cuh"
#include "cuda/rotary.cuh"

namespace gpt::cuda {

namespace {

__global__ void rotary_heads(RotaryArgs a, float* qkv, const int32_t* positions) {
  const int64_t r = blockIdx.x, h = blockIdx.y, half = a.dims / 2;
  float* head = qkv + r * (a.q_heads + 2 * a.kv_heads) * a.head_dim + h * a.head_dim;
  const float position = float(positions[r]);
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = position * a.inv_freq[i];
    const float c = cosf(angle), s = sinf(angle);
    const int64_t x = a.interleaved ? 2 * i : i, y = a.interleaved ? 2 * i + 1 : i + half;
    const float x1 = head[x], x2 = head[y];
    head[x] = x1 * c - x2 * s;
    head[y] = x2 * c + x1 * s;
  }
}

}  // namespace

void rotary(const RotaryArgs& a, float* qkv, int64_t rows, const int32_t* positions, cudaStream_t stream) {
  GPT_REQUIRE(rows > 0 && rows <= 0x7fffffff, "rotary: rows out of range");
  GPT_REQUIRE(a.dims > 0 && a.dims % 2 == 0 && a.dims <= a.head_dim, "rotary: dims must be even and at most head_dim");
  GPT_REQUIRE(a.q_heads + a.kv_heads <= 65535, "rotary: too many heads");
  const unsigned threads = unsigned(std::min<int64_t>(128, std::max<int64_t>(32, a.dims / 2)));
  rotary_heads<<<dim3{unsigned(rows), unsigned(a.q_heads + a.kv_heads)}, threads, 0, stream>>>(a, qkv, positions);
  CUDA_CHECK_LAUNCH("rotary_heads");
}

}  // namespace gpt::cuda
