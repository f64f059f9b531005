// Plain C++ types shared by the CUDA launchers and their callers outside native/cuda/ (which
// must not need the CUDA headers): which path a kernel family takes, and the attention shape.
#pragma once
#include <cstdint>

namespace gpt::cuda {

enum class MatmulPath {
  kAuto,        // decode when M ≤ 16 and the shapes allow it, else tensor cores for F16/BF16, else fp32
  kFp32,        // SIMT fp32 tiles: exact to fp32 rounding, any dtype, any shape
  kTensorCore,  // WMMA, F16/BF16 weights only: inputs rounded to the weight dtype, fp32 accumulate
  kDecode,      // M ≤ 16, bandwidth-bound: 16-byte weight loads, each weight byte read once
};

enum class AttentionPath {
  kAuto,     // decode for up to kDecodeMaxQueries rows, prefill otherwise
  kPrefill,  // flash-attention tiles: queries × 32-key tiles in shared memory, online softmax
  kDecode,   // flash-decoding: the keys of each query split over blocks, partials merged after
};

struct AttentionShape {
  int64_t heads;
  int64_t head_dim;  // a multiple of 16, at most 256
  int64_t capacity;  // positions the cache holds
};

}  // namespace gpt::cuda
