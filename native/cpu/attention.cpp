#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/attention_avx512.h"
#include "cpu/isa.h"

namespace gpt::cpu {

void kv_append(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start, float* cache) {
  const int64_t C = s.heads * s.head_dim;
  float* k_cache = cache;
  float* v_cache = cache + s.heads * s.capacity * s.head_dim;
  for (int64_t t = 0; t < rows; ++t) {
    const float* k = qkv + t * 3 * C + C;
    const float* v = k + C;
    for (int64_t h = 0; h < s.heads; ++h) {
      int64_t at = (h * s.capacity + start + t) * s.head_dim;
      std::memcpy(k_cache + at, k + h * s.head_dim, size_t(s.head_dim) * 4);
      std::memcpy(v_cache + at, v + h * s.head_dim, size_t(s.head_dim) * 4);
    }
  }
}

namespace {

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void attend_one(
    const float* q, const float* keys, const float* values, int64_t count, int64_t D, float scale, float* scores,
    float* out) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < count; ++j) {
    const float* k = keys + j * D;
    float part[8] = {};
    int64_t d = 0;
    for (; d + 8 <= D; d += 8)
      for (int i = 0; i < 8; ++i) part[i] += q[d + i] * k[d + i];
    float s = 0.0f;
    for (int i = 0; i < 8; ++i) s += part[i];
    for (; d < D; ++d) s += q[d] * k[d];
    s *= scale;
    scores[j] = s;
    max_score = s > max_score ? s : max_score;
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < D; ++d) out[d] = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    const float p = scores[j] * inv;
    const float* v = values + j * D;
    for (int64_t d = 0; d < D; ++d) out[d] += p * v[d];
  }
}

}  // namespace

void attention(ThreadPool& pool, const AttentionShape& s, const float* qkv, int64_t rows, int64_t start,
               const float* cache, float* out) {
  const int64_t C = s.heads * s.head_dim;
  const float scale = 1.0f / std::sqrt(float(s.head_dim));
  const float* k_cache = cache;
  const float* v_cache = cache + s.heads * s.capacity * s.head_dim;
  const bool avx512 = use_avx512() && attend_avx512_supports(s.head_dim);
  pool.parallel_for(rows * s.heads, [&](int64_t task) {
    const int64_t t = task / s.heads, h = task % s.heads;
    thread_local std::vector<float> scores;
    if (scores.size() < size_t(s.capacity)) scores.resize(size_t(s.capacity));
    const float* q = qkv + t * 3 * C + h * s.head_dim;
    const float* keys = k_cache + h * s.capacity * s.head_dim;
    const float* values = v_cache + h * s.capacity * s.head_dim;
    float* dst = out + t * C + h * s.head_dim;
    if (avx512)
      attend_avx512(q, keys, values, start + t + 1, s.head_dim, scale, scores.data(), dst);
    else
      attend_one(q, keys, values, start + t + 1, s.head_dim, scale, scores.data(), dst);
  });
}

void attention_reference(const AttentionShape& s, const float* qkv, int64_t rows, int64_t start,
                         const float* cache, float* out) {
  const int64_t C = s.heads * s.head_dim, D = s.head_dim;
  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> p(size_t(start + rows));
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < s.heads; ++h) {
      const float* q = qkv + t * 3 * C + h * D;
      const float* keys = cache + h * s.capacity * D;
      const float* values = cache + (s.heads + h) * s.capacity * D;
      const int64_t count = start + t + 1;
      double max_score = -INFINITY, sum = 0.0;
      for (int64_t j = 0; j < count; ++j) {
        double dot = 0.0;
        for (int64_t d = 0; d < D; ++d) dot += double(q[d]) * double(keys[j * D + d]);
        p[size_t(j)] = dot * scale;
        max_score = std::max(max_score, p[size_t(j)]);
      }
      for (int64_t j = 0; j < count; ++j) sum += p[size_t(j)] = std::exp(p[size_t(j)] - max_score);
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0.0;
        for (int64_t j = 0; j < count; ++j) acc += p[size_t(j)] * double(values[j * D + d]);
        out[t * C + h * D + d] = float(acc / sum);
      }
    }
}

}  // namespace gpt::cpu
