// AVX-512 matmul and LM head. Same contracts as cpu::matmul / cpu::lm_head (cpu/matmul.h); the
// weights stay in their dtype, widened to fp32 in registers (F16: vcvtph2ps, BF16: a 16-bit
// shift, I8: vpmovsxbd + vcvtdq2ps, each column's sum then times its scale: cpu/quantize.h), and
// in their layout: matrices [K, N] in column panels (cpu/panels.h), each block of
// columns a kernel takes lying in one panel, wte [V, C] row-major.
//
// Batch invariance: every output element is one fma chain over k = 0 … K − 1 starting from zero,
// then × its column's scale (I8), then + bias, then the epilogue — whatever the number of rows, the row's place in the call, or
// the thread count. So a sequence's logits do not depend on what else is in its batch.
//
// One row (decode) is a matrix-vector product, bound by memory bandwidth: a task owns a block of
// up to 256 columns, keeps their accumulators in registers and streams the K rows of W past them.
//
// Up to 32 rows (batched decode, short prompt chunks): a task owns 64 columns and streams W past
// 4 × 4 register accumulators for each group of 4 rows, W widened in registers as it comes.
//
// More rows (prefill) is a GEMM: a task packs a strip of 32 columns of W as fp32 [K][32] (kept for
// the next task on the same strip), then runs a 12 × 32 register-blocked micro-kernel (24 zmm
// accumulators) over a chunk of rows, with the epilogue fused into the store.
//
// Tested against matmul_reference / lm_head_reference by tests/ops.test.ts.
#include "cpu/matmul_avx512.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "cpu/epilogue_avx512.h"
#include "cpu/panels.h"
#include "cpu/simd_avx512.h"

