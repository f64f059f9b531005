// AVX-512 causal attention for one (row, head) pair, head_dim a multiple of 16 up to 128: the
// query lives in registers, scores are four keys at a time, the softmax uses the vectorised exp,
// and the weighted sum of values keeps two sets of accumulators. Keys and values are read through
// the row's block table (HeadPages), from the first key of the row's window (all of them without
// one); the order of every sum depends only on the number of keys. Same contract as the
// generic attend_one in cpu/attention.cpp; tests/ops.test.ts checks it against attention_reference.
#include "cpu/attention_avx512.h"

#include <cmath>

#include "cpu/simd_avx512.h"

namespace gpt::cpu {

namespace {

using namespace avx512;

template <int NQ>
GPT_AVX512 void attend(const float* q, const HeadPages& pages, int64_t first, int64_t count, float scale, float slope,
                       float* scores, float* out) {
  // Key j of this call is position first + j, at distance j − (count − 1) from the query.
  const auto key = [&](int64_t j) { return pages.key(first + j); };
  const auto value = [&](int64_t j) { return pages.value(first + j); };
  const auto biased = [&](float dot, int64_t j) { return dot * scale + slope * float(j - (count - 1)); };
  __m512 qv[NQ];
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) qv[i] = _mm512_loadu_ps(q + 16 * i);

  float max_score = -INFINITY;
  int64_t j = 0;
  for (; j + 4 <= count; j += 4) {
    __m512 a[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      a[u] = _mm512_mul_ps(qv[0], _mm512_loadu_ps(key(j + u)));
#pragma GCC unroll 8
      for (int i = 1; i < NQ; ++i) a[u] = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(key(j + u) + 16 * i), a[u]);
    }
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const float s = biased(_mm512_reduce_add_ps(a[u]), j + u);
      scores[j + u] = s;
      max_score = s > max_score ? s : max_score;
    }
  }
  for (; j < count; ++j) {
    __m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(key(j)));
#pragma GCC unroll 8
    for (int i = 1; i < NQ; ++i) a = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(key(j) + 16 * i), a);
    const float s = biased(_mm512_reduce_add_ps(a), j);
    scores[j] = s;
    max_score = s > max_score ? s : max_score;
  }

  const __m512 vmax = _mm512_set1_ps(max_score);
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = tail_mask(count - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + i), vmax));
    _mm512_mask_storeu_ps(scores + i, m, e);
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));

  __m512 acc0[NQ], acc1[NQ];
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  j = 0;
  for (; j + 2 <= count; j += 2) {
    const __m512 p0 = _mm512_set1_ps(scores[j]), p1 = _mm512_set1_ps(scores[j + 1]);
#pragma GCC unroll 8
    for (int i = 0; i < NQ; ++i) {
      acc0[i] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(value(j) + 16 * i), acc0[i]);
      acc1[i] = _mm512_fmadd_ps(p1, _mm512_loadu_ps(value(j + 1) + 16 * i), acc1[i]);
    }
  }
  if (j < count) {
    const __m512 p0 = _mm512_set1_ps(scores[j]);
#pragma GCC unroll 8
    for (int i = 0; i < NQ; ++i) acc0[i] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(value(j) + 16 * i), acc0[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(_mm512_add_ps(acc0[i], acc1[i]), inv));
}

}  // namespace

bool attend_avx512_supports(int64_t head_dim) { return head_dim % 16 == 0 && head_dim >= 16 && head_dim <= 128; }

void attend_avx512(const float* q, const HeadPages& pages, int64_t first, int64_t count, float scale, float slope,
                   float* scores, float* out) {
  switch (pages.head_dim / 16) {
    case 1: attend<1>(q, pages, first, count, scale, slope, scores, out); break;
    case 2: attend<2>(q, pages, first, count, scale, slope, scores, out); break;
    case 3: attend<3>(q, pages, first, count, scale, slope, scores, out); break;
    case 4: attend<4>(q, pages, first, count, scale, slope, scores, out); break;
    case 5: attend<5>(q, pages, first, count, scale, slope, scores, out); break;
    case 6: attend<6>(q, pages, first, count, scale, slope, scores, out); break;
    case 7: attend<7>(q, pages, first, count, scale, slope, scores, out); break;
    default: attend<8>(q, pages, first, count, scale, slope, scores, out); break;
  }
}

}  // namespace gpt::cpu
