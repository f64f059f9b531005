#include "cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "cpu/isa.h"
#include "cpu/matmul_avx2.h"
#include "cpu/matmul_amx.h"
#include "cpu/matmul_avx512.h"
#include "cpu/matmul_finish.h"
#include "cpu/panels.h"
#include "cpu/tiles.h"
#include "cpu/widen.h"

namespace gpt::cpu {

namespace {

constexpr int kStrip = 32;  // columns of W per micro-kernel: two AVX-512 or four AVX2 registers
constexpr int kRows = 4;    // rows of `in` per micro-kernel call
constexpr int64_t kChunkRows = 64;    // rows of a panel widened at a time by matmul_panel
constexpr int64_t kPanelMaxRows = 32;  // up to this many rows, matmul_panel
constexpr int kVocabBlock = 64;

// acc[r][j] += Σ_k in[r][k] · w[k][j] over k < kc, for R rows (ldin apart) and a full strip of
// kStrip columns: each element's chain goes on from where acc left it, k in order, so a sum
// taken over chunks of k is the sum taken at once, bit for bit.
template <int R>
__attribute__((always_inline)) inline void strip_kernel(const float* in, int64_t ldin, int64_t kc, const float* w,
                                                        int64_t ldw, float (*acc)[kStrip]) {
  float a[R][kStrip];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kStrip; ++j) a[r][j] = acc[r][j];
  for (int64_t k = 0; k < kc; ++k) {
    const float* wk = w + k * ldw;
    for (int r = 0; r < R; ++r) {
      float x = in[r * ldin + k];
      for (int j = 0; j < kStrip; ++j) a[r][j] += x * wk[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kStrip; ++j) acc[r][j] = a[r][j];
}

// The same for a narrow last strip of `cols` < kStrip columns.
inline void tail_kernel(const float* in, int64_t rows, int64_t ldin, int64_t kc, const float* w, int64_t ldw, int cols,
                        float (*acc)[kStrip]) {
  for (int64_t r = 0; r < rows; ++r) {
    float a[kStrip];
    for (int j = 0; j < cols; ++j) a[j] = acc[r][j];
    for (int64_t k = 0; k < kc; ++k) {
      float x = in[r * ldin + k];
      for (int j = 0; j < cols; ++j) a[j] += x * w[k * ldw + j];
    }
    for (int j = 0; j < cols; ++j) acc[r][j] = a[j];
  }
}

// acc[r][j] += … for `nr` ≤ kRows rows of one strip of `cols` columns.
__attribute__((always_inline)) inline void accumulate(const float* in, int64_t nr, int64_t ldin, int64_t kc,
                                                      const float* w, int64_t ldw, int cols, float (*acc)[kStrip]) {
  if (cols < kStrip) return tail_kernel(in, nr, ldin, kc, w, ldw, cols, acc);
  switch (nr) {
    case 4: return strip_kernel<4>(in, ldin, kc, w, ldw, acc);
    case 3: return strip_kernel<3>(in, ldin, kc, w, ldw, acc);
    case 2: return strip_kernel<2>(in, ldin, kc, w, ldw, acc);
    default: return strip_kernel<1>(in, ldin, kc, w, ldw, acc);
  }
}

// Many rows: one strip of W (widened whole), every row against it, kRows at a time.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void matmul_strip(
    const float* in, int64_t rows, int64_t K, int64_t N, const float* w, int64_t ldw, int64_t col0, int cols,
    const float* scales, const WeightView& bias, Epilogue ep, float* out) {
  float acc[kRows][kStrip];
  float b[kStrip];
  bias_values(bias, col0, cols, b);
  for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
    int64_t nr = std::min<int64_t>(kRows, rows - r0);
    for (auto& row : acc) std::fill(row, row + kStrip, 0.0f);
    accumulate(in + r0 * K, nr, K, K, w, ldw, cols, acc);
    for (int64_t r = 0; r < nr; ++r) finish(acc[r], scales ? scales + col0 : nullptr, b, cols, ep, out, r0 + r, N, col0);
  }
}

// Few rows (decode, small batches): the task's block is a whole panel, read in chunks of
// kChunkRows of its rows, each one contiguous run widened at once, so that the weights stream
// from memory in order (strips of 32 columns read K short runs a panel's width apart, which the
// hardware prefetchers follow poorly: 3.5 GB/s of 21 on this AVX2 host, bench/NOTES.md §14). The
// accumulators of all its columns carry over from chunk to chunk: every element is the same
// chain as matmul_strip's, so the two paths agree bit for bit.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void matmul_panel(
    const float* in, int64_t rows, int64_t K, int64_t N, const WeightView& w, const ColumnBlock& panel,
    const WeightView& bias, Epilogue ep, float* out) {
  const int64_t width = panel.cols, strips = (width + kStrip - 1) / kStrip;
  const int64_t groups = (rows + kRows - 1) / kRows;
  thread_local std::vector<float> widened, sums;
  widened.resize(size_t(kChunkRows * width));
  sums.assign(size_t(strips * groups * kRows * kStrip), 0.0f);
  auto acc = [&](int64_t s, int64_t g) { return reinterpret_cast<float (*)[kStrip]>(sums.data() + (s * groups + g) * kRows * kStrip); };
  const size_t elem = dtype_size(w.dtype);
  for (int64_t k0 = 0; k0 < K; k0 += kChunkRows) {
    const int64_t kc = std::min<int64_t>(kChunkRows, K - k0);
    // The panel's rows k0 … k0 + kc − 1 lie one after another: one run of kc · width elements.
    const void* src = static_cast<const unsigned char*>(w.data) + size_t(panel.at + k0 * panel.ld) * elem;
    widen_block(w.dtype, src, 0, 1, int(kc * width), widened.data());
    for (int64_t s = 0; s < strips; ++s)
      for (int64_t g = 0; g < groups; ++g)
        accumulate(in + g * kRows * K + k0, std::min<int64_t>(kRows, rows - g * kRows), K, kc, widened.data() + s * kStrip,
                   width, int(std::min<int64_t>(kStrip, width - s * kStrip)), acc(s, g));
  }
  float b[kStrip];
  for (int64_t s = 0; s < strips; ++s) {
    const int64_t col0 = panel.j0 + s * kStrip;
    const int cols = int(std::min<int64_t>(kStrip, width - s * kStrip));
    bias_values(bias, col0, cols, b);
    for (int64_t r = 0; r < rows; ++r)
      finish(acc(s, r / kRows)[r % kRows], w.scales ? w.scales + col0 : nullptr, b, cols, ep, out, r, N, col0);
  }
}

