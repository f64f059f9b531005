#include "core/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace gpt {

namespace {

// exp(x) for x ≤ 0 in plain float arithmetic the compiler can vectorise (std::exp does not
// vectorise without -ffast-math): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor
// polynomial (relative error < 1e-8), 2^n put into the exponent bits.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  // Round to nearest by the 1.5 · 2^23 trick: plain adds, which vectorise where roundf does not.
  const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693145752f - n * 1.42860677e-6f;  // ln2 split in two for precision
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

// weights[i] = exp((logits[i] - max) · inv_t); returns their sum.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) double exp_weights(
    const float* logits, int64_t vocab, float max, float inv_t, float* weights) {
  float part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= vocab; i += 16)
    for (int j = 0; j < 16; ++j) {
      weights[i + j] = exp_nonpositive((logits[i + j] - max) * inv_t);
      part[j] += weights[i + j];
    }
  double sum = 0.0;
  for (; i < vocab; ++i) sum += weights[i] = exp_nonpositive((logits[i] - max) * inv_t);
  for (float p : part) sum += p;
  return sum;
}

// The ids of the k largest logits, ties to the lower id, in id order.
std::vector<int32_t> top_k_ids(const float* logits, int64_t vocab, int64_t k) {
  std::vector<float> values(logits, logits + vocab);
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
  const float kth = values[size_t(k - 1)];
  int64_t above = 0;
  for (int64_t i = 0; i < vocab; ++i) above += logits[i] > kth;
  int64_t ties = k - above;
  std::vector<int32_t> ids;
  ids.reserve(size_t(k));
  for (int64_t i = 0; i < vocab; ++i)
    if (logits[i] > kth || (logits[i] == kth && ties-- > 0)) ids.push_back(int32_t(i));
  return ids;
}

}  // namespace

Sampled sample_token(const float* logits, int64_t vocab, const SamplingParams& params, double u) {
  int64_t best = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i])) throw std::invalid_argument("logits contain NaN at id " + std::to_string(i));
    if (logits[i] > logits[best]) best = i;
  }
  // exp(l - max) needs a finite maximum: +inf would make it inf - inf, and a row of -inf
  // (every token masked) has no distribution at all.
  if (!std::isfinite(logits[best]))
    throw std::invalid_argument("logits have no finite maximum (largest is " + std::to_string(logits[best]) + ")");
  const float max_logit = logits[best];
  thread_local std::vector<float> weights;
  weights.resize(size_t(vocab));
  const double log_z = double(max_logit) + std::log(exp_weights(logits, vocab, max_logit, 1.0f, weights.data()));
  const auto logprob = [&](int64_t id) { return float(double(logits[id]) - log_z); };

  // Greedy, also for a temperature so small that 1 / T overflows (every weight would be 0 or NaN).
  if (!(params.temperature > 0.0f) || !std::isfinite(1.0f / params.temperature))
    return {int32_t(best), logprob(best)};

  // Weights at this temperature (the T = 1 ones are already there).
  if (params.temperature != 1.0f) exp_weights(logits, vocab, max_logit, 1.0f / params.temperature, weights.data());
  std::vector<int32_t> ids;
  if (params.top_k > 0 && params.top_k < vocab) {
    ids = top_k_ids(logits, vocab, params.top_k);
  } else {
    ids.resize(size_t(vocab));
    for (int64_t i = 0; i < vocab; ++i) ids[size_t(i)] = int32_t(i);
  }
  const auto w = [&](int32_t id) { return double(weights[size_t(id)]); };
  double mass = 0.0;
  for (int32_t id : ids) mass += w(id);

  if (params.top_p < 1.0f) {
    // The nucleus is the smallest best-first prefix whose mass reaches top_p. Tokens lighter
    // than (1 - top_p) · mass / count weigh less than (1 - top_p) · mass together, so the
    // nucleus never reaches them: only the rest need sorting.
    const double need = double(params.top_p) * mass;
    const double floor = (1.0 - double(params.top_p)) * mass / double(ids.size());
    std::vector<int32_t> head;
    for (int32_t id : ids)
      if (w(id) >= floor) head.push_back(id);
    std::sort(head.begin(), head.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    double cum = 0.0;
    size_t keep = 0;
    while (keep < head.size()) {
      cum += w(head[keep++]);
      if (cum >= need) break;
    }
    head.resize(keep);
    ids.swap(head);
    mass = cum;
  }

  if (ids.empty()) return {int32_t(best), logprob(best)};  // unreachable: the best token weighs 1
  const double target = u * mass;
  double cum = 0.0;
  for (int32_t id : ids) {
    cum += w(id);
    if (cum > target) return {id, logprob(id)};
  }
  return {ids.back(), logprob(ids.back())};  // u rounding at the very top of the range
}

}  // namespace gpt
