// Picks the next token from one row of logits: greedy, or temperature / top-k / top-p sampling
// in that order (as Hugging Face's generate applies them). Randomness comes in as one uniform
// number u ∈ [0, 1), so the caller owns the seeded generator and runs are reproducible.
#pragma once
#include <cstdint>

namespace gpt {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int64_t top_k = 0;         // 0: no limit
  float top_p = 1.0f;        // 1: no limit
};

struct Sampled {
  int32_t token;
  float logprob;  // log-softmax of the raw logits (temperature 1) at the chosen token
};

// Throws std::invalid_argument when the logits hold a NaN or +inf, or are all -inf.
Sampled sample_token(const float* logits, int64_t vocab, const SamplingParams& params, double u);

}  // namespace gpt