namespace gpt::cpu {

namespace {

using namespace avx512;

constexpr int kMr = 12;               // rows per GEMM micro-tile
constexpr int kNr = 32;               // columns per GEMM strip: two zmm
constexpr int64_t kRowChunk = 8 * kMr;  // rows per GEMM task
constexpr int kVocabBlock = 64;       // LM head rows of wte per task
// Half-precision weights stream faster with a software prefetch eight rows ahead (measured:
// 15 → 21 GB/s for the layer matrices, 8 → 16 GB/s for the LM head); fp32 ones do not (28 → 23).
template <DType D>
constexpr bool kPrefetch = D != DType::F32;
// Rows ahead: 8 for 16-bit weights (16 and 32 were no better within the noise); int8 rows are
// half as long, so twice as many, the same bytes ahead (int8 decode of GPT-2 186 -> 212 tok/s on
// an AMX host, bench/NOTES.md §15).
template <DType D>
constexpr int64_t kAhead = D == DType::I8 ? 16 : 8;

// Asks for the cache line holding element i of `base`.
template <DType D>
GPT_AVX512_INLINE void prefetch(const void* base, int64_t i) {
  _mm_prefetch(static_cast<const char*>(base) + i * int64_t(dtype_size(D)), _MM_HINT_T0);
}

// ---------------------------------------------------------------------------------------------
// One row: matrix-vector product

// out[j0 : j0 + 16·NV] = epilogue(Σ_k x[k] · W[k, j] + bias[j]): the accumulators of 16·NV
// columns live in registers while the K rows of W stream past, each column one fma chain over
// k = 0 … K − 1 from zero — exactly gemm_tile's chain, so a row's result does not depend on how
// many rows the call has. `tail` masks the last vector (a narrow last block).
template <DType D, int NV>
GPT_AVX512 void gemv_block(const float* x, const void* w, const float* scales, int64_t K, const ColumnBlock& b,
                           __mmask16 tail, const WeightView& bias, Epilogue ep, float* out) {
  const int64_t j0 = b.j0;
  __m512 acc[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 xk = _mm512_set1_ps(x[k]);
    const int64_t row = b.at + k * b.ld;
    if (kPrefetch<D> && k + kAhead<D> < K)
#pragma GCC unroll 16
      for (int v = 0; v < NV; v += 64 / (16 * int(dtype_size(D)))) prefetch<D>(w, row + kAhead<D> * b.ld + 16 * v);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const __m512 wv = v + 1 < NV ? load16<D>(w, row + 16 * v) : load16_masked<D>(w, row + 16 * v, tail);
      acc[v] = _mm512_fmadd_ps(xk, wv, acc[v]);
    }
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    const __mmask16 m = v + 1 < NV ? __mmask16(0xffff) : tail;
    finish16(scaled_plus(acc[v], scales, j0 + 16 * v, m, load_bias(bias, j0 + 16 * v, m)), ep, out,
             j0 + 16 * v, m);
  }
}

template <DType D>
void gemv_block_any(int vectors, const float* x, const void* w, const float* scales, int64_t K, const ColumnBlock& b,
                    __mmask16 tail, const WeightView& bias, Epilogue ep, float* out) {
  switch (vectors) {
    case 16: gemv_block<D, 16>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 15: gemv_block<D, 15>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 14: gemv_block<D, 14>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 13: gemv_block<D, 13>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 12: gemv_block<D, 12>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 11: gemv_block<D, 11>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 10: gemv_block<D, 10>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 9: gemv_block<D, 9>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 8: gemv_block<D, 8>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 7: gemv_block<D, 7>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 6: gemv_block<D, 6>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 5: gemv_block<D, 5>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 4: gemv_block<D, 4>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 3: gemv_block<D, 3>(x, w, scales, K, b, tail, bias, ep, out); break;
    case 2: gemv_block<D, 2>(x, w, scales, K, b, tail, bias, ep, out); break;
    default: gemv_block<D, 1>(x, w, scales, K, b, tail, bias, ep, out); break;
  }
}

// Columns per task at most: 16 zmm accumulators. A task is one panel (cpu/panels.h sizes them to
// at most this and to balance the threads), streamed from memory in one run.
constexpr int64_t kGemvColumns = 256;

void gemv(ThreadPool& pool, const float* x, const WeightView& w, const WeightView& bias, Epilogue ep, float* out) {
  const int64_t K = w.shape[0];
  // Columns are independent, so how they are split over tasks and threads changes no result.
  const std::vector<ColumnBlock> blocks = column_blocks(w, kGemvColumns);
  pool.parallel_for(int64_t(blocks.size()), [&](int64_t i) {
    const ColumnBlock& b = blocks[size_t(i)];
    const int vectors = int((b.cols + 15) / 16);
    const __mmask16 tail = tail_mask(b.cols - 16 * (vectors - 1));
    switch (w.dtype) {
      case DType::F32: gemv_block_any<DType::F32>(vectors, x, w.data, nullptr, K, b, tail, bias, ep, out); break;
      case DType::F16: gemv_block_any<DType::F16>(vectors, x, w.data, nullptr, K, b, tail, bias, ep, out); break;
      case DType::BF16: gemv_block_any<DType::BF16>(vectors, x, w.data, nullptr, K, b, tail, bias, ep, out); break;
      case DType::I8: gemv_block_any<DType::I8>(vectors, x, w.data, w.scales, K, b, tail, bias, ep, out); break;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// A few rows (batched decode, short chunks): the same sweep for up to 4 rows at once, without
// packing: each k-row of a 64-column block of W is widened in registers once for all of them

// Rows per register tile and zmm of columns per task: 4 × 4 accumulators over 64 columns. Tiles of
// 6 × 4, 8 × 2 and 8 × 3 were no faster (bench/NOTES.md §8).
constexpr int kDirectRows = 4;
constexpr int kDirectVectors = 4;
// Rows of W ahead that the direct kernel prefetches: its k-steps are short (16 fmas), so 8 rows
// ahead (gemv's distance) is far too close to hide DRAM latency; 64 halved its time at 4 rows,
// 32 and 128 were slower (bench/NOTES.md §8).
constexpr int64_t kDirectAhead = 64;

// out[r0 + r, j0 : j0 + 16·kDirectVectors] for r < R, each element the same fma chain over k as
// gemv_block and gemm_tile: W's block is widened in registers once per k for all R rows. With
// kTail the block is the narrow last one: `masks` says which lanes of each vector exist.
template <DType D, int R, bool kTail>
GPT_AVX512 void direct_tile(const float* x, const void* w, const float* scales, int64_t K, const ColumnBlock& b, int64_t N,
                            const __mmask16 (&masks)[kDirectVectors], const WeightView& bias, Epilogue ep, float* out,
                            int64_t r0) {
  const int64_t j0 = b.j0;
  constexpr int NV = kDirectVectors;
  constexpr int kLines = NV * 16 * int(dtype_size(D)) / 64;
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const int64_t row = b.at + k * b.ld;
    // Every cache line of the block's row, kDirectAhead rows ahead: the block's rows are a panel's
    // width apart, too far for the hardware prefetcher to follow a narrow block (fp32 weights
    // included, unlike gemv).
    if (k + kDirectAhead < K)
#pragma GCC unroll 8
      for (int l = 0; l < kLines; ++l) prefetch<D>(w, row + kDirectAhead * b.ld + l * 64 / int(dtype_size(D)));
    __m512 wv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) wv[v] = kTail ? load16_masked<D>(w, row + 16 * v, masks[v]) : load16<D>(w, row + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 xk = _mm512_set1_ps(x[r * K + k]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(xk, wv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    if (kTail && !masks[v]) break;
    const __mmask16 m = kTail ? masks[v] : __mmask16(0xffff);
    const __m512 bv = load_bias(bias, j0 + 16 * v, m);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      finish16(scaled_plus(acc[r][v], scales, j0 + 16 * v, m, bv), ep, out, (r0 + r) * N + j0 + 16 * v, m);
  }
}

// direct_tile for n ≤ R rows, from row r0 on.
template <DType D, bool kTail, int R = kDirectRows>
void direct_tile_rows(int n, const float* x, const void* w, const float* scales, int64_t K, const ColumnBlock& b,
                      int64_t N, const __mmask16 (&masks)[kDirectVectors], const WeightView& bias, Epilogue ep,
                      float* out, int64_t r0) {
  if constexpr (R == 1) {
    direct_tile<D, 1, kTail>(x, w, scales, K, b, N, masks, bias, ep, out, r0);
  } else {
    if (n == R) return direct_tile<D, R, kTail>(x, w, scales, K, b, N, masks, bias, ep, out, r0);
    direct_tile_rows<D, kTail, R - 1>(n, x, w, scales, K, b, N, masks, bias, ep, out, r0);
  }
}

template <DType D, bool kTail>
void direct_rows(const float* x, int64_t rows, const void* w, const float* scales, int64_t K, const ColumnBlock& b,
                 int64_t N, const __mmask16 (&masks)[kDirectVectors], const WeightView& bias, Epilogue ep, float* out) {
  for (int64_t r0 = 0; r0 < rows; r0 += kDirectRows)
    direct_tile_rows<D, kTail>(int(std::min<int64_t>(kDirectRows, rows - r0)), x + r0 * K, w, scales, K, b, N, masks,
                               bias, ep, out, r0);
}

template <DType D>
void direct_block(const float* x, int64_t rows, const void* w, const float* scales, int64_t K, const ColumnBlock& b,
                  int64_t N, const WeightView& bias, Epilogue ep, float* out) {
  __mmask16 masks[kDirectVectors];
  bool tail = false;
  for (int v = 0; v < kDirectVectors; ++v) {
    masks[v] = tail_mask(std::max<int64_t>(0, b.cols - 16 * v));
    tail = tail || masks[v] != 0xffff;
  }
  if (tail)
    direct_rows<D, true>(x, rows, w, scales, K, b, N, masks, bias, ep, out);
  else
    direct_rows<D, false>(x, rows, w, scales, K, b, N, masks, bias, ep, out);
}

void direct(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue ep,
            float* out) {
  const int64_t K = w.shape[0], N = w.shape[1];
  const std::vector<ColumnBlock> blocks = column_blocks(w, 16 * kDirectVectors);
  pool.parallel_for(int64_t(blocks.size()), [&](int64_t i) {
    const ColumnBlock& b = blocks[size_t(i)];
    switch (w.dtype) {
      case DType::F32: direct_block<DType::F32>(in, rows, w.data, nullptr, K, b, N, bias, ep, out); break;
      case DType::F16: direct_block<DType::F16>(in, rows, w.data, nullptr, K, b, N, bias, ep, out); break;
      case DType::BF16: direct_block<DType::BF16>(in, rows, w.data, nullptr, K, b, N, bias, ep, out); break;
      case DType::I8: direct_block<DType::I8>(in, rows, w.data, w.scales, K, b, N, bias, ep, out); break;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Several rows: GEMM over packed strips

// dst[K][32] = fp32 columns of the block (at most 32), zero beyond its `cols`.
template <DType D>
GPT_AVX512 void pack_strip(const void* w, int64_t K, const ColumnBlock& b, float* dst) {
  const int cols = int(b.cols);
  const __mmask16 m0 = tail_mask(cols), m1 = tail_mask(std::max(0, cols - 16));
  for (int64_t k = 0; k < K; ++k) {
    const int64_t at = b.at + k * b.ld;
    _mm512_storeu_ps(dst + k * kNr, load16_masked<D>(w, at, m0));
    _mm512_storeu_ps(dst + k * kNr + 16, m1 ? load16_masked<D>(w, at + 16, m1) : _mm512_setzero_ps());
  }
}

// The MR rows × cols elements from offset `at` of the full-width result (rows N apart) =
// epilogue(a[MR, K] · b[K, 32] + bias), b packed by pack_strip.
template <int MR>
GPT_AVX512 void gemm_tile(const float* a, int64_t K, const float* b, const float* scales, int64_t col0,
                          const __m512 (&bias)[2], int cols, Epilogue ep, float* out, int64_t at, int64_t N) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b + k * kNr), b1 = _mm512_loadu_ps(b + k * kNr + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * K + k]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
  }
  const __mmask16 m0 = tail_mask(cols), m1 = tail_mask(std::max(0, cols - 16));
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    finish16(scaled_plus(c0[r], scales, col0, m0, bias[0]), ep, out, at + r * N, m0);
    if (m1) finish16(scaled_plus(c1[r], scales, col0 + 16, m1, bias[1]), ep, out, at + r * N + 16, m1);
  }
}

GPT_AVX512 void gemm_rows(const float* a, int64_t rows, int64_t K, const float* packed, const float* scales,
                          const WeightView& bias, int64_t col0, int cols, Epilogue ep, float* out, int64_t row0,
                          int64_t N) {
  const __mmask16 m0 = tail_mask(cols), m1 = tail_mask(std::max(0, cols - 16));
  const __m512 bv[2] = {load_bias(bias, col0, m0), m1 ? load_bias(bias, col0 + 16, m1) : _mm512_setzero_ps()};
  for (int64_t r0 = 0; r0 < rows; r0 += kMr) {
    const float* x = a + r0 * K;
    const int64_t at = (row0 + r0) * N + col0;
    switch (std::min<int64_t>(kMr, rows - r0)) {
      case 12: gemm_tile<12>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 11: gemm_tile<11>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 10: gemm_tile<10>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 9: gemm_tile<9>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 8: gemm_tile<8>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 7: gemm_tile<7>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 6: gemm_tile<6>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 5: gemm_tile<5>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 4: gemm_tile<4>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 3: gemm_tile<3>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      case 2: gemm_tile<2>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
      default: gemm_tile<1>(x, K, packed, scales, col0, bv, cols, ep, out, at, N); break;
    }
  }
}

std::atomic<uint64_t> gemm_calls{0};

void gemm(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
          Epilogue ep, float* out) {
  const int64_t K = w.shape[0], N = w.shape[1];
  const std::vector<ColumnBlock> blocks = column_blocks(w, kNr);
  const int64_t strips = int64_t(blocks.size());
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  // A thread that takes the next chunk of the strip it packed last reuses the packing; the call
  // number keeps a strip of an earlier call (maybe another weight at the same address) apart.
  const uint64_t call = gemm_calls.fetch_add(1, std::memory_order_relaxed) + 1;
  pool.parallel_for(strips * chunks, [&](int64_t task) {
    const int64_t s = task / chunks, c = task % chunks;
    const ColumnBlock& b = blocks[size_t(s)];
    const int64_t col0 = b.j0, r0 = c * kRowChunk;
    const int cols = int(b.cols);
    thread_local std::vector<float> packed;
    thread_local uint64_t packed_call = 0;
    thread_local int64_t packed_strip = -1;
    if (packed_call != call || packed_strip != s) {
      packed.resize(size_t(K) * kNr);
      switch (w.dtype) {
        case DType::F32: pack_strip<DType::F32>(w.data, K, b, packed.data()); break;
        case DType::F16: pack_strip<DType::F16>(w.data, K, b, packed.data()); break;
        case DType::BF16: pack_strip<DType::BF16>(w.data, K, b, packed.data()); break;
        case DType::I8: pack_strip<DType::I8>(w.data, K, b, packed.data()); break;
      }
      packed_call = call;
      packed_strip = s;
    }
    gemm_rows(in + r0 * K, std::min(kRowChunk, rows - r0), K, packed.data(), w.scales, bias, col0, cols, ep, out, r0,
              N);
  });
}

// ---------------------------------------------------------------------------------------------
// LM head: logits = in · wteᵀ, wte [V, C] row-major

// logits[r, v0 + i] for i < nv: eight vocabulary rows at a time, one accumulator each.
template <DType D>
GPT_AVX512 void lm_head_block(const float* in, int64_t rows, int64_t C, int64_t V, const void* w, int64_t v0,
                              int nv, float* logits) {
  const int64_t full = C & ~int64_t(15);
  const __mmask16 tail = tail_mask(C - full);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * C;
    float* dst = logits + r * V + v0;
    int i = 0;
    for (; i + 8 <= nv; i += 8) {
      const int64_t base = (v0 + i) * C;
      const bool prefetch_rows = v0 + i + 16 <= V;
      __m512 acc[8];
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) acc[u] = _mm512_setzero_ps();
      for (int64_t c = 0; c < full; c += 16) {
        const __m512 xv = _mm512_loadu_ps(x + c);
#pragma GCC unroll 8
        for (int u = 0; u < 8; ++u) {
          if (kPrefetch<D> && prefetch_rows) prefetch<D>(w, base + (8 + u) * C + c);
          acc[u] = _mm512_fmadd_ps(load16<D>(w, base + u * C + c), xv, acc[u]);
        }
      }
      if (tail) {
        const __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
#pragma GCC unroll 8
        for (int u = 0; u < 8; ++u)
          acc[u] = _mm512_fmadd_ps(load16_masked<D>(w, base + u * C + full, tail), xv, acc[u]);
      }
#pragma GCC unroll 8
      for (int u = 0; u < 8; ++u) dst[i + u] = _mm512_reduce_add_ps(acc[u]);
    }
    for (; i < nv; ++i) {
      const int64_t base = (v0 + i) * C;
      __m512 acc = _mm512_setzero_ps();
      for (int64_t c = 0; c < C; c += 16) {
        const __mmask16 m = tail_mask(C - c);
        acc = _mm512_fmadd_ps(load16_masked<D>(w, base + c, m), _mm512_maskz_loadu_ps(m, x + c), acc);
      }
      dst[i] = _mm512_reduce_add_ps(acc);
    }
  }
}

// One 16-lane piece at column c of lm_head_tile's products (masked: the last, narrow piece);
// with `ahead`, it also prefetches the next tile's rows at this column.
template <DType D, int R, bool kMasked>
GPT_AVX512_INLINE void lm_head_piece(const float* in, int64_t C, const void* w, int64_t v, int64_t c, __mmask16 tail,
                                     bool ahead, __m512 (&acc)[R][4]) {
  __m512 xv[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) xv[r] = kMasked ? _mm512_maskz_loadu_ps(tail, in + r * C + c) : _mm512_loadu_ps(in + r * C + c);
#pragma GCC unroll 4
  for (int u = 0; u < 4; ++u) {
    if (ahead) prefetch<D>(w, (v + 4 + u) * C + c);
    const __m512 wv = kMasked ? load16_masked<D>(w, (v + u) * C + c, tail) : load16<D>(w, (v + u) * C + c);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r][u] = _mm512_fmadd_ps(wv, xv[r], acc[r][u]);
  }
}

// logits[r, v … v + 3] for r < R: the same dot products as lm_head_block (one 16-lane fma chain
// over C per logit, then a horizontal sum), four vocabulary rows by R input rows at a time, so
// that each piece of wte is widened once for all R rows.
template <DType D, int R>
GPT_AVX512 void lm_head_tile(const float* in, int64_t C, int64_t V, const void* w, int64_t v, bool ahead,
                             float* logits) {
  const int64_t full = C & ~int64_t(15);
  const __mmask16 tail = tail_mask(C - full);
  __m512 acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) acc[r][u] = _mm512_setzero_ps();
  for (int64_t c = 0; c < full; c += 16) lm_head_piece<D, R, false>(in, C, w, v, c, tail, ahead, acc);
  if (tail) lm_head_piece<D, R, true>(in, C, w, v, full, tail, ahead, acc);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) logits[r * V + v + u] = _mm512_reduce_add_ps(acc[r][u]);
}

// logits[:, v0 … v0 + nv − 1] for more than one row: tiles of four vocabulary rows by up to four
// input rows, and lm_head_block's loop for the vocabulary rows that do not fill a tile.
template <DType D>
void lm_head_rows(const float* in, int64_t rows, int64_t C, int64_t V, const void* w, int64_t v0, int nv,
                  float* logits) {
  const int tiled = nv & ~3;
  for (int64_t r0 = 0; r0 < rows; r0 += 4) {
    const float* x = in + r0 * C;
    float* out = logits + r0 * V;
    for (int i = 0; i < tiled; i += 4) {
      // The first group of rows brings the block in from memory: it prefetches the next tile.
      const bool ahead = kPrefetch<D> && r0 == 0 && v0 + i + 8 <= V;
      switch (std::min<int64_t>(4, rows - r0)) {
        case 4: lm_head_tile<D, 4>(x, C, V, w, v0 + i, ahead, out); break;
        case 3: lm_head_tile<D, 3>(x, C, V, w, v0 + i, ahead, out); break;
        case 2: lm_head_tile<D, 2>(x, C, V, w, v0 + i, ahead, out); break;
        default: lm_head_tile<D, 1>(x, C, V, w, v0 + i, ahead, out); break;
      }
    }
  }
  if (tiled < nv) lm_head_block<D>(in, rows, C, V, w, v0 + tiled, nv - tiled, logits);
}

GPT_AVX512 void activation_run(Epilogue ep, const float* x, int64_t n, float* out) {
  // kResidual adds into out, which holds nothing here: it stores, as kStore does.
  if (ep == Epilogue::kResidual) ep = Epilogue::kStore;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    finish16(_mm512_maskz_loadu_ps(m, x + i), ep, out, i, m);
  }
}

}  // namespace

