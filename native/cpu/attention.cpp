#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/attention_avx512.h"
#include "cpu/isa.h"

namespace gpt::cpu {

HeadPages head_pages(const AttentionShape& s, const StepLayout& layout, const PagedLayer& pool, int64_t r,
                     int64_t h) {
  const int64_t head = h * kKvBlockSize * s.head_dim;
  return HeadPages{pool.k + head, pool.v + head, layout.tables + layout.table_starts[r],
                   s.kv_heads * kKvBlockSize * s.head_dim, s.head_dim};
}

void kv_append(const AttentionShape& s, const float* qkv, const StepLayout& layout, const PagedLayer& pool) {
  const int64_t D = s.head_dim;
  for (int64_t r = 0; r < layout.rows; ++r) {
    const float* k = qkv + r * s.qkv_width() + s.q_heads * D;
    const float* v = k + s.kv_heads * D;
    for (int64_t h = 0; h < s.kv_heads; ++h) {
      const int64_t at = h * kKvBlockSize * s.head_dim + head_pages(s, layout, pool, r, h).at(layout.positions[r]);
      std::memcpy(pool.k + at, k + h * s.head_dim, size_t(s.head_dim) * 4);
      std::memcpy(pool.v + at, v + h * s.head_dim, size_t(s.head_dim) * 4);
    }
  }
}

namespace {

// attend_avx512's contract (cpu/attention_avx512.h), in portable code.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void attend_one(
    const float* q, const HeadPages& pages, int64_t first, int64_t count, float scale, float slope, float* scores,
    float* out) {
  const int64_t D = pages.head_dim;
  float max_score = -INFINITY;
  for (int64_t j = 0; j < count; ++j) {
    const float* k = pages.key(first + j);
    float part[8] = {};
    int64_t d = 0;
    for (; d + 8 <= D; d += 8)
      for (int i = 0; i < 8; ++i) part[i] += q[d + i] * k[d + i];
    float s = 0.0f;
    for (int i = 0; i < 8; ++i) s += part[i];
    for (; d < D; ++d) s += q[d] * k[d];
    s = s * scale + slope * float(j - (count - 1));
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
    const float* v = pages.value(first + j);
    for (int64_t d = 0; d < D; ++d) out[d] += p * v[d];
  }
}

}  // namespace

namespace {

// Runs of up to kAttendRows consecutive rows of one sequence at consecutive positions (a prompt's
// rows, sharing their block table), as {first row, rows}; other rows alone.
std::vector<std::pair<int64_t, int>> row_groups(const StepLayout& layout, bool shared) {
  std::vector<std::pair<int64_t, int>> groups;
  for (int64_t r = 0; r < layout.rows;) {
    int n = 1;
    while (shared && n < kAttendRows && r + n < layout.rows && layout.table_starts[r + n] == layout.table_starts[r] &&
           layout.positions[r + n] == layout.positions[r] + n)
      ++n;
    groups.emplace_back(r, n);
    r += n;
  }
  return groups;
}

}  // namespace

void attention(ThreadPool& pool, const AttentionShape& s, const AttentionVariant& v, const float* qkv,
               const StepLayout& layout, const PagedLayer& kv, float* out) {
  const int64_t D = s.head_dim, width = s.q_heads * D;
  const bool avx512 = use_avx512() && attend_avx512_supports(D);
  // Rows that share their keys are taken together (each row's result is what it gets alone), but
  // only without a window, where every row's keys start at position 0.
  const std::vector<std::pair<int64_t, int>> groups = row_groups(layout, avx512 && v.window == 0);
  pool.parallel_for(int64_t(groups.size()) * s.kv_heads, [&](int64_t task) {
    const auto [r0, rows] = groups[size_t(task / s.kv_heads)];
    const int64_t kv_head = task % s.kv_heads;
    const int64_t first = first_key(v, layout.positions[r0]);
    const int64_t count = int64_t(layout.positions[r0]) + 1 - first;
    const int64_t most = count + rows - 1;
    thread_local std::vector<float> scratch;
    if (scratch.size() < size_t(most * rows)) scratch.resize(size_t(most * rows));
    const HeadPages pages = head_pages(s, layout, kv, r0, kv_head);
    for (int64_t h = kv_head * s.group(); h < (kv_head + 1) * s.group(); ++h) {
      const float slope = v.slopes ? v.slopes[h] : 0.0f;
      const float* q[kAttendRows];
      float* dst[kAttendRows];
      float* scores[kAttendRows];
      for (int i = 0; i < rows; ++i) {
        q[i] = qkv + (r0 + i) * s.qkv_width() + h * D;
        dst[i] = out + (r0 + i) * width + h * D;
        scores[i] = scratch.data() + i * most;
      }
      if (avx512)
        attend_rows_avx512(rows, q, pages, first, count, v.scale, slope, scores, dst);
      else
        attend_one(q[0], pages, first, count, v.scale, slope, scores[0], dst[0]);
    }
  });
}

void attention_reference(const AttentionShape& s, const AttentionVariant& v, const float* qkv,
                         const StepLayout& layout, const PagedLayer& kv, float* out) {
  const int64_t D = s.head_dim, width = s.q_heads * D;
  std::vector<double> p;
  for (int64_t r = 0; r < layout.rows; ++r)
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const float* q = qkv + r * s.qkv_width() + h * D;
      const HeadPages pages = head_pages(s, layout, kv, r, h / s.group());
      const int64_t last = layout.positions[r];
      // Every position up to the row's own, masked outside its window as transformers masks it.
      const int64_t first = v.window > 0 ? last - v.window + 1 : 0;
      const double slope = v.slopes ? double(v.slopes[h]) : 0.0;
      p.assign(size_t(last + 1), 0.0);
      double max_score = -INFINITY, sum = 0.0;
      for (int64_t j = 0; j <= last; ++j) {
        if (j < first) continue;
        double dot = 0.0;
        for (int64_t d = 0; d < D; ++d) dot += double(q[d]) * double(pages.key(j)[d]);
        p[size_t(j)] = dot * double(v.scale) + slope * double(j - last);
        max_score = std::max(max_score, p[size_t(j)]);
      }
      for (int64_t j = std::max<int64_t>(first, 0); j <= last; ++j) sum += p[size_t(j)] = std::exp(p[size_t(j)] - max_score);
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0.0;
        for (int64_t j = std::max<int64_t>(first, 0); j <= last; ++j) acc += p[size_t(j)] * double(pages.value(j)[d]);
        out[r * width + h * D + d] = float(acc / sum);
      }
    }
}

}  // namespace gpt::cpu
