#include "cpu/panels.h"

#include <cstring>

#include "cpu/isa.h"

namespace gpt::cpu {

int64_t panel_columns(int64_t n, int threads) {
  const int64_t kMaxPanel = use_avx512() ? 256 : 64;
  const int64_t t = threads > 0 ? threads : 1;
  const int64_t rounds = (n + t * kMaxPanel - 1) / (t * kMaxPanel);
  const int64_t panels = rounds * t;
  return std::max<int64_t>(16, (n + panels * 16 - 1) / (panels * 16) * 16);
}

void pack_panels(const WeightView& plain, int64_t panel, void* dst) {
  const int64_t K = plain.shape[0], N = plain.shape[1];
  const size_t elem = dtype_size(plain.dtype);
  const auto* src = static_cast<const unsigned char*>(plain.data);
  auto* out = static_cast<unsigned char*>(dst);
  for (int64_t j0 = 0; j0 < N; j0 += panel) {
    const int64_t width = std::min(panel, N - j0);
    for (int64_t k = 0; k < K; ++k, out += size_t(width) * elem)
      std::memcpy(out, src + size_t(k * N + j0) * elem, size_t(width) * elem);
  }
}

void pack_transposed_panels(const WeightView& plain, int64_t panel, void* dst,
                            const std::function<void(int64_t first, int64_t count)>& done_with) {
  const int64_t V = plain.shape[0], C = plain.shape[1];
  const size_t elem = dtype_size(plain.dtype);
  const auto* src = static_cast<const unsigned char*>(plain.data);
  auto* out = static_cast<unsigned char*>(dst);
  for (int64_t v0 = 0; v0 < V; v0 += panel) {
    const int64_t width = std::min(panel, V - v0);
    // Panel element (c, v − v0) is plain (v, c): each token's row read once, in order.
    for (int64_t v = v0; v < v0 + width; ++v)
      for (int64_t c = 0; c < C; ++c)
        std::memcpy(out + size_t(c * width + (v - v0)) * elem, src + size_t(v * C + c) * elem, elem);
    out += size_t(width * C) * elem;
    done_with(v0, width);
  }
}

std::vector<ColumnBlock> column_blocks(const WeightView& w, int64_t width) {
  const int64_t N = w.shape[1], P = w.panel_size();
  std::vector<ColumnBlock> blocks;
  for (int64_t p0 = 0; p0 < N; p0 += P) {
    const int64_t ld = std::min(P, N - p0);
    for (int64_t c = 0; c < ld; c += width) blocks.push_back(ColumnBlock{p0 + c, std::min(width, ld - c), w.offset(0, p0 + c), ld});
  }
  return blocks;
}

}  // namespace gpt::cpu
