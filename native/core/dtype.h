// Storage dtypes of weights and the scalar conversions between them and fp32.
// Compute is always fp32; half types are widened on the fly by the kernels. I8 is not a dtype of
// checkpoints: it is the CPU backend's quantized matrices (cpu/quantize.h), int8 values whose
// columns each carry an fp32 scale (WeightView::scales).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace gpt {

enum class DType { F32, F16, BF16, I8 };

constexpr size_t dtype_size(DType t) { return t == DType::F32 ? 4 : t == DType::I8 ? 1 : 2; }

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I8: return "I8";
  }
  return "?";
}

// A checkpoint's dtype by name; false when `name` is not one of F32, F16, BF16 (I8 is never a
// checkpoint's).
inline bool parse_dtype(const std::string& name, DType* out) {
  if (name == "F32") *out = DType::F32;
  else if (name == "F16") *out = DType::F16;
  else if (name == "BF16") *out = DType::BF16;
  else return false;
  return true;
}

inline float bits_to_f32(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint32_t f32_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

// Round to nearest even, as torch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits = f32_to_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

// IEEE binary16 → binary32, subnormals included. Written with integer ops so it is exact on any
// target; the CPU kernels use the hardware conversion where the ISA has one.
inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mant << 13));  // inf / nan
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    // Subnormal: value = mant · 2^-24.
    float v = float(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return bits_to_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

// binary32 → binary16 with round to nearest even, overflow to inf.
inline uint16_t f32_to_f16(float f) {
  uint32_t bits = f32_to_bits(f);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // nan
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: scale into the subnormal grid, round by the FPU.
    float v = bits_to_f32(abs) * 16777216.0f;  // value / 2^-24
    uint32_t m = uint32_t(__builtin_nearbyintf(v));
    return uint16_t(sign | m);
  }
  uint32_t rounded = abs + 0x0fffu + ((abs >> 13) & 1u);
  return uint16_t(sign | ((rounded - 0x38000000u) >> 13));
}

}  // namespace gpt
