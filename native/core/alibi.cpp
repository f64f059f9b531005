#include <cmath>

#include "core/backend.h"

namespace gpt {

std::vector<float> alibi_slopes(int64_t heads) {
  // In float, as transformers computes them: base^power with a float32 base and integer powers.
  int64_t p = 1;
  while (p * 2 <= heads) p *= 2;
  std::vector<float> slopes;
  const float base = float(std::pow(2.0, -std::pow(2.0, -(std::log2(double(p)) - 3))));
  for (int64_t h = 1; h <= p; ++h) slopes.push_back(std::pow(base, float(h)));
  if (p < heads) {
    const float extra = float(std::pow(2.0, -std::pow(2.0, -(std::log2(double(2 * p)) - 3))));
    for (int64_t i = 0, power = 1; i < heads - p; ++i, power += 2) slopes.push_back(std::pow(extra, float(power)));
  }
  return slopes;
}

}  // namespace gpt
