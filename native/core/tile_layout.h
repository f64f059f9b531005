// The AMX tile layout of a bf16 matrix (compute "bfloat16"; the packing is cpu/tiles.h).
//
// An AMX bf16 product (TDPBF16PS) takes its B operand as 16 rows of 16 column pairs: row r of a
// tile holds, for each of 16 columns, the two weights of k = 2r and 2r + 1 side by side. A matrix
// [K, N] is stored as groups of 32 columns (two tiles side by side), each group as its K / 32
// steps one after another, each step the group's two 1 KiB tiles: a one-row product streams a
// group from memory in one run, as with column panels (cpu/panels.h). K and N are padded with
// zeros to multiples of 32, which add nothing to any sum.
#pragma once
#include <cstdint>

namespace gpt {

constexpr int64_t kTileK = 32;     // k per tile step
constexpr int64_t kTileGroup = 32;  // columns per group: two tiles of 16
constexpr int64_t kTileElements = 512;  // bf16 in one tile: 16 rows of 64 bytes

inline int64_t tiles_padded(int64_t n) { return (n + 31) / 32 * 32; }

// The element offset of matrix element (k, n) of a [K, N] matrix in tiles.
inline int64_t tile_offset(int64_t K, int64_t k, int64_t n) {
  const int64_t steps = tiles_padded(K) / kTileK;
  const int64_t group = n / kTileGroup, half = (n % kTileGroup) / 16, col = n % 16;
  const int64_t step = k / kTileK, kk = k % kTileK;
  return ((group * steps + step) * 2 + half) * kTileElements + (kk / 2) * 32 + col * 2 + (kk & 1);
}

// bf16 elements of a [K, N] matrix in tiles, padding included.
inline int64_t tile_elements(int64_t K, int64_t N) { return tiles_padded(K) * tiles_padded(N); }

}  // namespace gpt
