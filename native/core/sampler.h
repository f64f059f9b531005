// Picks the next token from one row of logits. The raw logits are first adjusted, in vLLM's order:
// a bias added (OpenAI's logit_bias), Hugging Face's repetition penalty, then a penalty
// subtracted (OpenAI's presence and frequency penalties, which lib/ folds into one per id); then
// greedy, or temperature / top-k / top-p / min-p sampling
// in that order (as Hugging Face's generate applies them) on the adjusted logits. The chosen
// token's logprob and the top alternatives come from the raw logits, before any of that (as
// OpenAI reports them). Randomness comes in as one uniform number u ∈ [0, 1), so the caller owns
// the seeded generator and runs are reproducible. core/sampler.cpp is the CPU sampler and the
// reference twin of the GPU's (native/cuda/sampling.cu).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace gpt {

// Most alternatives a pick reports with its token (OpenAI's top_logprobs limit).
constexpr int kMaxTopLogprobs = 20;

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int64_t top_k = 0;         // 0: no limit
  float top_p = 1.0f;        // 1: no limit
  float min_p = 0.0f;        // 0: no limit; else keep tokens at least min_p × the best's probability
};

// One adjustment of a raw logit l: l + bias; then, when `repeated`, divided by the repetition
// penalty if positive and multiplied by it otherwise; then − penalty.
struct LogitAdjustment {
  int32_t id;
  bool repeated;
  float bias;
  float penalty;
};

// One pick from a row of logits.
struct SampleRequest {
  SamplingParams params;
  double u = 0.0;
  float repetition_penalty = 1.0f;  // > 0; applied to the ids marked `repeated`
  std::vector<LogitAdjustment> adjustments;  // ids unique, in [0, vocab)
  int32_t top_logprobs = 0;  // alternatives to report, 0 … kMaxTopLogprobs
  // > 0: only ids below it are considered (a vocabulary padded past its tokenizer, whose last ids
  // could not be decoded); the backends sample the row's first vocab_limit logits.
  int64_t vocab_limit = 0;
};

// The ids a request considers in a row of `vocab` logits.
inline int64_t considered_vocab(const SampleRequest& request, int64_t vocab) {
  return request.vocab_limit > 0 && request.vocab_limit < vocab ? request.vocab_limit : vocab;
}

struct Sampled {
  int32_t token;
  float logprob;  // log-softmax of the raw logits at the chosen token
  // The top_logprobs best raw logits (ties: lower id first), best first, with their logprobs.
  int32_t top_count = 0;
  std::array<int32_t, kMaxTopLogprobs> top_ids{};
  std::array<float, kMaxTopLogprobs> top_logprobs{};
};

// Throws std::invalid_argument when the logits (raw or adjusted) hold a NaN or +inf, or are all
// -inf, or when an adjustment names an id outside the vocabulary.
Sampled sample_token(const float* logits, int64_t vocab, const SampleRequest& request);

// The adjusted logit of one id, the arithmetic both samplers use in this order and rounding (no
// fused multiply-add: core/logit_adjust.cpp is built with -ffp-contract=off).
float adjusted_logit(float logit, const LogitAdjustment& a, float repetition_penalty);

// The lowest logit min-p keeps, computed alike by both samplers: max + T · ln(min_p), in double
// with one rounding (log_min_p = std::log(double(min_p)), computed on the host for the GPU).
double min_p_floor(float max_logit, float temperature, double log_min_p);

}  // namespace gpt
