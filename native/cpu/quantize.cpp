#include "cpu/quantize.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt::cpu {

void int8_column_scales(const WeightView& plain, float* scales) {
  const int64_t K = plain.shape[0], N = plain.shape[1];
  std::vector<float> amax(size_t(N), 0.0f);
  // Row by row: the stored matrix is read once, in order.
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      const float w = plain.at(k * N + n);
      if (!std::isfinite(w))
        throw std::runtime_error("cannot quantize to int8: weight (" + std::to_string(k) + ", " + std::to_string(n) +
                                 ") is " + std::to_string(w));
      amax[size_t(n)] = std::max(amax[size_t(n)], std::fabs(w));
    }
  for (int64_t n = 0; n < N; ++n) scales[n] = amax[size_t(n)] / 127.0f;
}

void int8_token_scales(const WeightView& table, float* scales) {
  const int64_t V = table.shape[0], C = table.shape[1];
  for (int64_t v = 0; v < V; ++v) {
    float amax = 0.0f;
    for (int64_t c = 0; c < C; ++c) {
      const float w = table.at(v * C + c);
      if (!std::isfinite(w))
        throw std::runtime_error("cannot quantize to int8: token " + std::to_string(v) + "'s element " +
                                 std::to_string(c) + " is " + std::to_string(w));
      amax = std::max(amax, std::fabs(w));
    }
    scales[v] = amax / 127.0f;
  }
}

void int8_pack_transposed_panels(const WeightView& table, int64_t panel, const float* scales, int8_t* dst) {
  const int64_t V = table.shape[0], C = table.shape[1];
  for (int64_t v0 = 0; v0 < V; v0 += panel) {
    const int64_t width = std::min(panel, V - v0);
    // Panel element (c, v − v0) is table (v, c): each token's row read once, in order.
    for (int64_t v = v0; v < v0 + width; ++v)
      for (int64_t c = 0; c < C; ++c) dst[c * width + (v - v0)] = int8_value(table.at(v * C + c), scales[v]);
    dst += width * C;
  }
}

void int8_pack_panels(const WeightView& plain, int64_t panel, const float* scales, int8_t* dst) {
  const int64_t K = plain.shape[0], N = plain.shape[1];
  for (int64_t j0 = 0; j0 < N; j0 += panel) {
    const int64_t width = std::min(panel, N - j0);
    for (int64_t k = 0; k < K; ++k, dst += width)
      for (int64_t c = 0; c < width; ++c) dst[c] = int8_value(plain.at(k * N + j0 + c), scales[j0 + c]);
  }
}

}  // namespace gpt::cpu
