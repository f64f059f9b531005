// AMX tiles for compute "bfloat16" (cpu/matmul_amx.h).
//
// The input rows are rounded to bf16 into a buffer padded to whole tiles (16 rows, K to 32), then
// each task takes a group of 32 columns (two B tiles per k-step, streamed in one run) and up to
// 128 rows, two tiles of 16 rows at a time: 2 × 2 fp32 accumulator tiles, A in two tiles, B in two,
// the k-steps in blocks whose B stays in L1 for all the task's rows.
//
// Batch invariance: a row's 16-row tile holds whatever rows are around it (or zeros), but each
// element of the result is its own row's sum: the tile unit computes every row of a product apart,
// over the same k-steps in the same order from a zeroed tile, whichever tiles and tasks the rows
// land in. So one row alone (decode) and the same row among 500 (prefill) get the same bits, and
// the thread count changes nothing.
#include "cpu/matmul_amx.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/tile_layout.h"
#include "cpu/epilogue_avx512.h"
#include "cpu/isa.h"
#include "cpu/tile_config.h"

namespace gpt::cpu {

namespace {

using namespace avx512;

constexpr int64_t kTileRows = 16;
constexpr int64_t kRowChunk = 128;   // rows per task: each block of B is read from L1 by 4 pairs of row tiles
constexpr int64_t kBlockSteps = 8;   // k-steps per block: 16 KiB of B, 16 KiB of A per pair of row tiles

GPT_AMX void configure_tiles() { _tile_loadconfig(&kTileConfig); }

// dst[r][0 … Kp) = in[r][0 … K) rounded to bf16 (VCVTNEPS2BF16: to nearest even, subnormals
// flushed: cpu/tiles.h's bf16_flushed), zeros from K to Kp.
GPT_AMX void round_rows(const float* in, int64_t rows, int64_t K, int64_t Kp, uint16_t* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * K;
    uint16_t* d = dst + r * Kp;
    for (int64_t k = 0; k < Kp; k += 16) {
      const __mmask16 m = tail_mask(std::max<int64_t>(0, K - k));
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + k));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + k), reinterpret_cast<const __m256i&>(h));
    }
  }
}

