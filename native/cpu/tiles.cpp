#include "cpu/tiles.h"

#include <algorithm>

namespace gpt::cpu {

void pack_tiles(const WeightView& plain, uint16_t* dst) {
  const int64_t K = plain.shape[0], N = plain.shape[1];
  std::fill(dst, dst + tile_elements(K, N), uint16_t(0));
  // Row by row, so the source (maybe a mapped checkpoint) is read once, in order.
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) dst[tile_offset(K, k, n)] = bf16_flushed(plain.at(k * N + n));
}

}  // namespace gpt::cpu