// Up to this many rows the unpacked kernel is faster; past about 64 the packed GEMM catches up
// (bench/NOTES.md §8). Both sum in the same order, so the choice changes no result.
constexpr int64_t kDirectMaxRows = 32;

void matmul_avx512(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
                   Epilogue epilogue, float* out) {
  if (rows == 1)
    gemv(pool, in, w, bias, epilogue, out);
  else if (rows <= kDirectMaxRows)
    direct(pool, in, rows, w, bias, epilogue, out);
  else
    gemm(pool, in, rows, w, bias, epilogue, out);
}

void lm_head_avx512(ThreadPool& pool, const float* in, int64_t rows, const WeightView& wte, float* logits) {
  const int64_t V = wte.shape[0], C = wte.shape[1];
  const int64_t blocks = (V + kVocabBlock - 1) / kVocabBlock;
  pool.parallel_for(blocks, [&](int64_t blk) {
    const int64_t v0 = blk * kVocabBlock;
    const int nv = int(std::min<int64_t>(kVocabBlock, V - v0));
    const bool one = rows == 1;
    switch (wte.dtype) {
      case DType::F32:
        one ? lm_head_block<DType::F32>(in, rows, C, V, wte.data, v0, nv, logits)
            : lm_head_rows<DType::F32>(in, rows, C, V, wte.data, v0, nv, logits);
        break;
      case DType::F16:
        one ? lm_head_block<DType::F16>(in, rows, C, V, wte.data, v0, nv, logits)
            : lm_head_rows<DType::F16>(in, rows, C, V, wte.data, v0, nv, logits);
        break;
      case DType::BF16:
        one ? lm_head_block<DType::BF16>(in, rows, C, V, wte.data, v0, nv, logits)
            : lm_head_rows<DType::BF16>(in, rows, C, V, wte.data, v0, nv, logits);
        break;
      case DType::I8: break;  // row-major token tables are never quantized (cpu/quantize.h)
    }
  });
}

void activation_avx512(Epilogue ep, const float* x, int64_t n, float* out) { activation_run(ep, x, n, out); }

}  // namespace gpt::cpu