// sums[32 rows (16 without kTwo)][32 columns] += a's rows · the group's columns over k-steps
// s0 … s1 − 1 (from zero when `fresh`): a's rows Kp bf16 apart, b the group's steps. The
// accumulators go through memory between calls: a store and a load change no value.
template <bool kTwo>
GPT_AMX void tile_product(const uint16_t* a, int64_t Kp, const uint16_t* b, int64_t s0, int64_t s1, bool fresh,
                          float* sums) {
  const int64_t lda = Kp * 2;
  constexpr int64_t ld = kTileGroup * 4;  // bytes between rows of sums
  if (fresh) {
    _tile_zero(0);
    _tile_zero(1);
    if (kTwo) {
      _tile_zero(2);
      _tile_zero(3);
    }
  } else {
    _tile_loadd(0, sums, ld);
    _tile_loadd(1, sums + 16, ld);
    if (kTwo) {
      _tile_loadd(2, sums + kTileRows * kTileGroup, ld);
      _tile_loadd(3, sums + kTileRows * kTileGroup + 16, ld);
    }
  }
  for (int64_t s = s0; s < s1; ++s) {
    _tile_loadd(4, a + s * kTileK, lda);
    if (kTwo) _tile_loadd(5, a + kTileRows * Kp + s * kTileK, lda);
    _tile_loadd(6, b + s * 2 * kTileElements, 64);
    _tile_loadd(7, b + s * 2 * kTileElements + kTileElements, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if (kTwo) {
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, sums, ld);
  _tile_stored(1, sums + 16, ld);
  if (kTwo) {
    _tile_stored(2, sums + kTileRows * kTileGroup, ld);
    _tile_stored(3, sums + kTileRows * kTileGroup + 16, ld);
  }
}

// Rows r0 … r0 + count − 1 (count ≤ kRowChunk) of the result for columns j0 … j0 + 31 (those
// below N). The k-steps go in blocks of kBlockSteps, each block of B (16 KiB) taken by every
// pair of row tiles while it is in L1; each element's sum still runs over the steps in order.
GPT_AMX void group_rows(const uint16_t* a, int64_t Kp, const uint16_t* b, int64_t r0, int64_t count, int64_t j0,
                        int64_t N, const WeightView& bias, Epilogue ep, float* out) {
  alignas(64) float sums[kRowChunk * kTileGroup];
  const __mmask16 m[2] = {tail_mask(std::max<int64_t>(0, N - j0)), tail_mask(std::max<int64_t>(0, N - j0 - 16))};
  const __m512 bv[2] = {load_bias(bias, j0, m[0]), m[1] ? load_bias(bias, j0 + 16, m[1]) : _mm512_setzero_ps()};
  const int64_t steps = Kp / kTileK;
  for (int64_t s0 = 0; s0 < steps; s0 += kBlockSteps) {
    const int64_t s1 = std::min(steps, s0 + kBlockSteps);
    for (int64_t r = 0; r < count; r += 2 * kTileRows) {
      const uint16_t* rows = a + (r0 + r) * Kp;
      if (count - r > kTileRows)
        tile_product<true>(rows, Kp, b, s0, s1, s0 == 0, sums + r * kTileGroup);
      else
        tile_product<false>(rows, Kp, b, s0, s1, s0 == 0, sums + r * kTileGroup);
    }
  }
  for (int64_t i = 0; i < count; ++i)
    for (int v = 0; v < 2 && m[v]; ++v)
      finish16(scaled_plus(_mm512_load_ps(sums + i * kTileGroup + 16 * v), nullptr, 0, m[v], bv[v]), ep, out,
               (r0 + i) * N + j0 + 16 * v, m[v]);
}

// One task: the tiles configured for this thread, used, and released (a thread holding tile state
// makes every context switch save 8 KiB more).
GPT_AMX void group_task(const uint16_t* a, int64_t Kp, const uint16_t* b, int64_t r0, int64_t count, int64_t j0,
                        int64_t N, const WeightView& bias, Epilogue ep, float* out) {
  configure_tiles();
  group_rows(a, Kp, b, r0, count, j0, N, bias, ep, out);
  _tile_release();
}

}  // namespace

void matmul_amx(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                Epilogue ep, float* out) {
  const int64_t K = w.shape[0], N = w.shape[1], Kp = tiles_padded(K);
  const int64_t padded_rows = (rows + kTileRows - 1) / kTileRows * kTileRows;
  // The calling thread's buffer, shared with the pool's threads through `a` (a thread_local named
  // inside the tasks would be each worker's own).
  thread_local std::vector<uint16_t> rounded;
  rounded.resize(size_t(padded_rows * Kp));
  uint16_t* a = rounded.data();
  pool.parallel_for(padded_rows / kTileRows, [&](int64_t t) {
    const int64_t r0 = t * kTileRows, n = std::min(kTileRows, rows - r0);
    round_rows(in + r0 * K, n, K, Kp, a + r0 * Kp);
    // The padding rows of the last tile: zeros (their sums are never stored, but they must be numbers).
    std::memset(a + (r0 + n) * Kp, 0, size_t((kTileRows - n) * Kp) * 2);
  });
  const int64_t groups = tiles_padded(N) / kTileGroup, chunks = (rows + kRowChunk - 1) / kRowChunk;
  const auto* b = static_cast<const uint16_t*>(w.data);
  pool.parallel_for(groups * chunks, [&](int64_t task) {
    const int64_t g = task / chunks, c = task % chunks;
    group_task(a, Kp, b + g * (Kp / kTileK) * 2 * kTileElements, c * kRowChunk, std::min(kRowChunk, rows - c * kRowChunk),
               g * kTileGroup, N, bias, ep, out);
  });
}

}  // namespace gpt::cpu
