// A read-only view of one weight tensor in its storage dtype, wherever its bytes live
// (a mapped checkpoint file or a converted copy).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace gpt {

struct WeightView {
  const void* data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // Element i widened to fp32; for the scalar paths (reference ops, LayerNorm parameters).
  float at(int64_t i) const {
    switch (dtype) {
      case DType::F32: return static_cast<const float*>(data)[i];
      case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
      case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    }
    return 0.0f;
  }
};

}  // namespace gpt
