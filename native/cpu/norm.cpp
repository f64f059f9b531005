#include "cpu/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/widen.h"

namespace gpt::cpu {

void embed(const int32_t* tokens, const int32_t* positions, int64_t rows, const WeightView& wte, const WeightView& wpe,
           float* out) {
  const int64_t C = wte.data ? wte.shape[1] : wpe.shape[1];
  std::vector<float> pos(static_cast<size_t>(C));
  for (int64_t t = 0; t < rows; ++t) {
    float* dst = out + t * C;
    const auto row = [&](const WeightView& w, int64_t index) {
      return static_cast<const unsigned char*>(w.data) + index * C * int64_t(dtype_size(w.dtype));
    };
    if (wte.data && wte.transposed) {
      // A token's row is a column of the [C, V] panels (CpuBackend::adopt_table).
      const WeightView m = wte.matrix();
      for (int64_t c = 0; c < C; ++c) dst[c] = m.at(m.offset(c, tokens[t]));
    } else if (wte.data) {
      widen_block(wte.dtype, row(wte, tokens[t]), C, 1, int(C), dst);
    } else {
      std::fill(dst, dst + C, 0.0f);
    }
    if (!wpe.data) continue;
    widen_block(wpe.dtype, row(wpe, positions[t]), C, 1, int(C), pos.data());
    for (int64_t c = 0; c < C; ++c) dst[c] += pos[size_t(c)];
  }
}

void layernorm(ThreadPool& pool, const float* x, int64_t rows, const WeightView& gamma, const WeightView& beta,
               float eps, float* out) {
  const int64_t C = gamma.shape[0];
  std::vector<float> g(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  widen_block(gamma.dtype, gamma.data, C, 1, int(C), g.data());
  widen_block(beta.dtype, beta.data, C, 1, int(C), b.data());
  pool.parallel_for(rows, [&](int64_t t) {
    const float* in = x + t * C;
    float* dst = out + t * C;
    // Two passes in double: the mean first, then the variance about it, as torch does in effect.
    double mean = 0.0;
    for (int64_t c = 0; c < C; ++c) mean += in[c];
    mean /= double(C);
    double var = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      double d = in[c] - mean;
      var += d * d;
    }
    var /= double(C);
    const float rstd = float(1.0 / std::sqrt(var + double(eps)));
    const float m = float(mean);
    for (int64_t c = 0; c < C; ++c) dst[c] = (in[c] - m) * rstd * g[size_t(c)] + b[size_t(c)];
  });
}

void rmsnorm(ThreadPool& pool, const float* x, int64_t rows, const WeightView& gamma, float eps, float* out) {
  const int64_t C = gamma.shape[0];
  std::vector<float> g(static_cast<size_t>(C));
  widen_block(gamma.dtype, gamma.data, C, 1, int(C), g.data());
  pool.parallel_for(rows, [&](int64_t t) {
    const float* in = x + t * C;
    float* dst = out + t * C;
    double squares = 0.0;
    for (int64_t c = 0; c < C; ++c) squares += double(in[c]) * double(in[c]);
    const float rstd = float(1.0 / std::sqrt(squares / double(C) + double(eps)));
    for (int64_t c = 0; c < C; ++c) dst[c] = in[c] * rstd * g[size_t(c)];
  });
}

}  // namespace gpt::cpu
