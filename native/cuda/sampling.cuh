// Launcher of token sampling on the device: greedy, or temperature / top-k / top-p, with the
// semantics of core/sampler.h (the CPU twin), so that only 8 bytes come back per step.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/sampler.h"

namespace gpt::cuda {

// What the kernel writes (device memory); read it back and pass it to sampled_or_throw.
struct DeviceSampled {
  int32_t token;    // -1 when the logits are unusable
  float logprob;
  int32_t nan_at;   // first id holding NaN, or -1
  float max_logit;  // for the error message when it is not finite
};

// Picks the next token from logits[vocab] (device memory) into *result (device memory).
// `u` is the caller's uniform number in [0, 1), as for sample_token.
void sample(const float* logits, int64_t vocab, const SamplingParams& params, double u, DeviceSampled* result,
            cudaStream_t stream);

// The host side of the result: the token, or std::invalid_argument with the CPU sampler's message.
Sampled sampled_or_throw(const DeviceSampled& r);

}  // namespace gpt::cuda
