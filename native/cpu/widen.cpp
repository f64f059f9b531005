#include "cpu/widen.h"

#include <immintrin.h>

#include <cstring>

namespace gpt::cpu {

namespace {

void widen_bf16(const uint16_t* src, float* dst, int n) {
  // bf16 is the top half of an fp32: a shift, which every compiler vectorises.
  for (int i = 0; i < n; ++i) {
    uint32_t bits = uint32_t(src[i]) << 16;
    std::memcpy(dst + i, &bits, 4);
  }
}

void widen_f16_scalar(const uint16_t* src, float* dst, int n) {
  for (int i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

__attribute__((target("avx,f16c"))) void widen_f16_f16c(const uint16_t* src, float* dst, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

// GCC 12's own _mm512_cvtph_ps trips -Wmaybe-uninitialized on an intentionally undefined
// pass-through operand (_mm512_undefined_ps); the warning is about the header, not this code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void widen_f16_avx512(const uint16_t* src, float* dst, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
#pragma GCC diagnostic pop

void widen_i8_scalar(const int8_t* src, float* dst, int n) {
  for (int i = 0; i < n; ++i) dst[i] = float(src[i]);
}

__attribute__((target("avx2"))) void widen_i8_avx2(const int8_t* src, float* dst, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + i)))));
  for (; i < n; ++i) dst[i] = float(src[i]);
}

using I8Fn = void (*)(const int8_t*, float*, int);

I8Fn i8_choice() {
  static const I8Fn fn = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? widen_i8_avx2 : widen_i8_scalar;
  }();
  return fn;
}

using WidenFn = void (*)(const uint16_t*, float*, int);

WidenFn choose_f16() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return widen_f16_avx512;
  if (__builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c")) return widen_f16_f16c;
  return widen_f16_scalar;
}

WidenFn f16_choice() {
  static const WidenFn choice = choose_f16();
  return choice;
}

}  // namespace

void widen_block(DType dtype, const void* src, int64_t ld, int rows, int cols, float* dst) {
  for (int r = 0; r < rows; ++r) {
    float* out = dst + int64_t(r) * cols;
    switch (dtype) {
      case DType::F32:
        std::memcpy(out, static_cast<const float*>(src) + r * ld, size_t(cols) * 4);
        break;
      case DType::F16:
        f16_choice()(static_cast<const uint16_t*>(src) + r * ld, out, cols);
        break;
      case DType::BF16:
        widen_bf16(static_cast<const uint16_t*>(src) + r * ld, out, cols);
        break;
      case DType::I8:
        i8_choice()(static_cast<const int8_t*>(src) + r * ld, out, cols);
        break;
    }
  }
}

}  // namespace gpt::cpu
