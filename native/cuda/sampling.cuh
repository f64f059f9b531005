// Launcher of token sampling on the device, with the semantics of core/sampler.h (the CPU twin):
// the raw logits adjusted, then greedy or temperature / top-k / top-p / min-p, the pick's logprob
// and up to kMaxTopLogprobs alternatives from the raw logits; a few hundred bytes come back per row.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/sampler.h"

namespace gpt::cuda {

// One logit adjustment as the kernel reads it (LogitAdjustment with a 4-byte flag).
struct DeviceAdjustment {
  int32_t id;
  int32_t repeated;
  float bias, penalty;
};

// What the kernel writes (device memory); read it back and pass it to sampled_or_throw.
struct DeviceSampled {
  int32_t token;    // -1 when the logits are unusable
  float logprob;
  int32_t nan_at;   // first id holding NaN, or -1
  float max_logit;  // for the error message when it is not finite
  int32_t adjusted; // the unusable logits were the adjusted ones
  int32_t top_count;
  int32_t top_ids[kMaxTopLogprobs];
  float top_logprobs[kMaxTopLogprobs];
};

// Picks the next token from logits[vocab] (device memory) into *result (device memory).
// With request.adjustments non-empty, `adjustments` holds them (device memory, ids checked on the
// host) and `adjusted` is vocab floats of device scratch the adjusted row is built in; both may be
// null otherwise.
void sample(const float* logits, int64_t vocab, const SampleRequest& request, const DeviceAdjustment* adjustments,
            float* adjusted, DeviceSampled* result, cudaStream_t stream);

// The adjustments of `request` as the kernel reads them; throws std::invalid_argument, with the
// CPU sampler's message, for an id outside [0, vocab).
void device_adjustments(const SampleRequest& request, int64_t vocab, DeviceAdjustment* out);

// The host side of the result: the pick, or std::invalid_argument with the CPU sampler's message.
Sampled sampled_or_throw(const DeviceSampled& r);

}  // namespace gpt::cuda
