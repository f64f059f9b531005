#include "cpu/gelu.h"

#include "cpu/isa.h"
#include "cpu/matmul_avx512.h"

namespace gpt::cpu {

void gelu(const float* x, int64_t n, float* out) {
  if (use_avx512()) return gelu_avx512(x, n, out);
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh(x[i]);
}

void gelu_reference(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh(x[i]);
}

}  // namespace gpt::cpu
