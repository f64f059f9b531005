// The AVX2 one-row matmul. A task owns one column panel (cpu/panels.h: at most 64 columns on these
// CPUs), keeps its accumulators in 8 ymm registers and streams the panel's K rows past them in one
// contiguous run, the weights widened in registers (F16: vcvtph2ps, BF16: a 16-bit shift, I8:
// vpmovsxbd + vcvtdq2ps). Each column is one fma chain over k = 0 … K − 1 from zero, then the
// shared scalar epilogue (cpu/matmul_finish.h): exactly what the generic kernels compute for any
// number of rows, so a sequence's result does not depend on its batch. Tested against
// matmul_reference, and against the many-row path bit for bit, by tests/ops.test.ts.
#include "cpu/matmul_avx2.h"

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "cpu/matmul_finish.h"
#include "cpu/panels.h"

namespace gpt::cpu {

namespace {

#define GPT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define GPT_AVX2_INLINE GPT_AVX2 __attribute__((always_inline)) inline

constexpr int kMaxVectors = 8;
constexpr int64_t kAhead = 8;  // 64 columns: 8 accumulators, and registers to spare for the loads

// 8 weights at element i of `base`, widened to fp32.
template <DType D>
GPT_AVX2_INLINE __m256 load8(const void* base, int64_t i) {
  if constexpr (D == DType::F32) return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  if constexpr (D == DType::I8)
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(base) + i))));
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
  if constexpr (D == DType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// The first n < 8 of them, zeros after (the narrow last vector of a ragged panel).
template <DType D>
GPT_AVX2_INLINE __m256 load8_partial(const void* base, int64_t i, int n) {
  alignas(32) unsigned char lane[32] = {};
  std::memcpy(lane, static_cast<const unsigned char*>(base) + i * int64_t(dtype_size(D)), size_t(n) * dtype_size(D));
  return load8<D>(lane, 0);
}

template <DType D, int NV>
GPT_AVX2 void gemv_block(const float* x, const void* w, int64_t K, int64_t N, const ColumnBlock& b,
                         const float* scales, const WeightView& bias, Epilogue ep, float* out) {
  const int last = int(b.cols - 8 * (NV - 1));  // columns in the last vector: 1 … 8
  __m256 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m256 xk = _mm256_set1_ps(x[k]);
    const int64_t row = b.at + k * b.ld;
    if (k + kAhead < K)
      for (int64_t l = 0; l < b.cols * int64_t(dtype_size(D)); l += 64)
        _mm_prefetch(static_cast<const char*>(w) + (row + kAhead * b.ld) * int64_t(dtype_size(D)) + l, _MM_HINT_T0);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const __m256 wv = v + 1 < NV || last == 8 ? load8<D>(w, row + 8 * v) : load8_partial<D>(w, row + 8 * v, last);
      acc[v] = _mm256_fmadd_ps(xk, wv, acc[v]);
    }
  }
  alignas(32) float sums[8 * NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm256_store_ps(sums + 8 * v, acc[v]);
  float bv[8 * NV];
  bias_values(bias, b.j0, b.cols, bv);
  finish(sums, scales ? scales + b.j0 : nullptr, bv, b.cols, ep, out, 0, N, b.j0);
}

template <DType D>
void gemv_block_any(int vectors, const float* x, const void* w, int64_t K, int64_t N, const ColumnBlock& b,
                    const float* scales, const WeightView& bias, Epilogue ep, float* out) {
  switch (vectors) {
    case 8: return gemv_block<D, 8>(x, w, K, N, b, scales, bias, ep, out);
    case 7: return gemv_block<D, 7>(x, w, K, N, b, scales, bias, ep, out);
    case 6: return gemv_block<D, 6>(x, w, K, N, b, scales, bias, ep, out);
    case 5: return gemv_block<D, 5>(x, w, K, N, b, scales, bias, ep, out);
    case 4: return gemv_block<D, 4>(x, w, K, N, b, scales, bias, ep, out);
    case 3: return gemv_block<D, 3>(x, w, K, N, b, scales, bias, ep, out);
    case 2: return gemv_block<D, 2>(x, w, K, N, b, scales, bias, ep, out);
    default: return gemv_block<D, 1>(x, w, K, N, b, scales, bias, ep, out);
  }
}

}  // namespace

void gemv_avx2(ThreadPool& pool, const float* x, const WeightView& w, const WeightView& bias, Epilogue ep,
               float* out) {
  const int64_t K = w.shape[0], N = w.shape[1];
  // Columns are independent, so how they are split over tasks and threads changes no result.
  const std::vector<ColumnBlock> blocks = column_blocks(w, 8 * kMaxVectors);
  pool.parallel_for(int64_t(blocks.size()), [&](int64_t i) {
    const ColumnBlock& b = blocks[size_t(i)];
    const int vectors = int((b.cols + 7) / 8);
    switch (w.dtype) {
      case DType::F32: return gemv_block_any<DType::F32>(vectors, x, w.data, K, N, b, nullptr, bias, ep, out);
      case DType::F16: return gemv_block_any<DType::F16>(vectors, x, w.data, K, N, b, nullptr, bias, ep, out);
      case DType::BF16: return gemv_block_any<DType::BF16>(vectors, x, w.data, K, N, b, nullptr, bias, ep, out);
      case DType::I8: return gemv_block_any<DType::I8>(vectors, x, w.data, K, N, b, w.scales, bias, ep, out);
    }
  });
}

}  // namespace gpt::cpu
