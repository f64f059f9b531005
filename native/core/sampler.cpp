#include "core/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
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

// The n best raw logits (ties to the lower id), best first, with their logprobs.
void top_alternatives(const float* logits, int64_t vocab, int n, double log_z, Sampled& out) {
  out.top_count = 0;
  if (n <= 0) return;
  n = int(std::min<int64_t>(n, vocab));
  int count = 0;
  std::array<int32_t, kMaxTopLogprobs>& ids = out.top_ids;
  for (int64_t i = 0; i < vocab; ++i) {
    const float v = logits[i];
    // Ids come in ascending order, so an equal value never displaces an earlier id.
    if (count == n && !(v > logits[ids[size_t(n - 1)]])) continue;
    int at = count < n ? count++ : n - 1;
    while (at > 0 && v > logits[ids[size_t(at - 1)]]) {
      ids[size_t(at)] = ids[size_t(at - 1)];
      --at;
    }
    ids[size_t(at)] = int32_t(i);
  }
  out.top_count = count;
  for (int k = 0; k < count; ++k) out.top_logprobs[size_t(k)] = float(double(logits[ids[size_t(k)]]) - log_z);
}

// The best id (lowest on ties); throws for a NaN or a row without a finite maximum.
int64_t checked_argmax(const float* logits, int64_t vocab, const char* which) {
  int64_t best = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i])) throw std::invalid_argument(std::string(which) + "logits contain NaN at id " + std::to_string(i));
    if (logits[i] > logits[best]) best = i;
  }
  // exp(l - max) needs a finite maximum: +inf would make it inf - inf, and a row of -inf
  // (every token masked) has no distribution at all.
  if (!std::isfinite(logits[best]))
    throw std::invalid_argument(std::string(which) + "logits have no finite maximum (largest is " +
                                std::to_string(logits[best]) + ")");
  return best;
}

}  // namespace

double min_p_floor(float max_logit, float temperature, double log_min_p) {
  return std::fma(double(temperature), log_min_p, double(max_logit));
}

Sampled sample_token(const float* raw, int64_t vocab, const SampleRequest& request) {
  const SamplingParams& params = request.params;
  const double u = request.u;
  const int64_t raw_best = checked_argmax(raw, vocab, "");
  thread_local std::vector<float> weights;
  weights.resize(size_t(vocab));
  const double log_z = double(raw[raw_best]) + std::log(exp_weights(raw, vocab, raw[raw_best], 1.0f, weights.data()));
  const auto logprob = [&](int64_t id) { return float(double(raw[id]) - log_z); };
  const auto picked = [&](int64_t id) {
    Sampled s{int32_t(id), logprob(id)};
    top_alternatives(raw, vocab, request.top_logprobs, log_z, s);
    return s;
  };

  // The logits the pick is made from: the raw ones, adjusted where asked.
  const float* logits = raw;
  int64_t best = raw_best;
  thread_local std::vector<float> adjusted;
  if (!request.adjustments.empty()) {
    adjusted.assign(raw, raw + vocab);
    for (const LogitAdjustment& a : request.adjustments) {
      if (a.id < 0 || a.id >= vocab)
        throw std::invalid_argument("a logit adjustment names id " + std::to_string(a.id) + ", outside the vocabulary of " +
                                    std::to_string(vocab));
      adjusted[size_t(a.id)] = adjusted_logit(raw[a.id], a, request.repetition_penalty);
    }
    logits = adjusted.data();
    best = checked_argmax(logits, vocab, "adjusted ");
  }
  const float max_logit = logits[best];

  // Greedy, also for a temperature so small that 1 / T overflows (every weight would be 0 or NaN).
  if (!(params.temperature > 0.0f) || !std::isfinite(1.0f / params.temperature)) return picked(best);

  exp_weights(logits, vocab, max_logit, 1.0f / params.temperature, weights.data());
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

  if (params.min_p > 0.0f) {
    // Keep the tokens whose probability is at least min_p × the best's: logit ≥ max + T · ln(min_p).
    const double floor = min_p_floor(max_logit, params.temperature, std::log(double(params.min_p)));
    std::vector<int32_t> kept;
    for (int32_t id : ids)
      if (double(logits[id]) >= floor) kept.push_back(id);
    ids.swap(kept);
    mass = 0.0;
    for (int32_t id : ids) mass += w(id);
  }

  if (ids.empty()) return picked(best);  // unreachable: the best token weighs 1 and passes every filter
  const double target = u * mass;
  double cum = 0.0;
  for (int32_t id : ids) {
    cum += w(id);
    if (cum > target) return picked(id);
  }
  return picked(ids.back());  // u rounding at the very top of the range
}

}  // namespace gpt
