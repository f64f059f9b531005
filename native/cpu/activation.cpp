#include "cpu/activation.h"

#include "cpu/isa.h"
#include "cpu/matmul_avx512.h"

namespace gpt::cpu {

void activation(Epilogue ep, const float* x, int64_t n, float* out) {
  if (use_avx512()) return activation_avx512(ep, x, n, out);
  activation_reference(ep, x, n, out);
}

void activation_reference(Epilogue ep, const float* x, int64_t n, float* out) {
  if (ep == Epilogue::kSwiglu) {
    for (int64_t i = 0; i < n / 2; ++i) out[i] = swiglu(x[2 * i], x[2 * i + 1]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = activate(ep, x[i]);
}

}  // namespace gpt::cpu
