// The MLP activations the matmul epilogue applies (core/backend.h's Epilogue): GPT-2's tanh
// approximation of GELU (Hugging Face's "gelu_new"), the exact erf GELU ("gelu"), ReLU, and
// SwiGLU's silu(gate) · up.
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

// torch's silu, x · sigmoid(x), and SwiGLU's product (Llama's down(silu(gate) · up) input).
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float swiglu(float gate, float up) { return silu(gate) * up; }

// v through the activation of `ep`; v itself for kStore (kResidual is the caller's: it adds;
// kSwiglu, reading two values, is swiglu's).
inline float activate(Epilogue ep, float v) {
  switch (ep) {
    case Epilogue::kGeluTanh: return gelu_tanh(v);
    case Epilogue::kGeluErf: return gelu_erf(v);
    case Epilogue::kRelu: return relu(v);
    case Epilogue::kStore:
    case Epilogue::kSwiglu:
    case Epilogue::kResidual: return v;
  }
  return v;
}

// out[i] = activate(ep, x[i]) by the fast path the matmul epilogue uses (AVX-512: vectorised exp
// and erf; otherwise the scalar formulas); for kSwiglu, out[i] = swiglu(x[2i], x[2i + 1]) over an
// even n, n / 2 outputs. For tests over wide input ranges.
void activation(Epilogue ep, const float* x, int64_t n, float* out);

void activation_reference(Epilogue ep, const float* x, int64_t n, float* out);

}  // namespace gpt::cpu
