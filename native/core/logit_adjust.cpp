// adjusted_logit (core/sampler.h), in a file of its own so that it can be built without fused
// multiply-adds (CMakeLists.txt: -ffp-contract=off): the GPU sampler rounds each operation
// (__fadd_rn, __fdiv_rn or __fmul_rn, __fsub_rn), and the two must agree to the bit on the same logits.
#include "core/sampler.h"

namespace gpt {

float adjusted_logit(float logit, const LogitAdjustment& a, float repetition_penalty) {
  float v = logit + a.bias;
  // Hugging Face's repetition penalty: a repeated token's logit is divided when positive and
  // multiplied when negative, so the penalty always makes it less likely.
  if (a.repeated) v = v > 0.0f ? v / repetition_penalty : v * repetition_penalty;
  return v - a.penalty;
}

}  // namespace gpt
