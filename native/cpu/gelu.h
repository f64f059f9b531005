// The tanh approximation of GELU that GPT-2 uses (Hugging Face's "gelu_new").
#pragma once
#include <cmath>
#include <cstdint>

namespace gpt::cpu {

// The reference: the formula as written, with std::tanh.
inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

// out[i] = gelu_tanh(x[i]) by the fast path the matmul epilogue uses (AVX-512: a vectorised exp;
// otherwise the scalar formula). For tests over wide input ranges.
void gelu(const float* x, int64_t n, float* out);

void gelu_reference(const float* x, int64_t n, float* out);

}  // namespace gpt::cpu