// Σ_c x[c] · y[c] with independent partial sums, so the loop vectorises without -ffast-math.
__attribute__((always_inline)) inline float dot(const float* x, const float* y, int64_t n) {
  float part[16] = {};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16)
    for (int j = 0; j < 16; ++j) part[j] += x[c + j] * y[c + j];
  float s = 0.0f;
  for (int j = 0; j < 16; ++j) s += part[j];
  for (; c < n; ++c) s += x[c] * y[c];
  return s;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void lm_head_block(
    const float* in, int64_t rows, int64_t C, int64_t V, const float* wrows, int64_t v0, int nv, float* logits) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * C;
    for (int i = 0; i < nv; ++i) logits[r * V + v0 + i] = dot(x, wrows + int64_t(i) * C, C);
  }
}

}  // namespace

void matmul(ThreadPool& pool, const float* in, int64_t rows, const WeightView& w, const WeightView& bias,
            Epilogue epilogue, float* out) {
  if (w.tiles) return matmul_amx(pool, in, rows, w, bias, epilogue, out);
  if (use_avx512()) return matmul_avx512(pool, in, rows, w, bias, epilogue, out);
  if (rows == 1 && use_avx2()) return gemv_avx2(pool, in, w, bias, epilogue, out);
  const int64_t K = w.shape[0], N = w.shape[1];
  if (rows <= kPanelMaxRows) {
    const std::vector<ColumnBlock> panels = column_blocks(w, w.panel_size());
    pool.parallel_for(int64_t(panels.size()), [&](int64_t p) {
      matmul_panel(in, rows, K, N, w, panels[size_t(p)], bias, epilogue, out);
    });
    return;
  }
  const std::vector<ColumnBlock> strips = column_blocks(w, kStrip);
  const bool direct = w.dtype == DType::F32;
  pool.parallel_for(int64_t(strips.size()), [&](int64_t s) {
    const ColumnBlock& b = strips[size_t(s)];
    const int cols = int(b.cols);
    thread_local std::vector<float> widened;
    const float* wf;
    int64_t ldw;
    if (direct) {
      wf = static_cast<const float*>(w.data) + b.at;
      ldw = b.ld;
    } else {
      widened.resize(size_t(K) * kStrip);
      const void* src = static_cast<const unsigned char*>(w.data) + b.at * int64_t(dtype_size(w.dtype));
      widen_block(w.dtype, src, b.ld, int(K), cols, widened.data());
      wf = widened.data();
      ldw = cols;
    }
    matmul_strip(in, rows, K, N, wf, ldw, b.j0, cols, w.scales, bias, epilogue, out);
  });
}

