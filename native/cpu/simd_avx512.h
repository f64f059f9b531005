// AVX-512 building blocks shared by the *_avx512.cpp kernels: widening loads of stored weights,
// a vectorised exp, and the tanh GELU built on it. Every function carries GPT_AVX512, so include
// this only from code that runs after use_avx512() said yes.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "core/dtype.h"
#include "cpu/isa.h"

// GCC 12's own _mm512_cvtph_ps and _mm512_reduce_add_ps trip -W(maybe-)uninitialized on intentionally undefined
// pass-through operands (_mm512_undefined_ps); the warnings are about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace gpt::cpu::avx512 {

#define GPT_AVX512_INLINE GPT_AVX512 __attribute__((always_inline)) inline

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }

// 16 consecutive weights at element index i of `base`, widened to fp32.
template <DType D>
GPT_AVX512_INLINE __m512 load16(const void* base, int64_t i) {
  if constexpr (D == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + i);
  } else if constexpr (D == DType::I8) {
    // The integer value, exactly: int8 → int32 → fp32 (the column's scale comes after the sum).
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(base) + i));
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
  } else {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    if constexpr (D == DType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// The first n < 16 of them, zeros after.
template <DType D>
GPT_AVX512_INLINE __m512 load16_masked(const void* base, int64_t i, __mmask16 m) {
  if constexpr (D == DType::F32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + i);
  } else if constexpr (D == DType::I8) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, static_cast<const int8_t*>(base) + i)));
  } else {
    __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + i);
    if constexpr (D == DType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// e^x for every lane; relative error about 2e-7 (1–2 ulp) over the float range. Inputs below
// -87.3 give a tiny positive number rather than 0, inputs above 88.7 a huge finite one.
GPT_AVX512_INLINE __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-87.3f));
  // x = n ln2 + r with |r| ≤ ln2 / 2; ln2 split in two so n·ln2_hi is exact.
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  // Taylor series to r^7: truncation error below 6e-9 on |r| ≤ 0.347.
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// gelu_tanh (cpu/gelu.h) per lane, using 0.5·(1 + tanh(u)) = 1 / (1 + e^(-2u)).
GPT_AVX512_INLINE __m512 gelu16(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 u = _mm512_fmadd_ps(x3, _mm512_set1_ps(0.044715f), x);
  const __m512 e = exp16(_mm512_mul_ps(u, _mm512_set1_ps(-2.0f * 0.7978845608028654f)));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// erf per lane: Abramowitz and Stegun 7.1.26 on |x|, erf(x) = 1 − t·P(t)·e^(−x²) with
// t = 1 / (1 + p|x|), sign restored; absolute error below 1.5e-7 (measured against std::erf by
// tests/ops.test.ts over a wide range).
GPT_AVX512_INLINE __m512 erf16(__m512 x) {
  const __m512 a = _mm512_abs_ps(x);
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 e = exp16(_mm512_mul_ps(_mm512_mul_ps(a, a), _mm512_set1_ps(-1.0f)));
  const __m512 y = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
  // Copy x's sign onto y (y ≥ 0).
  return _mm512_or_ps(y, _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
}

// gelu_erf (cpu/activation.h) per lane.
GPT_AVX512_INLINE __m512 gelu_erf16(__m512 x) {
  const __m512 phi = _mm512_fmadd_ps(erf16(_mm512_mul_ps(x, _mm512_set1_ps(0.7071067811865476f))), _mm512_set1_ps(0.5f),
                                     _mm512_set1_ps(0.5f));
  return _mm512_mul_ps(x, phi);
}

}  // namespace gpt::cpu::avx512
