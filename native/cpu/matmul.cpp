#include "cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "cpu/activation.h"
#include "cpu/isa.h"
#include "cpu/matmul_avx512.h"
#include "cpu/panels.h"
#include "cpu/widen.h"

namespace gpt::cpu {

namespace {

constexpr int kStrip = 32;  // columns of W per task: two AVX-512 or four AVX2 registers
constexpr int kRows = 4;    // rows of `in` per micro-kernel call
constexpr int kVocabBlock = 64;

// Stores the epilogue of y = acc + b for elements j … j + count − 1 of row `row` (count even
// for kSwiglu, j too), into out whose rows are epilogue_width(ep, N) wide.
inline void finish(const float* acc, const float* b, int64_t count, Epilogue ep, float* out, int64_t row, int64_t N,
                   int64_t j) {
  if (ep == Epilogue::kSwiglu) {
    float* dst = out + row * (N / 2) + j / 2;
    for (int64_t i = 0; i + 1 < count; i += 2) dst[i / 2] = swiglu(acc[i] + b[i], acc[i + 1] + b[i + 1]);
    return;
  }
  float* dst = out + row * N + j;
  for (int64_t i = 0; i < count; ++i) {
    const float v = acc[i] + b[i];
    dst[i] = ep == Epilogue::kResidual ? dst[i] + v : activate(ep, v);
  }
}

// acc[r][j] = Σ_k in[r][k] · w[k][j] for R rows and a full strip of kStrip columns.
template <int R>
__attribute__((always_inline)) inline void strip_kernel(const float* in, int64_t K, const float* w, int64_t ldw,
                                                        float (*acc)[kStrip]) {
  float a[R][kStrip] = {};
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = w + k * ldw;
    for (int r = 0; r < R; ++r) {
      float x = in[r * K + k];
      for (int j = 0; j < kStrip; ++j) a[r][j] += x * wk[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kStrip; ++j) acc[r][j] = a[r][j];
}

// The same for a narrow last strip of `cols` < kStrip columns.
inline void tail_kernel(const float* in, int64_t rows, int64_t K, const float* w, int64_t ldw, int cols,
                        float (*acc)[kStrip]) {
  for (int64_t r = 0; r < rows; ++r) {
    float a[kStrip] = {};
    for (int64_t k = 0; k < K; ++k) {
      float x = in[r * K + k];
      for (int j = 0; j < cols; ++j) a[j] += x * w[k * ldw + j];
    }
    for (int j = 0; j < cols; ++j) acc[r][j] = a[j];
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void matmul_strip(
    const float* in, int64_t rows, int64_t K, int64_t N, const float* w, int64_t ldw, int64_t col0, int cols,
    const WeightView& bias, Epilogue ep, float* out) {
  float acc[kRows][kStrip];
  float b[kStrip];
  for (int j = 0; j < cols; ++j) b[j] = bias.data ? bias.at(col0 + j) : 0.0f;
  for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
    int64_t nr = std::min<int64_t>(kRows, rows - r0);
    const float* x = in + r0 * K;
    if (cols == kStrip) {
      switch (nr) {
        case 4: strip_kernel<4>(x, K, w, ldw, acc); break;
        case 3: strip_kernel<3>(x, K, w, ldw, acc); break;
        case 2: strip_kernel<2>(x, K, w, ldw, acc); break;
        default: strip_kernel<1>(x, K, w, ldw, acc); break;
      }
    } else {
      tail_kernel(x, nr, K, w, ldw, cols, acc);
    }
    for (int64_t r = 0; r < nr; ++r) finish(acc[r], b, cols, ep, out, r0 + r, N, col0);
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
  if (use_avx512()) return matmul_avx512(pool, in, rows, w, bias, epilogue, out);
  const int64_t K = w.shape[0], N = w.shape[1];
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
    matmul_strip(in, rows, K, N, wf, ldw, b.j0, cols, bias, epilogue, out);
  });
}

void matmul_reference(const float* in, int64_t rows, const WeightView& w, const WeightView& bias, Epilogue epilogue,
                      float* out) {
  const int64_t K = w.shape[0], N = w.shape[1];
  std::vector<float> sums(static_cast<size_t>(N)), b(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) b[size_t(n)] = bias.data ? bias.at(n) : 0.0f;
  for (int64_t m = 0; m < rows; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += double(in[m * K + k]) * double(w.at(w.offset(k, n)));
      sums[size_t(n)] = float(acc);
    }
    finish(sums.data(), b.data(), N, epilogue, out, m, N, 0);
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
