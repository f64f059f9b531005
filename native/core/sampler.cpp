#include "core/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace gpt {

namespace {

// Above this many candidates, top-p first tries the best few: their mass almost always reaches
// top_p, which saves sorting the whole vocabulary every step.
constexpr int64_t kTopPHead = 1024;

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
  const double max_logit = logits[best];
  double total = 0.0;
  for (int64_t i = 0; i < vocab; ++i) total += std::exp(double(logits[i]) - max_logit);
  const double log_z = max_logit + std::log(total);
  const auto logprob = [&](int64_t id) { return float(double(logits[id]) - log_z); };

  if (params.temperature <= 0.0f) return {int32_t(best), logprob(best)};

  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const auto higher = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  if (params.top_k > 0 && params.top_k < vocab) {
    std::nth_element(ids.begin(), ids.begin() + params.top_k, ids.end(), higher);
    ids.resize(size_t(params.top_k));
  }

  // Probabilities at this temperature over the candidates left after top-k.
  const double inv_t = 1.0 / double(params.temperature);
  const auto weight = [&](int32_t id) { return std::exp((double(logits[id]) - max_logit) * inv_t); };
  double mass = 0.0;
  for (int32_t id : ids) mass += weight(id);

  if (params.top_p < 1.0f) {
    const double need = double(params.top_p) * mass;
    std::vector<int32_t> head = ids;
    if (int64_t(head.size()) > kTopPHead) {
      std::nth_element(head.begin(), head.begin() + kTopPHead, head.end(), higher);
      head.resize(size_t(kTopPHead));
    }
    std::sort(head.begin(), head.end(), higher);
    double head_mass = 0.0;
    for (int32_t id : head) head_mass += weight(id);
    if (head_mass < need) {
      head = ids;
      std::sort(head.begin(), head.end(), higher);
    }
    // Keep the smallest prefix, best first, whose mass reaches top_p (always at least one).
    double cum = 0.0;
    size_t keep = 0;
    while (keep < head.size()) {
      cum += weight(head[keep++]);
      if (cum >= need) break;
    }
    head.resize(keep);
    ids.swap(head);
    mass = cum;
  }

  double target = u * mass, cum = 0.0;
  for (int32_t id : ids) {
    cum += weight(id);
    if (cum > target) return {id, logprob(id)};
  }
  return {ids.back(), logprob(ids.back())};  // u rounding at the very top of the range
}

}  // namespace gpt
