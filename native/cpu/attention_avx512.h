// The AVX-512 attention kernel (attention_avx512.cpp), called by cpu::attention when
// use_avx512() and attend_avx512_supports(head_dim) both hold.
#pragma once
#include <cstdint>

#include "cpu/attention.h"

namespace gpt::cpu {

bool attend_avx512_supports(int64_t head_dim);

// out[D] = softmax(scale · q · keysᵀ + slope · (j − last)) · values over positions
// j = first … first + count − 1 of `pages` (last = first + count − 1; slope 0 without ALiBi);
// `scores` is scratch for `count` floats.
void attend_avx512(const float* q, const HeadPages& pages, int64_t first, int64_t count, float scale, float slope,
                   float* scores, float* out);

// attend_avx512 for `rows` ≤ 4 queries of one head whose key counts are count0, count0 + 1, …
// (consecutive rows of a prompt: the same keys from `first`, one more each), query r's result
// bit for bit what attend_avx512 gives it alone; the keys they share are read once for all.
constexpr int kAttendRows = 4;
void attend_rows_avx512(int rows, const float* const* q, const HeadPages& pages, int64_t first, int64_t count0,
                        float scale, float slope, float* const* scores, float* const* out);

}  // namespace gpt::cpu