void matmul_reference(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
                      float* out) {
  const int64_t K = w.shape[0], N = w.shape[1];
  std::vector<float> sums(static_cast<size_t>(N)), b(static_cast<size_t>(N));
  bias_values(bias, 0, N, b.data());
  // Tiled weights are compute "bfloat16": the inputs are rounded as the tiles' are (cpu/tiles.h).
  auto input = [&](int64_t i) { return w.tiles ? bf16_to_f32(bf16_flushed(in[i])) : in[i]; };
  for (int64_t m = 0; m < rows; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += double(input(m * K + k)) * double(w.at(w.offset(k, n)));
      sums[size_t(n)] = float(w.scales ? acc * double(w.scales[n]) : acc);
    }
    finish(sums.data(), nullptr, b.data(), N, epilogue, out, m, N, 0);
  }
}

void lm_head(ThreadPool& pool, const float* in, int64_t rows, const WeightView& wte, float* logits) {
  if (use_avx512()) return lm_head_avx512(pool, in, rows, wte, logits);
  const int64_t V = wte.shape[0], C = wte.shape[1];
  const int64_t blocks = (V + kVocabBlock - 1) / kVocabBlock;
  pool.parallel_for(blocks, [&](int64_t blk) {
    const int64_t v0 = blk * kVocabBlock;
    const int nv = int(std::min<int64_t>(kVocabBlock, V - v0));
    thread_local std::vector<float> widened;
    const float* wrows;
    if (wte.dtype == DType::F32) {
      wrows = static_cast<const float*>(wte.data) + v0 * C;
    } else {
      widened.resize(size_t(kVocabBlock) * C);
      const void* src = static_cast<const unsigned char*>(wte.data) + v0 * C * int64_t(dtype_size(wte.dtype));
      widen_block(wte.dtype, src, C, nv, int(C), widened.data());
      wrows = widened.data();
    }
    lm_head_block(in, rows, C, V, wrows, v0, nv, logits);
  });
}

void lm_head_reference(const float* in, int64_t rows, const WeightView& wte, float* logits) {
  const int64_t V = wte.shape[0], C = wte.shape[1];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < V; ++v) {
      double acc = 0.0;
      for (int64_t c = 0; c < C; ++c) acc += double(in[r * C + c]) * double(wte.at(v * C + c));
      logits[r * V + v] = float(acc);
    }
}

}  // namespace gpt::cpu
