// Plain C++ types shared by the CUDA launchers and their callers outside native/cuda/ (which
// must not need the CUDA headers): which path a matrix product takes, the attention shape, the
// rotary embedding's.
#pragma once
#include <cstdint>

namespace gpt::cuda {

// Which kernel a matrix product takes. The model always runs kAuto, which picks by the shapes
// and dtype alone — never by the row count — so that every row is computed in the same order
// whatever its batch (batch invariance); the other two exist for the kernel tests and the bench.
enum class MatmulPath {
  kAuto,        // decode when the shapes allow it (any number of rows, in chunks of 16), else fp32
  kFp32,        // SIMT fp32 tiles: exact to fp32 rounding, any dtype, any shape
  kTensorCore,  // WMMA, F16/BF16 weights only: inputs rounded to the weight dtype, fp32 accumulate
  kDecode,      // bandwidth-bound: 16-byte weight loads, K split a fixed number of ways
};

// A layer's attention heads (cpu::AttentionShape's twin): q_heads query heads over kv_heads key /
// value heads (q_heads a multiple of kv_heads; equal for multi-head attention), query head h
// reading KV head h / (q_heads / kv_heads). A qkv row is [q: q_heads · D | k: kv_heads · D |
// v: kv_heads · D].
struct AttentionShape {
  int64_t q_heads, kv_heads;
  int64_t head_dim;  // a multiple of 16, at most 256

  int64_t group() const { return q_heads / kv_heads; }
  int64_t qkv_width() const { return (q_heads + 2 * kv_heads) * head_dim; }
};

// The rotary embedding of a qkv row layout (native/cpu/rotary.h): q_heads and kv_heads heads of
// head_dim, the first `dims` of each rotated (in pairs (i, i + dims/2), or (2i, 2i + 1) when
// interleaved) by position · inv_freq[i].
struct RotaryArgs {
  int64_t q_heads, kv_heads, head_dim, dims;
  bool interleaved;
  const float* inv_freq;  // dims / 2 floats
};

}  // namespace gpt::cuda
