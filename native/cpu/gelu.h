// The tanh approximation of GELU that GPT-2 uses (Hugging Face's "gelu_new").
#pragma once
#include <cmath>

namespace gpt::cpu {

inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

}  // namespace gpt::cpu
