// AVX-512 causal attention for one (row, head) pair, head_dim a multiple of 16 up to 128: the
// query lives in registers, scores are sixteen keys at a time (their horizontal sums in one tree), the softmax uses the vectorised exp,
// and the weighted sum of values keeps two sets of accumulators. Keys and values are read through
// the row's block table (HeadPages), from the first key of the row's window (all of them without
// one); the order of every sum depends only on the number of keys. Same contract as the
// generic attend_one in cpu/attention.cpp; tests/ops.test.ts checks it against attention_reference.
#include "cpu/attention_avx512.h"

#include <algorithm>
#include <cmath>

#include "cpu/simd_avx512.h"

namespace gpt::cpu {

namespace {

using namespace avx512;

// The 16 lane sums of v[0] … v[15], lane k of the result the sum of v[k]'s lanes: a transposing
// tree, a quarter of the shuffles of 16 horizontal sums — pairs of vectors' halves, then quarters,
// then pairs and single lanes within 128-bit lanes, and a final permutation into key order.
GPT_AVX512_INLINE __m512 reduce16(const __m512 (&v)[16]) {
  __m512 half[8], quarter[4], pair[2];
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m)  // [v2m lanes i + i+8 | v2m+1 lanes i + i+8], i < 8
    half[m] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * m], v[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)),
                            _mm512_shuffle_f32x4(v[2 * m], v[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)));
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m)  // 128-bit lane t: v4m+t's four partial sums
    quarter[m] = _mm512_add_ps(_mm512_shuffle_f32x4(half[2 * m], half[2 * m + 1], _MM_SHUFFLE(3, 1, 3, 1)),
                               _mm512_shuffle_f32x4(half[2 * m], half[2 * m + 1], _MM_SHUFFLE(2, 0, 2, 0)));
