// The AMX tile configuration every tile kernel loads (palette 1: all eight tiles 16 rows of 64
// bytes), shared with bench/tile-peak's stand-alone program.
//
// A constant in read-only data: GCC 12 may drop a local config's stores before LDTILECFG reads it
// (it does not see the read; llama.cpp's AMX path crashed so here, bench/NOTES.md §15).
#pragma once
#include <cstdint>

namespace gpt::cpu {

struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
alignas(64) inline constexpr TileConfig kTileConfig{};

}  // namespace gpt::cpu
