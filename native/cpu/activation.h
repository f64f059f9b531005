// The MLP activations the matmul epilogue applies (core/backend.h's Epilogue): GPT-2's tanh
// approximation of GELU (Hugging Face's "gelu_new"), the exact erf GELU ("gelu") and ReLU.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/backend.h"

namespace gpt::cpu {

// The references: the formulas as written, with std::tanh and std::erf.
inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f)); }

// NaN stays NaN, as torch.relu keeps it.
inline float relu(float x) { return x < 0.0f ? 0.0f : x; }

// v through the activation of `ep`; v itself for kStore (kResidual is the caller's: it adds).
inline float activate(Epilogue ep, float v) {
  switch (ep) {
    case Epilogue::kGeluTanh: return gelu_tanh(v);
    case Epilogue::kGeluErf: return gelu_erf(v);
    case Epilogue::kRelu: return relu(v);
    case Epilogue::kStore:
    case Epilogue::kResidual: return v;
  }
  return v;
}

// out[i] = activate(ep, x[i]) by the fast path the matmul epilogue uses (AVX-512: vectorised exp
// and erf; otherwise the scalar formulas). For tests over wide input ranges.
void activation(Epilogue ep, const float* x, int64_t n, float* out);

void activation_reference(Epilogue ep, const float* x, int64_t n, float* out);

}  // namespace gpt::cpu