#pragma GCC unroll 2
  for (int m = 0; m < 2; ++m)  // 128-bit lane t: v8m+t's two, then v8m+4+t's two
    pair[m] = _mm512_add_ps(_mm512_shuffle_ps(quarter[2 * m], quarter[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_ps(quarter[2 * m], quarter[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Lane 4t + u: the sum of v[4u + t].
  const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(pair[0], pair[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm512_shuffle_ps(pair[0], pair[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_ps(order, sums);
}

// One query's state: its vectors, its keys' count, its scores (scratch for `count` floats), and
// the max of the scores so far.
template <int NQ>
struct Query {
  __m512 q[NQ];
  int64_t count;
  float* scores;
  __m512 vmax;
};

template <int NQ>
GPT_AVX512_INLINE void load_query(const float* q, int64_t count, float* scores, Query<NQ>& out) {
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) out.q[i] = _mm512_loadu_ps(q + 16 * i);
  out.count = count;
  out.scores = scores;
  out.vmax = _mm512_set1_ps(-INFINITY);
}

// Scores of keys j … j + 15 (those below the query's count): each key's dot product one chain over
// d, its 16 lanes summed by reduce16, then scale and the ALiBi term. Every key gets the same
// arithmetic wherever it falls and whichever other queries share the pass, so a row's scores
// depend only on its own keys.
template <int NQ>
GPT_AVX512_INLINE void score16(const HeadPages& pages, int64_t first, int64_t j, float scale, float slope, Query<NQ>& Q) {
  const int n = int(std::min<int64_t>(16, Q.count - j));
  __m512 a[16];
#pragma GCC unroll 16
  for (int u = 0; u < 16; ++u) {
    if (u < n) {
      const float* k = pages.key(first + j + u);
      a[u] = _mm512_mul_ps(Q.q[0], _mm512_loadu_ps(k));
#pragma GCC unroll 8
      for (int i = 1; i < NQ; ++i) a[u] = _mm512_fmadd_ps(Q.q[i], _mm512_loadu_ps(k + 16 * i), a[u]);
    } else {
      a[u] = _mm512_setzero_ps();  // never stored
    }
  }
  // Distance j + lane − (count − 1) from the query, exact in fp32 for any context we hold.
  const __m512 lane = _mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512 distance = _mm512_add_ps(lane, _mm512_set1_ps(float(j - (Q.count - 1))));
  const __m512 s = _mm512_fmadd_ps(reduce16(a), _mm512_set1_ps(scale), _mm512_mul_ps(_mm512_set1_ps(slope), distance));
  const __mmask16 m = tail_mask(n);
  _mm512_mask_storeu_ps(Q.scores + j, m, s);
  Q.vmax = _mm512_mask_max_ps(Q.vmax, m, Q.vmax, s);
}

// The scores become exp(score − max); returns 1 / their sum.
template <int NQ>
GPT_AVX512_INLINE float softmax_scores(Query<NQ>& Q) {
  const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(Q.vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t i = 0; i < Q.count; i += 16) {
    const __mmask16 m = tail_mask(Q.count - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, Q.scores + i), vmax));
    _mm512_mask_storeu_ps(Q.scores + i, m, e);
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
  }
  return 1.0f / _mm512_reduce_add_ps(vsum);
}

// The weighted values of key pairs (j, j + 1) for j from j0 (even) while j + 2 ≤ end: even keys
// into acc0, odd into acc1, each one chain in key order.
template <int NQ>
GPT_AVX512_INLINE void weigh_pairs(const HeadPages& pages, int64_t first, const float* p, int64_t j0, int64_t end,
                                   __m512 (&acc0)[NQ], __m512 (&acc1)[NQ]) {
  for (int64_t j = j0; j + 2 <= end; j += 2) {
    const __m512 p0 = _mm512_set1_ps(p[j]), p1 = _mm512_set1_ps(p[j + 1]);
    const float* v0 = pages.value(first + j);
    const float* v1 = pages.value(first + j + 1);
#pragma GCC unroll 8
    for (int i = 0; i < NQ; ++i) {
      acc0[i] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16 * i), acc0[i]);
      acc1[i] = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1 + 16 * i), acc1[i]);
    }
  }
}

// out = Σ_j p[j] · value(j) · inv over the query's keys, continuing acc0 / acc1 from key pair j0.
template <int NQ>
GPT_AVX512_INLINE void weigh_rest(const HeadPages& pages, int64_t first, const Query<NQ>& Q, int64_t j0, float inv,
                                  __m512 (&acc0)[NQ], __m512 (&acc1)[NQ], float* out) {
  weigh_pairs<NQ>(pages, first, Q.scores, j0, Q.count, acc0, acc1);
  if (Q.count % 2) {
    const __m512 p0 = _mm512_set1_ps(Q.scores[Q.count - 1]);
    const float* v = pages.value(first + Q.count - 1);
#pragma GCC unroll 8
    for (int i = 0; i < NQ; ++i) acc0[i] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v + 16 * i), acc0[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(_mm512_add_ps(acc0[i], acc1[i]), _mm512_set1_ps(inv)));
}

template <int NQ>
GPT_AVX512 void attend(const float* q, const HeadPages& pages, int64_t first, int64_t count, float scale, float slope,
                       float* scores, float* out) {
  Query<NQ> Q;
  load_query<NQ>(q, count, scores, Q);
  for (int64_t j = 0; j < count; j += 16) score16<NQ>(pages, first, j, scale, slope, Q);
  const float inv = softmax_scores<NQ>(Q);
  __m512 acc0[NQ], acc1[NQ];
#pragma GCC unroll 8
  for (int i = 0; i < NQ; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  weigh_rest<NQ>(pages, first, Q, 0, inv, acc0, acc1, out);
}

// Keys per shared pass of attend_rows: each pass's keys and values (16 × 2 · D floats) stay in
// L1 while every query of the group takes them.
constexpr int64_t kSharedKeys = 16;

// attend for R queries of one head whose keys are positions first … first + count_r − 1 with
// count_r = count_0 + r (a prompt's consecutive rows): the keys all of them read are read from
// memory once for the group, each query's arithmetic exactly attend's.
template <int NQ, int R>
GPT_AVX512 void attend_rows(const float* const* q, const HeadPages& pages, int64_t first, int64_t count0, float scale,
                            float slope, float* const* scores, float* const* out) {
  Query<NQ> Q[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) load_query<NQ>(q[r], count0 + r, scores[r], Q[r]);
  // Score groups every query has whole, shared; then each query's own last ones.
  const int64_t shared = count0 / 16 * 16;
  for (int64_t j = 0; j < shared; j += 16)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) score16<NQ>(pages, first, j, scale, slope, Q[r]);
  float inv[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    for (int64_t j = shared; j < Q[r].count; j += 16) score16<NQ>(pages, first, j, scale, slope, Q[r]);
    inv[r] = softmax_scores<NQ>(Q[r]);
  }
  // Key pairs every query has, shared in passes of kSharedKeys (the accumulators kept in memory
  // between passes: a store and a load change no value); then each query's own rest.
  __m512 acc0[R][NQ], acc1[R][NQ];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < NQ; ++i) acc0[r][i] = acc1[r][i] = _mm512_setzero_ps();
  const int64_t pairs = count0 / 2 * 2;
  for (int64_t j = 0; j < pairs; j += kSharedKeys)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) weigh_pairs<NQ>(pages, first, Q[r].scores, j, std::min(j + kSharedKeys, pairs), acc0[r], acc1[r]);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) weigh_rest<NQ>(pages, first, Q[r], pairs, inv[r], acc0[r], acc1[r], out[r]);
}

template <int R>
void attend_rows_any(const float* const* q, const HeadPages& pages, int64_t first, int64_t count0, float scale,
                     float slope, float* const* scores, float* const* out) {
  switch (pages.head_dim / 16) {
    case 1: attend_rows<1, R>(q, pages, first, count0, scale, slope, scores, out); break;
    case 2: attend_rows<2, R>(q, pages, first, count0, scale, slope, scores, out); break;
    case 3: attend_rows<3, R>(q, pages, first, count0, scale, slope, scores, out); break;
    case 4: attend_rows<4, R>(q, pages, first, count0, scale, slope, scores, out); break;
    case 5: attend_rows<5, R>(q, pages, first, count0, scale, slope, scores, out); break;
    case 6: attend_rows<6, R>(q, pages, first, count0, scale, slope, scores, out); break;
    case 7: attend_rows<7, R>(q, pages, first, count0, scale, slope, scores, out); break;
    default: attend_rows<8, R>(q, pages, first, count0, scale, slope, scores, out); break;
  }
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

void attend_rows_avx512(int rows, const float* const* q, const HeadPages& pages, int64_t first, int64_t count0,
                        float scale, float slope, float* const* scores, float* const* out) {
  switch (rows) {
    case 4: attend_rows_any<4>(q, pages, first, count0, scale, slope, scores, out); break;
    case 3: attend_rows_any<3>(q, pages, first, count0, scale, slope, scores, out); break;
    case 2: attend_rows_any<2>(q, pages, first, count0, scale, slope, scores, out); break;
    default: attend_avx512(q[0], pages, first, count0, scale, slope, scores[0], out[0]); break;
  }
}

}  // namespace gpt::cpu
