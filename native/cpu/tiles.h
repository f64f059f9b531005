// Packing matmul weights into AMX tiles (core/tile_layout.h) for compute "bfloat16".
//
// Values are rounded to bf16 once, at load, to nearest even with subnormals flushed to zero (the
// tile unit treats subnormal inputs as zero anyway; flushing them here lets the reference twin read
// exactly what the tiles multiply).
#pragma once
#include <cstdint>

#include "core/weight_view.h"

namespace gpt::cpu {

// f rounded to bf16 as compute "bfloat16" rounds weights and activations: to nearest even,
// subnormals to a zero of their sign (as VCVTNEPS2BF16 does), NaN kept.
inline uint16_t bf16_flushed(float f) {
  const uint32_t bits = f32_to_bits(f);
  if ((bits & 0x7f800000u) == 0) return uint16_t((bits >> 16) & 0x8000u);
  return f32_to_bf16(f);
}

// `plain`'s elements ([K, N] row-major, any dtype but I8) written in tiles to dst
// (tile_elements(K, N) bf16).
void pack_tiles(const WeightView& plain, uint16_t* dst);

}  // namespace gpt::cpu
