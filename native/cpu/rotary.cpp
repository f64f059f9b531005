#include "cpu/rotary.h"

#include <cmath>
#include <vector>

namespace gpt::cpu {

void rotary(ThreadPool& pool, const RotaryShape& s, float* qkv, int64_t rows, const int32_t* positions) {
  const int64_t D = s.head_dim, half = s.dims / 2, width = (s.q_heads + 2 * s.kv_heads) * D;
  pool.parallel_for(rows, [&](int64_t r) {
    thread_local std::vector<float> cos_, sin_;
    cos_.resize(size_t(half));
    sin_.resize(size_t(half));
    for (int64_t i = 0; i < half; ++i) {
      const float angle = float(positions[r]) * s.inv_freq[i];
      cos_[size_t(i)] = std::cos(angle);
      sin_[size_t(i)] = std::sin(angle);
    }
    float* row = qkv + r * width;
    // The q heads and then the k heads: consecutive in the row.
    for (int64_t h = 0; h < s.q_heads + s.kv_heads; ++h) {
      float* head = row + h * D;
      for (int64_t i = 0; i < half; ++i) {
        const int64_t a = s.interleaved ? 2 * i : i, b = s.interleaved ? 2 * i + 1 : i + half;
        const float x1 = head[a], x2 = head[b], c = cos_[size_t(i)], sn = sin_[size_t(i)];
        head[a] = x1 * c - x2 * sn;
        head[b] = x2 * c + x1 * sn;
      }
    }
  });
}

}  // namespace gpt::cpu
