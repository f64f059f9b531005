// The fused epilogue of the AVX-512 and AMX matmuls (cpu/matmul_avx512.cpp, cpu/matmul_amx.cpp):
// bias, int8 column scales, activations, the SwiGLU pairing and the residual add, 16 columns at
// a time. One definition, so that both round alike.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "core/backend.h"
#include "core/weight_view.h"
#include "cpu/simd_avx512.h"

namespace gpt::cpu::avx512 {

// bias[j : j + 16] under m; zeros for no bias (data null: an LM head without one).
GPT_AVX512_INLINE __m512 load_bias(const WeightView& bias, int64_t j, __mmask16 m) {
  if (!bias.data) return _mm512_setzero_ps();
  switch (bias.dtype) {
    case DType::F32: return load16_masked<DType::F32>(bias.data, j, m);
    case DType::F16: return load16_masked<DType::F16>(bias.data, j, m);
    case DType::BF16: return load16_masked<DType::BF16>(bias.data, j, m);
    case DType::I8: break;  // biases are never quantized
  }
  return _mm512_setzero_ps();
}

// acc × the scales of columns j … j + 15 under m (I8 matrices; scales null otherwise) + bias, as
// one explicit fma: GCC contracts a product and a sum written apart into an fma in some kernels
// and not in others, which made a row's int8 result depend on its batch.
GPT_AVX512_INLINE __m512 scaled_plus(__m512 acc, const float* scales, int64_t j, __mmask16 m, __m512 bias) {
  return scales ? _mm512_fmadd_ps(acc, _mm512_maskz_loadu_ps(m, scales + j), bias) : _mm512_add_ps(acc, bias);
}

// silu(g) · u per lane (cpu/activation.h's swiglu): g / (1 + e^(−g)) · u.
GPT_AVX512_INLINE __m512 swiglu16(__m512 g, __m512 u) {
  const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

// The epilogue of v = x·W + b, the 16 elements at offset `at` of the full-width result (row · N +
// column, for W's N columns) under m: stored there, or for kSwiglu as 8 pairs (gate, up) → 8
// outputs at at / 2 of the half-width result (pairs never straddle a vector: blocks start at even
// columns and N is even).
GPT_AVX512_INLINE void finish16(__m512 v, Epilogue ep, float* out, int64_t at, __mmask16 m) {
  float* dst = out + at;
  switch (ep) {
    case Epilogue::kStore: break;
    case Epilogue::kGeluTanh: v = gelu16(v); break;
    case Epilogue::kGeluErf: v = gelu_erf16(v); break;
    case Epilogue::kRelu: v = _mm512_max_ps(_mm512_setzero_ps(), v); break;  // NaN in v stays NaN
    case Epilogue::kSwiglu: {
      const __m512i even = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
      const __m512 split = _mm512_permutexvar_ps(even, v);  // gates in lanes 0–7, ups in 8–15
      const __m512 up = _mm512_shuffle_f32x4(split, split, _MM_SHUFFLE(3, 2, 3, 2));
      const int pairs = __builtin_popcount(unsigned(m)) / 2;
      _mm512_mask_storeu_ps(out + at / 2, __mmask16((1u << pairs) - 1u), swiglu16(split, up));
      return;
    }
    case Epilogue::kResidual: v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), v); break;
  }
  _mm512_mask_storeu_ps(dst, m, v);
}

}  // namespace gpt::cpu::avx512
